package channels_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
)

// testAdapter is a test adapter over the local Redis under a prefix of the test's own.
func testAdapter(t *testing.T) (*channels.TestAdapter, *redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(testContext(t)).Err(); err != nil {
		t.Fatalf("Redis is not reachable at 127.0.0.1:6379: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "switchboard_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return channels.NewTestAdapter(rdb, prefix), rdb, prefix
}

// The test adapter keeps what it took, takes a message ID once, and plays the
// failures it was told to, in order; another process reads the same records.
func TestTestAdapter(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ta, rdb, prefix := testAdapter(t)
	reg := channels.NewRegistry(channels.Options{Test: ta})
	sender := channels.Sender{ID: "sender-1", TenantID: "tenant-1", SubChannel: "sms", Address: "+385 1 600 0000", Kind: channels.KindTest}
	a, err := reg.For(sender)
	if err != nil {
		t.Fatal(err)
	}
	first, second := message(), message()
	second.MessageID, second.Body, second.Attachments = "6f1c2c3e-0000-4000-8000-0000000000a2", "second", nil

	r1, err := a.Send(ctx, first)
	if err != nil || r1.ProviderMessageID == "" {
		t.Fatalf("first send: %+v, %v", r1, err)
	}
	again, err := a.Send(ctx, first)
	if err != nil || again != r1 {
		t.Errorf("the same message again: %+v, %v; want the first receipt %+v", again, err, r1)
	}

	if err := ta.FailNext(ctx, sender.TenantID, sender.ID, channels.FailRetryable, channels.FailPermanent, channels.FailLost); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		retryable bool
		status    int
	}{{true, 503}, {false, 422}, {true, 0}} {
		_, err := a.Send(ctx, second)
		var se *channels.SendError
		if !errors.As(err, &se) || se.Retryable != want.retryable || se.StatusCode != want.status {
			t.Errorf("told to fail: %v, want retryable=%v status %d", err, want.retryable, want.status)
		}
	}
	// The lost answer: the message was taken, and sending it again answers its receipt.
	r2, err := a.Send(ctx, second)
	if err != nil || r2.ProviderMessageID == "" || r2 == r1 {
		t.Fatalf("after the failures: %+v, %v", r2, err)
	}

	// Another process (another adapter over the same Redis and prefix) reads them.
	sent, err := channels.NewTestAdapter(rdb, prefix).Sent(ctx, sender.TenantID, sender.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0].MessageID != first.MessageID || sent[0].ProviderMessageID != r1.ProviderMessageID ||
		sent[0].Body != first.Body || len(sent[0].Attachments) != 1 || sent[0].Attachments[0] != first.Attachments[0] ||
		sent[1].MessageID != second.MessageID || sent[1].ProviderMessageID != r2.ProviderMessageID || sent[1].Attachments == nil ||
		sent[0].SentAt.IsZero() {
		t.Errorf("recorded %+v", sent)
	}
	if n, err := ta.Attempts(ctx, sender.TenantID, sender.ID); err != nil || n != 6 {
		t.Errorf("attempts %d, %v; want 6", n, err)
	}
	// Senders and tenants are kept apart.
	if other, err := ta.Sent(ctx, "tenant-2", sender.ID); err != nil || len(other) != 0 {
		t.Errorf("another tenant's sender sent %v, %v", other, err)
	}
	if n, err := ta.Attempts(ctx, sender.TenantID, "sender-2"); err != nil || n != 0 {
		t.Errorf("an unused sender's attempts %d, %v", n, err)
	}
	if err := ta.FailNext(ctx, sender.TenantID, sender.ID, "sometimes"); err == nil {
		t.Error("an unknown failure was accepted")
	}
}
