package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/pgstore"
)

// The example of RFC 7616 §3.9.1, whose responses were computed by its authors.
func TestDigestRFC7616Example(t *testing.T) {
	for _, tc := range []struct{ alg, response string }{
		{pgstore.DigestMD5, "8ca523f5e9506fed4657c9700eebdbec"},
		{pgstore.DigestSHA256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		c, err := parseCredentials(`Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ` +
			`algorithm=` + tc.alg + `, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ` +
			`cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="` + tc.response + `", ` +
			`opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
		if err != nil {
			t.Fatal(err)
		}
		c.Algorithm = canonicalAlgorithm(c.Algorithm)
		ha1, _ := pgstore.DigestHA1(tc.alg, "Mufasa", "http-auth@example.org", "Circle of Life")
		if !responseMatches(c, ha1, "GET") {
			t.Errorf("%s: computed %s, RFC says %s", tc.alg, expectedResponse(c, ha1, "GET"), tc.response)
		}
		if responseMatches(c, ha1, "POST") {
			t.Errorf("%s: the answer for GET matches POST", tc.alg)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	c, err := parseCredentials(`Digest  username="a\"b" ,realm=r,nonce="n, with comma", uri="sip:x", response="ABC", nc=00000002, qop="auth", cnonce=c, future=param`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != `a"b` || c.Realm != "r" || c.Nonce != "n, with comma" || c.Response != "abc" || c.NC != "00000002" ||
		c.QOP != "auth" || c.Cnonce != "c" || c.Algorithm != "MD5" {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{
		"", "Digest", "Basic abc", `Digest username="x`, `Digest username`, `Digest username="a" realm="b"`,
		`Digest username="a", username="b", realm=r, nonce=n, uri=u, response=x`,
		`Digest realm=r, nonce=n, uri=u, response=x`,
	} {
		if _, err := parseCredentials(bad); err == nil {
			t.Errorf("parseCredentials(%q) accepted", bad)
		}
	}
}

func TestNonces(t *testing.T) {
	n, err := newNonces()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	n.now = func() time.Time { return now }
	nonce := n.issue()
	if n.check(nonce) != nonceFresh {
		t.Fatal("a new nonce is not fresh")
	}
	now = now.Add(nonceLifetime + time.Second)
	if n.check(nonce) != nonceStale {
		t.Fatal("an old nonce is not stale")
	}
	other, _ := newNonces()
	other.now = n.now
	for _, bad := range []string{other.issue(), "", "!!!", nonce[:len(nonce)-2] + "AA"} {
		if n.check(bad) != nonceForged {
			t.Errorf("nonce %q accepted", bad)
		}
	}
}

func TestGuard(t *testing.T) {
	g := newGuard(Limits{RegisterRate: 1, RegisterBurst: 3, InviteRate: 10, InviteBurst: 5, MaxViolations: 4, MaxAuthFailures: 3,
		Window: time.Minute, BanFor: 10 * time.Minute, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	now := time.Unix(1_800_000_000, 0)
	var got []verdict
	for range 6 {
		got = append(got, g.check("192.0.2.1", sip.REGISTER, now))
	}
	want := []verdict{allowed, allowed, allowed, limited, limited, limited}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("REGISTER burst: %v, want %v", got, want)
		}
	}
	// Other methods and other sources are not limited by it.
	if g.check("192.0.2.1", sip.OPTIONS, now) != allowed || g.check("192.0.2.2", sip.REGISTER, now) != allowed {
		t.Fatal("the limit spilled over")
	}
	// Tokens come back with time.
	now = now.Add(1500 * time.Millisecond)
	if v := g.check("192.0.2.1", sip.REGISTER, now); v != allowed {
		t.Fatalf("after refill: %v", v)
	}
	// The fourth violation in the window bans the source, for every method.
	g.check("192.0.2.1", sip.REGISTER, now)
	if v := g.check("192.0.2.1", sip.REGISTER, now); v != banned {
		t.Fatalf("fourth violation: %v, want banned", v)
	}
	if g.check("192.0.2.1", sip.OPTIONS, now) != banned {
		t.Fatal("a banned source's OPTIONS got through")
	}
	now = now.Add(10*time.Minute + time.Second)
	if g.check("192.0.2.1", sip.OPTIONS, now) != allowed {
		t.Fatal("the ban did not lapse")
	}
	// Failed authentications ban too; trusted sources are never limited.
	for range 3 {
		g.failure("198.51.100.7", now)
		g.failure("10.1.2.3", now)
	}
	if g.check("198.51.100.7", sip.INVITE, now) != banned {
		t.Fatal("three failures did not ban")
	}
	for range 100 {
		if g.check("10.1.2.3", sip.INVITE, now) != allowed {
			t.Fatal("a trusted source was limited")
		}
	}
}
