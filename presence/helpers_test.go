package presence_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/presence"
	"switchboard/routing"
)

// redisAddr is the local Redis every test shares with `make run`; each test
// works under its own random key prefix and deletes it afterwards.
const redisAddr = "127.0.0.1:6379"

const tenant = "t1"

var (
	available = routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable, System: true}
	away      = routing.Status{Name: "Lunch", Group: routing.GroupAway}
	busy      = routing.Status{Name: routing.StatusBusy, Group: routing.GroupBusy, System: true}
)

// env is one test's view of Redis: a prefix of its own and a store over it.
type env struct {
	prefix string
	opts   presence.Options
	rdb    *redis.Client
	store  *presence.Store
}

// newEnv creates a store under a fresh random prefix with the given
// heartbeat TTL (0: the default) and removes every key under that prefix
// when the test ends.
func newEnv(t testing.TB, ttl time.Duration) *env {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	e := &env{prefix: "switchboard_test_" + hex.EncodeToString(b[:])}
	e.opts = presence.Options{Prefix: e.prefix, HeartbeatTTL: ttl}
	e.rdb = newClient(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s: %v (start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379)", redisAddr, err)
	}
	e.store = e.newStore(t, e.rdb)
	t.Cleanup(func() { e.deleteKeys(t) })
	return e
}

// newClient opens a client of its own, as a separate process would have.
func newClient(t testing.TB, poolSize int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: poolSize})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *env) newStore(t testing.TB, c *redis.Client) *presence.Store {
	t.Helper()
	s, err := presence.New(c, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// separateStore is a store over a new client of its own: another process.
// Its connection is dialled up front so that racers start level.
func (e *env) separateStore(t testing.TB) *presence.Store {
	t.Helper()
	c := newClient(t, 2)
	if err := c.Ping(ctxT(t)).Err(); err != nil {
		t.Fatal(err)
	}
	return e.newStore(t, c)
}

// deleteKeys removes every key under the test's prefix; it is also how tests
// simulate a Redis flush without touching anyone else's keys.
func (e *env) deleteKeys(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := e.rdb.Scan(ctx, 0, e.prefix+":*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			if err := e.rdb.Unlink(ctx, batch...).Err(); err != nil {
				t.Errorf("delete test keys: %v", err)
			}
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan test keys: %v", err)
	}
	flush()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func login(t testing.TB, s *presence.Store, agent string, st routing.Status) presence.LoginResult {
	t.Helper()
	r, err := s.Login(ctxT(t), tenant, agent, presence.LoginInput{Status: st})
	if err != nil {
		t.Fatalf("login %s: %v", agent, err)
	}
	return r
}

func reserve(t testing.TB, s *presence.Store, agent, ix string, ch routing.Channel, capacity int, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.Reserve(ctxT(t), tenant, agent, ix, ch, capacity, ttl)
	if err != nil {
		t.Fatalf("reserve %s on %s: %v", ix, agent, err)
	}
	return ok
}

func confirm(t testing.TB, s *presence.Store, agent, ix string) bool {
	t.Helper()
	ok, err := s.Confirm(ctxT(t), tenant, agent, ix)
	if err != nil {
		t.Fatalf("confirm %s on %s: %v", ix, agent, err)
	}
	return ok
}

func release(t testing.TB, s *presence.Store, agent, ix string) bool {
	t.Helper()
	ok, err := s.Release(ctxT(t), tenant, agent, ix)
	if err != nil {
		t.Fatalf("release %s on %s: %v", ix, agent, err)
	}
	return ok
}

func occupancy(t testing.TB, s *presence.Store, agent string) routing.Occupancy {
	t.Helper()
	o, err := s.Occupancy(ctxT(t), tenant, agent)
	if err != nil {
		t.Fatalf("occupancy of %s: %v", agent, err)
	}
	return o
}

func get(t testing.TB, s *presence.Store, agent string) presence.Presence {
	t.Helper()
	p, err := s.Get(ctxT(t), tenant, agent)
	if err != nil {
		t.Fatalf("get %s: %v", agent, err)
	}
	return p
}

// eventually polls cond every 20ms until it holds or limit passes.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// sameOcc compares occupancies, treating a missing channel as zero.
func sameOcc(a, b routing.Occupancy) bool {
	for _, ch := range routing.Channels() {
		if a[ch] != b[ch] {
			return false
		}
	}
	return true
}
