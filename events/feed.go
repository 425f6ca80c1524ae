package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Options.
const (
	DefaultPrefix = "switchboard"
	DefaultMaxLen = 100_000
	DefaultKeyTTL = 24 * time.Hour
	DefaultBuffer = 1024
	defaultBlock  = 5 * time.Second
)

// ErrSlow ends a subscription whose reader fell more than Options.Buffer events
// behind; the client resumes from its last event, losing nothing.
var ErrSlow = errors.New("events: subscriber fell behind")

// Options configures a Feed.
type Options struct {
	// Prefix starts every key (default DefaultPrefix); tests pass their own.
	Prefix string
	// MaxLen is about how many events a tenant's stream keeps (DefaultMaxLen).
	MaxLen int64
	// KeyTTL is how long a publish key is remembered (DefaultKeyTTL): a retry
	// later than that publishes again.
	KeyTTL time.Duration
	// Buffer is how many events a subscriber may lag behind (DefaultBuffer).
	Buffer int
	// Block is how long one read of the stream waits for new events.
	Block time.Duration
}

// Feed publishes to and follows tenants' streams. One per process: it reads each
// followed tenant's stream once, however many subscribers it has.
type Feed struct {
	rdb  redis.UniversalClient
	opts Options

	mu      sync.Mutex
	tenants map[string]*follower
}

// New returns a Feed over rdb.
func New(rdb redis.UniversalClient, opts Options) (*Feed, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalid)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("%w: prefix %q must not contain braces", ErrInvalid, opts.Prefix)
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.KeyTTL <= 0 {
		opts.KeyTTL = DefaultKeyTTL
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Block <= 0 {
		opts.Block = defaultBlock
	}
	return &Feed{rdb: rdb, opts: opts, tenants: map[string]*follower{}}, nil
}

func (f *Feed) stream(tenant string) string { return f.opts.Prefix + ":{" + tenant + "}:events" }
func (f *Feed) keyOf(tenant, key string) string {
	return f.opts.Prefix + ":{" + tenant + "}:event-key:" + key
}

// publishScript adds the event unless its key was published already, and answers the
// entry's ID either way. KEYS: stream, key record. ARGV: max length, key TTL (ms),
// the event's JSON.
var publishScript = redis.NewScript(`
local prior = redis.call('GET', KEYS[2])
if prior then return prior end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
`)

// Publish adds e to its tenant's stream once per key and returns the entry's ID.
func (f *Feed) Publish(ctx context.Context, e Event) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	e.ID = ""
	body, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("events: encode %s: %w", e.Key, err)
	}
	id, err := publishScript.Run(ctx, f.rdb, []string{f.stream(e.TenantID), f.keyOf(e.TenantID, e.Key)},
		f.opts.MaxLen, f.opts.KeyTTL.Milliseconds(), body).Text()
	if err != nil {
		return "", fmt.Errorf("events: publish %s: %w", e.Key, err)
	}
	return id, nil
}

// After returns up to limit events of the tenant published after the event with ID
// after ("" for the oldest kept), oldest first, and whether events after it were
// already trimmed (then the caller missed some and must reload).
func (f *Feed) After(ctx context.Context, tenant, after string, limit int64) ([]Event, bool, error) {
	start := "-"
	if after != "" {
		p, err := parsePosition(after)
		if err != nil {
			return nil, false, err
		}
		start = "(" + p.String()
		trimmed, err := f.trimmedAfter(ctx, tenant, p)
		if err != nil || trimmed {
			return nil, trimmed, err
		}
	}
	msgs, err := f.rdb.XRangeN(ctx, f.stream(tenant), start, "+", limit).Result()
	if err != nil {
		return nil, false, fmt.Errorf("events: read tenant %s: %w", tenant, err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if e, ok := decode(m); ok {
			out = append(out, e)
		}
	}
	return out, false, nil
}

// trimmedAfter reports whether the stream may have dropped events later than p:
// its oldest kept event is later than p (trimming keeps no record of what it
// dropped, so a client whose position is exactly the last dropped event is told to
// reload too, which is safe), or the stream is gone altogether (Redis lost it).
func (f *Feed) trimmedAfter(ctx context.Context, tenant string, p position) (bool, error) {
	first, err := f.rdb.XRangeN(ctx, f.stream(tenant), "-", "+", 1).Result()
	if err != nil {
		return false, fmt.Errorf("events: stream of tenant %s: %w", tenant, err)
	}
	if len(first) == 0 {
		return true, nil
	}
	oldest, err := parsePosition(first[0].ID)
	if err != nil {
		return false, err
	}
	next := position{p.ms, p.seq + 1}
	return oldest.after(next), nil
}

func decode(m redis.XMessage) (Event, bool) {
	raw, _ := m.Values["e"].(string)
	var e Event
	if json.Unmarshal([]byte(raw), &e) != nil {
		return Event{}, false
	}
	e.ID = m.ID
	return e, true
}

// Subscription delivers a tenant's events in order on C until it is closed, its
// context ends or it fails (Err says why).
type Subscription struct {
	// C carries the events; it is closed when the subscription ends.
	C <-chan Event

	out   chan Event
	live  chan Event
	match func(Event) bool
	stop  context.CancelFunc

	mu  sync.Mutex
	err error
}

// Err is why C was closed: nil after Close or the context's end, ErrSlow, or a
// Redis error while catching up.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() { s.stop() }

func (s *Subscription) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.stop()
}

// Subscribe follows the tenant's events matching match (nil: all). With after set
// to an event ID it first delivers every matching event published after that one;
// if some of those were trimmed already, the first event is a StreamReset and
// delivery goes on from the oldest event kept.
func (f *Feed) Subscribe(ctx context.Context, tenant, after string, match func(Event) bool) (*Subscription, error) {
	if tenant == "" || strings.ContainsAny(tenant, "{} ") {
		return nil, fmt.Errorf("%w: tenant ID %q", ErrInvalid, tenant)
	}
	var from position
	if after != "" {
		p, err := parsePosition(after)
		if err != nil {
			return nil, err
		}
		from = p
	}
	if match == nil {
		match = func(Event) bool { return true }
	}
	ctx, stop := context.WithCancel(ctx)
	s := &Subscription{out: make(chan Event, 16), live: make(chan Event, f.opts.Buffer), match: match, stop: stop}
	s.C = s.out
	fl := f.follow(tenant, s)
	go func() {
		<-ctx.Done()
		f.unfollow(tenant, fl, s)
	}()
	go f.deliver(ctx, tenant, after, from, s)
	return s, nil
}

// deliver catches s up from after (when set), then forwards live events it has not
// delivered yet; it closes s.out when done.
func (f *Feed) deliver(ctx context.Context, tenant, after string, from position, s *Subscription) {
	defer close(s.out)
	last := from
	send := func(e Event) bool {
		select {
		case s.out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if after != "" {
		cursor := after
		for {
			page, trimmed, err := f.After(ctx, tenant, cursor, 256)
			if err != nil {
				if ctx.Err() == nil {
					s.fail(err)
				}
				return
			}
			if trimmed {
				if !send(Event{Type: StreamReset, TenantID: tenant, At: time.Now().UTC()}) {
					return
				}
				cursor = ""
				continue
			}
			for _, e := range page {
				p, _ := parsePosition(e.ID)
				last = p
				if s.match(e) && !send(e) {
					return
				}
			}
			if len(page) < 256 {
				break
			}
			cursor = page[len(page)-1].ID
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.live:
			p, err := parsePosition(e.ID)
			if err != nil || (after != "" && !p.after(last)) {
				continue // delivered while catching up
			}
			last = p
			if s.match(e) && !send(e) {
				return
			}
		}
	}
}

// follower reads one tenant's stream for this process's subscribers.
type follower struct {
	subs   map[*Subscription]struct{}
	cancel context.CancelFunc
}

func (f *Feed) follow(tenant string, s *Subscription) *follower {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.tenants[tenant]
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		fl = &follower{subs: map[*Subscription]struct{}{}, cancel: cancel}
		f.tenants[tenant] = fl
		// The reader starts from the stream's end as of now: every subscriber
		// registered before it reads anything, and older events are theirs to
		// catch up on.
		ready := make(chan struct{})
		go f.read(ctx, tenant, fl, ready)
		f.mu.Unlock()
		<-ready
		f.mu.Lock()
	}
	fl.subs[s] = struct{}{}
	return fl
}

func (f *Feed) unfollow(tenant string, fl *follower, s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(fl.subs, s)
	if len(fl.subs) == 0 && f.tenants[tenant] == fl {
		fl.cancel()
		delete(f.tenants, tenant)
	}
}

// read follows the tenant's stream until ctx ends, handing each event to every
// subscriber; a subscriber that cannot take it is ended with ErrSlow. A failed read
// is retried from the same place, so nothing is skipped.
func (f *Feed) read(ctx context.Context, tenant string, fl *follower, ready chan<- struct{}) {
	key := f.stream(tenant)
	backoff := 100 * time.Millisecond
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	// Where the stream ends now, by ID: reading from "$" instead would skip what
	// is published between two reads.
	last := ""
	for ctx.Err() == nil && last == "" {
		msgs, err := f.rdb.XRevRangeN(ctx, key, "+", "-", 1).Result()
		switch {
		case err != nil:
			// Subscribers need not wait for Redis to come back.
			if ready != nil {
				close(ready)
				ready = nil
			}
			wait()
		case len(msgs) > 0:
			last = msgs[0].ID
		default:
			last = "0-0"
		}
	}
	if ready != nil {
		close(ready)
	}
	for ctx.Err() == nil {
		res, err := f.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 512, Block: f.opts.Block}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			wait()
			continue
		}
		backoff = 100 * time.Millisecond
		for _, st := range res {
			for _, m := range st.Messages {
				last = m.ID
				e, ok := decode(m)
				if !ok {
					continue
				}
				f.mu.Lock()
				for s := range fl.subs {
					select {
					case s.live <- e:
					default:
						go s.fail(ErrSlow)
					}
				}
				f.mu.Unlock()
			}
		}
	}
}
