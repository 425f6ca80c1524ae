package channels

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTestPrefix starts the test adapter's Redis keys.
const DefaultTestPrefix = "switchboard:channels:test"

// What the test adapter keeps, per sender.
const (
	testKeep = 1000
	testTTL  = 24 * time.Hour
)

// Failure is how the test adapter fails a send it was told to fail.
type Failure string

// The failures the test adapter can play.
const (
	// FailRetryable: the channel is unavailable; nothing is delivered.
	FailRetryable Failure = "retryable"
	// FailPermanent: the channel refuses the message for good.
	FailPermanent Failure = "permanent"
	// FailLost: the message is delivered, but the answer is lost on the way back,
	// as when the sending process dies between the send and recording it.
	FailLost Failure = "lost"
)

// TestAdapter stands in for a real channel in integration tests and demos. It keeps
// each message sent from a sender in Redis (the newest 1,000 per sender, for a day),
// so a test in another process can read what was sent. Like a well-behaved receiver
// it takes a message ID once: a message sent again answers the first receipt without
// recording it twice. It fails the sends it was told to fail (FailNext), in order.
type TestAdapter struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewTestAdapter returns a test adapter keeping its records under prefix (empty:
// DefaultTestPrefix).
func NewTestAdapter(rdb redis.UniversalClient, prefix string) *TestAdapter {
	if prefix == "" {
		prefix = DefaultTestPrefix
	}
	return &TestAdapter{rdb: rdb, prefix: prefix}
}

// SentMessage is a message the test adapter took.
type SentMessage struct {
	OutboundMessage
	ProviderMessageID string    `json:"providerMessageId"`
	SentAt            time.Time `json:"sentAt"`
}

// keys are one sender's keys; the hash tag keeps a tenant's keys on one slot.
func (t *TestAdapter) keys(tenantID, senderID string) []string {
	base := fmt.Sprintf("%s:{%s}:%s:", t.prefix, tenantID, senderID)
	return []string{base + "ids", base + "messages", base + "fail", base + "attempts"}
}

// For returns the adapter of one sender.
func (t *TestAdapter) For(tenantID, senderID string) Adapter {
	return &testSender{t: t, tenantID: tenantID, senderID: senderID}
}

// FailNext makes the sender's next sends fail, one failure per send, in order.
func (t *TestAdapter) FailNext(ctx context.Context, tenantID, senderID string, fails ...Failure) error {
	if len(fails) == 0 {
		return nil
	}
	k := t.keys(tenantID, senderID)
	vals := make([]any, len(fails))
	for i, f := range fails {
		if f != FailRetryable && f != FailPermanent && f != FailLost {
			return fmt.Errorf("unknown failure %q", f)
		}
		vals[i] = string(f)
	}
	pipe := t.rdb.TxPipeline()
	pipe.RPush(ctx, k[2], vals...)
	pipe.Expire(ctx, k[2], testTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// Sent returns the messages the sender took, oldest first.
func (t *TestAdapter) Sent(ctx context.Context, tenantID, senderID string) ([]SentMessage, error) {
	raw, err := t.rdb.LRange(ctx, t.keys(tenantID, senderID)[1], 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]SentMessage, 0, len(raw))
	for _, r := range raw {
		var m SentMessage
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			return nil, fmt.Errorf("test adapter record: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Attempts counts the sends tried from the sender, failed and repeated ones included.
func (t *TestAdapter) Attempts(ctx context.Context, tenantID, senderID string) (int64, error) {
	n, err := t.rdb.Get(ctx, t.keys(tenantID, senderID)[3]).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// testSendScript counts the attempt, plays the next queued failure, and records the
// message unless its ID was taken before. KEYS: ids, messages, fail, attempts. ARGV:
// message ID, record, provider ID, TTL seconds, records kept. It answers the outcome
// and the provider ID.
var testSendScript = redis.NewScript(`
local ttl = tonumber(ARGV[4])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ttl)
local fail = redis.call('LPOP', KEYS[3])
if fail == 'retryable' or fail == 'permanent' then
  return {fail, ''}
end
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then
  if fail == 'lost' then return {'lost', known} end
  return {'sent', known}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('EXPIRE', KEYS[2], ttl)
if fail == 'lost' then return {'lost', ARGV[3]} end
return {'sent', ARGV[3]}
`)

type testSender struct {
	t                  *TestAdapter
	tenantID, senderID string
}

func (s *testSender) Send(ctx context.Context, m OutboundMessage) (Receipt, error) {
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	provider := "test-" + hex.EncodeToString(b[:])
	record, err := json.Marshal(SentMessage{OutboundMessage: m, ProviderMessageID: provider, SentAt: time.Now().UTC()})
	if err != nil {
		return Receipt{}, permanent("encode message %s: %v", m.MessageID, err)
	}
	res, err := testSendScript.Run(ctx, s.t.rdb, s.t.keys(s.tenantID, s.senderID),
		m.MessageID, record, provider, int(testTTL/time.Second), testKeep).StringSlice()
	if err != nil {
		return Receipt{}, &SendError{Retryable: true, Message: "the test channel (Redis) did not answer", Err: err}
	}
	if len(res) != 2 {
		return Receipt{}, fmt.Errorf("test adapter: unexpected answer %q", strings.Join(res, ","))
	}
	switch Failure(res[0]) {
	case FailRetryable:
		return Receipt{}, &SendError{Retryable: true, StatusCode: 503, Message: "the test channel is unavailable (as it was told)"}
	case FailPermanent:
		return Receipt{}, &SendError{StatusCode: 422, Message: "the test channel refused the message (as it was told)"}
	case FailLost:
		return Receipt{}, &SendError{Retryable: true, Message: "the test channel took the message but its answer was lost (as it was told)"}
	}
	return Receipt{ProviderMessageID: res[1]}, nil
}
