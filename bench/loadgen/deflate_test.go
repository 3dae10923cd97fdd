package main

// Tests for the -deflate message set: what we send inflates to the template with its
// sequence number, and the inflater decodes echoes with and without context takeover
// and refuses a wrong one. Run with `cd bench/loadgen && go test`.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"testing"
)

// unmaskFrame parses one masked client frame: first byte and unmasked payload.
func unmaskFrame(t *testing.T, frame []byte) (byte, []byte) {
	t.Helper()
	length := int(frame[1] & 0x7f)
	at := 2
	if length == 126 {
		length = int(frame[2])<<8 | int(frame[3])
		at = 4
	}
	key := frame[at : at+4]
	payload := append([]byte(nil), frame[at+4:]...)
	if len(payload) != length {
		t.Fatalf("frame length %d, payload %d", length, len(payload))
	}
	for i := range payload {
		payload[i] ^= key[i&3]
	}
	return frame[0], payload
}

func TestDeflateFramesInflateToTheTemplates(t *testing.T) {
	set, err := newDeflateSet(16384, true)
	if err != nil {
		t.Fatal(err)
	}
	// One DEFLATE stream across messages, as a server with context takeover reads them.
	var stream bytes.Buffer
	var want bytes.Buffer
	for seq := uint64(0); seq < 3; seq++ {
		first, payload := unmaskFrame(t, set.appendFrame(nil, seq))
		if first != 0xc1 {
			t.Fatalf("first byte 0x%02x, want FIN+RSV1+text", first)
		}
		if len(payload) > 16384/3 {
			t.Fatalf("message %d: %d compressed bytes: not compressible JSON", seq, len(payload))
		}
		stream.Write(payload)
		stream.Write(syncTail)
		var digits [seqLen]byte
		putSeq(digits[:], seq)
		want.Write(digits[:])
		want.Write(set.plain[seq][seqLen:])
	}
	got, _ := io.ReadAll(io.LimitReader(flate.NewReader(&stream), int64(want.Len())))
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the frames do not inflate to the templates with their sequence numbers")
	}
	if bytes.Equal(set.plain[0], set.plain[1]) {
		t.Fatal("templates must differ")
	}
}

// serverEcho compresses messages as a server would (one stream with context takeover, or
// a fresh one per message) and returns the unmasked frames.
func serverEcho(set *deflateSet, count int, takeover bool, corrupt int) []byte {
	var out, compressed bytes.Buffer
	w, _ := flate.NewWriter(&compressed, flate.BestSpeed)
	for seq := range count {
		message := append([]byte(nil), set.plain[seq%deflateTemplates]...)
		putSeq(message, uint64(seq))
		if seq == corrupt {
			message[100] ^= 1
		}
		compressed.Reset()
		if !takeover {
			w.Reset(&compressed)
		}
		w.Write(message)
		w.Flush()
		payload := bytes.TrimSuffix(compressed.Bytes(), syncTail)
		out.Write([]byte{0xc1, 126, byte(len(payload) >> 8), byte(len(payload))})
		out.Write(payload)
	}
	return out.Bytes()
}

func TestInflaterChecksEchoes(t *testing.T) {
	set, err := newDeflateSet(16384, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, takeover := range []bool{true, false} {
		for _, corrupt := range []int{-1, 3} {
			r := bufio.NewReader(bytes.NewReader(serverEcho(set, 6, takeover, corrupt)))
			f := newInflater(set, takeover)
			var failed error
			for seq := uint64(0); seq < 6 && failed == nil; seq++ {
				first, length, err := readFrameHeader(r)
				if err != nil {
					t.Fatal(err)
				}
				failed = f.readMessage(r, first, length, seq)
			}
			if corrupt < 0 && failed != nil {
				t.Errorf("takeover=%v: a faithful echo failed: %v", takeover, failed)
			}
			if corrupt >= 0 && failed == nil {
				t.Errorf("takeover=%v: a corrupted echo passed", takeover)
			}
		}
	}
	// An uncompressed echo does not count as compression work.
	plain := append([]byte{0x81, 126, 0x40, 0x00}, set.plain[0]...)
	putSeq(plain[4:], 0)
	r := bufio.NewReader(bytes.NewReader(plain))
	first, length, _ := readFrameHeader(r)
	if newInflater(set, false).readMessage(r, first, length, 0) == nil {
		t.Error("an uncompressed echo was accepted")
	}
}

func TestDeflateResponseChecks(t *testing.T) {
	cases := []struct {
		mode, value  string
		ok, takeover bool
	}{
		{"takeover", "permessage-deflate", true, true},
		{"takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, false},
		{"no-takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, false},
		{"no-takeover", "permessage-deflate; client_no_context_takeover", false, false},
		{"takeover", "", false, false},
		{"takeover", "permessage-deflate; client_max_window_bits=10", false, false},
		{"takeover", "permessage-deflate; client_max_window_bits=15", true, true},
		{"takeover", "permessage-deflate; foo", false, false},
	}
	for _, c := range cases {
		takeover, err := checkDeflateResponse(c.mode, c.value)
		if (err == nil) != c.ok || (c.ok && takeover != c.takeover) {
			t.Errorf("%s / %q: takeover=%v err=%v", c.mode, c.value, takeover, err)
		}
	}
}
