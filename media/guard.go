package media

import (
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Limits protects the SIP endpoint from sources that flood it or guess passwords:
// REGISTER and INVITE are rate limited per source address (token buckets); a source
// that keeps exceeding its rate, or fails authentication too often, is banned for a
// while, and everything it sends meanwhile is dropped unanswered (an answer would
// only confirm the endpoint to a scanner and spend bandwidth on it). State is per
// media host, in memory: a ban needs no coordination to be useful, and a restart
// forgets it.
type Limits struct {
	// RegisterRate and RegisterBurst bound REGISTERs per second of one source, and
	// InviteRate and InviteBurst INVITEs. Zero takes the default.
	RegisterRate  float64
	RegisterBurst int
	InviteRate    float64
	InviteBurst   int
	// MaxViolations requests over the rate, or MaxAuthFailures failed
	// authentications, within Window ban the source for BanFor.
	MaxViolations   int
	MaxAuthFailures int
	Window          time.Duration
	BanFor          time.Duration
	// Trusted sources (carrier trunks, the load balancer, a test tool) are never
	// limited or banned.
	Trusted []netip.Prefix
}

// DefaultLimits suit agents' phones and a few carrier trunks that are listed as
// trusted: a phone registers every few minutes at most, and a source sending a
// steady stream of INVITEs without being a trusted trunk is a scanner.
func DefaultLimits() Limits {
	return Limits{
		RegisterRate: 2, RegisterBurst: 20,
		InviteRate: 5, InviteBurst: 30,
		MaxViolations: 50, MaxAuthFailures: 10,
		Window: time.Minute, BanFor: 10 * time.Minute,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.RegisterRate <= 0 {
		l.RegisterRate = d.RegisterRate
	}
	if l.RegisterBurst <= 0 {
		l.RegisterBurst = d.RegisterBurst
	}
	if l.InviteRate <= 0 {
		l.InviteRate = d.InviteRate
	}
	if l.InviteBurst <= 0 {
		l.InviteBurst = d.InviteBurst
	}
	if l.MaxViolations <= 0 {
		l.MaxViolations = d.MaxViolations
	}
	if l.MaxAuthFailures <= 0 {
		l.MaxAuthFailures = d.MaxAuthFailures
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.BanFor <= 0 {
		l.BanFor = d.BanFor
	}
	return l
}

// maxTrackedSources bounds the guard's memory under a flood from many addresses;
// past it, sources that are neither banned nor recently active are forgotten.
const maxTrackedSources = 100_000

type verdict int

const (
	allowed verdict = iota
	// limited: over the rate; answered 503 with Retry-After.
	limited
	// banned: dropped unanswered.
	banned
)

type guard struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	sources map[string]*sourceState
	calls   int
}

type bucket struct {
	tokens float64
	at     time.Time
}

type sourceState struct {
	register, invite bucket
	// violations and failures count within the window that started at windowStart.
	windowStart time.Time
	violations  int
	failures    int
	bannedUntil time.Time
	seen        time.Time
}

func newGuard(l Limits) *guard {
	return &guard{limits: l.withDefaults(), now: time.Now, sources: map[string]*sourceState{}}
}

func (g *guard) trusted(ip string) bool {
	if len(g.limits.Trusted) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range g.limits.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// state returns the source's state, creating it; callers hold mu.
func (g *guard) state(ip string, now time.Time) *sourceState {
	st := g.sources[ip]
	if st == nil {
		g.calls++
		if len(g.sources) >= maxTrackedSources || g.calls%10_000 == 0 {
			g.prune(now)
		}
		st = &sourceState{windowStart: now}
		g.sources[ip] = st
	}
	if now.Sub(st.windowStart) > g.limits.Window {
		st.windowStart, st.violations, st.failures = now, 0, 0
	}
	st.seen = now
	return st
}

func (g *guard) prune(now time.Time) {
	for ip, st := range g.sources {
		if now.After(st.bannedUntil) && now.Sub(st.seen) > g.limits.Window {
			delete(g.sources, ip)
		}
	}
}

// check decides what to do with a request from ip.
func (g *guard) check(ip string, method sip.RequestMethod, now time.Time) verdict {
	if g.trusted(ip) {
		return allowed
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.sources[ip]
	if st != nil && now.Before(st.bannedUntil) {
		return banned
	}
	var (
		b     *bucket
		rate  float64
		burst int
	)
	switch method {
	case sip.REGISTER:
		rate, burst = g.limits.RegisterRate, g.limits.RegisterBurst
	case sip.INVITE:
		rate, burst = g.limits.InviteRate, g.limits.InviteBurst
	default:
		return allowed
	}
	st = g.state(ip, now)
	if method == sip.REGISTER {
		b = &st.register
	} else {
		b = &st.invite
	}
	if b.at.IsZero() {
		b.tokens, b.at = float64(burst), now
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return allowed
	}
	st.violations++
	if st.violations >= g.limits.MaxViolations {
		st.bannedUntil = now.Add(g.limits.BanFor)
		return banned
	}
	return limited
}

// failure counts a failed authentication of ip, banning it at the limit.
func (g *guard) failure(ip string, now time.Time) {
	if g.trusted(ip) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(ip, now)
	st.failures++
	if st.failures >= g.limits.MaxAuthFailures {
		st.bannedUntil = now.Add(g.limits.BanFor)
	}
}
