package main

// permessage-deflate (RFC 7692) for the load generator: `-deflate takeover` offers what
// browsers offer (`permessage-deflate; client_max_window_bits`, the server may keep its
// compression context between messages), `-deflate no-takeover` offers
// `server_no_context_takeover; client_no_context_takeover`.
//
// Messages are JSON-like text, 64 distinct templates so that a server with context
// takeover cannot compress a message to a reference to the previous identical one. The
// generator's own compression is done once, up front: each message is a stored DEFLATE
// block with its 8-byte sequence number, then its template's body compressed on its own
// (a fresh compressor, sync flush, the trailing 00 00 ff ff removed as section 7.2.1 says).
// Blocks may follow each other in one DEFLATE stream, and the body refers to nothing
// before it, so the message is valid whatever was negotiated (a client may always choose
// not to use its context). Echoes are inflated (with the previous 32 KiB of output as
// the dictionary when the server keeps its context) and every byte is checked.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// deflateTemplates is how many distinct messages a connection cycles through.
const deflateTemplates = 64

// syncTail ends every sync flush; the sender removes it and the receiver puts it back.
var syncTail = []byte{0x00, 0x00, 0xff, 0xff}

// seqBlock is the stored block that carries a message's sequence number: BFINAL 0, BTYPE 00,
// LEN 8 and NLEN ^8, little-endian, then the 8 bytes.
var seqBlock = []byte{0x00, seqLen, 0x00, ^byte(seqLen), 0xff}

// deflateOffer is the Sec-WebSocket-Extensions value for a -deflate mode.
func deflateOffer(mode string) (string, error) {
	switch mode {
	case "":
		return "", nil
	case "takeover":
		return "permessage-deflate; client_max_window_bits", nil
	case "no-takeover":
		return "permessage-deflate; server_no_context_takeover; client_no_context_takeover", nil
	}
	return "", fmt.Errorf("-deflate must be takeover or no-takeover, not %q", mode)
}

// checkDeflateResponse checks the server's answer to our offer: it must accept
// permessage-deflate with parameters we can honour. It reports whether the server keeps
// its compression context between messages.
func checkDeflateResponse(mode, value string) (serverTakeover bool, err error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return false, fmt.Errorf("the server declined permessage-deflate")
	}
	params := strings.Split(value, ";")
	if strings.TrimSpace(params[0]) != "permessage-deflate" || strings.Contains(value, ",") {
		return false, fmt.Errorf("unexpected Sec-WebSocket-Extensions %q", value)
	}
	serverTakeover = true
	for _, param := range params[1:] {
		name, arg, _ := strings.Cut(strings.TrimSpace(param), "=")
		switch name {
		case "server_no_context_takeover":
			serverTakeover = false
		case "client_no_context_takeover", "server_max_window_bits":
		case "client_max_window_bits":
			// Our bodies come from Go's compressor, whose window is 32 KiB.
			if bits, _ := strconv.Atoi(strings.Trim(arg, `"`)); bits != 15 {
				return false, fmt.Errorf("the server limits our window to %s bits (we need 15)", arg)
			}
		default:
			return false, fmt.Errorf("unknown parameter in %q", value)
		}
	}
	if mode == "no-takeover" && serverTakeover {
		return false, fmt.Errorf("the server ignored server_no_context_takeover: %q", value)
	}
	return serverTakeover, nil
}

// deflateSet is the message set of a compressed run, built once for every connection.
type deflateSet struct {
	size   int
	first  byte     // FIN + RSV1 + opcode of the frames we send
	plain  [][]byte // template k as the server must echo it (bytes from seqLen on)
	masked [][]byte // template k's compressed body, masked as it sits after the seq block
}

// jsonLike fills dst with a JSON-like text that differs per template k (ASCII: valid UTF-8).
func jsonLike(dst []byte, k int) {
	var b bytes.Buffer
	for i := 0; b.Len() < len(dst); i++ {
		id := k*100003 + i*7919
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","room":"room-%d","active":%t,"score":%d.%02d,"text":"message %d of template %d"},`,
			id, id%9973, i%17, (id+k)%3 == 0, (id*31)%1000, id%100, i, k)
	}
	copy(dst, b.Bytes())
	dst[len(dst)-1] = ']'
}

func newDeflateSet(size int, text bool) (*deflateSet, error) {
	set := &deflateSet{size: size, first: 0xc2}
	if text {
		set.first = 0xc1
	}
	var compressed bytes.Buffer
	for k := range deflateTemplates {
		plain := make([]byte, size)
		jsonLike(plain, k)
		compressed.Reset()
		w, err := flate.NewWriter(&compressed, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		w.Write(plain[seqLen:])
		w.Flush()
		body := compressed.Bytes()
		if !bytes.HasSuffix(body, syncTail) {
			return nil, fmt.Errorf("compress/flate: a sync flush did not end with 00 00 ff ff")
		}
		body = body[:len(body)-len(syncTail)]
		masked := make([]byte, len(body))
		offset := len(seqBlock) + seqLen
		for i, b := range body {
			masked[i] = b ^ maskKey[(offset+i)&3]
		}
		set.plain = append(set.plain, plain)
		set.masked = append(set.masked, masked)
	}
	return set, nil
}

// appendFrame appends message seq as a masked compressed frame.
func (s *deflateSet) appendFrame(dst []byte, seq uint64) []byte {
	body := s.masked[seq%deflateTemplates]
	length := len(seqBlock) + seqLen + len(body)
	switch {
	case length < 126:
		dst = append(dst, s.first, 0x80|byte(length))
	case length < 65536:
		dst = append(dst, s.first, 0x80|126, byte(length>>8), byte(length))
	default:
		dst = append(dst, s.first, 0x80|127, 0, 0, 0, 0, byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
	}
	dst = append(dst, maskKey[:]...)
	start := len(dst)
	dst = append(dst, seqBlock...)
	var digits [seqLen]byte
	putSeq(digits[:], seq)
	dst = append(dst, digits[:]...)
	for i := start; i < len(dst); i++ {
		dst[i] ^= maskKey[(i-start)&3]
	}
	return append(dst, body...)
}

// inflater decodes one connection's compressed echoes.
type inflater struct {
	set      *deflateSet
	takeover bool // the server keeps its context: the previous output is the dictionary
	reader   io.ReadCloser
	input    bytes.Reader
	payload  []byte
	out      []byte
	history  []byte
}

func newInflater(set *deflateSet, takeover bool) *inflater {
	return &inflater{set: set, takeover: takeover, reader: flate.NewReader(bytes.NewReader(nil)),
		out: make([]byte, set.size+1)}
}

// readMessage reads the frame whose header was just read (first byte, length) and checks
// that it is message seq.
func (f *inflater) readMessage(r *bufio.Reader, first byte, length int, seq uint64) error {
	want := f.set.plain[seq%deflateTemplates]
	if first&0x40 == 0 && first|0x40 == f.set.first {
		// RFC 7692 allows it, but a benchmark of compression must not count a server that
		// skips the work: every message here is far above any server's threshold.
		return fmt.Errorf("message %d: not compressed (RSV1 clear)", seq)
	}
	if first != f.set.first {
		return fmt.Errorf("message %d: first byte 0x%02x, want 0x%02x (a fragment, a control frame or the wrong type)", seq, first, f.set.first)
	}
	if length > 4*f.set.size+1024 {
		return fmt.Errorf("message %d: %d compressed bytes for %d", seq, length, f.set.size)
	}
	if cap(f.payload) < length+len(syncTail) {
		f.payload = make([]byte, length+len(syncTail))
	}
	f.payload = f.payload[:length]
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return fmt.Errorf("message %d: %w", seq, err)
	}
	f.payload = append(f.payload, syncTail...)
	f.input.Reset(f.payload)
	var dict []byte
	if f.takeover {
		dict = f.history
	}
	f.reader.(flate.Resetter).Reset(&f.input, dict)
	n, err := io.ReadFull(f.reader, f.out)
	if n != f.set.size || (err != nil && err != io.ErrUnexpectedEOF) {
		return fmt.Errorf("message %d: inflated %d bytes, want %d (%v)", seq, n, f.set.size, err)
	}
	message := f.out[:n]
	if f.takeover {
		f.history = append(f.history, message...)
		if len(f.history) > 32*1024 {
			f.history = append(f.history[:0], f.history[len(f.history)-32*1024:]...)
		}
	}
	return f.check(message, want, seq)
}

func (f *inflater) check(message, want []byte, seq uint64) error {
	var digits [seqLen]byte
	putSeq(digits[:], seq)
	if !bytes.Equal(message[:seqLen], digits[:]) {
		return fmt.Errorf("message %d: wrong sequence number %q (lost or reordered message)", seq, message[:seqLen])
	}
	if !bytes.Equal(message[seqLen:], want[seqLen:]) {
		return fmt.Errorf("message %d: payload differs", seq)
	}
	return nil
}

// writeDeflate is echoConn.write for compressed messages.
func (e *echoConn) writeDeflate(set *deflateSet, stopping *atomic.Bool) error {
	w := bufio.NewWriterSize(e.conn, 64*1024)
	frame := make([]byte, 0, 64*1024)
	var seq uint64
	for {
		if err := e.awaitSlot(w); err != nil {
			return err
		}
		if stopping.Load() {
			break
		}
		frame = set.appendFrame(frame[:0], seq)
		e.sentAt[seq%uint64(len(e.sentAt))] = time.Now()
		if _, err := w.Write(frame); err != nil {
			return err
		}
		seq++
		e.sent.Store(seq)
	}
	if _, err := w.Write(closeFrame()); err != nil {
		return err
	}
	return w.Flush()
}

// readDeflate is echoConn.read for compressed messages.
func (e *echoConn) readDeflate(f *inflater, counting *atomic.Bool, latency bool) error {
	r := e.reader
	var seq uint64
	for {
		first, length, err := readFrameHeader(r)
		if err != nil {
			return fmt.Errorf("read after %d messages: %w", seq, err)
		}
		if first&0x0f == 0x8 {
			if sent := e.sent.Load(); seq != sent {
				return fmt.Errorf("server closed after echoing %d of %d messages", seq, sent)
			}
			break
		}
		if err := f.readMessage(r, first, length, seq); err != nil {
			return err
		}
		if counting.Load() {
			e.wire += uint64(length)
			e.counted++
			e.bytes += uint64(f.set.size)
			if latency {
				e.samples = append(e.samples, time.Since(e.sentAt[seq%uint64(len(e.sentAt))]))
			}
		}
		seq++
		select {
		case e.tokens <- struct{}{}:
		default:
		}
	}
	e.finished.Store(true)
	awaitEOF(e.conn, r, 5*time.Second)
	e.conn.Close()
	return nil
}

// primeDeflate sends one compressed message on conn and checks its echo (idle mode: the
// server has then done the work of a compressed message on every connection it holds).
func primeDeflate(conn net.Conn, r *bufio.Reader, set *deflateSet, takeover bool) error {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(set.appendFrame(nil, 0)); err != nil {
		return err
	}
	first, length, err := readFrameHeader(r)
	if err != nil {
		return err
	}
	return newInflater(set, takeover).readMessage(r, first, length, 0)
}
