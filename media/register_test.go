package media_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
	"switchboard/pgstore"
	"switchboard/pgtest"
)

// sipAgent is an agent of a tenant of its own with a SIP extension and password.
type sipAgent struct {
	tenant    pgstore.Tenant
	agentID   string
	extension string
	password  string
}

func newSIPAgent(t testing.TB) sipAgent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slug := "m-" + pgtest.RandomHex(5)
	ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return addSIPAgent(t, ct.Tenant, "1001")
}

func addSIPAgent(t testing.TB, tenant pgstore.Tenant, extension string) sipAgent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := store.CreateUser(ctx, tenant.ID, pgstore.Actor{}, pgstore.NewUser{Email: pgtest.RandomHex(4) + "@example.com", Name: "Agent " + extension, Role: pgstore.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	a := sipAgent{tenant: tenant, agentID: u.ID, extension: extension, password: "pw-" + pgtest.RandomHex(6)}
	if _, err := store.SetSIPCredential(ctx, tenant.ID, pgstore.Actor{}, u.ID, pgstore.SIPCredentialInput{Extension: extension, Password: a.password}); err != nil {
		t.Fatal(err)
	}
	return a
}

// startRegistrar runs a Server that is a registrar over the package's database and
// Redis.
func startRegistrar(t testing.TB, cfg media.Config) (*testServer, *media.Registrations) {
	t.Helper()
	regs := media.NewRegistrations(rdb)
	cfg.Directory, cfg.Registrations = store, regs
	if cfg.Host == "" {
		cfg.Host = "media-test-host"
	}
	return startServerWith(t, cfg), regs
}

// registerRequest is a REGISTER of the agent's address of record with contact.
func (ts *testServer) registerRequest(a sipAgent, transport, domain string, contact string, hdrs ...sip.Header) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: ts.port})
	req.SetTransport(transport)
	aor := sip.Uri{Scheme: "sip", User: a.extension, Host: domain}
	params := sip.NewParams()
	params.Add("tag", pgtest.RandomHex(4))
	req.AppendHeader(&sip.FromHeader{Address: aor, Params: params})
	req.AppendHeader(&sip.ToHeader{Address: aor})
	if contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", contact))
	}
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	return req
}

// sendReq sends req (again: a new transaction, the same Call-ID) and returns the final
// response.
func sendReq(t *testing.T, c *sipgo.Client, req *sip.Request) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req.RemoveHeader("Via")
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

// resend sends req once more with CSeq increased and an Authorization header.
func resend(t *testing.T, c *sipgo.Client, req *sip.Request, authorization string) *sip.Response {
	t.Helper()
	req.CSeq().SeqNo++
	req.RemoveHeader("Authorization")
	if authorization != "" {
		req.AppendHeader(sip.NewHeader("Authorization", authorization))
	}
	return sendReq(t, c, req)
}

// digestParams parses a WWW-Authenticate challenge's parameters.
func digestParams(t *testing.T, v string) map[string]string {
	t.Helper()
	scheme, rest, _ := strings.Cut(v, " ")
	if scheme != "Digest" {
		t.Fatalf("challenge %q is not Digest", v)
	}
	out := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			t.Fatalf("challenge %q: bad parameter %q", v, part)
		}
		out[k] = strings.Trim(val, `"`)
	}
	return out
}

// answer computes a digest answer to the challenge for the request, as RFC 7616
// §3.4.1 says, independently of the server's code.
func answer(chal map[string]string, username, password, method, uri, nc string) string {
	newHash := func() hash.Hash { return md5.New() }
	if chal["algorithm"] == "SHA-256" {
		newHash = sha256.New
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	cnonce := pgtest.RandomHex(8)
	ha1 := h(username + ":" + chal["realm"] + ":" + password)
	ha2 := h(method + ":" + uri)
	resp := h(ha1 + ":" + chal["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, cnonce="%s", qop=auth, nc=%s`,
		username, chal["realm"], chal["nonce"], uri, resp, chal["algorithm"], cnonce, nc)
}

// challenges returns the response's challenges by algorithm, checking their order.
func challenges(t *testing.T, res *sip.Response) map[string]map[string]string {
	t.Helper()
	if res.StatusCode != 401 {
		t.Fatalf("got %d %s, want 401", res.StatusCode, res.Reason)
	}
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 2 {
		t.Fatalf("%d challenges, want SHA-256 and MD5", len(hs))
	}
	out := map[string]map[string]string{}
	for i, want := range []string{"SHA-256", "MD5"} {
		p := digestParams(t, hs[i].Value())
		if p["algorithm"] != want || p["qop"] != "auth" || p["nonce"] == "" {
			t.Fatalf("challenge %d = %v, want algorithm %s with qop auth", i, p, want)
		}
		out[want] = p
	}
	return out
}

func TestRegisterDigest(t *testing.T) {
	ts, regs := startRegistrar(t, media.Config{})
	a := newSIPAgent(t)
	uri := fmt.Sprintf("sip:127.0.0.1:%d", ts.port)
	for _, transport := range []string{"UDP", "TCP"} {
		t.Run(transport, func(t *testing.T) {
			c := newClient(t)
			contact := fmt.Sprintf("<sip:%s@127.0.0.1:5099;transport=%s>", a.extension, strings.ToLower(transport))
			req := ts.registerRequest(a, transport, a.tenant.Slug, contact)
			chal := challenges(t, sendReq(t, c, req))
			if chal["SHA-256"]["realm"] != a.tenant.Slug || chal["SHA-256"]["nonce"] != chal["MD5"]["nonce"] {
				t.Fatalf("challenges %v", chal)
			}
			// A wrong password is challenged again, as is an unknown extension.
			res := resend(t, c, req, answer(chal["SHA-256"], a.extension, "wrong-password", "REGISTER", uri, "00000001"))
			chal = challenges(t, res)

			for i, alg := range []string{"SHA-256", "MD5"} {
				auth := answer(chal[alg], a.extension, a.password, "REGISTER", uri, fmt.Sprintf("%08x", i+1))
				res = resend(t, c, req, auth)
				if res.StatusCode != 200 {
					t.Fatalf("%s answer: got %d %s", alg, res.StatusCode, res.Reason)
				}
				// The same answer again is a replay.
				res = resend(t, c, req, auth)
				if ch := challenges(t, res); ch["MD5"]["stale"] != "true" {
					t.Errorf("replayed %s answer: challenge %v, want stale=true", alg, ch["MD5"])
				}
			}
			got := header(res, "Date")
			if _, err := time.Parse(time.RFC1123, got); got != "" && err != nil {
				t.Errorf("Date %q: %v", got, err)
			}
			list, err := regs.Lookup(context.Background(), a.tenant.ID, a.agentID)
			if err != nil || len(list) != 1 {
				t.Fatalf("Lookup = %+v, %v", list, err)
			}
			r := list[0]
			if !strings.Contains(r.Contact, "127.0.0.1:5099") || r.Transport != transport || r.Host != "media-test-host" ||
				!strings.HasPrefix(r.Source, "127.0.0.1:") || r.Extension != a.extension {
				t.Errorf("registration %+v", r)
			}
			if left := time.Until(r.Expires); left < 59*time.Minute || left > time.Hour {
				t.Errorf("expires in %v, want the default hour", left)
			}

			// Un-register.
			req = ts.registerRequest(a, transport, a.tenant.Slug, contact, sip.NewHeader("Expires", "0"))
			chal = challenges(t, sendReq(t, c, req))
			res = resend(t, c, req, answer(chal["MD5"], a.extension, a.password, "REGISTER", uri, "00000001"))
			if res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 0 {
				t.Fatalf("un-register: %d with %d contacts", res.StatusCode, len(res.GetHeaders("Contact")))
			}
			if list, _ := regs.Lookup(context.Background(), a.tenant.ID, a.agentID); len(list) != 0 {
				t.Fatalf("after un-register: %+v", list)
			}
		})
	}
}

func TestRegisterExpiries(t *testing.T) {
	ts, regs := startRegistrar(t, media.Config{})
	a := newSIPAgent(t)
	c := newClient(t)
	uri := fmt.Sprintf("sip:127.0.0.1:%d", ts.port)
	nc := 0
	// register sends req with a fresh answer and returns the final response.
	register := func(contact string, hdrs ...sip.Header) *sip.Response {
		t.Helper()
		req := ts.registerRequest(a, "UDP", a.tenant.Slug+".sip.example.com", contact, hdrs...)
		chal := challenges(t, sendReq(t, c, req))
		nc++
		return resend(t, c, req, answer(chal["SHA-256"], a.extension, a.password, "REGISTER", uri, fmt.Sprintf("%08x", nc)))
	}
	res := register("<sip:1001@127.0.0.1:5070>", sip.NewHeader("Expires", "30"))
	if res.StatusCode != 423 || header(res, "Min-Expires") != "60" {
		t.Fatalf("30 s: got %d %s Min-Expires %q; want 423 with Min-Expires 60", res.StatusCode, res.Reason, header(res, "Min-Expires"))
	}
	res = register("<sip:1001@127.0.0.1:5070>;expires=7200")
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	if got := header(res, "Contact"); !strings.HasSuffix(got, ";expires=3600") {
		t.Errorf("Contact %q, want the maximum of 3600 s", got)
	}
	res = register("<sip:1001@127.0.0.1:5071>;expires=120, <sip:1001@127.0.0.1:5072>")
	if res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 3 {
		t.Fatalf("got %d with %d contacts, want 3", res.StatusCode, len(res.GetHeaders("Contact")))
	}
	// A query lists the bindings without changing them.
	if res = register(""); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 3 {
		t.Fatalf("query: %d with %d contacts", res.StatusCode, len(res.GetHeaders("Contact")))
	}
	if res = register("*"); res.StatusCode != 400 {
		t.Errorf("Contact * without Expires 0: got %d, want 400", res.StatusCode)
	}
	if res = register("*", sip.NewHeader("Expires", "0")); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 0 {
		t.Fatalf("Contact *: %d with %d contacts", res.StatusCode, len(res.GetHeaders("Contact")))
	}
	if list, _ := regs.Lookup(context.Background(), a.tenant.ID, a.agentID); len(list) != 0 {
		t.Fatalf("after Contact *: %+v", list)
	}
	if res = register("<sip:1001@127.0.0.1:5070>", sip.NewHeader("Expires", "soon")); res.StatusCode != 400 {
		t.Errorf("bad Expires: got %d, want 400", res.StatusCode)
	}
	if res = register("<tel:+15550001>"); res.StatusCode != 416 {
		t.Errorf("tel: Contact: got %d, want 416", res.StatusCode)
	}
}

func TestRegisterRefusals(t *testing.T) {
	ts, _ := startRegistrar(t, media.Config{})
	a := newSIPAgent(t)
	other := addSIPAgent(t, a.tenant, "1002")
	c := newClient(t)
	uri := fmt.Sprintf("sip:127.0.0.1:%d", ts.port)

	if res := sendReq(t, c, ts.registerRequest(a, "UDP", "no-such-tenant", "<sip:x@127.0.0.1>")); res.StatusCode != 404 {
		t.Errorf("unknown domain: got %d, want 404", res.StatusCode)
	}
	// The IP address as domain needs a default tenant.
	if res := sendReq(t, c, ts.registerRequest(a, "UDP", "127.0.0.1", "<sip:x@127.0.0.1>")); res.StatusCode != 404 {
		t.Errorf("IP domain without default tenant: got %d, want 404", res.StatusCode)
	}
	// Another agent's password does not register this one.
	req := ts.registerRequest(a, "UDP", a.tenant.Slug, "<sip:x@127.0.0.1>")
	chal := challenges(t, sendReq(t, c, req))
	if res := resend(t, c, req, answer(chal["MD5"], other.extension, other.password, "REGISTER", uri, "00000001")); res.StatusCode != 403 {
		t.Errorf("another extension's credentials: got %d, want 403", res.StatusCode)
	}
	// An answer for another Request-URI is refused.
	chal = challenges(t, resend(t, c, req, ""))
	if res := resend(t, c, req, answer(chal["MD5"], a.extension, a.password, "REGISTER", "sip:elsewhere.example", "00000001")); res.StatusCode != 401 {
		t.Errorf("answer for another URI: got %d, want 401", res.StatusCode)
	}
	for name, auth := range map[string]string{
		"not digest":       "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
		"unterminated":     `Digest username="1001, realm="x`,
		"missing response": `Digest username="1001", realm="` + a.tenant.Slug + `", nonce="x", uri="` + uri + `"`,
		"repeated param":   `Digest username="1001", username="1002", realm="r", nonce="n", uri="u", response="r"`,
	} {
		if res := resend(t, c, req, auth); res.StatusCode != 400 {
			t.Errorf("%s Authorization: got %d, want 400", name, res.StatusCode)
		}
	}
	// A nonce the server never issued gets a fresh challenge, without stale.
	forged := map[string]string{"realm": a.tenant.Slug, "nonce": "bm90LWEtbm9uY2U", "algorithm": "MD5"}
	if ch := challenges(t, resend(t, c, req, answer(forged, a.extension, a.password, "REGISTER", uri, "00000001"))); ch["MD5"]["stale"] != "" {
		t.Errorf("forged nonce answered stale")
	}

	// A disabled agent cannot register, though the password is right.
	disabled := false
	if _, err := store.UpdateAgent(context.Background(), a.tenant.ID, pgstore.Actor{}, a.agentID, pgstore.AgentUpdate{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	chal = challenges(t, resend(t, c, req, ""))
	if res := resend(t, c, req, answer(chal["SHA-256"], a.extension, a.password, "REGISTER", uri, "00000001")); res.StatusCode != 401 {
		t.Errorf("disabled agent: got %d, want 401", res.StatusCode)
	}
}

func TestRegisterDefaultTenantAndStaleNonce(t *testing.T) {
	a := newSIPAgent(t)
	ts, regs := startRegistrar(t, media.Config{DefaultTenant: a.tenant.Slug})
	media.SetNonceLifetimeForTest(ts.srv, 50*time.Millisecond)
	c := newClient(t)
	uri := fmt.Sprintf("sip:127.0.0.1:%d", ts.port)
	req := ts.registerRequest(a, "TCP", "127.0.0.1", "<sip:1001@127.0.0.1:5090;transport=tcp>")
	chal := challenges(t, sendReq(t, c, req))
	time.Sleep(100 * time.Millisecond)
	ch := challenges(t, resend(t, c, req, answer(chal["MD5"], a.extension, a.password, "REGISTER", uri, "00000001")))
	if ch["MD5"]["stale"] != "true" || ch["SHA-256"]["stale"] != "true" {
		t.Fatalf("expired nonce: challenges %v, want stale=true", ch)
	}
	res := resend(t, c, req, answer(ch["SHA-256"], a.extension, a.password, "REGISTER", uri, "00000001"))
	if res.StatusCode != 200 {
		t.Fatalf("answer to the fresh nonce: %d", res.StatusCode)
	}
	if list, _ := regs.Lookup(context.Background(), a.tenant.ID, a.agentID); len(list) != 1 {
		t.Fatalf("registrations %+v", list)
	}
}

// A source that floods REGISTERs is slowed down (503) and then banned: nothing it
// sends is answered for a while, OPTIONS included.
func TestRegisterFloodBansSource(t *testing.T) {
	ts, _ := startRegistrar(t, media.Config{Limits: media.Limits{RegisterRate: 0.1, RegisterBurst: 2, MaxViolations: 3, BanFor: time.Minute}})
	a := newSIPAgent(t)
	uri := fmt.Sprintf("sip:media@127.0.0.1:%d", ts.port)
	var codes []int
	for range 6 {
		req := rawRequest("UDP", "REGISTER", uri, "SIP/2.0", "REGISTER")
		req = []byte(strings.Replace(string(req), "To: <sip:media@127.0.0.1>", "To: <sip:"+a.extension+"@"+a.tenant.Slug+">", 1))
		res := ts.exchange(t, "udp", req, 300*time.Millisecond, 1)
		if len(res) == 0 {
			codes = append(codes, 0)
			continue
		}
		codes = append(codes, res[0].StatusCode)
	}
	want := []int{401, 401, 503, 503, 0, 0}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("answers %v, want %v (0: none)", codes, want)
	}
	if res := ts.exchange(t, "udp", rawRequest("UDP", "OPTIONS", uri, "SIP/2.0", "OPTIONS"), 300*time.Millisecond, 1); len(res) != 0 {
		t.Fatalf("a banned source's OPTIONS got %d", res[0].StatusCode)
	}
}
