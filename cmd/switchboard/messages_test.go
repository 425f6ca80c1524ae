package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/channels"
	"switchboard/workflows"
)

// relayInput names one of the stack's message activities and its argument.
type relayInput struct {
	Activity string                      `json:"activity"`
	Inbound  *activities.InboundMessage  `json:"inbound,omitempty"`
	Outbound *activities.OutboundMessage `json:"outbound,omitempty"`
}

// messageRelay runs one message activity on the stack's own worker (its task queue),
// as the interaction workflow does, with a retry policy quick enough for a test.
func messageRelay(ctx workflow.Context, in relayInput) (activities.MessageResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: workflows.TaskQueue, StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 5},
	})
	var arg any = in.Inbound
	if in.Outbound != nil {
		arg = in.Outbound
	}
	var out activities.MessageResult
	err := workflow.ExecuteActivity(ctx, in.Activity, arg).Get(ctx, &out)
	return out, err
}

// relay runs message activities through Temporal on the stack's worker.
type relay struct {
	c     client.Client
	queue string
}

func newRelay(t *testing.T, s *testStack) *relay {
	t.Helper()
	r := &relay{c: s.temporalClient(), queue: randomName("messages-test-")}
	w := sdkworker.New(r.c, r.queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(messageRelay, workflow.RegisterOptions{Name: "messageRelay"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return r
}

func (r *relay) run(t *testing.T, in relayInput) (activities.MessageResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := r.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: r.queue, ID: randomName("message-relay-")}, "messageRelay", in)
	if err != nil {
		t.Fatal(err)
	}
	var out activities.MessageResult
	err = run.Get(ctx, &out)
	return out, err
}

func (r *relay) send(t *testing.T, m activities.OutboundMessage) (activities.MessageResult, error) {
	t.Helper()
	return r.run(t, relayInput{Activity: "SendOutboundMessage", Outbound: &m})
}

// gateway is a tenant's messaging gateway: it checks each request's signature and
// answers what it is told to, a 200 with a provider ID once the script runs out.
type gateway struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	script []int
	got    []channels.OutboundMessage
	ids    []string
	bad    int
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		defer g.mu.Unlock()
		if !channels.Verify(g.secret, body, r.Header.Get(channels.SignatureHeader)) {
			g.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m channels.OutboundMessage
		_ = json.Unmarshal(body, &m)
		g.got = append(g.got, m)
		g.ids = append(g.ids, r.Header.Get(channels.MessageIDHeader))
		if len(g.script) > 0 {
			code := g.script[0]
			g.script = g.script[1:]
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, `{"error":"scripted %d"}`, code)
			return
		}
		_, _ = fmt.Fprintf(w, `{"providerMessageId":"gw-%d"}`, len(g.got))
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) set(secret string, script ...int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.secret, g.script = secret, script
}

func (g *gateway) requests() ([]channels.OutboundMessage, []string, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]channels.OutboundMessage(nil), g.got...), append([]string(nil), g.ids...), g.bad
}

// TestMessagesAPI drives channel senders through the API (admins only, validation,
// secrets shown once, tenants apart, audit) and an interaction's transcript: the
// stack's worker records a customer's message and sends agents' replies through a
// signed webhook and the test adapter — retried by Temporal when the channel is
// unavailable or its answer is lost, never delivered twice — and the transcript is
// answered in order to those who may see the interaction.
func TestMessagesAPI(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	_, boKey := s.newUserKey(t, adminKey, "agent")
	gw := newGateway(t)

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, channels.DefaultTestPrefix+":{"+tenant+"}:*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	testChannel := channels.NewTestAdapter(rdb, channels.DefaultTestPrefix)

	var whatsapp, sms map[string]any
	t.Run("senders", func(t *testing.T) {
		for _, c := range []struct {
			name, key, body string
			status          int
			code, field     string
		}{
			{"unknown field", adminKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"test","colour":"red"}`, 422, "invalid_field", "colour"},
			{"wrong type", adminKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"test","enabled":"yes"}`, 400, "malformed_request", "enabled"},
			{"not JSON", adminKey, `{"subChannel":`, 400, "malformed_request", ""},
			{"unknown sub-channel", adminKey, `{"subChannel":"pigeon","address":"x","kind":"test"}`, 422, "invalid_field", "subChannel"},
			{"not a phone number", adminKey, `{"subChannel":"whatsapp","address":"Acme","kind":"test"}`, 422, "invalid_field", "address"},
			{"webhook without a URL", adminKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"webhook"}`, 422, "invalid_field", "webhookUrl"},
			{"URL that is not http", adminKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"webhook","webhookUrl":"ftp://x.example.com"}`, 422, "invalid_field", "webhookUrl"},
			{"short secret", adminKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"test","signingSecret":"abc"}`, 422, "invalid_field", "signingSecret"},
			{"a supervisor", supKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"test"}`, 403, "forbidden", ""},
			{"an agent", anaKey, `{"subChannel":"sms","address":"+385 1 600 0001","kind":"test"}`, 403, "forbidden", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				s.wantError(t, "POST", "/v1/channel-senders", c.key, c.body, c.status, c.code, c.field)
			})
		}
		if items := s.call(t, "GET", "/v1/channel-senders", adminKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Fatalf("refused requests created senders: %v", items)
		}
		s.wantError(t, "GET", "/v1/channel-senders", supKey, nil, 403, "forbidden", "")

		whatsapp = s.call(t, "POST", "/v1/channel-senders", adminKey, map[string]any{"subChannel": "WhatsApp", "address": "+385 1 600 0000",
			"name": "Support", "kind": "webhook", "webhookUrl": gw.srv.URL + "/outbound"}, 201)
		secret, _ := whatsapp["signingSecret"].(string)
		if whatsapp["subChannel"] != "whatsapp" || whatsapp["enabled"] != true || len(secret) < 40 ||
			whatsapp["signingSecretHint"] != "…"+secret[len(secret)-4:] {
			t.Fatalf("created %v", whatsapp)
		}
		sms = s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"sms","address":"+385 1 600 0002","kind":"test"}`, 201)
		s.wantError(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"whatsapp","address":"385-1-600-0000","kind":"test"}`, 409, "conflict", "")

		path := "/v1/channel-senders/" + whatsapp["id"].(string)
		got := s.do("GET", path, adminKey, "")
		if got.status != 200 || strings.Contains(string(got.body), secret) || got.json(t)["signingSecretHint"] != whatsapp["signingSecretHint"] {
			t.Errorf("read %d %s", got.status, got.body)
		}
		list := s.do("GET", "/v1/channel-senders", adminKey, "")
		if items := list.json(t)["items"].([]any); len(items) != 2 || strings.Contains(string(list.body), secret) {
			t.Errorf("list %s", list.body)
		}
		if items := s.call(t, "GET", "/v1/channel-senders?subChannel=sms", adminKey, nil, 200)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != sms["id"] {
			t.Errorf("sms senders %v", items)
		}
		s.wantError(t, "GET", "/v1/channel-senders?subChannel=pigeon", adminKey, nil, 422, "invalid_field", "subChannel")

		s.wantError(t, "PATCH", path, adminKey, `{}`, 422, "invalid_field", "")
		s.wantError(t, "PATCH", path, adminKey, `{"kind":"webhook","webhookUrl":null}`, 422, "invalid_field", "webhookUrl")
		s.wantError(t, "PATCH", path, adminKey, `{"rotateSecret":true,"signingSecret":"0123456789abcdef0"}`, 422, "invalid_field", "rotateSecret")
		rotated := s.call(t, "PATCH", path, adminKey, `{"rotateSecret":true,"name":null}`, 200)
		newSecret, _ := rotated["signingSecret"].(string)
		if newSecret == "" || newSecret == secret || rotated["name"] != nil {
			t.Errorf("rotated %v", rotated)
		}
		if again := s.call(t, "PATCH", path, adminKey, `{"enabled":true}`, 200); again["signingSecret"] != nil {
			t.Errorf("a change without a new secret shows one: %v", again)
		}
		gw.set(newSecret)

		other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-msg", "name": "Other",
			"admin": map[string]string{"email": "boss@other-msg.test", "name": "Boss"}}, 201)
		otherKey := other["apiKey"].(map[string]any)["secret"].(string)
		s.tenantOf(t, otherKey)
		s.wantError(t, "GET", path, otherKey, nil, 404, "not_found", "")
		s.wantError(t, "PATCH", path, otherKey, `{"enabled":false}`, 404, "not_found", "")
		s.wantError(t, "DELETE", path, otherKey, nil, 404, "not_found", "")
		if items := s.call(t, "GET", "/v1/channel-senders", otherKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("the other tenant lists %v", items)
		}
		// Another tenant may have the same address.
		s.call(t, "POST", "/v1/channel-senders", otherKey, `{"subChannel":"whatsapp","address":"+385 1 600 0000","kind":"test"}`, 201)

		gone := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"telegram","address":"@acme_bot","kind":"test"}`, 201)
		s.call(t, "DELETE", "/v1/channel-senders/"+gone["id"].(string), adminKey, nil, 204)
		s.wantError(t, "GET", "/v1/channel-senders/"+gone["id"].(string), adminKey, nil, 404, "not_found", "")

		pool, err := pgxpool.New(context.Background(), s.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var created, updated, deleted, leaked int
		if err := pool.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE action = 'channel_sender.created'), count(*) FILTER (WHERE action = 'channel_sender.updated'),
			count(*) FILTER (WHERE action = 'channel_sender.deleted'),
			count(*) FILTER (WHERE details::text LIKE '%' || $2 || '%' OR details::text LIKE '%' || $3 || '%')
			FROM audit_log WHERE tenant_id = $1`, tenant, secret, newSecret).Scan(&created, &updated, &deleted, &leaked); err != nil {
			t.Fatal(err)
		}
		if created != 3 || updated != 2 || deleted != 1 || leaked != 0 {
			t.Errorf("audit: %d created, %d updated, %d deleted, %d with a secret; want 3, 2, 1, 0", created, updated, deleted, leaked)
		}
	})
	if whatsapp == nil {
		t.FailNow()
	}

	// Ana takes a WhatsApp conversation written to the business number.
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey)
	ix := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"whatsapp","from":"+385 91 000 0001","to":"+385 1 600-0000","content":"Hello"}`, 201)
	id := ix["id"].(string)
	s.waitFor(t, "/v1/interactions/"+id, anaKey, "offered to Ana", func(v map[string]any) bool { return v["offeredAgentId"] == anaID })
	s.call(t, "POST", "/v1/interactions/"+id+"/accept", anaKey, nil, 200)
	r := newRelay(t, s)
	reply := func(body string) activities.OutboundMessage {
		return activities.OutboundMessage{TenantID: tenant, InteractionID: id, MessageID: uuid.NewString(), SenderKind: "agent",
			SenderID: anaID, Body: body, CreatedAt: time.Now()}
	}

	t.Run("messages through the worker", func(t *testing.T) {
		in := activities.InboundMessage{TenantID: tenant, InteractionID: id, MessageID: uuid.NewString(), From: "+385 91 000 0001",
			Body: "Hello, my parcel did not arrive", ReceivedAt: time.Now(),
			Attachments: []channels.Attachment{{URL: "https://files.example.com/receipt.jpg", Name: "receipt.jpg", ContentType: "image/jpeg", Size: 52311}}}
		for range 2 { // the second is a retry
			if res, err := r.run(t, relayInput{Activity: "RecordInboundMessage", Inbound: &in}); err != nil || res.Seq != 1 {
				t.Fatalf("inbound: %+v, %v", res, err)
			}
		}

		// From the interaction's addressing, through the signed webhook.
		first := reply("Sorry to hear that — let me check.")
		res, err := r.send(t, first)
		if err != nil || res.Status != "sent" || res.ProviderMessageID != "gw-1" || res.Seq != 2 {
			t.Fatalf("first reply: %+v, %v", res, err)
		}
		// The gateway is unavailable once: Temporal retries, the same message ID.
		gw.set(gw.secret, http.StatusServiceUnavailable)
		second := reply("It ships today.")
		if res, err := r.send(t, second); err != nil || res.Status != "sent" || res.ProviderMessageID != "gw-3" {
			t.Fatalf("second reply: %+v, %v", res, err)
		}
		got, ids, bad := gw.requests()
		if len(got) != 3 || bad != 0 || ids[1] != second.MessageID || ids[2] != second.MessageID || got[0].From != "+385 1 600 0000" ||
			got[0].To != "+385 91 000 0001" || got[0].Channel != "whatsapp" || got[0].Body != first.Body || got[0].InteractionID != id {
			t.Errorf("the gateway got %+v (message IDs %v, %d badly signed)", got, ids, bad)
		}
		// The gateway refuses one for good: the workflow learns it at once.
		gw.set(gw.secret, http.StatusUnprocessableEntity)
		_, err = r.send(t, reply("This one is refused."))
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeMessageRejected {
			t.Errorf("refused: %v, want %s", err, activities.ErrTypeMessageRejected)
		}
		if got, _, _ := gw.requests(); len(got) != 4 {
			t.Errorf("the refusal was tried %d times, want once", len(got)-3)
		}

		// Over the test adapter, whose answer is lost once (as if the worker died
		// between sending and recording): the retry does not deliver it twice, and
		// this process reads what the stack's worker sent.
		smsID := sms["id"].(string)
		if err := testChannel.FailNext(context.Background(), tenant, smsID, channels.FailLost); err != nil {
			t.Fatal(err)
		}
		text := reply("We also sent you a text.")
		text.Channel, text.From = "sms", "+385 1 600 0002"
		res, err = r.send(t, text)
		if err != nil || res.Status != "sent" || res.ChannelSenderID != smsID {
			t.Fatalf("text: %+v, %v", res, err)
		}
		sent, err := testChannel.Sent(context.Background(), tenant, smsID)
		if err != nil || len(sent) != 1 || sent[0].MessageID != text.MessageID || sent[0].To != "+385 91 000 0001" ||
			sent[0].ProviderMessageID != res.ProviderMessageID {
			t.Errorf("the test channel took %+v, %v", sent, err)
		}
		if n, _ := testChannel.Attempts(context.Background(), tenant, smsID); n != 2 {
			t.Errorf("%d attempts, want 2 (the lost answer and the retry)", n)
		}
	})

	t.Run("transcript", func(t *testing.T) {
		path := "/v1/interactions/" + id + "/messages"
		items := s.call(t, "GET", path, anaKey, nil, 200)["items"].([]any)
		type line struct{ dir, kind, status string }
		want := []line{{"inbound", "customer", ""}, {"outbound", "agent", "sent"}, {"outbound", "agent", "sent"},
			{"outbound", "agent", "failed"}, {"outbound", "agent", "sent"}}
		if len(items) != len(want) {
			t.Fatalf("transcript %v", items)
		}
		for i, it := range items {
			m := it.(map[string]any)
			status, _ := m["deliveryStatus"].(string)
			if m["seq"] != float64(i+1) || (line{m["direction"].(string), m["senderKind"].(string), status}) != want[i] {
				t.Errorf("message %d: %v", i+1, m)
			}
		}
		first := items[0].(map[string]any)
		if first["body"] != "Hello, my parcel did not arrive" || len(first["attachments"].([]any)) != 1 {
			t.Errorf("the customer's message %v", first)
		}
		if refused := items[3].(map[string]any); !strings.Contains(refused["deliveryError"].(string), "422") {
			t.Errorf("the refused message %v", refused)
		}
		page := s.call(t, "GET", path+"?limit=2", anaKey, nil, 200)
		if len(page["items"].([]any)) != 2 || page["nextAfter"] != "2" {
			t.Errorf("first page %v", page)
		}
		rest := s.call(t, "GET", path+"?after=2&limit=2", supKey, nil, 200)["items"].([]any)
		if len(rest) != 2 || rest[0].(map[string]any)["seq"] != 3.0 {
			t.Errorf("second page %v", rest)
		}
		s.call(t, "GET", path, crmKey, nil, 200)
		s.wantError(t, "GET", path, boKey, nil, 404, "not_found", "")
		s.wantError(t, "GET", path+"?after=two", anaKey, nil, 400, "malformed_request", "after")
		s.wantError(t, "GET", path+"?limit=501", anaKey, nil, 422, "invalid_field", "limit")
		s.wantError(t, "GET", "/v1/interactions/not-an-id/messages", supKey, nil, 404, "not_found", "")
		s.wantError(t, "GET", "/v1/interactions/"+uuid.NewString()+"/messages", supKey, nil, 404, "not_found", "")
	})

	s.call(t, "POST", "/v1/interactions/"+id+"/end", anaKey, nil, 200)
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
}
