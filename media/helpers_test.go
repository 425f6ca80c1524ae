package media_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

const testUserAgent = "switchboard-media-test"

// freePort returns a port that was free on both UDP and TCP on 127.0.0.1 a
// moment ago; SIP serves both on one number, so checking one is not enough.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen tcp: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no port free on both UDP and TCP after 50 tries")
	return 0
}

// testLog sends logs to t.Log and counts Error records: peer input must
// never produce one, only a bug in our handlers may.
type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
	errors []string
	logger *slog.Logger
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{t: t}
	text := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})
	l.logger = slog.New(&countingHandler{Handler: text, log: l})
	t.Cleanup(l.close)
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// sipgo goroutines may still log after the test ended, and t.Log would
	// panic then.
	if !l.closed {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *testLog) errorRecords() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

type countingHandler struct {
	slog.Handler
	log *testLog
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.log.mu.Lock()
		h.log.errors = append(h.log.errors, r.Message)
		h.log.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{Handler: h.Handler.WithAttrs(as), log: h.log}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{Handler: h.Handler.WithGroup(name), log: h.log}
}

type testServer struct {
	srv    *media.Server
	port   int
	logs   *testLog
	cancel context.CancelFunc
	done   chan error
}

// startServer runs a Server on a free port until the test ends. setup runs
// between NewServer and Run.
func startServer(t testing.TB, setup ...func(*media.Server)) *testServer {
	t.Helper()
	return startServerWith(t, media.Config{}, setup...)
}

// loopback trusts the tests' own address, so that floods meant to test robustness
// are not cut short by the rate limits (which tests of their own check).
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// startServerWith is startServer with cfg's fields beside the address, user agent
// and logger; its Limits trust loopback unless they name trusted sources or
// set a ban time.
func startServerWith(t testing.TB, cfg media.Config, setup ...func(*media.Server)) *testServer {
	t.Helper()
	logs := newTestLog(t)
	var lastErr error
	if cfg.Limits.Trusted == nil && cfg.Limits.BanFor == 0 {
		cfg.Limits.Trusted = loopback
	}
	// freePort can lose a race with another process; retry the bind.
	for range 3 {
		port := freePort(t)
		cfg.Addr, cfg.UserAgent = fmt.Sprintf("127.0.0.1:%d", port), testUserAgent
		if cfg.Logger == nil {
			cfg.Logger = logs.logger
		}
		srv, err := media.NewServer(cfg)
		if err != nil {
			t.Fatalf("NewServer: %v", err)
		}
		for _, f := range setup {
			f(srv)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ts := &testServer{srv: srv, port: port, logs: logs, cancel: cancel, done: make(chan error, 1)}
		go func() { ts.done <- srv.Run(ctx) }()
		select {
		case <-srv.Ready():
			t.Cleanup(func() { ts.stop(t) })
			return ts
		case err := <-ts.done:
			cancel()
			lastErr = err
		case <-time.After(5 * time.Second):
			cancel()
			t.Fatal("server not ready within 5s")
		}
	}
	t.Fatalf("server did not start: %v", lastErr)
	return nil
}

// stop cancels Run and checks it returns nil promptly; safe to call twice.
func (ts *testServer) stop(t testing.TB) time.Duration {
	t.Helper()
	start := time.Now()
	ts.cancel()
	if ts.done == nil {
		return 0
	}
	select {
	case err := <-ts.done:
		ts.done = nil
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Run did not return within 10s of cancel")
	}
	if errs := ts.logs.errorRecords(); len(errs) > 0 {
		t.Errorf("server logged at Error level: %q", errs)
	}
	return time.Since(start)
}

// newClient is a sipgo client on its own user agent, closed with the test.
func newClient(t testing.TB) *sipgo.Client {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("media-test-client"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	)
	if err != nil {
		t.Fatalf("client UA: %v", err)
	}
	t.Cleanup(func() { ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// do sends one request with the sipgo client and returns the final response.
func (ts *testServer) do(t testing.TB, c *sipgo.Client, method sip.RequestMethod, transport string, hdrs ...sip.Header) *sip.Response {
	t.Helper()
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "media", Host: "127.0.0.1", Port: ts.port})
	req.SetTransport(transport)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s over %s: %v", method, transport, err)
	}
	return res
}

// assertOptionsOK checks the server still answers OPTIONS on both transports.
func (ts *testServer) assertOptionsOK(t testing.TB) {
	t.Helper()
	c := newClient(t)
	for _, transport := range []string{"UDP", "TCP"} {
		res := ts.do(t, c, sip.OPTIONS, transport)
		if res.StatusCode != sip.StatusOK {
			t.Fatalf("OPTIONS over %s: got %d %s, want 200", transport, res.StatusCode, res.Reason)
		}
	}
}

func header(res *sip.Response, name string) string {
	h := res.GetHeader(name)
	if h == nil {
		return ""
	}
	return h.Value()
}

var requestSeq atomic.Int64

// rawRequest builds a request by hand so tests can send what sipgo's
// client would refuse to build. The Via carries rport so the answer comes
// back to the sending socket whatever port it has.
func rawRequest(transport, method, uri, version, cseqMethod string, extra ...string) []byte {
	branch := fmt.Sprintf("z9hG4bK-%d-%d", time.Now().UnixNano(), requestSeq.Add(1))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, uri, version)
	fmt.Fprintf(&b, "Via: SIP/2.0/%s 127.0.0.1:9;rport;branch=%s\r\n", transport, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	b.WriteString("From: <sip:raw@127.0.0.1>;tag=raw1\r\n")
	b.WriteString("To: <sip:media@127.0.0.1>\r\n")
	fmt.Fprintf(&b, "Call-ID: raw-%s\r\n", branch)
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", cseqMethod)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

// exchange writes payload to the server over a fresh UDP or TCP socket and
// collects the responses that arrive within wait, stopping early once it
// has limit final ones (0: wait the full time).
func (ts *testServer) exchange(t testing.TB, network string, payload []byte, wait time.Duration, limit int) []*sip.Response {
	t.Helper()
	conn, err := net.DialTimeout(network, fmt.Sprintf("127.0.0.1:%d", ts.port), 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", network, err)
	}
	defer conn.Close()
	if _, err := conn.Write(payload); err != nil {
		t.Fatalf("write %s: %v", network, err)
	}
	var (
		out    []*sip.Response
		stream = sip.NewParser().NewSIPStream()
		buf    = make([]byte, 65535)
	)
	deadline := time.Now().Add(wait)
	finals := func() int {
		n := 0
		for _, r := range out {
			if r.StatusCode >= 200 {
				n++
			}
		}
		return n
	}
	for limit == 0 || finals() < limit {
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.Fatalf("deadline: %v", err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			return out // wait is over, or the server closed the connection
		}
		if network == "udp" {
			msg, err := sip.ParseMessage(buf[:n])
			if err != nil {
				t.Fatalf("unparsable datagram from server: %v\n%s", err, buf[:n])
			}
			if res, ok := msg.(*sip.Response); ok {
				out = append(out, res)
			}
			continue
		}
		err = stream.ParseSIPStream(buf[:n], func(msg sip.Message) {
			if res, ok := msg.(*sip.Response); ok {
				out = append(out, res)
			}
		})
		if err != nil && !errors.Is(err, sip.ErrParseSipPartial) {
			t.Fatalf("unparsable stream from server: %v", err)
		}
	}
	return out
}
