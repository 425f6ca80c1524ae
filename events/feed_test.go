package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/events"
	"switchboard/pgtest"
)

// newFeed returns a feed under a fresh key prefix on the local Redis (each call a
// client of its own, as another API replica would have), and removes the prefix's
// keys when the test ends.
func newFeed(t *testing.T, prefix string, opts events.Options) *events.Feed {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is not reachable at 127.0.0.1:6379: %v", err)
	}
	opts.Prefix = prefix
	f, err := events.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+":*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
		rdb.Close()
	})
	return f
}

func testPrefix() string { return "switchboard_test_" + pgtest.RandomHex(6) }

func event(tenant, key, typ string, agents ...string) events.Event {
	return events.Event{Key: key, Type: typ, TenantID: tenant, At: time.Now().UTC(), Agents: agents, Data: []byte(`{"k":"` + key + `"}`)}
}

// receive takes n events from s, failing after a generous deadline.
func receive(t *testing.T, s *events.Subscription, n int) []events.Event {
	t.Helper()
	var out []events.Event
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, s.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

// quiet asserts s delivers nothing more for a moment (events it should not see).
func quiet(t *testing.T, s *events.Subscription, marker string) {
	t.Helper()
	for {
		select {
		case e := <-s.C:
			if e.Key == marker {
				return
			}
			t.Fatalf("unexpected event %s %s", e.Type, e.Key)
		case <-time.After(10 * time.Second):
			t.Fatalf("marker %s never arrived", marker)
		}
	}
}

func TestPublishIsIdempotentPerKey(t *testing.T) {
	ctx := context.Background()
	f := newFeed(t, testPrefix(), events.Options{})
	first, err := f.Publish(ctx, event("t1", "ix-1/v1", events.InteractionInitiated))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Publish(ctx, event("t1", "ix-1/v1", events.InteractionInitiated))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("a repeated key published again: %s then %s", first, again)
	}
	// Concurrent retries of many events: each key is stored exactly once.
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := f.Publish(ctx, event("t1", fmt.Sprintf("k%d", i), events.InteractionConnected)); err != nil {
					t.Errorf("retry %d: %v", r, err)
				}
			}
		})
	}
	wg.Wait()
	all, trimmed, err := f.After(ctx, "t1", "", 1000)
	if err != nil || trimmed {
		t.Fatal(err, trimmed)
	}
	if len(all) != 51 {
		t.Fatalf("stored %d events, want 51", len(all))
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.Key] {
			t.Fatalf("key %s stored twice", e.Key)
		}
		seen[e.Key] = true
	}
	if all[0].ID != first || all[0].Type != events.InteractionInitiated || string(all[0].Data) != `{"k":"ix-1/v1"}` {
		t.Fatalf("first event read back as %+v", all[0])
	}
}

func TestPublishRefusesBadEvents(t *testing.T) {
	f := newFeed(t, testPrefix(), events.Options{})
	for name, e := range map[string]events.Event{
		"no tenant":     {Key: "k", Type: events.InteractionEnded, At: time.Now()},
		"brace tenant":  {Key: "k", Type: events.InteractionEnded, At: time.Now(), TenantID: "a{b}"},
		"no key":        {Type: events.InteractionEnded, At: time.Now(), TenantID: "t"},
		"no type":       {Key: "k", At: time.Now(), TenantID: "t"},
		"reserved type": {Key: "k", Type: events.StreamReset, At: time.Now(), TenantID: "t"},
		"no time":       {Key: "k", Type: events.InteractionEnded, TenantID: "t"},
		"bad data":      {Key: "k", Type: events.InteractionEnded, At: time.Now(), TenantID: "t", Data: []byte("{")},
	} {
		if _, err := f.Publish(context.Background(), e); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := f.Subscribe(context.Background(), "t", "not-an-id", nil); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("bad resume position: got %v", err)
	}
}

// Two feeds stand for two API replicas: an event published through one reaches
// subscribers of both, in publishing order, and only those it concerns.
func TestSubscribersOnEveryReplicaGetEventsInOrder(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix()
	a := newFeed(t, prefix, events.Options{Block: 200 * time.Millisecond})
	b := newFeed(t, prefix, events.Options{Block: 200 * time.Millisecond})
	all, err := a.Subscribe(ctx, "t1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	agent, err := b.Subscribe(ctx, "t1", "", func(e events.Event) bool { return e.Concerns("agent-1") || e.Key == "marker" })
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	other, err := b.Subscribe(ctx, "t2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	const n = 200
	var mine []string
	for i := range n {
		agents := []string{"agent-2"}
		if i%3 == 0 {
			agents = []string{"agent-1", "agent-2"}
			mine = append(mine, fmt.Sprint("e", i))
		}
		pub := a
		if i%2 == 1 {
			pub = b
		}
		if _, err := pub.Publish(ctx, event("t1", fmt.Sprint("e", i), events.InteractionOffered, agents...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Publish(ctx, event("t1", "marker", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	got := receive(t, all, n+1)
	for i := range n {
		if got[i].Key != fmt.Sprint("e", i) {
			t.Fatalf("event %d is %s: out of order", i, got[i].Key)
		}
	}
	forAgent := receive(t, agent, len(mine))
	for i, e := range forAgent {
		if e.Key != mine[i] {
			t.Fatalf("agent got %s at %d, want %s", e.Key, i, mine[i])
		}
	}
	quiet(t, agent, "marker")
	if _, err := a.Publish(ctx, event("t2", "t2-marker", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	quiet(t, other, "t2-marker") // nothing of tenant t1 before it
}

// A client that reconnects with the ID of the last event it saw gets exactly the
// events after it, then live ones, without a gap or a repeat — while events keep
// being published during the catch-up.
func TestResumeFromLastEventIDWhilePublishing(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix()
	pub := newFeed(t, prefix, events.Options{})
	sub := newFeed(t, prefix, events.Options{Block: 100 * time.Millisecond})
	var ids []string
	for i := range 300 {
		id, err := pub.Publish(ctx, event("t1", fmt.Sprint("e", i), events.InteractionConnected))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 300; i < 600; i++ {
			if _, err := pub.Publish(ctx, event("t1", fmt.Sprint("e", i), events.InteractionConnected)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	s, err := sub.Subscribe(ctx, "t1", ids[99], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := receive(t, s, 500)
	<-done
	for i, e := range got {
		if want := fmt.Sprint("e", i+100); e.Key != want {
			t.Fatalf("event %d after resume is %s, want %s", i, e.Key, want)
		}
	}
	if _, err := pub.Publish(ctx, event("t1", "marker", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	quiet(t, s, "marker") // no repeats after the catch-up
}

// Resuming from an event the stream no longer keeps starts with a StreamReset and
// goes on from the oldest event kept.
func TestResumeAfterTrimmingSaysReset(t *testing.T) {
	ctx := context.Background()
	f := newFeed(t, testPrefix(), events.Options{MaxLen: 10, Block: 100 * time.Millisecond})
	first, err := f.Publish(ctx, event("t1", "first", events.InteractionInitiated))
	if err != nil {
		t.Fatal(err)
	}
	// XADD's approximate trimming drops whole nodes (100 entries by default).
	for i := range 400 {
		if _, err := f.Publish(ctx, event("t1", fmt.Sprint("e", i), events.InteractionConnected)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := f.Subscribe(ctx, "t1", first, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := receive(t, s, 2)
	if got[0].Type != events.StreamReset {
		t.Fatalf("first event after resuming past the trim is %s, want %s", got[0].Type, events.StreamReset)
	}
	if got[1].Key == "first" || got[1].Type != events.InteractionConnected {
		t.Fatalf("after the reset came %+v, want the oldest kept event", got[1])
	}
}

// A subscriber that stops reading is ended with ErrSlow rather than holding up
// the others or growing without bound; one that keeps up is not.
func TestSlowSubscriberIsEnded(t *testing.T) {
	ctx := context.Background()
	f := newFeed(t, testPrefix(), events.Options{Buffer: 50, Block: 100 * time.Millisecond})
	slow, err := f.Subscribe(ctx, "t1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := f.Subscribe(ctx, "t1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	// Batches smaller than the buffer, each read by the fast subscriber before
	// the next: only the one that reads nothing falls behind.
	for batch := range 10 {
		for i := range 20 {
			if _, err := f.Publish(ctx, event("t1", fmt.Sprint("e", batch*20+i), events.InteractionConnected)); err != nil {
				t.Fatal(err)
			}
		}
		receive(t, fast, 20)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-slow.C:
			if !ok {
				if !errors.Is(slow.Err(), events.ErrSlow) {
					t.Fatalf("slow subscriber ended with %v, want ErrSlow", slow.Err())
				}
				if fast.Err() != nil {
					t.Fatalf("the subscriber that kept up was ended: %v", fast.Err())
				}
				return
			}
		case <-deadline:
			t.Fatal("slow subscriber was never ended")
		}
	}
}

// Closing the last subscriber of a tenant stops following it; a new subscriber
// starts following again.
func TestCloseAndSubscribeAgain(t *testing.T) {
	ctx := context.Background()
	f := newFeed(t, testPrefix(), events.Options{Block: 100 * time.Millisecond})
	s, err := f.Subscribe(ctx, "t1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range s.C {
	}
	if s.Err() != nil {
		t.Fatalf("closed subscription reports %v", s.Err())
	}
	s2, err := f.Subscribe(ctx, "t1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := f.Publish(ctx, event("t1", "after", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, s2, 1); got[0].Key != "after" {
		t.Fatalf("got %s", got[0].Key)
	}
}
