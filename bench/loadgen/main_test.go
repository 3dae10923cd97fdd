package main

// Tests for the load generator's checks: against a faithful echo server every mode runs
// without errors; against servers that corrupt, drop, reorder or retype one message, the
// echo mode reports an error. Run with `cd bench/loadgen && go test` (not part of npm test).

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fault is what the test server does to the echo of message number 3.
type fault int

const (
	faithful fault = iota
	corrupt        // flips one payload byte
	drop           // never echoes it
	swap           // echoes it after message 4
	retype         // echoes a binary message as text
)

// startServer runs a minimal echo server on 127.0.0.1 that applies f; stopped at cleanup.
func startServer(t *testing.T, f fault) *url.URL {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go serve(conn, f)
		}
	}()
	target, _ := url.Parse("ws://" + listener.Addr().String() + "/")
	return target
}

func serve(conn net.Conn, f fault) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	key := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Sec-WebSocket-Key") {
			key = strings.TrimSpace(value)
		}
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
	w := bufio.NewWriter(conn)
	var held []byte
	for n := 0; ; n++ {
		head := make([]byte, 2)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		length := int(head[1] & 0x7f)
		switch length {
		case 126:
			ext := make([]byte, 2)
			io.ReadFull(r, ext)
			length = int(binary.BigEndian.Uint16(ext))
		case 127:
			ext := make([]byte, 8)
			io.ReadFull(r, ext)
			length = int(binary.BigEndian.Uint64(ext))
		}
		var key [4]byte
		io.ReadFull(r, key[:])
		payload := make([]byte, length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= key[i&3]
		}
		first := head[0]
		if n == 3 {
			switch f {
			case corrupt:
				payload[len(payload)-1] ^= 1
			case drop:
				continue
			case retype:
				first = 0x81
			}
		}
		frame := append(serverHeader(first, len(payload)), payload...)
		if f == swap && n == 3 {
			held = frame
			continue
		}
		w.Write(frame)
		if held != nil {
			w.Write(held)
			held = nil
		}
		if first&0x0f == 0x8 {
			w.Flush()
			return
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

func serverHeader(first byte, length int) []byte {
	switch {
	case length < 126:
		return []byte{first, byte(length)}
	case length < 65536:
		return []byte{first, 126, byte(length >> 8), byte(length)}
	default:
		h := []byte{first, 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(h[2:], uint64(length))
		return h
	}
}

func testConfig(target *url.URL, mode string, size, window int) config {
	return config{target: target, mode: mode, conns: 2, size: size, window: window,
		duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, concurrency: 4, dialTimeout: 5 * time.Second}
}

func TestFaithfulEchoHasNoErrors(t *testing.T) {
	target := startServer(t, faithful)
	for _, size := range []int{32, 1024, 70_000} {
		res := runEcho(testConfig(target, "echo", size, 8), false)
		if res.Errors != 0 || res.Messages == 0 {
			t.Fatalf("size %d: %d errors (%s), %d messages", size, res.Errors, res.FirstError, res.Messages)
		}
	}
	res := runEcho(testConfig(target, "latency", 32, 1), true)
	if res.Errors != 0 || res.Samples == 0 || res.P50Us <= 0 || res.P99Us < res.P50Us {
		t.Fatalf("latency: %+v", res)
	}
	hs := runHandshakes(testConfig(target, "handshake", 0, 1))
	if hs.Errors != 0 || hs.Handshakes == 0 {
		t.Fatalf("handshakes: %+v", hs)
	}
}

func TestEveryFaultIsReported(t *testing.T) {
	cases := map[fault]string{corrupt: "payload differs", drop: "sequence number", swap: "sequence number",
		retype: "first byte"}
	for f, want := range cases {
		res := runEcho(testConfig(startServer(t, f), "echo", 1024, 8), false)
		if res.Errors == 0 || !strings.Contains(res.FirstError, want) {
			t.Errorf("fault %d: %d errors, first %q; want one containing %q", f, res.Errors, res.FirstError, want)
		}
	}
}

func TestPrimePlainChecksTheEcho(t *testing.T) {
	target := startServer(t, faithful)
	for _, text := range []bool{false, true} {
		conn, reader, err := dial(testConfig(target, "idle", 16384, 1))
		if err != nil {
			t.Fatal(err)
		}
		tmpl := newTemplate(16384, text)
		if err := primePlain(conn, reader, tmpl); err != nil {
			t.Fatalf("text %v: faithful echo refused: %v", text, err)
		}
		// The echo of what was sent no longer matches what the template expects.
		tmpl.plain[100] ^= 0xff
		if err := primePlain(conn, reader, tmpl); err == nil || !strings.Contains(err.Error(), "wrong bytes") {
			t.Fatalf("text %v: a differing echo gave %v", text, err)
		}
		conn.Close()
	}
}

// startFanoutServer runs a minimal fan-out server: a connection to /sub is sent the text
// message "ok" and then every message a connection to /pub sends. It counts in gone the
// subscribers whose connection the client has closed.
func startFanoutServer(t *testing.T, gone *atomic.Int64) *url.URL {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	var mu sync.Mutex
	var subs []net.Conn
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				path, key := "", ""
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimSpace(line)
					if line == "" {
						break
					}
					if fields := strings.Fields(line); path == "" && len(fields) == 3 {
						path = fields[1]
					}
					if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Sec-WebSocket-Key") {
						key = strings.TrimSpace(value)
					}
				}
				sum := sha1.Sum([]byte(key + acceptGUID))
				io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
				if strings.HasPrefix(path, "/sub") {
					mu.Lock()
					subs = append(subs, conn)
					conn.Write([]byte{0x81, 2, 'o', 'k'})
					mu.Unlock()
					io.Copy(io.Discard, r)
					gone.Add(1)
					return
				}
				for {
					head := make([]byte, 2)
					if _, err := io.ReadFull(r, head); err != nil {
						return
					}
					first, length := head[0], int(head[1]&0x7f)
					if length == 126 {
						ext := make([]byte, 2)
						io.ReadFull(r, ext)
						length = int(binary.BigEndian.Uint16(ext))
					}
					var key [4]byte
					io.ReadFull(r, key[:])
					payload := make([]byte, length)
					if _, err := io.ReadFull(r, payload); err != nil {
						return
					}
					for i := range payload {
						payload[i] ^= key[i&3]
					}
					frame := append(serverHeader(first, length), payload...)
					mu.Lock()
					for _, sub := range subs {
						sub.Write(frame)
					}
					mu.Unlock()
				}
			}()
		}
	}()
	target, _ := url.Parse("ws://" + listener.Addr().String() + "/")
	return target
}

func TestFanoutPausesAroundTheMeasuredRounds(t *testing.T) {
	var gone atomic.Int64
	target := startFanoutServer(t, &gone)
	cfg := testConfig(target, "fanout", 64, 1)
	cfg.conns = 3
	cfg.rounds = 8
	cfg.subURLs = []*url.URL{target}
	// The caller's side: read the generator's lines, answer each pause with a line.
	stdinR, stdinW, _ := os.Pipe()
	stdoutR, stdoutW, _ := os.Pipe()
	savedIn, savedOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = stdinR, stdoutW
	t.Cleanup(func() { os.Stdin, os.Stdout = savedIn, savedOut })
	events := make(chan []string, 1)
	goneAtMeasured := int64(-1)
	go func() {
		var seen []string
		lines := bufio.NewScanner(stdoutR)
		for lines.Scan() {
			var line struct{ Event string }
			json.Unmarshal(lines.Bytes(), &line)
			seen = append(seen, line.Event)
			if line.Event == "measured" {
				time.Sleep(50 * time.Millisecond) // a close, had there been one, would be seen by now
				goneAtMeasured = gone.Load()
			}
			io.WriteString(stdinW, "go\n")
		}
		events <- seen
	}()
	res := runFanout(cfg)
	stdoutW.Close()
	seen := <-events
	if res.Errors != 0 || res.Rounds != 8 || res.MeasuredRounds != 5 {
		t.Fatalf("%d errors (%s), %d rounds, %d measured; want 0, 8, 5", res.Errors, res.FirstError, res.Rounds, res.MeasuredRounds)
	}
	if strings.Join(seen, ",") != "ready,measuring,measured" {
		t.Fatalf("events %v; want ready, measuring, measured", seen)
	}
	if goneAtMeasured != 0 {
		t.Fatalf("%d subscriber connections closed before the measured line; want none", goneAtMeasured)
	}
}

// closeCountingDropped finds the connections the server closed while they were idle, and
// only those, when it checks them all side by side.
func TestIdleCountsTheConnectionsTheServerDropped(t *testing.T) {
	target := startServer(t, faithful)
	cfg := testConfig(target, "idle", 0, 1)
	cfg.conns = 200
	errs := &errorLog{}
	conns, unconnected := openConnections(cfg, errs)
	if unconnected != 0 || errs.count.Load() != 0 {
		t.Fatalf("%d connections failed: %s", unconnected, errs.first)
	}
	// Three of them end as a server dropping them would: the test server closes a
	// connection after echoing a close frame.
	for _, c := range conns[:3] {
		if _, err := c.conn.Write(closeFrame()); err != nil {
			t.Fatal(err)
		}
		for {
			first, length, err := readFrameHeader(c.reader)
			if err != nil {
				t.Fatal(err)
			}
			c.reader.Discard(length)
			if first&0x0f == 0x8 {
				break
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the server's FIN arrives
	done := make(chan int, 1)
	go func() { done <- closeCountingDropped(conns) }()
	select {
	case dropped := <-done:
		if dropped != 3 {
			t.Fatalf("%d dropped; want 3", dropped)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("closeCountingDropped did not return")
	}
}
