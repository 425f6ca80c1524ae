package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/pgstore"
)

// Bounds of a registration's lifetime. Phones refresh before expiry, so the shorter
// it is the sooner a phone that vanished stops being rung, and the more REGISTERs
// arrive; an hour is RFC 3261's default, a minute its minimum for a registrar.
const (
	DefaultMinExpires = 60 * time.Second
	DefaultMaxExpires = time.Hour
	// defaultExpires applies when a REGISTER names no expiry (RFC 3261 §10.2.1.1).
	defaultExpires = time.Hour
)

// storeTimeout bounds the PostgreSQL and Redis work of one request: a phone
// retransmits over UDP meanwhile, and a stuck store must not pile up handlers.
const storeTimeout = 3 * time.Second

// onRegister is the registrar of agents' phones (RFC 3261 §10.3): the To URI is the
// address of record sip:<extension>@<tenant domain>; the request must carry a digest
// answer for that extension in the tenant's realm; its Contacts are then added,
// refreshed or removed in Redis, and the answer lists the bindings that remain.
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	to := req.To()
	if to == nil || to.Address.User == "" || to.Address.Host == "" {
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request (To is not an address of record)")
		return
	}
	if !strings.EqualFold(to.Address.Scheme, "sip") && !strings.EqualFold(to.Address.Scheme, "sips") {
		s.respond(req, tx, 416, "Unsupported URI Scheme")
		return
	}
	tenant, err := s.sipTenant(ctx, to.Address.Host)
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		s.respond(req, tx, sip.StatusNotFound, "Not Found (unknown domain)")
		return
	case err != nil:
		s.storeFailed(req, tx, "tenant lookup", err)
		return
	}
	secret, ok := s.authenticate(ctx, req, tx, tenant, to.Address.User)
	if !ok {
		return
	}
	changes, removeAll, code, reason, hdrs := s.bindingChanges(req, secret)
	if code != 0 {
		s.respond(req, tx, code, reason, hdrs...)
		return
	}
	cseq := req.CSeq().SeqNo
	regs, err := s.regs.apply(ctx, secret.TenantID, secret.AgentID, changes, removeAll, callID(req), cseq)
	switch {
	case errors.Is(err, errOutOfOrder):
		s.respond(req, tx, sip.StatusInternalServerError, "Server Internal Error (REGISTER out of order)")
		return
	case errors.Is(err, errTooManyBindings):
		s.respond(req, tx, sip.StatusForbidden, fmt.Sprintf("Forbidden (at most %d contacts)", maxBindings))
		return
	case err != nil:
		s.storeFailed(req, tx, "registration write", err)
		return
	}
	now := s.regs.now()
	out := []sip.Header{sip.NewHeader("Date", now.UTC().Format(http1123))}
	for _, reg := range regs {
		secs := int(math.Ceil(reg.Expires.Sub(now).Seconds()))
		out = append(out, sip.NewHeader("Contact", fmt.Sprintf("<%s>;expires=%d", reg.Contact, secs)))
	}
	s.log.Info("SIP registration", "tenant_id", secret.TenantID, "agent_id", secret.AgentID, "extension", secret.Extension,
		"source", req.Source(), "transport", req.Transport(), "contacts", len(regs), "changed", len(changes), "remove_all", removeAll)
	s.respond(req, tx, sip.StatusOK, "OK", out...)
}

// http1123 is the SIP Date format (RFC 3261 §20.17).
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// sipTenant finds the tenant of a SIP domain: its slug or first label, else the
// configured default tenant (phones that name the server by its address).
func (s *Server) sipTenant(ctx context.Context, domain string) (pgstore.Tenant, error) {
	t, err := s.dir.SIPTenant(ctx, domain)
	if errors.Is(err, pgstore.ErrNotFound) && s.defaultTenant != "" {
		return s.dir.SIPTenant(ctx, s.defaultTenant)
	}
	return t, err
}

func (s *Server) storeFailed(req *sip.Request, tx sip.ServerTransaction, what string, err error) {
	s.log.Warn("SIP request failed: store unavailable", "what", what, "method", req.Method, "source", req.Source(), "error", err)
	s.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
}

// dummyHA1 is checked against when the extension is unknown, so that an unknown
// extension costs the same time as a wrong password and looks the same.
var dummyHA1 = map[string]string{
	pgstore.DigestMD5:    strings.Repeat("0", 32),
	pgstore.DigestSHA256: strings.Repeat("0", 64),
}

// authenticate checks the request's digest answer for extension in the tenant's
// realm. When it is missing, wrong or stale it answers with a challenge (or refuses)
// and returns false.
func (s *Server) authenticate(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, tenant pgstore.Tenant, extension string) (pgstore.SIPSecret, bool) {
	realm := tenant.Slug
	h := req.GetHeader("Authorization")
	if h == nil {
		s.challenge(req, tx, realm, false)
		return pgstore.SIPSecret{}, false
	}
	c, err := parseCredentials(h.Value())
	if err != nil {
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request (malformed Authorization)")
		return pgstore.SIPSecret{}, false
	}
	if c.Realm != realm {
		// An answer to another realm's challenge (a phone moved between tenants, or
		// configured with the wrong domain): ask again in ours.
		s.challenge(req, tx, realm, false)
		return pgstore.SIPSecret{}, false
	}
	if !strings.EqualFold(c.Username, extension) {
		// RFC 3261 §10.3 step 4: the authenticated user may change only its own binding.
		s.authFailed(req, "username is not the address of record")
		s.respond(req, tx, sip.StatusForbidden, "Forbidden (the digest username is not the registered extension)")
		return pgstore.SIPSecret{}, false
	}
	c.Algorithm = canonicalAlgorithm(c.Algorithm)
	if !slices.Contains(s.algorithms, c.Algorithm) || c.QOP != "auth" || c.Cnonce == "" || !validNC(c.NC) || !sameURI(c.URI, req.Recipient) {
		s.authFailed(req, "digest answer not to this registrar's terms")
		s.challenge(req, tx, realm, false)
		return pgstore.SIPSecret{}, false
	}
	switch s.nonces.check(c.Nonce) {
	case nonceForged:
		// Not ours, or from before a restart: a fresh challenge, which is no failure.
		s.challenge(req, tx, realm, false)
		return pgstore.SIPSecret{}, false
	case nonceStale:
		s.challenge(req, tx, realm, true)
		return pgstore.SIPSecret{}, false
	}
	secret, err := s.dir.SIPSecretFor(ctx, tenant.ID, extension)
	known := err == nil && secret.Realm == realm
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		s.storeFailed(req, tx, "credential lookup", err)
		return pgstore.SIPSecret{}, false
	}
	ha1 := dummyHA1[c.Algorithm]
	if known {
		ha1 = secret.HA1[c.Algorithm]
	}
	if !responseMatches(c, ha1, string(req.Method)) || !known {
		s.authFailed(req, "wrong password or unknown extension")
		s.challenge(req, tx, realm, false)
		return pgstore.SIPSecret{}, false
	}
	first, err := s.regs.firstUse(ctx, c.Nonce, c.NC)
	if err != nil {
		s.storeFailed(req, tx, "nonce count", err)
		return pgstore.SIPSecret{}, false
	}
	if !first {
		// A replayed answer: whoever sent it must prove the password again.
		s.authFailed(req, "nonce count replayed")
		s.challenge(req, tx, realm, true)
		return pgstore.SIPSecret{}, false
	}
	return secret, true
}

// challenge answers 401 with a digest challenge per algorithm, strongest first
// (RFC 8760 §2.4) unless configured otherwise.
func (s *Server) challenge(req *sip.Request, tx sip.ServerTransaction, realm string, stale bool) {
	nonce := s.nonces.issue()
	var hdrs []sip.Header
	for _, alg := range s.algorithms {
		hdrs = append(hdrs, sip.NewHeader("WWW-Authenticate", challenge(realm, nonce, alg, stale)))
	}
	s.respond(req, tx, sip.StatusUnauthorized, "Unauthorized", hdrs...)
}

// authFailed notes a failed authentication of the request's source (see guard).
func (s *Server) authFailed(req *sip.Request, why string) {
	s.log.Info("SIP authentication failed", "method", req.Method, "source", req.Source(), "why", why)
	if s.guard != nil {
		s.guard.failure(sourceIP(req.Source()), s.guard.now())
	}
}

// sameURI reports whether the digest's uri names the Request-URI: a digest answer
// computed for another request must not be accepted for this one.
func sameURI(digestURI string, recipient sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, recipient.Scheme) && u.User == recipient.User &&
		strings.EqualFold(u.Host, recipient.Host) && u.Port == recipient.Port
}

// bindingChanges reads the REGISTER's Contacts and expiries (RFC 3261 §10.3 steps 6
// and 7). A non-zero code refuses the request.
func (s *Server) bindingChanges(req *sip.Request, secret pgstore.SIPSecret) (changes []bindingChange, removeAll bool, code int, reason string, hdrs []sip.Header) {
	var headerExpires *time.Duration
	if h := req.GetHeader("Expires"); h != nil {
		d, ok := parseExpires(h.Value())
		if !ok {
			return nil, false, sip.StatusBadRequest, "Bad Request (malformed Expires)", nil
		}
		headerExpires = &d
	}
	contacts := req.GetHeaders("Contact")
	now := s.regs.now()
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, false, sip.StatusBadRequest, "Bad Request (malformed Contact)", nil
		}
		if c.Address.Wildcard {
			// Contact: * removes every binding, and only with Expires: 0 (§10.2.2).
			if len(contacts) != 1 || headerExpires == nil || *headerExpires != 0 {
				return nil, false, sip.StatusBadRequest, "Bad Request (Contact: * needs Expires: 0 and no other Contact)", nil
			}
			return nil, true, 0, "", nil
		}
		if !strings.EqualFold(c.Address.Scheme, "sip") && !strings.EqualFold(c.Address.Scheme, "sips") || c.Address.Host == "" {
			return nil, false, 416, "Unsupported URI Scheme (Contact)", nil
		}
		expires := defaultExpires
		if headerExpires != nil {
			expires = *headerExpires
		}
		if v, ok := c.Params.Get("expires"); ok {
			d, ok := parseExpires(v)
			if !ok {
				return nil, false, sip.StatusBadRequest, "Bad Request (malformed Contact expires)", nil
			}
			expires = d
		}
		if expires != 0 && expires < s.minExpires {
			return nil, false, 423, "Interval Too Brief",
				[]sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(int(s.minExpires.Seconds())))}
		}
		expires = min(expires, s.maxExpires)
		uri := contactURI(c.Address)
		var expiry time.Time
		if expires > 0 {
			expiry = now.Add(expires)
		}
		ua := ""
		if h := req.GetHeader("User-Agent"); h != nil {
			ua = clipText(h.Value(), 200)
		}
		changes = append(changes, bindingChange{key: contactKey(c.Address), reg: Registration{
			TenantID: secret.TenantID, AgentID: secret.AgentID, Extension: secret.Extension,
			Contact: uri, Source: req.Source(), Transport: req.Transport(), Host: s.host,
			CallID: callID(req), CSeq: req.CSeq().SeqNo, UserAgent: ua, Expires: expiry, Updated: now,
		}})
	}
	return changes, false, 0, "", nil
}

// parseExpires reads delta-seconds (RFC 3261 §25.1: up to 2^32-1).
func parseExpires(v string) (time.Duration, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// contactURI is the Contact URI without header parameters, as the answer lists it.
func contactURI(u sip.Uri) string {
	c := u.Clone()
	c.Headers = nil
	return c.String()
}

// contactKey identifies a binding: contacts are equal when their scheme, user, host
// and port are (RFC 3261 §10.3 step 8 compares URIs; parameters rarely differ).
func contactKey(u sip.Uri) string {
	port := ""
	if u.Port != 0 {
		port = strconv.Itoa(u.Port)
	}
	return strings.ToLower(u.Scheme) + ":" + u.User + "@" + strings.ToLower(u.Host) + ":" + port
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sourceIP is the host part of a host:port source.
func sourceIP(source string) string {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		return source
	}
	return host
}
