package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sipp is a SIPp process of a test.
type sipp struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
	dir  string
}

// startSIPp runs SIPp with a scenario of testdata against the stack's SIP address.
func (s *testStack) startSIPp(t *testing.T, name, scenario string, args ...string) *sipp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not on PATH: install the Debian package sip-tester (make deps-test): %v", err)
	}
	p := &sipp{t: t, name: name, done: make(chan error, 1), dir: t.TempDir()}
	all := append([]string{"-sf", filepath.Join("testdata", scenario), "-nostdin", "-i", "127.0.0.1",
		"-trace_err", "-error_file", filepath.Join(p.dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(p.dir, "messages.log")}, args...)
	all = append(all, s.sipAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p.cmd = exec.CommandContext(ctx, bin, all...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// wait requires SIPp to end with every call successful.
func (p *sipp) wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			p.report()
			p.t.Fatalf("SIPp %s failed: %v", p.name, err)
		}
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		p.report()
		p.t.Fatalf("SIPp %s did not finish within %v", p.name, timeout)
	}
}

func (p *sipp) report() {
	p.t.Logf("SIPp %s output:\n%s", p.name, p.out.String())
	for _, f := range []string{"errors.log", "messages.log"} {
		if b, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil && len(b) > 0 {
			p.t.Logf("SIPp %s %s:\n%s", p.name, f, b)
		}
	}
}

// freeUDP returns a loopback port free for UDP.
func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sippPhone is an agent's phone: SIPp registers the extension with digest
// authentication from a port of its own, then another SIPp answers a call there.
func (s *testStack) sippPhone(t *testing.T, domain, extension, password string) *sipp {
	t.Helper()
	port := strconv.Itoa(freeUDP(t))
	inf := filepath.Join(t.TempDir(), "domain.csv")
	if err := os.WriteFile(inf, []byte("SEQUENTIAL\n"+domain+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.startSIPp(t, "phone registration", "phone_register.xml", "-m", "1", "-p", port, "-s", extension, "-inf", inf,
		"-au", extension, "-ap", password, "-timeout", "20s", "-timeout_error").wait(30 * time.Second)
	return s.startSIPp(t, "phone", "phone_answer.xml", "-m", "1", "-p", port, "-mp", strconv.Itoa(freeUDP(t)),
		"-timeout", "60s", "-timeout_error")
}

// TestInboundCallEndToEnd calls a tenant's number with SIPp while another SIPp is
// an agent's phone: the phone registers with digest authentication, the call is
// answered with SDP and becomes a voice interaction, which rings the phone; the
// phone answers, the interaction is connected to the agent, and the caller's BYE
// ends it and hangs up the phone.
func TestInboundCallEndToEnd(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	// The Debian SIPp answers the first challenge and knows only MD5, like some phones.
	s.args = append(s.args, "--sip-digest-algorithms", "MD5,SHA-256")
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	slug := s.call(t, "GET", "/v1/me", adminKey, nil, 200)["tenant"].(map[string]any)["slug"].(string)
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PUT", "/v1/agents/"+anaID+"/sip", adminKey, `{"extension":"2001","password":"ana-phone-secret"}`, 200)
	number := "+1555" + strconv.Itoa(int(time.Now().UnixNano()%9_000_000)+1_000_000)
	s.call(t, "POST", "/v1/voice/numbers", adminKey, map[string]string{"number": number, "name": "Support line"}, 201)

	phone := s.sippPhone(t, slug, "2001", "ana-phone-secret")

	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)

	caller := s.startSIPp(t, "caller", "caller.xml", "-m", "1", "-p", strconv.Itoa(freeUDP(t)), "-mp", strconv.Itoa(freeUDP(t)),
		"-s", strings.TrimPrefix(number, "+"), "-d", "3000", "-timeout", "60s", "-timeout_error")

	var id string
	s.waitFor(t, "/v1/interactions?limit=10", adminKey, "the call's interaction connected to Ana", func(v map[string]any) bool {
		for _, it := range v["items"].([]any) {
			ix := it.(map[string]any)
			if ix["channel"] == "voice" && ix["to"] == number {
				id = ix["id"].(string)
				return ix["status"] == "connected" && ix["agentId"] == anaID
			}
		}
		return false
	})
	ix := s.call(t, "GET", "/v1/interactions/"+id, adminKey, nil, 200)
	if ix["direction"] != "inbound" || ix["from"] != "+385915550123" || ix["source"] != "sip" || ix["customerPhone"] != "+385915550123" {
		t.Errorf("interaction %v", ix)
	}
	caller.wait(time.Minute)
	phone.wait(30 * time.Second)
	s.waitFor(t, "/v1/interactions/"+id, adminKey, "ended by the caller's BYE", func(v map[string]any) bool {
		return v["endedAt"] != nil && v["status"] != "connected"
	})
	ended := s.call(t, "GET", "/v1/interactions/"+id, adminKey, nil, 200)
	if ended["endReason"] != "the caller hung up" || ended["agentId"] != anaID {
		t.Errorf("ended %v", fmt.Sprint(ended["status"], " ", ended["endReason"]))
	}
}

// TestOutboundCallToBusyCustomer: an agent with a registered phone starts an
// outbound call; the media host rings the agent's phone (SIPp, which answers), then
// calls the customer through the trunk (SIPp, busy): the interaction ends as busy
// and the agent's phone is hung up.
func TestOutboundCallToBusyCustomer(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	trunkPort := freeUDP(t)
	s.args = append(s.args, "--sip-digest-algorithms", "MD5,SHA-256", "--sip-trunk", "127.0.0.1:"+strconv.Itoa(trunkPort))
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	slug := s.call(t, "GET", "/v1/me", adminKey, nil, 200)["tenant"].(map[string]any)["slug"].(string)
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PUT", "/v1/agents/"+anaID+"/sip", adminKey, `{"extension":"2002","password":"ana-phone-secret"}`, 200)
	phone := s.sippPhone(t, slug, "2002", "ana-phone-secret")
	trunk := s.startSIPp(t, "trunk", "trunk_busy.xml", "-m", "1", "-p", strconv.Itoa(trunkPort), "-timeout", "60s", "-timeout_error")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)

	created := s.call(t, "POST", "/v1/interactions", anaKey, `{"channel":"voice","direction":"outbound","to":"+385915550199"}`, 201)
	id := created["id"].(string)
	trunk.wait(time.Minute)
	phone.wait(30 * time.Second)
	ended := s.waitFor(t, "/v1/interactions/"+id, anaKey, "ended as busy", func(v map[string]any) bool {
		return v["outcome"] == "busy"
	})
	if ended["endedAt"] == nil || ended["agentId"] != anaID || ended["direction"] != "outbound" {
		t.Errorf("ended %v", ended)
	}
}
