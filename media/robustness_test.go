package media_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// hostilePayloads are inputs a SIP endpoint on a public port receives
// sooner or later: noise, cut-off messages, and messages that parse but
// lie about themselves.
func hostilePayloads(transport string, port int) map[string][]byte {
	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", port)
	valid := rawRequest(transport, "OPTIONS", uri, "SIP/2.0", "OPTIONS")
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 1200)
	for i := range noise {
		noise[i] = byte(rnd.UintN(256))
	}
	replace := func(old, new string) []byte {
		return []byte(strings.Replace(string(valid), old, new, 1))
	}
	p := map[string][]byte{
		"random bytes":             noise,
		"NUL bytes":                make([]byte, 64),
		"CRLFs only":               []byte("\r\n\r\n\r\n"),
		"HTTP request":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"start line only":          []byte("OPTIONS " + uri + " SIP/2.0\r\n"),
		"no CRLF at all":           []byte("OPTIONS " + uri + " SIP/2.0"),
		"bare LF line ends":        bytes.ReplaceAll(valid, []byte("\r\n"), []byte("\n")),
		"CR without LF":            bytes.ReplaceAll(valid, []byte("\r\n"), []byte("\r")),
		"truncated in headers":     valid[:len(valid)/2],
		"truncated before blank":   valid[:len(valid)-2],
		"body shorter than length": replace("Content-Length: 0", "Content-Length: 500"),
		"huge Content-Length":      replace("Content-Length: 0", "Content-Length: 99999999999999999999"),
		"negative Content-Length":  replace("Content-Length: 0", "Content-Length: -1"),
		"bad Content-Length":       replace("Content-Length: 0", "Content-Length: abc"),
		"no Via":                   replace("Via:", "X-Via:"),
		"no CSeq":                  replace("CSeq:", "X-CSeq:"),
		"no Call-ID":               replace("Call-ID:", "X-Call-ID:"),
		"no From":                  replace("From:", "X-From:"),
		"no To":                    replace("To:", "X-To:"),
		"bad CSeq number":          replace("CSeq: 1 OPTIONS", "CSeq: 99999999999999 OPTIONS"),
		"CSeq without method":      replace("CSeq: 1 OPTIONS", "CSeq: 1"),
		"empty CSeq":               replace("CSeq: 1 OPTIONS", "CSeq:"),
		"bad Via port":             replace("127.0.0.1:9;", "127.0.0.1:999999;"),
		"bad Via host":             replace("127.0.0.1:9;", "[::1:9;"),
		"Via without branch":       bytes.Replace(valid, []byte(";branch="), []byte(";x="), 1),
		"empty Via":                replace("Via: SIP/2.0/"+transport+" 127.0.0.1:9;rport", "Via:"),
		"garbage Via":              replace("Via: SIP/2.0/"+transport, "Via: \x01\x02\x03"),
		"bad From URI":             replace("From: <sip:raw@127.0.0.1>", "From: <sip:@@@:::>"),
		"unterminated From":        replace("From: <sip:raw@127.0.0.1>", "From: <sip:raw@127.0.0.1"),
		"bad Max-Forwards":         replace("Max-Forwards: 70", "Max-Forwards: -5"),
		"wildcard Request-URI":     replace(uri, "*"),
		"empty Request-URI":        replace("OPTIONS "+uri, "OPTIONS  "),
		"bad Request-URI":          replace(uri, "sip:"),
		"folded header at start":   replace("Max-Forwards: 70\r\n", " \r\n\t\r\nMax-Forwards: 70\r\n"),
		"header without colon":     replace("Max-Forwards: 70", "Max-Forwards 70"),
		"stray response":           []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/" + transport + " 127.0.0.1:9;branch=z9hG4bKnope\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
		"bad status code":          []byte("SIP/2.0 99999 Huh\r\nContent-Length: 0\r\n\r\n"),
		"response without headers": []byte("SIP/2.0 200 OK\r\n\r\n"),
		"long header line":         replace("Max-Forwards: 70", "X-Long: "+strings.Repeat("a", 1300)),
	}
	if transport == "TCP" {
		// Larger than sipgo's 64 KiB message limit; only a stream can carry it.
		p["oversized message"] = replace("Max-Forwards: 70", "X-Long: "+strings.Repeat("a", 70000))
		p["endless header"] = append([]byte("OPTIONS "+uri+" SIP/2.0\r\nX: "), bytes.Repeat([]byte("b"), 70000)...)
	}
	return p
}

// mutate flips, inserts and deletes random bytes of msg, but never in its
// first Via line: the Via host is where sipgo may send an answer, a mutated
// one could be any address, and tests must send to loopback only even if
// the no-dial guard regressed (TestNoDialBackToVia checks that guard).
func mutate(rnd *rand.Rand, msg []byte) []byte {
	viaStart := bytes.Index(msg, []byte("\r\nVia:")) + 2
	viaEnd := viaStart + bytes.Index(msg[viaStart:], []byte("\r\n")) + 2
	head := append([]byte(nil), msg[:viaStart]...)
	tail := append([]byte(nil), msg[viaEnd:]...)
	for range 1 + rnd.IntN(8) {
		if rnd.IntN(4) == 0 {
			head = mutateOnce(rnd, head)
		} else {
			tail = mutateOnce(rnd, tail)
		}
	}
	out := append(head, msg[viaStart:viaEnd]...)
	return append(out, tail...)
}

func mutateOnce(rnd *rand.Rand, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	i := rnd.IntN(len(b))
	switch rnd.IntN(4) {
	case 0:
		b[i] = byte(rnd.UintN(256))
	case 1:
		b = append(b[:i], b[i+1:]...)
	case 2:
		special := []byte("\r\n:;<>@ \"\x00,=")
		b = append(b[:i], append([]byte{special[rnd.IntN(len(special))]}, b[i:]...)...)
	case 3:
		b = b[:i]
	}
	return b
}

// send writes payload on a fresh connection and does not wait for an
// answer: many of these get none, and the test only cares that the server
// survives.
func send(t *testing.T, network string, port int, payload []byte) {
	t.Helper()
	conn, err := net.DialTimeout(network, fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", network, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// The server may close a TCP connection mid-write on a framing error.
	_, _ = conn.Write(payload)
}

func TestHostileInput(t *testing.T) {
	ts := startServer(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			transport := strings.ToUpper(network)
			for name, payload := range hostilePayloads(transport, ts.port) {
				send(t, network, ts.port, payload)
				if t.Failed() {
					t.Fatalf("after %q", name)
				}
			}
			ts.assertOptionsOK(t)

			// Bounded mutation fuzzing of valid requests of every kind.
			rnd := rand.New(rand.NewPCG(42, uint64(len(network))))
			uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
			seeds := [][]byte{
				rawRequest(transport, "OPTIONS", uri, "SIP/2.0", "OPTIONS", "Require: timer"),
				rawRequest(transport, "INVITE", uri, "SIP/2.0", "INVITE", "Content-Type: application/sdp"),
				rawRequest(transport, "ACK", uri, "SIP/2.0", "ACK"),
				rawRequest(transport, "CANCEL", uri, "SIP/2.0", "CANCEL"),
				rawRequest(transport, "BYE", uri, "SIP/2.0", "BYE"),
			}
			const rounds = 400
			for i := range rounds {
				send(t, network, ts.port, mutate(rnd, seeds[i%len(seeds)]))
			}
			ts.assertOptionsOK(t)
		})
	}
}

func TestTruncatedMessageThenValid(t *testing.T) {
	ts := startServer(t)
	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
	t.Run("udp", func(t *testing.T) {
		valid := rawRequest("UDP", "OPTIONS", uri, "SIP/2.0", "OPTIONS")
		if res := ts.exchange(t, "udp", valid[:len(valid)/3], 300*time.Millisecond, 0); len(res) != 0 {
			t.Errorf("truncated datagram answered with %d", res[0].StatusCode)
		}
		// Datagrams are independent: the next complete one must be answered.
		if res := ts.exchange(t, "udp", rawRequest("UDP", "OPTIONS", uri, "SIP/2.0", "OPTIONS"), 2*time.Second, 1); len(res) != 1 || res[0].StatusCode != 200 {
			t.Fatalf("got %v after a truncated datagram, want one 200", res)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		// A message split across writes is normal on a stream and must be
		// reassembled, not treated as truncated.
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ts.port), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		valid := rawRequest("TCP", "OPTIONS", uri, "SIP/2.0", "OPTIONS")
		for _, part := range [][]byte{valid[:7], valid[7:40], valid[40:]} {
			if _, err := conn.Write(part); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to a message split across writes: %v", err)
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 OK\r\n")) {
			t.Fatalf("got %q, want 200 OK", buf[:n])
		}
	})
	ts.assertOptionsOK(t)
}

// TestNoDialBackToVia checks the server never connects out to the host a
// request's Via names. sipgo does so when the TCP connection a request came
// on closes before the answer, which would let anyone aim the server at any
// address. The trap is a loopback listener, so a regression costs nothing.
func TestNoDialBackToVia(t *testing.T) {
	ts := startServer(t)
	trap, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer trap.Close()
	dialed := make(chan net.Addr, 100)
	go func() {
		for {
			c, err := trap.Accept()
			if err != nil {
				return
			}
			dialed <- c.RemoteAddr()
			c.Close()
		}
	}()

	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
	trapVia := "Via: SIP/2.0/TCP " + trap.Addr().String() + ";"
	for _, method := range []string{"OPTIONS", "INVITE", "BYE", "CANCEL"} {
		for range 10 {
			req := rawRequest("TCP", method, uri, "SIP/2.0", method)
			req = []byte(strings.Replace(string(req), "Via: SIP/2.0/TCP 127.0.0.1:9;rport;", trapVia, 1))
			// Closing at once makes sipgo find no connection to answer on.
			send(t, "tcp", ts.port, req)
		}
	}
	// Hostname Vias must not even be looked up; with DNS refused they fail fast.
	for range 5 {
		req := rawRequest("TCP", "OPTIONS", uri, "SIP/2.0", "OPTIONS")
		req = []byte(strings.Replace(string(req), "Via: SIP/2.0/TCP 127.0.0.1:9;rport;", "Via: SIP/2.0/TCP media-test.invalid:5060;", 1))
		send(t, "tcp", ts.port, req)
	}
	select {
	case from := <-dialed:
		t.Fatalf("server dialed the Via address from %v", from)
	case <-time.After(time.Second):
	}
	ts.assertOptionsOK(t)
}

// TestHostileInputOnCalls sends the hostile payloads and mutated requests to a host
// that registers phones and answers calls, with seeds that reach those handlers: an
// INVITE with an SDP offer to a tenant's number, a REGISTER with a digest answer.
func TestHostileInputOnCalls(t *testing.T) {
	cs := startCallServer(t)
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n"
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			transport := strings.ToUpper(network)
			for name, payload := range hostilePayloads(transport, cs.port) {
				send(t, network, cs.port, payload)
				if t.Failed() {
					t.Fatalf("after %q", name)
				}
			}
			uri := fmt.Sprintf("sip:%s@127.0.0.1:%d", cs.number, cs.port)
			invite := rawRequest(transport, "INVITE", uri, "SIP/2.0", "INVITE", "Contact: <sip:caller@127.0.0.1:9>",
				"Content-Type: application/sdp")
			invite = bytes.Replace(invite, []byte("Content-Length: 0\r\n\r\n"),
				[]byte(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(offer), offer)), 1)
			register := rawRequest(transport, "REGISTER", fmt.Sprintf("sip:127.0.0.1:%d", cs.port), "SIP/2.0", "REGISTER",
				"Contact: <sip:1001@127.0.0.1:9>",
				`Authorization: Digest username="1001", realm="`+cs.agent.tenant.Slug+`", nonce="abc", uri="sip:127.0.0.1", response="00", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`)
			register = bytes.Replace(register, []byte("To: <sip:media@127.0.0.1>"), []byte("To: <sip:1001@"+cs.agent.tenant.Slug+">"), 1)
			rnd := rand.New(rand.NewPCG(7, uint64(len(network))))
			seeds := [][]byte{invite, register, rawRequest(transport, "BYE", uri, "SIP/2.0", "BYE"), rawRequest(transport, "ACK", uri, "SIP/2.0", "ACK")}
			for i := range 400 {
				send(t, network, cs.port, mutate(rnd, seeds[i%len(seeds)]))
			}
			cs.assertOptionsOK(t)
		})
	}
}
