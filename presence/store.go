package presence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors; the API maps them to HTTP codes.
var (
	// ErrInvalid marks bad input (an empty ID, an unknown channel…).
	ErrInvalid = errors.New("presence: invalid input")
	// ErrNotLoggedIn: the agent has no session (never logged in, logged out,
	// or Redis was flushed).
	ErrNotLoggedIn = errors.New("presence: agent is not logged in")
	// ErrExpired: the agent's heartbeat lapsed, which ended the session; the
	// desktop must log in again.
	ErrExpired = errors.New("presence: agent session expired (no heartbeat)")
	// ErrActiveInteractions: a plain Logout was refused because the agent
	// still holds or is being offered interactions.
	ErrActiveInteractions = errors.New("presence: agent has active interactions")
	// ErrInconsistent: Audit found a slot whose owner record disagrees.
	ErrInconsistent = errors.New("presence: inconsistent slot state")
)

// Defaults for Options.
const (
	DefaultPrefix       = "switchboard"
	DefaultHeartbeatTTL = 30 * time.Second
)

// reservationGC is how long after its deadline a reserved owner record stays
// before Redis deletes it; the scripts already ignore it from the deadline on.
const reservationGC = time.Minute

// maxIDLength bounds tenant, agent and interaction IDs used in key names.
const maxIDLength = 256

// Options configures a Store.
type Options struct {
	// Prefix starts every key (default DefaultPrefix). Tests pass a random
	// one so they never see another run's keys.
	Prefix string
	// HeartbeatTTL is how long a login or heartbeat keeps the agent present
	// (default DefaultHeartbeatTTL). Desktops should beat about every third
	// of it so one lost request does not log the agent out.
	HeartbeatTTL time.Duration
}

// Store is the Redis-backed presence, occupancy and reservation store. It is
// safe for concurrent use and holds no state besides its configuration.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// New returns a Store over rdb (a standalone, sentinel or cluster client).
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalid)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("%w: prefix %q must not contain braces (they would break the tenant hash tag)", ErrInvalid, opts.Prefix)
	}
	if opts.HeartbeatTTL == 0 {
		opts.HeartbeatTTL = DefaultHeartbeatTTL
	}
	if opts.HeartbeatTTL < time.Millisecond {
		return nil, fmt.Errorf("%w: heartbeat TTL %v is below 1ms", ErrInvalid, opts.HeartbeatTTL)
	}
	return &Store{rdb: rdb, prefix: opts.Prefix, ttl: opts.HeartbeatTTL}, nil
}

// HeartbeatTTL returns the configured heartbeat lifetime.
func (s *Store) HeartbeatTTL() time.Duration { return s.ttl }

// Now returns the Redis server clock that every deadline is measured against.
// Use it for Rebuild's pruneBefore.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	t, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("presence: redis time: %w", err)
	}
	return time.UnixMilli(t.UnixMilli()), nil
}

// keys builds the key names of one tenant.
type keys struct{ base string }

func (s *Store) keys(tenant string) (keys, error) {
	if err := checkID("tenant", tenant); err != nil {
		return keys{}, err
	}
	return keys{base: s.prefix + ":{" + tenant + "}:"}, nil
}

func (k keys) agent(a string) string { return k.base + "agent:" + a }
func (k keys) slots(a string) string { return k.base + "slots:" + a }
func (k keys) ix(i string) string    { return k.base + "ix:" + i }
func (k keys) alive() string         { return k.base + "alive" }
func (k keys) agents() string        { return k.base + "agents" }
func (k keys) ready() string         { return k.base + "ready" }

// checkID rejects IDs that would corrupt a key or a stored record: '|'
// separates fields, braces delimit the hash tag, and spaces or control
// characters are never part of a real ID.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: %s id is empty", ErrInvalid, what)
	case len(id) > maxIDLength:
		return fmt.Errorf("%w: %s id is longer than %d bytes", ErrInvalid, what, maxIDLength)
	}
	for _, r := range id {
		if r == '|' || r == '{' || r == '}' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: %s id %q contains %q", ErrInvalid, what, id, r)
		}
	}
	return nil
}

// ms converts a stored Unix-millisecond field; empty or malformed is zero.
func ms(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// timeOf turns Unix milliseconds into a time; 0 is the zero time.
func timeOf(n int64) time.Time {
	if n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func durationMS(d time.Duration) int64 { return d.Milliseconds() }
