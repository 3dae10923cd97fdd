// Command loadgen is the WebSocket load generator behind `npm run bench`.
//
// It speaks raw RFC 6455 over TCP with the standard library only: it performs the opening
// handshake (and checks Sec-WebSocket-Accept), sends masked client frames, and checks
// every byte of every echoed message (a per-connection sequence number in the first bytes
// catches loss and reordering; the rest is compared with the template). Every run is
// bounded in time. It prints one JSON object per line on stdout.
//
// Modes:
//
//	echo       C connections, S-byte messages, W messages in flight per connection,
//	           for D seconds after a warm-up: messages/s and MB/s (payload bytes echoed).
//	latency    the same with W=1: p50/p99 round-trip times.
//	handshake  C workers loop connect, upgrade, close handshake: handshakes/s.
//	idle       open C connections, print {"event":"ready",...}, hold them until stdin
//	           closes (or -hold passes), then close them all. With -prime, each
//	           connection first echoes one S-byte message (checked) before ready;
//	           with -deflate, one compressed message (checked), unless -no-prime.
//	fanout     pub/sub fan-out: C subscriber connections to <url>/sub (or spread over
//	           -sub-urls), one publisher connection to <url>/pub. A subscriber is ready
//	           when the server sends it the text message "ok". Prints
//	           {"event":"ready",...}, waits for a line on stdin (or its end), then runs
//	           -rounds rounds: the publisher sends one S-byte binary message, and the
//	           round ends when every subscriber has received it (every byte checked).
//	           Reports the time from the send to the last subscriber's receipt.
//	           Around the measured rounds (after 3 warm-up rounds when there are more
//	           than 6) it prints {"event":"measuring"} and, before it closes any
//	           connection, {"event":"measured"}, and waits for a line on stdin after
//	           each: the caller samples the servers' CPU time there, so the cost per
//	           publish counts neither the JIT warm-up nor the closing of the connections.
//
// With -deflate takeover|no-takeover, echo, latency and idle offer permessage-deflate,
// fail unless the server accepts it, and send compressed JSON-like text (deflate.go);
// idle then sends one compressed message on each connection before it reports ready.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maskKey is the same for every frame: the key's unpredictability protects browsers'
// intermediaries, not a benchmark; a fixed key lets one pre-masked template serve every
// connection. It is non-zero so servers do the real unmasking work.
var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// seqLen is how many leading payload bytes carry the message's sequence number (hex digits,
// so text messages stay valid UTF-8).
const seqLen = 8

type config struct {
	target      *url.URL
	mode        string
	conns       int
	size        int
	window      int
	duration    time.Duration
	warmup      time.Duration
	text        bool
	concurrency int
	hold        time.Duration
	dialTimeout time.Duration
	serverPid   int
	deflate     string
	prime       bool
	noPrime     bool
	rounds      int
	subURLs     []*url.URL
	readBuffer  int
}

// serverTakeover records whether the server keeps its compression context between
// messages (from its permessage-deflate answer; the same for every connection of a run).
var serverTakeover atomic.Bool

// result is the JSON line a measuring mode prints.
type result struct {
	Mode        string  `json:"mode"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size,omitempty"`
	Window      int     `json:"window,omitempty"`
	Seconds     float64 `json:"seconds"`
	Messages    uint64  `json:"messages"`
	MsgsPerSec  float64 `json:"msgsPerSec"`
	MBPerSec    float64 `json:"mbPerSec"`
	Handshakes  uint64  `json:"handshakes"`
	HsPerSec    float64 `json:"handshakesPerSec"`
	P50Us       float64 `json:"p50us"`
	P99Us       float64 `json:"p99us"`
	Samples     int     `json:"samples"`
	Errors      uint64  `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Unconnected int     `json:"unconnected,omitempty"`
	// LoadgenCPU is this process's CPU time over the measured time (1.0 = one core busy):
	// near 1.0 means the generator, not the server, may be the bottleneck.
	LoadgenCPU float64 `json:"loadgenCpu"`
	// ServerCPU is the server's CPU time over the measured time (with -server-pid), and
	// PerServerCPUSecond the messages (or handshakes) per second of server CPU: a measure
	// of the server's cost per message that holds up when other jobs share its core.
	ServerCPU          float64 `json:"serverCpu,omitempty"`
	PerServerCPUSecond float64 `json:"perServerCpuSecond,omitempty"`
	// EchoWireBytes is the mean compressed payload size of the server's echoes (-deflate).
	EchoWireBytes float64 `json:"echoWireBytes,omitempty"`
	Rounds        int     `json:"rounds,omitempty"`
	// MeasuredRounds are the rounds between the "measuring" and "measured" lines (fanout).
	MeasuredRounds int     `json:"measuredRounds,omitempty"`
	FanoutMs       float64 `json:"fanoutMs,omitempty"`
	FanoutMinMs    float64 `json:"fanoutMinMs,omitempty"`
	FanoutMaxMs    float64 `json:"fanoutMaxMs,omitempty"`
	ReceiptMs      float64 `json:"receiptP50Ms,omitempty"`
}

// serverCPUTime is the CPU time (user + system) of process pid, from /proc/<pid>/stat;
// zero when pid is 0 or unreadable.
func serverCPUTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at the state, field 3;
	// utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	var ticks int64
	for _, f := range fields[11:13] {
		var n int64
		fmt.Sscan(f, &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// window measures one run's measured time: wall, our CPU and the server's CPU.
type window struct {
	pid                 int
	began               time.Time
	cpu, server         time.Duration
	elapsed             time.Duration
	cpuUsed, serverUsed time.Duration
}

func startWindow(pid int) *window {
	return &window{pid: pid, began: time.Now(), cpu: cpuTime(), server: serverCPUTime(pid)}
}

func (w *window) end() {
	w.elapsed = time.Since(w.began)
	w.cpuUsed = cpuTime() - w.cpu
	w.serverUsed = serverCPUTime(w.pid) - w.server
}

// fill sets the CPU fields of res; count is what the run completed in the window.
func (w *window) fill(res *result, count uint64) {
	res.Seconds = w.elapsed.Seconds()
	res.LoadgenCPU = w.cpuUsed.Seconds() / w.elapsed.Seconds()
	if w.pid != 0 && w.serverUsed > 0 {
		res.ServerCPU = w.serverUsed.Seconds() / w.elapsed.Seconds()
		res.PerServerCPUSecond = float64(count) / w.serverUsed.Seconds()
	}
}

// cpuTime is the CPU time (user + system) this process has used so far.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func main() {
	cfg := config{}
	rawURL := flag.String("url", "ws://127.0.0.1:9001/", "server address")
	flag.StringVar(&cfg.mode, "mode", "echo", "echo | latency | handshake | idle")
	flag.IntVar(&cfg.conns, "conns", 1, "connections (workers for handshake)")
	flag.IntVar(&cfg.size, "size", 32, "message size in bytes (at least 8)")
	flag.IntVar(&cfg.window, "window", 16, "messages in flight per connection (echo)")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured time")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "unmeasured time before it")
	flag.BoolVar(&cfg.text, "text", false, "send text messages instead of binary")
	flag.IntVar(&cfg.concurrency, "concurrency", 100, "parallel handshakes while opening connections")
	flag.DurationVar(&cfg.hold, "hold", 60*time.Second, "idle: longest time to hold the connections")
	flag.IntVar(&cfg.serverPid, "server-pid", 0, "the server's PID, to report its CPU time over the measured time")
	flag.DurationVar(&cfg.dialTimeout, "dial-timeout", 10*time.Second, "per connection handshake timeout")
	flag.StringVar(&cfg.deflate, "deflate", "", "offer permessage-deflate: takeover | no-takeover (see deflate.go)")
	flag.BoolVar(&cfg.prime, "prime", false, "idle: echo one -size message on each connection before reporting ready (as -deflate does)")
	flag.BoolVar(&cfg.noPrime, "no-prime", false, "idle with -deflate: hold the connections without sending the first compressed message")
	flag.IntVar(&cfg.rounds, "rounds", 30, "fanout: messages published, one at a time")
	subURLs := flag.String("sub-urls", "", "fanout: comma-separated server addresses to spread subscribers over (default -url)")
	flag.Parse()
	cfg.readBuffer = 64 * 1024
	target, err := url.Parse(*rawURL)
	if err != nil || target.Scheme != "ws" {
		fatal(fmt.Errorf("-url must be ws://host:port/path: %q", *rawURL))
	}
	cfg.target = target
	if cfg.size < seqLen {
		fatal(fmt.Errorf("-size must be at least %d", seqLen))
	}
	if _, err := deflateOffer(cfg.deflate); err != nil {
		fatal(err)
	}
	if cfg.conns < 1 || cfg.window < 1 {
		fatal(errors.New("-conns and -window must be at least 1"))
	}
	// A hard stop whatever happens: no run outlives its budget.
	budget := cfg.warmup + cfg.duration + 60*time.Second
	if cfg.mode == "idle" {
		budget = cfg.hold + 120*time.Second
	}
	if cfg.mode == "handshake" {
		// A handshake's response head and close frame fit in 4 KiB: a 64 KiB reader per
		// handshake cost the generator a 64 KiB allocation (zeroed, then collected) each time.
		cfg.readBuffer = 4096
	}
	if cfg.mode == "fanout" {
		budget = time.Duration(cfg.rounds)*30*time.Second + 300*time.Second
		cfg.readBuffer = 4096 // 10,000 connections: keep the generator's own memory small
		cfg.subURLs = []*url.URL{target}
		if *subURLs != "" {
			cfg.subURLs = nil
			for _, raw := range strings.Split(*subURLs, ",") {
				u, err := url.Parse(raw)
				if err != nil || u.Scheme != "ws" {
					fatal(fmt.Errorf("-sub-urls: bad address %q", raw))
				}
				cfg.subURLs = append(cfg.subURLs, u)
			}
		}
	}
	time.AfterFunc(budget, func() { fatal(fmt.Errorf("time budget of %s exceeded", budget)) })

	var out any
	switch cfg.mode {
	case "echo":
		out = runEcho(cfg, false)
	case "latency":
		cfg.window = 1
		out = runEcho(cfg, true)
	case "handshake":
		out = runHandshakes(cfg)
	case "idle":
		runIdle(cfg)
		return
	case "fanout":
		out = runFanout(cfg)
	default:
		fatal(fmt.Errorf("unknown -mode %q", cfg.mode))
	}
	emit(out)
}

func emit(v any) {
	line, _ := json.Marshal(v)
	os.Stdout.Write(append(line, '\n'))
}

func fatal(err error) {
	emit(map[string]string{"fatal": err.Error()})
	os.Exit(2)
}

// errorLog counts errors and keeps the first one.
type errorLog struct {
	count atomic.Uint64
	once  sync.Once
	first string
}

func (e *errorLog) add(err error) {
	e.count.Add(1)
	e.once.Do(func() { e.first = err.Error() })
}

// --- handshake -------------------------------------------------------------------------

// dial opens a TCP connection and performs the opening handshake. The returned reader
// holds whatever the server sent after its response head.
func dial(cfg config) (net.Conn, *bufio.Reader, error) {
	conn, err := net.DialTimeout("tcp", cfg.target.Host, cfg.dialTimeout)
	if err != nil {
		return nil, nil, err
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	conn.SetDeadline(time.Now().Add(cfg.dialTimeout))
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := cfg.target.RequestURI()
	offer, _ := deflateOffer(cfg.deflate)
	if offer != "" {
		offer = "\r\nSec-WebSocket-Extensions: " + offer
	}
	request := "GET " + path + " HTTP/1.1\r\nHost: " + cfg.target.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13" + offer + "\r\n\r\n"
	if _, err := io.WriteString(conn, request); err != nil {
		conn.Close()
		return nil, nil, err
	}
	reader := bufio.NewReaderSize(conn, cfg.readBuffer)
	status, err := reader.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("reading the handshake response: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		conn.Close()
		return nil, nil, fmt.Errorf("handshake refused: %q", strings.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	extensions := ""
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("reading the handshake response: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Accept") {
			accepted = strings.TrimSpace(value) == want
		}
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Extensions") {
			extensions = value
		}
	}
	if !accepted {
		conn.Close()
		return nil, nil, errors.New("missing or wrong Sec-WebSocket-Accept")
	}
	if cfg.deflate != "" {
		takeover, err := checkDeflateResponse(cfg.deflate, extensions)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		serverTakeover.Store(takeover)
	} else if extensions != "" {
		conn.Close()
		return nil, nil, fmt.Errorf("the server accepted an extension we did not offer: %q", extensions)
	}
	conn.SetDeadline(time.Time{})
	return conn, reader, nil
}

// closeFrame is a masked close frame with code 1000.
func closeFrame() []byte {
	payload := []byte{0x03, 0xe8}
	frame := []byte{0x88, 0x80 | byte(len(payload)), maskKey[0], maskKey[1], maskKey[2], maskKey[3]}
	for i, b := range payload {
		frame = append(frame, b^maskKey[i&3])
	}
	return frame
}

// readFrameHeader reads one unmasked server frame header: first byte and payload length.
func readFrameHeader(r *bufio.Reader) (byte, int, error) {
	head, err := r.Peek(2)
	if err != nil {
		return 0, 0, err
	}
	first, second := head[0], head[1]
	if second&0x80 != 0 {
		return 0, 0, errors.New("server frame is masked")
	}
	length := int(second & 0x7f)
	headerLen := 2
	switch length {
	case 126:
		headerLen = 4
	case 127:
		headerLen = 10
	}
	if headerLen > 2 {
		head, err = r.Peek(headerLen)
		if err != nil {
			return 0, 0, err
		}
		if headerLen == 4 {
			length = int(binary.BigEndian.Uint16(head[2:4]))
		} else {
			length = int(binary.BigEndian.Uint64(head[2:10]))
		}
	}
	r.Discard(headerLen)
	return first, length, nil
}

// awaitClose reads until the server's close frame (skipping anything else) or an error.
func awaitClose(r *bufio.Reader) error {
	for {
		first, length, err := readFrameHeader(r)
		if err != nil {
			return err
		}
		if _, err := r.Discard(length); err != nil {
			return err
		}
		if first&0x0f == 0x8 {
			return nil
		}
	}
}

// awaitEOF waits for the server to close the TCP connection, as RFC 6455 section 7.1.1
// asks it to after the close handshake. Closing first ourselves would leave the client's
// port in TIME_WAIT, and a run of thousands of handshakes would then exhaust (or make the
// kernel search) the ephemeral port range: handshakes/s would measure that, not the server.
func awaitEOF(conn net.Conn, r *bufio.Reader, timeout time.Duration) error {
	conn.SetReadDeadline(time.Now().Add(timeout))
	_, err := r.Discard(1 << 30)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("server kept the TCP connection open %s after the close handshake", timeout)
	}
	return err
}

// --- echo and latency ------------------------------------------------------------------

// template is the message every connection sends, masked once for all of them.
type template struct {
	plain  []byte // the payload as the server should echo it (bytes from seqLen on)
	masked []byte // the payload masked with maskKey
	header []byte // the masked frame header
	first  byte   // FIN + opcode the echo must carry
}

func newTemplate(size int, text bool) *template {
	t := &template{plain: make([]byte, size), masked: make([]byte, size)}
	for i := range t.plain {
		t.plain[i] = 'a' + byte(i%26)
	}
	for i, b := range t.plain {
		t.masked[i] = b ^ maskKey[i&3]
	}
	t.first = 0x82
	if text {
		t.first = 0x81
	}
	switch {
	case size < 126:
		t.header = []byte{t.first, 0x80 | byte(size)}
	case size < 65536:
		t.header = []byte{t.first, 0x80 | 126, byte(size >> 8), byte(size)}
	default:
		t.header = []byte{t.first, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(t.header[2:], uint64(size))
	}
	t.header = append(t.header, maskKey[:]...)
	return t
}

const hexDigits = "0123456789abcdef"

// putSeq writes seq as seqLen hex digits (the last 32 bits of it).
func putSeq(dst []byte, seq uint64) {
	for i := seqLen - 1; i >= 0; i-- {
		dst[i] = hexDigits[seq&0xf]
		seq >>= 4
	}
}

type echoConn struct {
	conn     net.Conn
	reader   *bufio.Reader
	tokens   chan struct{}
	sentAt   []time.Time
	sent     atomic.Uint64
	counted  uint64
	bytes    uint64
	wire     uint64 // compressed payload bytes of the counted echoes (-deflate)
	samples  []time.Duration
	finished atomic.Bool
}

func runEcho(cfg config, latency bool) result {
	tmpl := newTemplate(cfg.size, cfg.text)
	var set *deflateSet
	if cfg.deflate != "" {
		var err error
		if set, err = newDeflateSet(cfg.size, cfg.text); err != nil {
			fatal(err)
		}
	}
	errs := &errorLog{}
	conns, unconnected := openConnections(cfg, errs)
	var counting, stopping atomic.Bool
	var writers, readers sync.WaitGroup
	echoes := make([]*echoConn, len(conns))
	for i, c := range conns {
		e := &echoConn{conn: c.conn, reader: c.reader, tokens: make(chan struct{}, cfg.window),
			sentAt: make([]time.Time, cfg.window)}
		for range cfg.window {
			e.tokens <- struct{}{}
		}
		echoes[i] = e
		writers.Add(1)
		readers.Add(1)
		go func() {
			defer writers.Done()
			write := func() error { return e.write(tmpl, &stopping) }
			if set != nil {
				write = func() error { return e.writeDeflate(set, &stopping) }
			}
			if err := write(); err != nil && !e.finished.Load() {
				errs.add(fmt.Errorf("write: %w", err))
				e.conn.Close()
			}
		}()
		go func() {
			defer readers.Done()
			read := func() error { return e.read(tmpl, cfg.size, &counting, latency) }
			if set != nil {
				f := newInflater(set, serverTakeover.Load())
				read = func() error { return e.readDeflate(f, &counting, latency) }
			}
			if err := read(); err != nil {
				errs.add(err)
				e.conn.Close()
			}
		}()
	}
	time.Sleep(cfg.warmup)
	counting.Store(true)
	measured := startWindow(cfg.serverPid)
	time.Sleep(cfg.duration)
	counting.Store(false)
	measured.end()
	stopping.Store(true)
	// Writers stop; readers drain what is still in flight (every byte is still checked),
	// then the close handshake ends each connection.
	for _, e := range echoes {
		select {
		case e.tokens <- struct{}{}: // wake a writer waiting for a token
		default:
		}
	}
	writers.Wait()
	for _, e := range echoes {
		e.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	}
	readers.Wait()

	res := result{Mode: cfg.mode, Conns: cfg.conns, Size: cfg.size, Window: cfg.window, Unconnected: unconnected}
	elapsed := measured.elapsed
	var all []time.Duration
	for _, e := range echoes {
		res.Messages += e.counted
		res.MBPerSec += float64(e.bytes)
		res.EchoWireBytes += float64(e.wire)
		all = append(all, e.samples...)
	}
	if res.Messages > 0 {
		res.EchoWireBytes /= float64(res.Messages)
	}
	measured.fill(&res, res.Messages)
	res.MsgsPerSec = float64(res.Messages) / elapsed.Seconds()
	res.MBPerSec = res.MBPerSec / elapsed.Seconds() / 1e6
	fillPercentiles(&res, all)
	res.Errors = errs.count.Load()
	res.FirstError = errs.first
	return res
}

type opened struct {
	conn   net.Conn
	reader *bufio.Reader
}

// openConnections opens cfg.conns connections, cfg.concurrency handshakes at a time.
func openConnections(cfg config, errs *errorLog) ([]opened, int) {
	results := make([]opened, cfg.conns)
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(1, cfg.concurrency))
	for i := range cfg.conns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			conn, reader, err := dial(cfg)
			if err != nil {
				errs.add(fmt.Errorf("connect: %w", err))
				return
			}
			results[i] = opened{conn, reader}
		}()
	}
	wg.Wait()
	ok := results[:0]
	for _, r := range results {
		if r.conn != nil {
			ok = append(ok, r)
		}
	}
	return ok, cfg.conns - len(ok)
}

// fillPercentiles sorts the round-trip samples and sets the sample count, p50 and p99.
func fillPercentiles(res *result, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	res.Samples = len(all)
	res.P50Us = float64(all[len(all)/2].Nanoseconds()) / 1e3
	res.P99Us = float64(all[min(len(all)-1, len(all)*99/100)].Nanoseconds()) / 1e3
}

// awaitSlot waits for a free window slot; before blocking, it flushes what is batched
// in w, so that the messages already written can be echoed and free slots.
func (e *echoConn) awaitSlot(w *bufio.Writer) error {
	select {
	case <-e.tokens:
		return nil
	default:
		if err := w.Flush(); err != nil {
			return err
		}
		<-e.tokens
		return nil
	}
}

// write sends messages whenever a window slot is free, batching what it can into one
// write system call, until stopping; then it sends a close frame.
func (e *echoConn) write(t *template, stopping *atomic.Bool) error {
	w := bufio.NewWriterSize(e.conn, 64*1024)
	head := make([]byte, len(t.header)+seqLen)
	copy(head, t.header)
	var seq uint64
	for {
		if err := e.awaitSlot(w); err != nil {
			return err
		}
		if stopping.Load() {
			break
		}
		payloadHead := head[len(t.header):]
		putSeq(payloadHead, seq)
		for i := range payloadHead {
			payloadHead[i] ^= maskKey[i&3]
		}
		e.sentAt[seq%uint64(len(e.sentAt))] = time.Now()
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := w.Write(t.masked[seqLen:]); err != nil {
			return err
		}
		seq++
		e.sent.Store(seq)
	}
	// The close frame goes last on the same stream, so the server echoes everything first.
	if _, err := w.Write(closeFrame()); err != nil {
		return err
	}
	return w.Flush()
}

// read checks every echoed message and returns its window slot, until the server's close
// frame, which must come after the echo of every message sent.
func (e *echoConn) read(t *template, size int, counting *atomic.Bool, latency bool) error {
	r := e.reader
	var seq uint64
	var want [seqLen]byte
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
		if first != t.first {
			return fmt.Errorf("message %d: first byte 0x%02x, want 0x%02x (a fragment, a control frame or the wrong type)", seq, first, t.first)
		}
		if length != size {
			return fmt.Errorf("message %d: %d bytes, want %d", seq, length, size)
		}
		putSeq(want[:], seq)
		for offset := 0; offset < length; {
			chunk, err := r.Peek(min(length-offset, r.Size()))
			if err != nil && len(chunk) == 0 {
				return fmt.Errorf("message %d: %w", seq, err)
			}
			n := len(chunk)
			if offset < seqLen {
				k := min(seqLen-offset, n)
				if !bytes.Equal(chunk[:k], want[offset:offset+k]) {
					return fmt.Errorf("message %d: wrong sequence number %q (lost or reordered message)", seq, chunk[:k])
				}
				if !bytes.Equal(chunk[k:], t.plain[offset+k:offset+n]) {
					return fmt.Errorf("message %d: payload differs near byte %d", seq, offset+k)
				}
			} else if !bytes.Equal(chunk, t.plain[offset:offset+n]) {
				return fmt.Errorf("message %d: payload differs near byte %d", seq, offset)
			}
			r.Discard(n)
			offset += n
		}
		if counting.Load() {
			e.counted++
			e.bytes += uint64(size)
			if latency {
				e.samples = append(e.samples, time.Since(e.sentAt[seq%uint64(len(e.sentAt))]))
			}
		}
		seq++
		select {
		case e.tokens <- struct{}{}:
		default: // only when the stop signal already filled the window
		}
	}
	e.finished.Store(true)
	// Every echo is checked; how fast an overloaded server (1 GiB in flight) then gets round
	// to closing this one connection is no error of its echo, so the wait is bounded, not judged.
	awaitEOF(e.conn, r, 5*time.Second)
	e.conn.Close()
	return nil
}

// --- handshakes ------------------------------------------------------------------------

func runHandshakes(cfg config) result {
	errs := &errorLog{}
	var counting, stopping atomic.Bool
	var wg sync.WaitGroup
	counts := make([]uint64, cfg.conns)
	samples := make([][]time.Duration, cfg.conns)
	frame := closeFrame()
	for i := range cfg.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() {
				began := time.Now()
				conn, reader, err := dial(cfg)
				if err != nil {
					errs.add(fmt.Errorf("handshake: %w", err))
					time.Sleep(10 * time.Millisecond)
					continue
				}
				conn.SetDeadline(time.Now().Add(cfg.dialTimeout))
				if _, err := conn.Write(frame); err != nil {
					errs.add(fmt.Errorf("close: %w", err))
				} else if err := awaitClose(reader); err != nil {
					errs.add(fmt.Errorf("close: %w", err))
				} else if err := awaitEOF(conn, reader, 5*time.Second); err != nil {
					errs.add(err)
				} else if counting.Load() {
					counts[i]++
					samples[i] = append(samples[i], time.Since(began))
				}
				conn.Close()
			}
		}()
	}
	time.Sleep(cfg.warmup)
	counting.Store(true)
	measured := startWindow(cfg.serverPid)
	time.Sleep(cfg.duration)
	counting.Store(false)
	measured.end()
	stopping.Store(true)
	wg.Wait()
	res := result{Mode: cfg.mode, Conns: cfg.conns}
	elapsed := measured.elapsed
	var all []time.Duration
	for i := range counts {
		res.Handshakes += counts[i]
		all = append(all, samples[i]...)
	}
	measured.fill(&res, res.Handshakes)
	res.HsPerSec = float64(res.Handshakes) / elapsed.Seconds()
	fillPercentiles(&res, all)
	res.Errors = errs.count.Load()
	res.FirstError = errs.first
	return res
}

// --- idle connections ------------------------------------------------------------------

func runIdle(cfg config) {
	errs := &errorLog{}
	began := time.Now()
	conns, unconnected := openConnections(cfg, errs)
	if cfg.deflate != "" && !cfg.noPrime {
		set, err := newDeflateSet(cfg.size, cfg.text)
		if err != nil {
			fatal(err)
		}
		var wg sync.WaitGroup
		slots := make(chan struct{}, max(1, cfg.concurrency))
		for _, c := range conns {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if err := primeDeflate(c.conn, c.reader, set, serverTakeover.Load()); err != nil {
					errs.add(fmt.Errorf("first compressed message: %w", err))
				}
			}()
		}
		wg.Wait()
	} else if cfg.prime {
		tmpl := newTemplate(cfg.size, cfg.text)
		var wg sync.WaitGroup
		slots := make(chan struct{}, max(1, cfg.concurrency))
		for _, c := range conns {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if err := primePlain(c.conn, c.reader, tmpl); err != nil {
					errs.add(fmt.Errorf("first message: %w", err))
				}
			}()
		}
		wg.Wait()
	}
	emit(map[string]any{"event": "ready", "mode": "idle", "conns": len(conns), "unconnected": unconnected,
		"seconds": time.Since(began).Seconds(), "errors": errs.count.Load(), "firstError": errs.first})
	released := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(released)
	}()
	select {
	case <-released:
	case <-time.After(cfg.hold):
	}
	emit(map[string]any{"event": "done", "mode": "idle", "dropped": closeCountingDropped(conns)})
}

// closeCountingDropped closes every connection and returns how many the server had dropped
// while they were idle: a read with a 1 ms deadline finds their EOF (or reset) where an idle
// connection times out. The reads run side by side, so 10,000 connections
// take about a millisecond, not 10 seconds of the cell's time one after the other.
func closeCountingDropped(conns []opened) int {
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.reader.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				dropped.Add(1)
			}
			c.conn.Close()
		}()
	}
	wg.Wait()
	return int(dropped.Load())
}

// primePlain sends one uncompressed message on conn and checks its echo, byte for byte.
func primePlain(conn net.Conn, r *bufio.Reader, t *template) error {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	frame := append(append([]byte{}, t.header...), t.masked...)
	if _, err := conn.Write(frame); err != nil {
		return err
	}
	first, length, err := readFrameHeader(r)
	if err != nil {
		return err
	}
	if first != t.first || length != len(t.plain) {
		return fmt.Errorf("echo: first byte 0x%02x, %d bytes", first, length)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if !bytes.Equal(body, t.plain) {
		return errors.New("echo: wrong bytes")
	}
	return nil
}

// --- fan-out -----------------------------------------------------------------------------

// withPath is u with its path replaced.
func withPath(u *url.URL, path string) *url.URL {
	c := *u
	c.Path = path
	c.RawQuery = ""
	return &c
}

// fanoutSub is one subscriber: it checks every message and records when each arrived.
type fanoutSub struct {
	conn   net.Conn
	reader *bufio.Reader
}

// expectOK reads the server's "ok" text message that says the subscription is in place.
func expectOK(r *bufio.Reader) error {
	first, length, err := readFrameHeader(r)
	if err != nil {
		return err
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if first != 0x81 || string(body) != "ok" {
		return fmt.Errorf("expected the text message \"ok\", got 0x%02x %q", first, body)
	}
	return nil
}

func runFanout(cfg config) result {
	errs := &errorLog{}
	tmpl := newTemplate(cfg.size, false)
	// Subscribers, spread round-robin over the subscriber addresses.
	subs := make([]*fanoutSub, cfg.conns)
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(1, cfg.concurrency))
	for i := range cfg.conns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c := cfg
			c.target = withPath(cfg.subURLs[i%len(cfg.subURLs)], "/sub")
			conn, reader, err := dial(c)
			if err != nil {
				errs.add(fmt.Errorf("subscriber: %w", err))
				return
			}
			conn.SetReadDeadline(time.Now().Add(cfg.dialTimeout))
			if err := expectOK(reader); err != nil {
				errs.add(fmt.Errorf("subscriber: %w", err))
				conn.Close()
				return
			}
			conn.SetReadDeadline(time.Time{})
			subs[i] = &fanoutSub{conn: conn, reader: reader}
		}()
	}
	wg.Wait()
	ready := subs[:0]
	for _, s := range subs {
		if s != nil {
			ready = append(ready, s)
		}
	}
	subs = ready
	unconnected := cfg.conns - len(subs)
	pc := cfg
	pc.target = withPath(cfg.target, "/pub")
	pub, _, err := dial(pc)
	if err != nil {
		fatal(fmt.Errorf("publisher: %w", err))
	}
	emit(map[string]any{"event": "ready", "mode": "fanout", "conns": len(subs), "unconnected": unconnected,
		"errors": errs.count.Load(), "firstError": errs.first})
	// Wait for the go-ahead (the caller samples the server's CPU time first).
	stdin := bufio.NewReader(os.Stdin)
	stdin.ReadString('\n')
	// The first rounds warm the servers' JITs up: their latency is left out, and so is
	// their CPU time (the caller samples it again at the "measuring" line).
	warmupRounds := 0
	if cfg.rounds > 6 {
		warmupRounds = 3
	}
	pause := func(event string, round int) {
		emit(map[string]any{"event": event, "mode": "fanout", "round": round})
		stdin.ReadString('\n')
	}
	if warmupRounds == 0 {
		pause("measuring", 0)
	}

	rounds := cfg.rounds
	sentAt := make([]time.Time, rounds)
	remaining := make([]atomic.Int64, rounds)
	done := make([]chan struct{}, rounds)
	// arrivals[r][i]: how long after the send subscriber i had message r.
	arrivals := make([][]time.Duration, rounds)
	for r := range rounds {
		remaining[r].Store(int64(len(subs)))
		done[r] = make(chan struct{})
		arrivals[r] = make([]time.Duration, len(subs))
	}
	var sentRounds atomic.Int64
	var readers sync.WaitGroup
	var finished atomic.Bool
	for i, s := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var want [seqLen]byte
			for r := range rounds {
				first, length, err := readFrameHeader(s.reader)
				if err != nil {
					if !finished.Load() {
						errs.add(fmt.Errorf("subscriber %d, message %d: %w", i, r, err))
					}
					return
				}
				if first != 0x82 || length != cfg.size {
					errs.add(fmt.Errorf("subscriber %d, message %d: first byte 0x%02x, %d bytes", i, r, first, length))
					return
				}
				putSeq(want[:], uint64(r))
				for offset := 0; offset < length; {
					chunk, err := s.reader.Peek(min(length-offset, s.reader.Size()))
					if err != nil && len(chunk) == 0 {
						errs.add(fmt.Errorf("subscriber %d, message %d: %w", i, r, err))
						return
					}
					n := len(chunk)
					for k := 0; k < n; k++ {
						at := offset + k
						expected := tmpl.plain[at]
						if at < seqLen {
							expected = want[at]
						}
						if chunk[k] != expected {
							errs.add(fmt.Errorf("subscriber %d, message %d: wrong byte at %d (lost, reordered or corrupted)", i, r, at))
							return
						}
					}
					s.reader.Discard(n)
					offset += n
				}
				if int64(r) >= sentRounds.Load() {
					errs.add(fmt.Errorf("subscriber %d: message %d arrived before it was sent", i, r))
					return
				}
				arrivals[r][i] = time.Since(sentAt[r])
				if remaining[r].Add(-1) == 0 {
					close(done[r])
				}
			}
		}()
	}

	frame := make([]byte, len(tmpl.header)+cfg.size)
	completed := make([]time.Duration, 0, rounds)
	for r := range rounds {
		copy(frame, tmpl.header)
		copy(frame[len(tmpl.header):], tmpl.masked)
		var seq [seqLen]byte
		putSeq(seq[:], uint64(r))
		for k := range seqLen {
			frame[len(tmpl.header)+k] = seq[k] ^ maskKey[k&3]
		}
		sentAt[r] = time.Now()
		sentRounds.Store(int64(r + 1))
		if _, err := pub.Write(frame); err != nil {
			errs.add(fmt.Errorf("publisher: %w", err))
			break
		}
		select {
		case <-done[r]:
		case <-time.After(30 * time.Second):
			errs.add(fmt.Errorf("round %d: %d of %d subscribers did not receive the message within 30 s", r, remaining[r].Load(), len(subs)))
		}
		if errs.count.Load() > 0 {
			break
		}
		last := slices.Max(arrivals[r])
		completed = append(completed, last)
		time.Sleep(20 * time.Millisecond) // let the server go idle between rounds
		if r+1 == warmupRounds {
			pause("measuring", r+1)
		}
	}
	// The measured rounds end here: closing the connections is not part of a publish's
	// cost, so the caller samples the servers' CPU time before they go.
	pause("measured", len(completed))
	finished.Store(true)
	pub.Close()
	for _, s := range subs {
		s.conn.Close()
	}
	readers.Wait()

	res := result{Mode: cfg.mode, Conns: cfg.conns, Size: cfg.size, Rounds: len(completed),
		Unconnected: unconnected, Errors: errs.count.Load(), FirstError: errs.first}
	measured := completed
	if len(measured) > warmupRounds && warmupRounds > 0 {
		measured = measured[warmupRounds:]
	}
	res.MeasuredRounds = len(measured)
	if len(measured) > 0 {
		sorted := slices.Clone(measured)
		slices.Sort(sorted)
		ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
		res.FanoutMs = ms(sorted[len(sorted)/2])
		res.FanoutMinMs = ms(sorted[0])
		res.FanoutMaxMs = ms(sorted[len(sorted)-1])
		var all []time.Duration
		for r := len(completed) - len(measured); r < len(completed); r++ {
			all = append(all, arrivals[r]...)
		}
		slices.Sort(all)
		res.ReceiptMs = ms(all[len(all)/2])
	}
	return res
}
