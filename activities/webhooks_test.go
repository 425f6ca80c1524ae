package activities_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/pgtest"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP endpoint that answers with the next of its answers (the last
// one over and over) and keeps what it received.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answers []func(http.ResponseWriter)
}

func newReceiver(t *testing.T, answers ...func(http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		r.answers[min(n, len(r.answers)-1)](w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func answer(status int, body string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// verifySignature checks X-Switchboard-Signature as a receiver would, from the
// documented format alone.
func verifySignature(t *testing.T, secret string, r received, sentAround time.Time) {
	t.Helper()
	sig := r.header.Get("X-Switchboard-Signature")
	ts, mac, ok := strings.Cut(sig, ",")
	ts, okT := strings.CutPrefix(ts, "t=")
	mac, okV := strings.CutPrefix(mac, "v1=")
	if !ok || !okT || !okV {
		t.Fatalf("signature header %q", sig)
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts + "." + string(r.body)))
	if want := hex.EncodeToString(h.Sum(nil)); !hmac.Equal([]byte(want), []byte(mac)) {
		t.Errorf("signature %s does not verify under the endpoint's secret (want %s)", mac, want)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Unix(unix, 0).Sub(sentAround).Abs() > 5*time.Second {
		t.Errorf("signature time %s, sent about %v", ts, sentAround)
	}
}

// newEndpoint creates a tenant with one endpoint for url subscribed to the ended
// and connected events.
func newEndpoint(t *testing.T, url string) (tenantID string, ep pgstore.WebhookEndpointSecret) {
	t.Helper()
	tenantID, _ = newAgent(t)
	ep, err := store.CreateWebhookEndpoint(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewWebhookEndpoint{
		URL: url, EventTypes: []string{events.InteractionEnded, events.InteractionConnected}})
	if err != nil {
		t.Fatal(err)
	}
	return tenantID, ep
}

func newDelivery(t *testing.T, tenantID, endpointID, key string) pgstore.WebhookDelivery {
	t.Helper()
	ix := "5b0c2c3e-0000-4000-8000-" + pgtest.RandomHex(6)
	made, err := store.CreateWebhookDeliveries(testContext(t), tenantID, []string{endpointID}, pgstore.WebhookEvent{
		Key: key, Type: events.InteractionEnded, InteractionID: ix, At: time.Now().UTC(),
		Data: json.RawMessage(`{"interactionId":"` + ix + `","status":"ended"}`)})
	if err != nil || len(made) != 1 {
		t.Fatalf("delivery: %+v, %v", made, err)
	}
	d, err := store.GetWebhookDelivery(testContext(t), tenantID, endpointID, made[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// One attempt after another: each POST carries the delivery's ID, type, attempt
// number and a signature that verifies under the endpoint's secret, the body is the
// same every time, and each attempt lands in the delivery's log.
func TestSendWebhook(t *testing.T) {
	ctx := testContext(t)
	rcv := newReceiver(t, answer(500, "database is down"), answer(204, ""))
	tenantID, ep := newEndpoint(t, rcv.URL+"/hooks")
	d := newDelivery(t, tenantID, ep.ID, "interaction/x/4/interactionEnded")
	a := &activities.Activities{Store: store, Webhooks: &activities.Webhooks{Store: store, AllowPrivate: true}}
	req := activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID}

	_, err := a.SendWebhook(ctx, req)
	if e := appError(t, err); e.NonRetryable() || e.Type() != activities.ErrTypeWebhookRefused ||
		e.Message() != "the endpoint answered 500 Internal Server Error: database is down" {
		t.Errorf("first attempt: %v", err)
	}
	got, _ := store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID)
	if got.Status != pgstore.WebhookPending || got.Attempts != 1 || got.LastStatusCode == nil || *got.LastStatusCode != 500 ||
		got.LastError == nil || *got.LastError != "the endpoint answered 500 Internal Server Error: database is down" {
		t.Errorf("log after a refusal %+v", got)
	}

	res, err := a.SendWebhook(ctx, req)
	if err != nil || res.StatusCode != 204 || res.Attempts != 2 {
		t.Fatalf("second attempt: %+v, %v", res, err)
	}
	got, _ = store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID)
	if got.Status != pgstore.WebhookDelivered || got.Attempts != 2 || *got.LastStatusCode != 204 || got.LastError != nil || got.DeliveredAt == nil {
		t.Errorf("log after delivery %+v", got)
	}

	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs {
		verifySignature(t, ep.Secret, r, time.Now())
		if r.header.Get("X-Switchboard-Delivery") != d.ID || r.header.Get("X-Switchboard-Event") != events.InteractionEnded ||
			r.header.Get("X-Switchboard-Attempt") != strconv.Itoa(i+1) || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("attempt %d headers %v", i+1, r.header)
		}
		if string(r.body) != string(reqs[0].body) {
			t.Errorf("attempt %d body differs: %s vs %s", i+1, r.body, reqs[0].body)
		}
	}
	var body activities.WebhookBody
	if err := json.Unmarshal(reqs[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != d.ID || body.Type != events.InteractionEnded || body.EventKey != d.EventKey || body.TenantID != tenantID ||
		body.InteractionID != d.InteractionID || !body.OccurredAt.Equal(d.OccurredAt) ||
		!strings.Contains(string(body.Data), `"status":"ended"`) {
		t.Errorf("body %s", reqs[0].body)
	}

	t.Run("a rotated secret signs the next attempt", func(t *testing.T) {
		rotated, err := store.RotateWebhookSecret(ctx, tenantID, pgstore.Actor{}, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.SendWebhook(ctx, req); err != nil {
			t.Fatal(err)
		}
		verifySignature(t, rotated.Secret, rcv.requests()[2], time.Now())
	})
}

// How answers other than 2xx are told apart: 410 stops, a redirect is not followed,
// Retry-After sets the next retry; a disabled or deleted endpoint stops without a
// request.
func TestSendWebhookRefusals(t *testing.T) {
	ctx := testContext(t)
	a := &activities.Activities{Store: store, Webhooks: &activities.Webhooks{Store: store, AllowPrivate: true}}
	cases := []struct {
		name      string
		answer    func(http.ResponseWriter)
		stopped   bool
		message   string
		nextRetry time.Duration
	}{
		{"gone", answer(410, "unsubscribed"), true, "the endpoint answered 410 Gone: unsubscribed (410 stops the retries)", 0},
		{"redirect", answer(302, "", "Location", "https://elsewhere.example.com/"), false,
			`the endpoint answered 302 Found (a redirect to "https://elsewhere.example.com/", which is not followed: configure the final URL)`, 0},
		{"too many", answer(429, "", "Retry-After", "30"), false, "the endpoint answered 429 Too Many Requests", 30 * time.Second},
		{"unavailable, a long wait", answer(503, "", "Retry-After", "86400"), false, "the endpoint answered 503 Service Unavailable", time.Minute},
		{"bad request", answer(400, strings.Repeat("x", 300)), false, "the endpoint answered 400 Bad Request: " + strings.Repeat("x", 200) + "…", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcv := newReceiver(t, c.answer)
			tenantID, ep := newEndpoint(t, rcv.URL)
			d := newDelivery(t, tenantID, ep.ID, "k/"+c.name)
			_, err := a.SendWebhook(ctx, activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID, MaximumInterval: time.Minute})
			e := appError(t, err)
			if e.NonRetryable() != c.stopped || e.Message() != c.message || e.NextRetryDelay() != c.nextRetry {
				t.Errorf("got %v (non-retryable %v, next retry %v)", err, e.NonRetryable(), e.NextRetryDelay())
			}
			if got, _ := store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID); got.Attempts != 1 || got.LastError == nil || *got.LastError != c.message {
				t.Errorf("log %+v", got)
			}
		})
	}

	t.Run("no answer in time", func(t *testing.T) {
		rcv := newReceiver(t, func(http.ResponseWriter) { time.Sleep(time.Second) })
		tenantID, ep := newEndpoint(t, rcv.URL)
		d := newDelivery(t, tenantID, ep.ID, "k/slow")
		_, err := a.SendWebhook(ctx, activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID, Timeout: 100 * time.Millisecond})
		if e := appError(t, err); e.NonRetryable() || e.Type() != activities.ErrTypeWebhookUnreachable || e.Message() != "the endpoint did not answer within 100ms" {
			t.Errorf("got %v", err)
		}
		if got, _ := store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID); got.Attempts != 1 || got.LastStatusCode != nil {
			t.Errorf("log %+v", got)
		}
	})

	t.Run("disabled endpoint", func(t *testing.T) {
		rcv := newReceiver(t, answer(200, ""))
		tenantID, ep := newEndpoint(t, rcv.URL)
		d := newDelivery(t, tenantID, ep.ID, "k/disabled")
		off := false
		if _, err := store.UpdateWebhookEndpoint(ctx, tenantID, pgstore.Actor{}, ep.ID, pgstore.WebhookEndpointUpdate{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		_, err := a.SendWebhook(ctx, activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID})
		if e := appError(t, err); !e.NonRetryable() {
			t.Errorf("got %v", err)
		}
		got, _ := store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID)
		if got.Status != pgstore.WebhookFailed || got.Attempts != 0 || got.LastError == nil || !strings.Contains(*got.LastError, "disabled") {
			t.Errorf("log %+v", got)
		}
		if n := len(rcv.requests()); n != 0 {
			t.Errorf("a disabled endpoint got %d requests", n)
		}
	})

	t.Run("deleted endpoint", func(t *testing.T) {
		tenantID, ep := newEndpoint(t, "https://crm.example.com/")
		d := newDelivery(t, tenantID, ep.ID, "k/deleted")
		if err := store.DeleteWebhookEndpoint(ctx, tenantID, pgstore.Actor{}, ep.ID); err != nil {
			t.Fatal(err)
		}
		_, err := a.SendWebhook(ctx, activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID})
		if e := appError(t, err); !e.NonRetryable() {
			t.Errorf("got %v", err)
		}
	})
}

// Unless private addresses are allowed, a delivery never connects to one, whether
// the URL names it or a name resolves to it.
func TestSendWebhookRefusesPrivateAddresses(t *testing.T) {
	ctx := testContext(t)
	rcv := newReceiver(t, answer(200, ""))
	a := &activities.Activities{Store: store, Webhooks: &activities.Webhooks{Store: store}}
	port := rcv.URL[strings.LastIndex(rcv.URL, ":"):]
	for _, url := range []string{rcv.URL, "http://localhost" + port + "/hooks"} {
		tenantID, ep := newEndpoint(t, url)
		d := newDelivery(t, tenantID, ep.ID, "k/private")
		_, err := a.SendWebhook(ctx, activities.WebhookSendRequest{TenantID: tenantID, DeliveryID: d.ID})
		if e := appError(t, err); !e.NonRetryable() || !strings.Contains(e.Message(), "is not public") {
			t.Errorf("%s: %v", url, err)
		}
		if got, _ := store.GetWebhookDelivery(ctx, tenantID, ep.ID, d.ID); got.Attempts != 1 || got.LastError == nil || !strings.Contains(*got.LastError, "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE") {
			t.Errorf("%s: log %+v", url, got)
		}
	}
	if n := len(rcv.requests()); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

func TestPublicAddress(t *testing.T) {
	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2001:4860:4860::8888": true, "93.184.216.34": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "0.1.2.3": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "fd00::1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false, "224.0.0.1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
	} {
		if got := activities.PublicAddress(netip.MustParseAddr(addr)); got != public {
			t.Errorf("PublicAddress(%s) = %v, want %v", addr, got, public)
		}
	}
}

func TestSignWebhook(t *testing.T) {
	at := time.Unix(1764000000, 0)
	body := []byte(`{"id":"d1"}`)
	got := activities.SignWebhook("whsec_test", at, body)
	h := hmac.New(sha256.New, []byte("whsec_test"))
	h.Write([]byte(`1764000000.{"id":"d1"}`))
	if want := "t=1764000000,v1=" + hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("SignWebhook = %s, want %s", got, want)
	}
	if activities.SignWebhook("whsec_other", at, body) == got || activities.SignWebhook("whsec_test", at.Add(time.Second), body) == got {
		t.Error("the signature ignores the secret or the time")
	}
}

// starts is a Temporal client that records workflow starts and refuses a second
// start of an ID, as the server does for the fan-out's reuse policy.
type starts struct {
	client.Client
	mu   sync.Mutex
	ids  map[string]int
	opts []client.StartWorkflowOptions
	args []activities.WebhookDeliveryInput
	fail error
}

func (s *starts) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if s.ids == nil {
		s.ids = map[string]int{}
	}
	s.ids[o.ID]++
	if s.ids[o.ID] > 1 {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "")
	}
	if workflow != activities.WebhookDeliveryWorkflow {
		return nil, errors.New("unexpected workflow")
	}
	s.opts = append(s.opts, o)
	s.args = append(s.args, args[0].(activities.WebhookDeliveryInput))
	return nil, nil
}

func (s *starts) started() ([]client.StartWorkflowOptions, []activities.WebhookDeliveryInput) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]client.StartWorkflowOptions(nil), s.opts...), append([]activities.WebhookDeliveryInput(nil), s.args...)
}

func event(tenantID, key, typ string) events.Event {
	return events.Event{Key: key, Type: typ, TenantID: tenantID, At: time.Now().UTC(),
		InteractionID: "5b0c2c3e-0000-4000-8000-" + pgtest.RandomHex(6), Data: json.RawMessage(`{"status":"ended"}`)}
}

func deliveryCount(t *testing.T, tenantID string) int {
	t.Helper()
	n := 0
	eps, err := store.ListWebhookEndpoints(testContext(t), tenantID, pgstore.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		ds, err := store.ListWebhookDeliveries(testContext(t), tenantID, ep.ID, pgstore.WebhookDeliveryFilter{Page: pgstore.Page{Limit: 200}})
		if err != nil {
			t.Fatal(err)
		}
		n += len(ds)
	}
	return n
}

// The fan-out makes one delivery per subscribed endpoint and event, and starts its
// workflow under an ID derived from the delivery's; a retried publisher lands on the
// same delivery, and its duplicate start is refused and taken as done.
func TestDeliverWebhooks(t *testing.T) {
	ctx := testContext(t)
	tc := &starts{}
	w := &activities.Webhooks{Store: store, Temporal: tc}
	tenantID, ep := newEndpoint(t, "https://crm.example.com/a")
	other, err := store.CreateWebhookEndpoint(ctx, tenantID, pgstore.Actor{}, pgstore.NewWebhookEndpoint{
		URL: "https://crm.example.com/b", EventTypes: []string{events.InteractionEnded}})
	if err != nil {
		t.Fatal(err)
	}

	ended := event(tenantID, "interaction/i1/5/interactionEnded", events.InteractionEnded)
	if err := w.Deliver(ctx, ended); err != nil {
		t.Fatal(err)
	}
	opts, args := tc.started()
	if len(opts) != 2 {
		t.Fatalf("%d starts, want one per subscribed endpoint", len(opts))
	}
	for i, o := range opts {
		d := args[i]
		if o.ID != activities.WebhookDeliveryWorkflowID(d.DeliveryID) || o.TaskQueue != activities.WebhookTaskQueue ||
			o.WorkflowIDReusePolicy != enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE || !o.WorkflowExecutionErrorWhenAlreadyStarted ||
			d.TenantID != tenantID || d.Resend {
			t.Errorf("start %+v of %+v", o, d)
		}
		if v, ok := o.TypedSearchAttributes.GetKeyword(temporal.NewSearchAttributeKeyKeyword("TenantId")); !ok || v != tenantID {
			t.Errorf("start %+v of %+v", o, d)
		}
	}
	if n := deliveryCount(t, tenantID); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}

	// The publishing activity retried: same deliveries, the starts refused as done.
	ended.At = ended.At.Add(time.Second)
	if err := w.Deliver(ctx, ended); err != nil {
		t.Fatalf("retried fan-out: %v", err)
	}
	if n := deliveryCount(t, tenantID); n != 2 {
		t.Errorf("%d deliveries after the retry, want 2", n)
	}
	if again, _ := tc.started(); len(again) != 2 {
		t.Errorf("%d accepted starts after the retry", len(again))
	}

	// A type only one endpoint takes; a type nobody takes.
	if err := w.Deliver(ctx, event(tenantID, "interaction/i1/2/interactionConnected", events.InteractionConnected)); err != nil {
		t.Fatal(err)
	}
	if err := w.Deliver(ctx, event(tenantID, "interaction/i1/1/callRinging", events.CallRinging)); err != nil {
		t.Fatal(err)
	}
	_, args = tc.started()
	if len(args) != 3 {
		t.Fatalf("%d starts, want 3", len(args))
	}
	if d, err := store.GetWebhookDelivery(ctx, tenantID, ep.ID, args[2].DeliveryID); err != nil || d.EventType != events.InteractionConnected {
		t.Errorf("connected delivery %+v, %v", d, err)
	}
	if ds, _ := store.ListWebhookDeliveries(ctx, tenantID, other.ID, pgstore.WebhookDeliveryFilter{}); len(ds) != 1 {
		t.Errorf("the endpoint without connected events has %d deliveries", len(ds))
	}

	t.Run("a start that failed is made by the retry", func(t *testing.T) {
		tc.mu.Lock()
		tc.fail = errors.New("frontend unavailable")
		tc.mu.Unlock()
		ev := event(tenantID, "interaction/i2/5/interactionEnded", events.InteractionEnded)
		if err := w.Deliver(ctx, ev); err == nil {
			t.Fatal("a failed start was not reported: the activity would not be retried")
		}
		tc.mu.Lock()
		tc.fail = nil
		tc.mu.Unlock()
		before, _ := tc.started()
		if err := w.Deliver(ctx, ev); err != nil {
			t.Fatal(err)
		}
		after, _ := tc.started()
		if len(after) != len(before)+2 {
			t.Errorf("the retry started %d workflows, want 2", len(after)-len(before))
		}
	})

	t.Run("a finished delivery is not started again", func(t *testing.T) {
		ev := event(tenantID, "interaction/i3/5/interactionEnded", events.InteractionEnded)
		made, err := store.CreateWebhookDeliveries(ctx, tenantID, []string{ep.ID}, pgstore.WebhookEvent{Key: ev.Key, Type: ev.Type, At: ev.At})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.RecordWebhookAttempt(ctx, tenantID, made[0].ID, pgstore.WebhookAttempt{At: time.Now(), StatusCode: 200, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		before, _ := tc.started()
		if err := w.Deliver(ctx, ev); err != nil {
			t.Fatal(err)
		}
		after, args := tc.started()
		if len(after) != len(before)+1 || args[len(args)-1].DeliveryID == made[0].ID {
			t.Errorf("starts %d → %d; the delivered one must not be among them", len(before), len(after))
		}
	})
}

// Concurrent publishers of one event (an activity and its retry overlapping) make one
// delivery and one started workflow per endpoint.
func TestDeliverWebhooksConcurrently(t *testing.T) {
	ctx := testContext(t)
	tc := &starts{}
	w := &activities.Webhooks{Store: store, Temporal: tc}
	tenantID, _ := newEndpoint(t, "https://crm.example.com/a")
	ev := event(tenantID, "interaction/c1/5/interactionEnded", events.InteractionEnded)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = w.Deliver(ctx, ev) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if opts, _ := tc.started(); len(opts) != 1 {
		t.Errorf("%d accepted starts, want 1", len(opts))
	}
	if n := deliveryCount(t, tenantID); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

// A tenant's endpoints are read once per TTL: an endpoint created just after an
// event takes effect for events a little later.
func TestDeliverWebhooksCachesEndpoints(t *testing.T) {
	ctx := testContext(t)
	tc := &starts{}
	w := &activities.Webhooks{Store: store, Temporal: tc}
	tenantID, _ := newAgent(t)
	if err := w.Deliver(ctx, event(tenantID, "interaction/n1/1/interactionEnded", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateWebhookEndpoint(ctx, tenantID, pgstore.Actor{}, pgstore.NewWebhookEndpoint{
		URL: "https://crm.example.com/", EventTypes: []string{events.InteractionEnded}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Deliver(ctx, event(tenantID, "interaction/n1/2/interactionEnded", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	if opts, _ := tc.started(); len(opts) != 0 {
		t.Fatalf("%d starts while the tenant's empty list was fresh", len(opts))
	}
	time.Sleep(2100 * time.Millisecond)
	if err := w.Deliver(ctx, event(tenantID, "interaction/n1/3/interactionEnded", events.InteractionEnded)); err != nil {
		t.Fatal(err)
	}
	if opts, _ := tc.started(); len(opts) != 1 {
		t.Errorf("%d starts after the TTL, want 1", len(opts))
	}
}
