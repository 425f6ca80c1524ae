package media_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

// wantAllow is what the endpoint supports today; the call task extends it.
var wantAllow = []string{"OPTIONS", "ACK", "CANCEL"}

func allowSet(t *testing.T, res *sip.Response) []string {
	t.Helper()
	raw := header(res, "Allow")
	if raw == "" {
		t.Fatalf("%d response has no Allow header", res.StatusCode)
	}
	var ms []string
	for _, m := range strings.Split(raw, ",") {
		ms = append(ms, strings.TrimSpace(m))
	}
	return ms
}

func TestOptions(t *testing.T) {
	ts := startServer(t)
	c := newClient(t)
	for _, transport := range []string{"UDP", "TCP"} {
		t.Run(transport, func(t *testing.T) {
			res := ts.do(t, c, sip.OPTIONS, transport)
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("got %d %s, want 200", res.StatusCode, res.Reason)
			}
			if got := allowSet(t, res); !slices.Equal(got, wantAllow) {
				t.Errorf("Allow = %q, want %q", got, wantAllow)
			}
			if got := header(res, "Accept"); got != "application/sdp" {
				t.Errorf("Accept = %q, want application/sdp", got)
			}
			if res.GetHeader("Supported") == nil {
				t.Error("no Supported header")
			}
			if got := header(res, "Server"); got != testUserAgent {
				t.Errorf("Server = %q, want %q", got, testUserAgent)
			}
			if to := res.To(); to == nil || !to.Params.Has("tag") {
				t.Errorf("To has no tag: %v", res.To())
			}
		})
	}
}

func TestOptionsInDialog(t *testing.T) {
	ts := startServer(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			req := rawRequest(strings.ToUpper(network), "OPTIONS", fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port), "SIP/2.0", "OPTIONS")
			req = []byte(strings.Replace(string(req), "To: <sip:media@127.0.0.1>", "To: <sip:media@127.0.0.1>;tag=dialog-tag", 1))
			res := ts.exchange(t, network, req, 2*time.Second, 1)
			if len(res) != 1 || res[0].StatusCode != sip.StatusOK {
				t.Fatalf("got %v, want one 200", res)
			}
			if tag, _ := res[0].To().Params.Get("tag"); tag != "dialog-tag" {
				t.Errorf("To tag = %q, want the request's dialog-tag kept", tag)
			}
		})
	}
}

func TestUnsupportedMethodsGet405(t *testing.T) {
	ts := startServer(t)
	c := newClient(t)
	methods := []sip.RequestMethod{sip.INVITE, sip.BYE, sip.REGISTER, sip.MESSAGE, sip.SUBSCRIBE,
		sip.NOTIFY, sip.INFO, sip.REFER, sip.UPDATE, sip.PRACK, sip.PUBLISH, "FOO"}
	for _, transport := range []string{"UDP", "TCP"} {
		for _, m := range methods {
			t.Run(transport+"/"+string(m), func(t *testing.T) {
				// INVITE also exercises sipgo's client ACK for the 405.
				res := ts.do(t, c, m, transport)
				if res.StatusCode != sip.StatusMethodNotAllowed {
					t.Fatalf("got %d %s, want 405", res.StatusCode, res.Reason)
				}
				if got := allowSet(t, res); !slices.Equal(got, wantAllow) {
					t.Errorf("Allow = %q, want %q", got, wantAllow)
				}
				if got := header(res, "Server"); got != testUserAgent {
					t.Errorf("Server = %q, want %q", got, testUserAgent)
				}
			})
		}
	}
	// The ACKs sipgo sent for the INVITE 405s must not have disturbed anything.
	ts.assertOptionsOK(t)
}

func TestACKNeverAnswered(t *testing.T) {
	ts := startServer(t)
	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			tr := strings.ToUpper(network)
			cases := map[string][]byte{
				"stray ACK":           rawRequest(tr, "ACK", uri, "SIP/2.0", "ACK"),
				"ACK bad version":     rawRequest(tr, "ACK", uri, "SIP/7.0", "ACK"),
				"ACK CSeq mismatch":   rawRequest(tr, "ACK", uri, "SIP/2.0", "INVITE"),
				"ACK unsupported URI": rawRequest(tr, "ACK", "tel:+15550100", "SIP/2.0", "ACK"),
			}
			for name, payload := range cases {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					if res := ts.exchange(t, network, payload, 500*time.Millisecond, 0); len(res) != 0 {
						t.Errorf("got %d %s, want no response", res[0].StatusCode, res[0].Reason)
					}
				})
			}
		})
	}
}

func TestRequestChecks(t *testing.T) {
	ts := startServer(t)
	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
	cases := []struct {
		name       string
		method     string
		uri        string
		version    string
		cseq       string
		extra      []string
		wantStatus int
		check      func(t *testing.T, res *sip.Response)
	}{
		{name: "CANCEL without transaction", method: "CANCEL", uri: uri, version: "SIP/2.0", cseq: "CANCEL", wantStatus: 481},
		{name: "unsupported Require", method: "OPTIONS", uri: uri, version: "SIP/2.0", cseq: "OPTIONS",
			extra: []string{"Require: 100rel, timer", "Require: foo"}, wantStatus: 420,
			check: func(t *testing.T, res *sip.Response) {
				if got := header(res, "Unsupported"); got != "100rel, timer, foo" {
					t.Errorf("Unsupported = %q, want every required tag", got)
				}
			}},
		{name: "tel URI", method: "OPTIONS", uri: "tel:+15550100", version: "SIP/2.0", cseq: "OPTIONS", wantStatus: 416},
		{name: "SIP version 3", method: "OPTIONS", uri: uri, version: "SIP/3.0", cseq: "OPTIONS", wantStatus: 505,
			check: func(t *testing.T, res *sip.Response) {
				if res.SipVersion != "SIP/2.0" {
					t.Errorf("response version %q, want SIP/2.0", res.SipVersion)
				}
			}},
		{name: "CSeq method mismatch", method: "OPTIONS", uri: uri, version: "SIP/2.0", cseq: "INVITE", wantStatus: 400},
		{name: "unknown method still 405", method: "XYZZY", uri: uri, version: "SIP/2.0", cseq: "XYZZY", wantStatus: 405},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				req := rawRequest(strings.ToUpper(network), tc.method, tc.uri, tc.version, tc.cseq, tc.extra...)
				res := ts.exchange(t, network, req, 2*time.Second, 1)
				if len(res) == 0 {
					t.Fatalf("no response, want %d", tc.wantStatus)
				}
				if res[0].StatusCode != tc.wantStatus {
					t.Fatalf("got %d %s, want %d", res[0].StatusCode, res[0].Reason, tc.wantStatus)
				}
				if got := header(res[0], "Server"); got != testUserAgent {
					t.Errorf("Server = %q, want %q", got, testUserAgent)
				}
				if tc.check != nil {
					tc.check(t, res[0])
				}
			})
		}
	}
}

func TestHandlerPanicDoesNotKillServer(t *testing.T) {
	ts := startServer(t, func(s *media.Server) {
		media.HandleForTest(s, sip.MESSAGE, func(*sip.Request, sip.ServerTransaction) {
			panic("boom")
		})
	})
	c := newClient(t)
	for _, transport := range []string{"UDP", "TCP"} {
		res := ts.do(t, c, sip.MESSAGE, transport)
		if res.StatusCode != sip.StatusInternalServerError {
			t.Fatalf("MESSAGE over %s: got %d, want 500 from the recovered panic", transport, res.StatusCode)
		}
	}
	ts.assertOptionsOK(t)
	if errs := ts.logs.errorRecords(); len(errs) != 2 {
		t.Errorf("want the 2 panics logged at Error, got %q", errs)
	}
	// The two expected Error records must not fail the shutdown check.
	ts.logs.mu.Lock()
	ts.logs.errors = nil
	ts.logs.mu.Unlock()
}

func TestTCPIdleConnectionClosed(t *testing.T) {
	ts := startServer(t, func(s *media.Server) { media.SetTCPIdleTimeoutForTest(s, 300*time.Millisecond) })
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ts.port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An incomplete message must not keep the connection alive either.
	if _, err := conn.Write([]byte("OPTIONS sip:media@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from an idle connection, want it closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept an idle TCP connection open past its idle timeout")
	}
	t.Logf("idle connection closed after %v", time.Since(start).Round(time.Millisecond))
	ts.assertOptionsOK(t)
}

func TestNewServerRejectsBadAddr(t *testing.T) {
	for _, addr := range []string{"", "5060", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:sip", "localhost:5060", "example.com:5060", "256.0.0.1:5060", "[::1:5060", "::1:5060"} {
		if _, err := media.NewServer(media.Config{Addr: addr}); err == nil {
			t.Errorf("NewServer(Addr: %q) succeeded, want an error", addr)
		} else if !strings.Contains(err.Error(), "Addr") {
			t.Errorf("NewServer(Addr: %q) error %q does not name Addr", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:5060", ":5060", "[::1]:5060", "0.0.0.0:5080"} {
		if _, err := media.NewServer(media.Config{Addr: addr}); err != nil {
			t.Errorf("NewServer(Addr: %q): %v", addr, err)
		}
	}
}

func TestRunFailsWhenPortTaken(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			port := freePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			var (
				taker interface{ Close() error }
				err   error
			)
			if network == "udp" {
				taker, err = net.ListenPacket("udp", addr)
			} else {
				taker, err = net.Listen("tcp", addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer taker.Close()

			srv, err := media.NewServer(media.Config{Addr: addr, Logger: newTestLog(t).logger})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = srv.Run(ctx)
			if err == nil {
				t.Fatal("Run succeeded on a taken port")
			}
			for _, want := range []string{strings.ToUpper(network), addr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			select {
			case <-srv.Ready():
				t.Error("Ready closed although Run failed to bind")
			default:
			}
			if network == "tcp" {
				// The UDP socket bound before the TCP failure must be released.
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					t.Fatalf("UDP port still held after failed Run: %v", err)
				}
				pc.Close()
			}
		})
	}
}

func TestRunCancelReleasesPort(t *testing.T) {
	ts := startServer(t)
	ts.assertOptionsOK(t)
	// Keep an accepted TCP connection open: shutdown must close it too.
	conn, err := net.Dial("tcp", ts.srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	took := ts.stop(t)
	if took > 2*time.Second {
		t.Errorf("Run took %v to return after cancel, want < 2s", took)
	}
	t.Logf("Run returned %v after cancel", took.Round(time.Microsecond))

	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("UDP port not released: %v", err)
	}
	pc.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("TCP port not released: %v", err)
	}
	ln.Close()

	if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("accepted TCP connection still open after shutdown")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("accepted TCP connection still open after shutdown")
	}

	if err := ts.srv.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("second Run: got %v, want a 'more than once' error", err)
	}
}

func TestRunWithCancelledContext(t *testing.T) {
	srv, err := media.NewServer(media.Config{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Logger: newTestLog(t).logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return for an already cancelled context")
	}
}
