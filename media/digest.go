package media

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"switchboard/pgstore"
)

// Digest authentication of SIP requests (RFC 3261 §22 with RFC 7616's algorithms as
// RFC 8760 brings them to SIP): SHA-256 offered first, MD5 for older phones, qop=auth
// only. Nonces are stateless: a timestamp and random bytes under an HMAC of this
// process's secret, so a nonce can be checked without storage, an expired one is told
// apart from a forged one (stale=true: the phone retries with its password at once),
// and a nonce-count seen before is refused (see Registrations.FirstUse).

// nonceLifetime is how long a challenge may be answered. Phones answer within a round
// trip; a longer life only widens the window for a captured answer.
const nonceLifetime = 5 * time.Minute

const nonceRandom = 12

// nonces makes and checks nonces.
type nonces struct {
	secret   [32]byte
	lifetime time.Duration
	now      func() time.Time
}

func newNonces() (*nonces, error) {
	n := &nonces{lifetime: nonceLifetime, now: time.Now}
	if _, err := rand.Read(n.secret[:]); err != nil {
		return nil, fmt.Errorf("media: nonce secret: %w", err)
	}
	return n, nil
}

func (n *nonces) mac(body []byte) []byte {
	m := hmac.New(sha256.New, n.secret[:])
	m.Write(body)
	return m.Sum(nil)[:16]
}

// issue returns a new nonce.
func (n *nonces) issue() string {
	body := make([]byte, 8+nonceRandom, 8+nonceRandom+16)
	binary.BigEndian.PutUint64(body, uint64(n.now().UnixNano()))
	_, _ = rand.Read(body[8:])
	return base64.RawURLEncoding.EncodeToString(append(body, n.mac(body)...))
}

type nonceState int

const (
	nonceForged nonceState = iota
	nonceStale
	nonceFresh
)

// check tells a nonce this process issued and still honours from a stale one and
// from anything else.
func (n *nonces) check(nonce string) nonceState {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceRandom+16 {
		return nonceForged
	}
	body, sum := raw[:8+nonceRandom], raw[8+nonceRandom:]
	if !hmac.Equal(sum, n.mac(body)) {
		return nonceForged
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(body)))
	age := n.now().Sub(issued)
	if age < -time.Minute || age > n.lifetime {
		return nonceStale
	}
	return nonceFresh
}

// challenge is the value of a WWW-Authenticate header for one algorithm.
func challenge(realm, nonce, algorithm string, stale bool) string {
	v := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, realm, nonce, algorithm)
	if stale {
		v += ", stale=true"
	}
	return v
}

// credentials are the parameters of an Authorization header's digest response.
type credentials struct {
	Username, Realm, Nonce, URI, Response, Algorithm, Cnonce, Opaque, QOP, NC string
}

var errNotDigest = errors.New("not a Digest authorization")

// parseCredentials parses a Digest Authorization header value (RFC 7616 §3.4):
// comma-separated name=value pairs, values quoted or tokens. Parameters it does not
// know are skipped; a repeated one or a malformed list is an error.
func parseCredentials(v string) (credentials, error) {
	var c credentials
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, errNotDigest
	}
	seen := map[string]bool{}
	s := strings.TrimSpace(rest)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return c, fmt.Errorf("digest parameter without a value near %q", clip(s))
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			end, b := 1, strings.Builder{}
			for ; end < len(s) && s[end] != '"'; end++ {
				if s[end] == '\\' && end+1 < len(s) {
					end++
				}
				b.WriteByte(s[end])
			}
			if end >= len(s) {
				return c, fmt.Errorf("unterminated quoted value of %s", clip(name))
			}
			val, s = b.String(), s[end+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" {
			if s[0] != ',' {
				return c, fmt.Errorf("digest parameters not separated by a comma near %q", clip(s))
			}
			s = strings.TrimLeft(s[1:], " \t")
		}
		if seen[name] {
			return c, fmt.Errorf("digest parameter %s repeated", clip(name))
		}
		seen[name] = true
		switch name {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = strings.ToLower(val)
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.Cnonce = val
		case "opaque":
			c.Opaque = val
		case "qop":
			c.QOP = strings.ToLower(val)
		case "nc":
			c.NC = strings.ToLower(val)
		}
	}
	if c.Username == "" || c.Realm == "" || c.Nonce == "" || c.URI == "" || c.Response == "" {
		return c, errors.New("digest authorization lacks username, realm, nonce, uri or response")
	}
	if c.Algorithm == "" {
		c.Algorithm = pgstore.DigestMD5 // RFC 7616 §3.4: absent means MD5
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// digestAlgorithms checks a configured list of algorithms and puts it in canonical
// spelling; empty is every algorithm, strongest first.
func digestAlgorithms(in []string) ([]string, error) {
	if len(in) == 0 {
		return pgstore.DigestAlgorithms(), nil
	}
	var out []string
	for _, a := range in {
		c := canonicalAlgorithm(strings.TrimSpace(a))
		if c == "" {
			return nil, fmt.Errorf("media: digest algorithm %q: use %s", a, strings.Join(pgstore.DigestAlgorithms(), " or "))
		}
		if slices.Contains(out, c) {
			return nil, fmt.Errorf("media: digest algorithm %s listed twice", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// canonicalAlgorithm is the registrar's spelling of an algorithm it offers, or "".
func canonicalAlgorithm(a string) string {
	for _, known := range pgstore.DigestAlgorithms() {
		if strings.EqualFold(a, known) {
			return known
		}
	}
	return ""
}

func hashHex(algorithm string, s string) string {
	var h hash.Hash
	if algorithm == pgstore.DigestSHA256 {
		h = sha256.New()
	} else {
		h = md5.New()
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// expectedResponse is the digest response for ha1 (RFC 7616 §3.4.1, qop=auth).
func expectedResponse(c credentials, ha1, method string) string {
	ha2 := hashHex(c.Algorithm, method+":"+c.URI)
	return hashHex(c.Algorithm, ha1+":"+c.Nonce+":"+c.NC+":"+c.Cnonce+":"+c.QOP+":"+ha2)
}

// responseMatches compares in constant time, so the time taken tells nothing about
// how much of a guess was right.
func responseMatches(c credentials, ha1, method string) bool {
	want := expectedResponse(c, ha1, method)
	return subtle.ConstantTimeCompare([]byte(want), []byte(c.Response)) == 1
}

// validNC reports whether nc is the 8 hex digits RFC 7616 asks for.
func validNC(nc string) bool {
	if len(nc) != 8 {
		return false
	}
	_, err := hex.DecodeString(nc)
	return err == nil
}
