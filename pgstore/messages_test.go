package pgstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/channels"
	"switchboard/pgstore"
)

func inbound(tenantID, interactionID, body string) pgstore.NewMessage {
	return pgstore.NewMessage{TenantID: tenantID, InteractionID: interactionID, ID: uuid.NewString(), Direction: pgstore.Inbound,
		SenderKind: pgstore.SenderCustomer, SenderID: "+385 91 000 0001", Body: body}
}

func outbound(tenantID, interactionID, agentID, body string) pgstore.NewMessage {
	return pgstore.NewMessage{TenantID: tenantID, InteractionID: interactionID, ID: uuid.NewString(), Direction: pgstore.Outbound,
		SenderKind: pgstore.SenderAgent, SenderID: agentID, Body: body}
}

func appendMessage(t *testing.T, m pgstore.NewMessage) pgstore.Message {
	t.Helper()
	out, err := store.AppendMessage(testContext(t), m)
	if err != nil {
		t.Fatalf("AppendMessage %+v: %v", m, err)
	}
	return out
}

func transcript(t *testing.T, tenantID, interactionID string) []pgstore.Message {
	t.Helper()
	ms, err := store.Messages(testContext(t), tenantID, interactionID, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A transcript keeps the order messages were written in, numbered without gaps; a
// message written again (a retried activity) is the first one, not a new one.
func TestMessagesOrderAndRetries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent).ID
	ix := uuid.NewString()
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

	hello := inbound(tid, ix, "Hello, my parcel did not arrive")
	hello.CreatedAt = at
	hello.Attachments = []channels.Attachment{{URL: "https://files.example.com/t/receipt.jpg", Name: "receipt.jpg", ContentType: "image/jpeg", Size: 120341}}
	first := appendMessage(t, hello)
	if first.Seq != 1 || first.DeliveryStatus != "" || !first.CreatedAt.Equal(at) || len(first.Attachments) != 1 ||
		first.Attachments[0] != hello.Attachments[0] || first.SenderID != "+385 91 000 0001" {
		t.Errorf("first %+v", first)
	}
	reply := appendMessage(t, outbound(tid, ix, agent, "Sorry to hear that — let me check."))
	if reply.Seq != 2 || reply.DeliveryStatus != pgstore.DeliveryPending || reply.Attachments == nil || reply.DeliveryUpdatedAt == nil {
		t.Errorf("reply %+v", reply)
	}
	bot := outbound(tid, ix, "", "Your ticket number is 4411.")
	bot.SenderKind, bot.SenderID = pgstore.SenderBot, "tracking-bot"
	appendMessage(t, bot)
	appendMessage(t, pgstore.NewMessage{TenantID: tid, InteractionID: ix, ID: uuid.NewString(), Direction: pgstore.Outbound,
		SenderKind: pgstore.SenderSystem, Attachments: []channels.Attachment{{URL: "https://files.example.com/t/label.pdf"}}})

	// Retries of the first and the second change nothing.
	for _, m := range []pgstore.NewMessage{hello, {TenantID: tid, InteractionID: ix, ID: reply.ID, Direction: pgstore.Outbound,
		SenderKind: pgstore.SenderAgent, SenderID: agent, Body: reply.Body}} {
		again := appendMessage(t, m)
		if again.ID != m.ID || (again.ID == first.ID && again.Seq != 1) || (again.ID == reply.ID && again.Seq != 2) {
			t.Errorf("retry answered %+v", again)
		}
	}
	all := transcript(t, tid, ix)
	if len(all) != 4 {
		t.Fatalf("%d messages, want 4", len(all))
	}
	for i, m := range all {
		if m.Seq != int64(i+1) || m.InteractionID != ix || m.TenantID != tid {
			t.Errorf("message %d: %+v", i, m)
		}
	}
	if all[2].SenderKind != pgstore.SenderBot || all[3].Body != "" || len(all[3].Attachments) != 1 {
		t.Errorf("transcript %+v", all)
	}
	// Pages.
	page, err := store.Messages(ctx, tid, ix, 2, 1)
	if err != nil || len(page) != 1 || page[0].Seq != 3 {
		t.Errorf("after 2, one: %+v, %v", page, err)
	}
	if rest, err := store.Messages(ctx, tid, ix, 4, 0); err != nil || len(rest) != 0 {
		t.Errorf("after the last %+v, %v", rest, err)
	}
	_, err = store.Messages(ctx, tid, ix, 0, 501)
	wantInvalid(t, err, "limit")
	_, err = store.Messages(ctx, tid, ix, -1, 0)
	wantInvalid(t, err, "after")
	// Another tenant reads nothing of it.
	if other := transcript(t, newTenant(t).Tenant.ID, ix); len(other) != 0 {
		t.Errorf("another tenant reads %+v", other)
	}

	// An ID is one message: reused for something else, it is refused.
	for name, m := range map[string]pgstore.NewMessage{
		"another interaction": {TenantID: tid, InteractionID: uuid.NewString(), ID: first.ID, Direction: pgstore.Inbound, SenderKind: pgstore.SenderCustomer, Body: hello.Body},
		"another body":        {TenantID: tid, InteractionID: ix, ID: first.ID, Direction: pgstore.Inbound, SenderKind: pgstore.SenderCustomer, Body: "changed"},
		"another direction":   {TenantID: tid, InteractionID: ix, ID: first.ID, Direction: pgstore.Outbound, SenderKind: pgstore.SenderSystem, Body: hello.Body},
	} {
		_, err := store.AppendMessage(ctx, m)
		if !errors.Is(err, pgstore.ErrMessageIDTaken) || !errors.Is(err, pgstore.ErrConflict) {
			t.Errorf("%s: %v, want ErrMessageIDTaken", name, err)
		}
	}
	if n := len(transcript(t, tid, ix)); n != 4 {
		t.Errorf("%d messages after the refusals, want 4", n)
	}
}

// Writers racing on one interaction — new messages and retries of the same ones at
// once — leave each message once, numbered 1..n without gaps, and every retry of a
// message sees the number its first write took.
func TestMessagesConcurrentRetries(t *testing.T) {
	t.Parallel()
	tid := newTenant(t).Tenant.ID
	ix := uuid.NewString()
	const messages, retries = 12, 4
	ms := make([]pgstore.NewMessage, messages)
	for i := range ms {
		ms[i] = inbound(tid, ix, fmt.Sprintf("message %d", i))
	}
	seqs := make([][retries]int64, messages)
	errs := make(chan error, messages*retries)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range messages {
		for r := range retries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out, err := store.AppendMessage(testContext(t), ms[i])
				if err != nil {
					errs <- err
					return
				}
				seqs[i][r] = out.Seq
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}
	all := transcript(t, tid, ix)
	if len(all) != messages {
		t.Fatalf("%d messages stored, want %d", len(all), messages)
	}
	byID := map[string]int64{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Errorf("position %d has seq %d", i, m.Seq)
		}
		byID[m.ID] = m.Seq
	}
	for i, m := range ms {
		for r := range retries {
			if seqs[i][r] != byID[m.ID] {
				t.Errorf("message %d try %d saw seq %d, stored %d", i, r, seqs[i][r], byID[m.ID])
			}
		}
	}
}

func TestMessageValidation(t *testing.T) {
	t.Parallel()
	tid := newTenant(t).Tenant.ID
	ix := uuid.NewString()
	base := inbound(tid, ix, "hello")
	with := func(f func(m *pgstore.NewMessage)) pgstore.NewMessage {
		m := base
		m.ID = uuid.NewString()
		f(&m)
		return m
	}
	att := func(a channels.Attachment) func(m *pgstore.NewMessage) {
		return func(m *pgstore.NewMessage) {
			m.Attachments = []channels.Attachment{{URL: "https://files.example.com/ok.png"}, a}
		}
	}
	cases := []struct {
		field string
		m     pgstore.NewMessage
	}{
		{"tenantId", with(func(m *pgstore.NewMessage) { m.TenantID = "t" })},
		{"interactionId", with(func(m *pgstore.NewMessage) { m.InteractionID = "" })},
		{"id", with(func(m *pgstore.NewMessage) { m.ID = "msg-1" })},
		{"direction", with(func(m *pgstore.NewMessage) { m.Direction = "sideways" })},
		{"senderKind", with(func(m *pgstore.NewMessage) { m.SenderKind = "ghost" })},
		{"senderKind", with(func(m *pgstore.NewMessage) { m.SenderKind = pgstore.SenderAgent })},
		{"senderKind", with(func(m *pgstore.NewMessage) { m.Direction = pgstore.Outbound })},
		{"senderId", with(func(m *pgstore.NewMessage) {
			m.Direction, m.SenderKind, m.SenderID = pgstore.Outbound, pgstore.SenderAgent, "ana"
		})},
		{"senderId", with(func(m *pgstore.NewMessage) { m.SenderID = "a\nb" })},
		{"body", with(func(m *pgstore.NewMessage) { m.Body = strings.Repeat("ž", pgstore.MaxMessageBody+1) })},
		{"body", with(func(m *pgstore.NewMessage) { m.Body = " \n " })},
		{"body", with(func(m *pgstore.NewMessage) { m.Body = "a\x00b" })},
		{"body", with(func(m *pgstore.NewMessage) { m.Body = "bad \xff utf-8" })},
		{"attachments", with(func(m *pgstore.NewMessage) { m.Attachments = make([]channels.Attachment, 21) })},
		{"attachments[1].url", with(att(channels.Attachment{}))},
		{"attachments[1].url", with(att(channels.Attachment{URL: "file:///etc/passwd"}))},
		{"attachments[1].url", with(att(channels.Attachment{URL: "https://files.example.com/" + strings.Repeat("x", 2000)}))},
		{"attachments[1].name", with(att(channels.Attachment{URL: "https://files.example.com/a", Name: strings.Repeat("n", 256)}))},
		{"attachments[1].contentType", with(att(channels.Attachment{URL: "https://files.example.com/a", ContentType: "jpeg"}))},
		{"attachments[1].size", with(att(channels.Attachment{URL: "https://files.example.com/a", Size: -1}))},
	}
	for _, c := range cases {
		_, err := store.AppendMessage(testContext(t), c.m)
		wantInvalid(t, err, c.field)
	}
	// The longest body is taken, counted in characters.
	appendMessage(t, with(func(m *pgstore.NewMessage) { m.Body = strings.Repeat("ž", pgstore.MaxMessageBody) }))
	if n := len(transcript(t, tid, ix)); n != 1 {
		t.Errorf("%d messages, want only the valid one", n)
	}
	// A tenant that does not exist is not found.
	_, err := store.AppendMessage(testContext(t), with(func(m *pgstore.NewMessage) { m.TenantID = uuid.NewString() }))
	wantErr(t, err, pgstore.ErrNotFound)
}

// Delivery moves forward only, so late and repeated news changes nothing.
func TestMessageDelivery(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent).ID
	ix := uuid.NewString()
	sender := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "sms", Address: "+385 1 600 0000", Kind: channels.KindTest})
	m := appendMessage(t, outbound(tid, ix, agent, "Your parcel ships today."))
	mark := func(u pgstore.DeliveryUpdate) pgstore.Message {
		t.Helper()
		u.TenantID, u.MessageID = tid, m.ID
		out, err := store.MarkMessageDelivery(ctx, u)
		if err != nil {
			t.Fatalf("mark %+v: %v", u, err)
		}
		return out
	}
	if got := mark(pgstore.DeliveryUpdate{Status: pgstore.DeliveryPending, Error: "the webhook answered 503"}); got.DeliveryStatus != pgstore.DeliveryPending || got.DeliveryError != "the webhook answered 503" {
		t.Errorf("pending with an error %+v", got)
	}
	sentAt := time.Date(2026, 11, 21, 9, 31, 0, 0, time.UTC)
	got := mark(pgstore.DeliveryUpdate{Status: pgstore.DeliverySent, ProviderMessageID: "SM123", ChannelSenderID: sender.ID, At: sentAt})
	if got.DeliveryStatus != pgstore.DeliverySent || got.ProviderMessageID != "SM123" || got.DeliveryError != "" ||
		got.ChannelSenderID != sender.ID || !got.DeliveryUpdatedAt.Equal(sentAt) {
		t.Errorf("sent %+v", got)
	}
	// Sent again without an ID, and pending late, keep what is known.
	if got := mark(pgstore.DeliveryUpdate{Status: pgstore.DeliverySent}); got.ProviderMessageID != "SM123" || got.ChannelSenderID != sender.ID {
		t.Errorf("sent again %+v", got)
	}
	if got := mark(pgstore.DeliveryUpdate{Status: pgstore.DeliveryPending, Error: "late"}); got.DeliveryStatus != pgstore.DeliverySent || got.DeliveryError != "" {
		t.Errorf("pending after sent %+v", got)
	}
	if got := mark(pgstore.DeliveryUpdate{Status: pgstore.DeliveryDelivered}); got.DeliveryStatus != pgstore.DeliveryDelivered {
		t.Errorf("delivered %+v", got)
	}
	for _, late := range []pgstore.DeliveryStatus{pgstore.DeliverySent, pgstore.DeliveryFailed, pgstore.DeliveryPending} {
		if got := mark(pgstore.DeliveryUpdate{Status: late, Error: "late"}); got.DeliveryStatus != pgstore.DeliveryDelivered || got.DeliveryError != "" {
			t.Errorf("%s after delivered: %+v", late, got)
		}
	}

	// A refusal keeps its reason, cut to 1,000 characters.
	failed := appendMessage(t, outbound(tid, ix, agent, "This one is refused."))
	out, err := store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{TenantID: tid, MessageID: failed.ID, Status: pgstore.DeliveryFailed,
		Error: strings.Repeat("é", 1500)})
	if err != nil || out.DeliveryStatus != pgstore.DeliveryFailed || len([]rune(out.DeliveryError)) != 1000 {
		t.Errorf("failed %+v, %v", out.DeliveryStatus, err)
	}
	if out, err := store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{TenantID: tid, MessageID: failed.ID, Status: pgstore.DeliverySent}); err != nil || out.DeliveryStatus != pgstore.DeliveryFailed {
		t.Errorf("sent after failed %+v, %v", out.DeliveryStatus, err)
	}

	in := appendMessage(t, inbound(tid, ix, "thanks"))
	_, err = store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{TenantID: tid, MessageID: in.ID, Status: pgstore.DeliverySent})
	wantInvalid(t, err, "messageId")
	_, err = store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{TenantID: newTenant(t).Tenant.ID, MessageID: m.ID, Status: pgstore.DeliverySent})
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{TenantID: tid, MessageID: m.ID, Status: "read"})
	wantInvalid(t, err, "status")
}
