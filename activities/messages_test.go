package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/channels"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/routing"
)

// withChannels gives the activities a channel registry whose test adapter keeps its
// records under a Redis prefix of the test's own.
func withChannels(t *testing.T, a *activities.Activities) *channels.TestAdapter {
	t.Helper()
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	ta := channels.NewTestAdapter(rdb, prefix)
	a.Channels = channels.NewRegistry(channels.Options{Test: ta, Timeout: 2 * time.Second})
	return ta
}

func createSender(t *testing.T, tenantID string, in pgstore.NewChannelSender) pgstore.ChannelSenderSecret {
	t.Helper()
	s, err := store.CreateSender(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reply is an agent's outbound WhatsApp message with its addressing.
func reply(tenantID, agentID, body string) activities.OutboundMessage {
	return activities.OutboundMessage{TenantID: tenantID, InteractionID: uuid.NewString(), MessageID: uuid.NewString(),
		SenderKind: pgstore.SenderAgent, SenderID: agentID, Body: body, Channel: "whatsapp", From: "+385 1 600 0000",
		To: "+385 91 000 0001", CreatedAt: time.Now()}
}

func stored(t *testing.T, tenantID string, m activities.OutboundMessage) pgstore.Message {
	t.Helper()
	ms, err := store.Messages(testContext(t), tenantID, m.InteractionID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ms {
		if s.ID == m.MessageID {
			return s
		}
	}
	t.Fatalf("message %s is not stored (transcript %+v)", m.MessageID, ms)
	return pgstore.Message{}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("error %v (%T), want an ApplicationError", err, err)
	}
	return app
}

func TestRecordInboundMessage(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	tenant, _ := newAgent(t)
	in := activities.InboundMessage{TenantID: tenant, InteractionID: uuid.NewString(), MessageID: uuid.NewString(),
		From: "+385 91 000 0001", Body: "Hi, where is my parcel?", ReceivedAt: time.Now(),
		Attachments: []channels.Attachment{{URL: "https://files.example.com/p.jpg", ContentType: "image/jpeg"}}}
	// A retried activity writes the same message again.
	var first activities.MessageResult
	for i := range 3 {
		res, err := a.RecordInboundMessage(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		}
		if res != first || res.Seq != 1 || res.MessageID != in.MessageID || res.Status != "" {
			t.Errorf("try %d: %+v", i, res)
		}
	}
	ms, err := store.Messages(ctx, tenant, in.InteractionID, 0, 0)
	if err != nil || len(ms) != 1 || ms[0].SenderKind != pgstore.SenderCustomer || ms[0].SenderID != in.From || len(ms[0].Attachments) != 1 {
		t.Errorf("transcript %+v, %v", ms, err)
	}
	// What no retry can fix stops the retries.
	bad := in
	bad.MessageID, bad.Body, bad.Attachments = uuid.NewString(), "", nil
	taken := in
	taken.InteractionID = uuid.NewString()
	for name, m := range map[string]activities.InboundMessage{"empty": bad, "ID of another message": taken} {
		_, err := a.RecordInboundMessage(ctx, m)
		if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidMessage {
			t.Errorf("%s: %v, want a non-retryable %s", name, err, activities.ErrTypeInvalidMessage)
		}
	}
}

// A message goes out once: a retry after the send and its record is answered from
// the record, and a retry after a send whose answer was lost (the worker died before
// recording it) reaches the channel under the same message ID, which takes it once.
func TestSendOutboundMessageOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	ta := withChannels(t, a)
	tenant, agent := newAgent(t)
	sender := createSender(t, tenant, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000", Kind: channels.KindTest})

	t.Run("retried after it was recorded", func(t *testing.T) {
		m := reply(tenant, agent, "Your parcel ships today.")
		res, err := a.SendOutboundMessage(ctx, m)
		if err != nil || res.Status != pgstore.DeliverySent || res.ProviderMessageID == "" || res.Seq != 1 || res.ChannelSenderID != sender.ID {
			t.Fatalf("send: %+v, %v", res, err)
		}
		before, _ := ta.Attempts(ctx, tenant, sender.ID)
		again, err := a.SendOutboundMessage(ctx, m)
		if err != nil || again != res {
			t.Errorf("retry: %+v, %v; want %+v", again, err, res)
		}
		if after, _ := ta.Attempts(ctx, tenant, sender.ID); after != before {
			t.Errorf("the retry reached the channel: %d attempts, then %d", before, after)
		}
		sent, err := ta.Sent(ctx, tenant, sender.ID)
		if err != nil || len(sent) != 1 {
			t.Fatalf("the channel took %+v, %v", sent, err)
		}
		got := sent[0]
		if got.MessageID != m.MessageID || got.TenantID != tenant || got.InteractionID != m.InteractionID || got.Channel != "whatsapp" ||
			got.From != "+385 1 600 0000" || got.To != "+385 91 000 0001" || got.Body != m.Body || got.ProviderMessageID != res.ProviderMessageID {
			t.Errorf("the channel took %+v", got)
		}
		if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliverySent || s.ProviderMessageID != res.ProviderMessageID || s.SenderID != agent {
			t.Errorf("stored %+v", s)
		}
	})

	t.Run("crash between the send and its record", func(t *testing.T) {
		m := reply(tenant, agent, "Here is your tracking number.")
		m.InteractionID = uuid.NewString()
		before, _ := ta.Sent(ctx, tenant, sender.ID)
		if err := ta.FailNext(ctx, tenant, sender.ID, channels.FailLost); err != nil {
			t.Fatal(err)
		}
		_, err := a.SendOutboundMessage(ctx, m)
		if app := appError(t, err); app.NonRetryable() || app.Type() != activities.ErrTypeMessageNotSent {
			t.Fatalf("lost answer: %v, want a retryable %s", err, activities.ErrTypeMessageNotSent)
		}
		if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliveryPending || s.DeliveryError == "" {
			t.Errorf("after the lost answer %+v", s)
		}
		res, err := a.SendOutboundMessage(ctx, m)
		if err != nil || res.Status != pgstore.DeliverySent {
			t.Fatalf("retry: %+v, %v", res, err)
		}
		sent, err := ta.Sent(ctx, tenant, sender.ID)
		if err != nil || len(sent) != len(before)+1 || sent[len(sent)-1].MessageID != m.MessageID || sent[len(sent)-1].ProviderMessageID != res.ProviderMessageID {
			t.Errorf("the channel took %+v (before %d), %v; want the message once", sent, len(before), err)
		}
		if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliverySent || s.DeliveryError != "" {
			t.Errorf("after the retry %+v", s)
		}
	})

	t.Run("concurrent retries", func(t *testing.T) {
		// Two attempts alive at once (one outlived its timeout): one message.
		m := reply(tenant, agent, "Anything else?")
		before, _ := ta.Sent(ctx, tenant, sender.ID)
		var wg sync.WaitGroup
		results := make([]activities.MessageResult, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if results[i], err = a.SendOutboundMessage(ctx, m); err != nil {
					t.Errorf("attempt %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		sent, _ := ta.Sent(ctx, tenant, sender.ID)
		if len(sent) != len(before)+1 {
			t.Errorf("the channel took %d messages, want 1", len(sent)-len(before))
		}
		for i, r := range results {
			if r.Status != pgstore.DeliverySent || r.ProviderMessageID != sent[len(sent)-1].ProviderMessageID {
				t.Errorf("attempt %d: %+v", i, r)
			}
		}
	})
}

func TestSendOutboundMessageFailures(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	ta := withChannels(t, a)
	tenant, agent := newAgent(t)
	sender := createSender(t, tenant, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000", Kind: channels.KindTest})

	t.Run("channel unavailable, then back", func(t *testing.T) {
		m := reply(tenant, agent, "One moment please.")
		if err := ta.FailNext(ctx, tenant, sender.ID, channels.FailRetryable, channels.FailRetryable); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			_, err := a.SendOutboundMessage(ctx, m)
			if app := appError(t, err); app.NonRetryable() || app.Type() != activities.ErrTypeMessageNotSent {
				t.Fatalf("%v, want a retryable %s", err, activities.ErrTypeMessageNotSent)
			}
		}
		if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliveryPending || s.DeliveryError == "" || s.ChannelSenderID != sender.ID {
			t.Errorf("while unavailable %+v", s)
		}
		if sent, _ := ta.Sent(ctx, tenant, sender.ID); len(sent) != 0 {
			t.Errorf("the channel took %+v while unavailable", sent)
		}
		if res, err := a.SendOutboundMessage(ctx, m); err != nil || res.Status != pgstore.DeliverySent {
			t.Errorf("once back: %+v, %v", res, err)
		}
	})

	t.Run("refused for good", func(t *testing.T) {
		m := reply(tenant, agent, "This one is refused.")
		if err := ta.FailNext(ctx, tenant, sender.ID, channels.FailPermanent); err != nil {
			t.Fatal(err)
		}
		_, err := a.SendOutboundMessage(ctx, m)
		if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeMessageRejected {
			t.Fatalf("%v, want a non-retryable %s", err, activities.ErrTypeMessageRejected)
		}
		s := stored(t, tenant, m)
		if s.DeliveryStatus != pgstore.DeliveryFailed || s.DeliveryError == "" {
			t.Errorf("refused %+v", s)
		}
		// A retry is refused again without another try.
		before, _ := ta.Attempts(ctx, tenant, sender.ID)
		_, err = a.SendOutboundMessage(ctx, m)
		if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeMessageRejected || app.Message() != s.DeliveryError {
			t.Errorf("retry: %v", err)
		}
		if after, _ := ta.Attempts(ctx, tenant, sender.ID); after != before {
			t.Error("the retry tried the channel again")
		}
	})

	off := false
	createSender(t, tenant, pgstore.NewChannelSender{SubChannel: "sms", Address: "+385 1 600 0000", Kind: channels.KindTest, Enabled: &off})
	for name, c := range map[string]struct {
		change func(m *activities.OutboundMessage)
	}{
		"no sender with that address":                       {func(m *activities.OutboundMessage) { m.From = "+385 1 999 9999" }},
		"a disabled sender":                                 {func(m *activities.OutboundMessage) { m.Channel = "sms" }},
		"not a messaging channel":                           {func(m *activities.OutboundMessage) { m.Channel = "call" }},
		"an unknown interaction without a customer address": {func(m *activities.OutboundMessage) { m.To = "" }},
	} {
		t.Run(name, func(t *testing.T) {
			m := reply(tenant, agent, "Nobody sends this.")
			c.change(&m)
			_, err := a.SendOutboundMessage(ctx, m)
			if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeMessageRejected {
				t.Fatalf("%v, want a non-retryable %s", err, activities.ErrTypeMessageRejected)
			}
			if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliveryFailed || s.DeliveryError == "" {
				t.Errorf("stored %+v", s)
			}
		})
	}

	t.Run("invalid message", func(t *testing.T) {
		m := reply(tenant, agent, "")
		_, err := a.SendOutboundMessage(ctx, m)
		if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidMessage {
			t.Errorf("%v, want a non-retryable %s", err, activities.ErrTypeInvalidMessage)
		}
	})

	t.Run("a worker without adapters", func(t *testing.T) {
		bare := newActivities(t, 0)
		m := reply(tenant, agent, "Later.")
		_, err := bare.SendOutboundMessage(ctx, m)
		var app *temporal.ApplicationError
		if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
			t.Errorf("%v, want a retryable error", err)
		}
		if s := stored(t, tenant, m); s.DeliveryStatus != pgstore.DeliveryPending {
			t.Errorf("stored %+v", s)
		}
	})
}

// Without addressing, the message goes from the business address the customer
// wrote to (the interaction's To) to the customer's (its From), through the
// tenant's webhook, signed with the sender's secret; the receiver's answers decide.
func TestSendOutboundMessageWebhook(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	withChannels(t, a)
	tenant, agent := newAgent(t)

	type request struct {
		body      []byte
		signature string
		messageID string
	}
	var (
		mu       sync.Mutex
		requests []request
		answers  = []func(w http.ResponseWriter){
			func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"providerMessageId":"gw-778"}`) },
			func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":"recipient opted out"}`)
			},
		}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := len(requests)
		requests = append(requests, request{body, r.Header.Get(channels.SignatureHeader), r.Header.Get(channels.MessageIDHeader)})
		mu.Unlock()
		answers[min(n, len(answers)-1)](w)
	}))
	defer srv.Close()
	sender := createSender(t, tenant, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000",
		Kind: channels.KindWebhook, WebhookURL: srv.URL + "/outbound"})

	queue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	id, now := uuid.NewString(), time.Now()
	ix := pgstore.Interaction{ID: id, TenantID: tenant, WorkflowID: "interaction/" + id, Channel: routing.LiveMessaging,
		Source: "WhatsApp", Direction: pgstore.Inbound, From: "+385 91 000 0001", To: "+385 1 600-0000", QueueID: queue,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now}, CreatedAt: now}
	if _, err := store.EnqueueInteraction(ctx, ix); err != nil {
		t.Fatal(err)
	}
	m := activities.OutboundMessage{TenantID: tenant, InteractionID: ix.ID, MessageID: uuid.NewString(), SenderKind: pgstore.SenderAgent,
		SenderID: agent, Body: "Thanks for writing to us!", CreatedAt: time.Now()}

	_, err = a.SendOutboundMessage(ctx, m)
	if app := appError(t, err); app.NonRetryable() || app.Type() != activities.ErrTypeMessageNotSent || app.NextRetryDelay() != 3*time.Second {
		t.Fatalf("503: %v (next retry in %v), want a retryable error after 3s", err, app.NextRetryDelay())
	}
	res, err := a.SendOutboundMessage(ctx, m)
	if err != nil || res.Status != pgstore.DeliverySent || res.ProviderMessageID != "gw-778" {
		t.Fatalf("200: %+v, %v", res, err)
	}
	mu.Lock()
	if len(requests) != 2 || requests[0].messageID != m.MessageID || requests[1].messageID != m.MessageID || string(requests[0].body) != string(requests[1].body) {
		t.Errorf("requests %+v", requests)
	}
	last := requests[1]
	mu.Unlock()
	if !channels.Verify(sender.SigningSecret, last.body, last.signature) {
		t.Error("the request is not signed with the sender's secret")
	}
	var payload channels.OutboundMessage
	if err := json.Unmarshal(last.body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Channel != "whatsapp" || payload.From != "+385 1 600 0000" || payload.To != "+385 91 000 0001" || payload.Body != m.Body ||
		payload.InteractionID != ix.ID || payload.TenantID != tenant {
		t.Errorf("payload %+v", payload)
	}

	refused := m
	refused.MessageID = uuid.NewString()
	_, err = a.SendOutboundMessage(ctx, refused)
	if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeMessageRejected {
		t.Fatalf("400: %v, want a non-retryable %s", err, activities.ErrTypeMessageRejected)
	}
	ms, err := store.Messages(ctx, tenant, ix.ID, 0, 0)
	if err != nil || len(ms) != 2 || ms[0].DeliveryStatus != pgstore.DeliverySent || ms[1].DeliveryStatus != pgstore.DeliveryFailed ||
		ms[1].DeliveryError != `the webhook answered 400 Bad Request: {"error":"recipient opted out"}` {
		t.Errorf("transcript %+v, %v", ms, err)
	}
}
