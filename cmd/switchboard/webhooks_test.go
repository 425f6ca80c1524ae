package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/events"
)

// verifySwitchboard is the README's receiver example: it checks a webhook request's
// X-Switchboard-Signature ("t=<unix>,v1=<hex>") over "<t>.<body>" under the
// endpoint's secret, and refuses a timestamp further than tolerance from now.
func verifySwitchboard(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed signature header")
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return errors.New("stale timestamp")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

func TestWebhookReceiverExample(t *testing.T) {
	now := time.Unix(1764000000, 0)
	body := []byte(`{"id":"d1","type":"interactionEnded"}`)
	sign := func(secret string, at time.Time, body []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.%s", at.Unix(), body)
		return fmt.Sprintf("t=%d,v1=%x", at.Unix(), mac.Sum(nil))
	}
	good := sign("whsec_a", now, body)
	for _, c := range []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"valid", good, body, true},
		{"a few seconds old", sign("whsec_a", now.Add(-10*time.Second), body), body, true},
		{"stale", sign("whsec_a", now.Add(-6*time.Minute), body), body, false},
		{"from the future", sign("whsec_a", now.Add(6*time.Minute), body), body, false},
		{"other secret", sign("whsec_b", now, body), body, false},
		{"tampered body", good, []byte(`{"id":"d2","type":"interactionEnded"}`), false},
		{"no signature", "t=1764000000", body, false},
		{"garbage", "sha256=abc", body, false},
	} {
		if err := verifySwitchboard("whsec_a", c.header, c.body, now, 5*time.Minute); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// webhookHit is one request the test receiver got.
type webhookHit struct {
	deliveryID, eventType, eventKey, interactionID string
	attempt                                        int
	answered                                       int
	signature                                      string
	body                                           []byte
}

// webhookReceiver is a CRM's endpoint: it verifies every request's signature (a
// request that does not verify is a test failure and answered 401), answers 500 to
// the first request of each delivery ID and 200 to the later ones, and keeps every
// request.
type webhookReceiver struct {
	*httptest.Server
	t      *testing.T
	mu     sync.Mutex
	secret string
	hits   []webhookHit
	seen   map[string]int
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{t: t, seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *webhookReceiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("webhook request %s %v: %v", req.Method, req.Header, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := verifySwitchboard(r.secret, req.Header.Get("X-Switchboard-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("webhook %s: %v (header %q)", req.Header.Get("X-Switchboard-Delivery"), err, req.Header.Get("X-Switchboard-Signature"))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID            string          `json:"id"`
		Type          string          `json:"type"`
		EventKey      string          `json:"eventKey"`
		TenantID      string          `json:"tenantId"`
		InteractionID string          `json:"interactionId"`
		OccurredAt    time.Time       `json:"occurredAt"`
		Data          json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.EventKey == "" || ev.OccurredAt.IsZero() || len(ev.Data) == 0 {
		r.t.Errorf("webhook body %s: %v", body, err)
	}
	if req.Header.Get("X-Switchboard-Delivery") != ev.ID || req.Header.Get("X-Switchboard-Event") != ev.Type {
		r.t.Errorf("webhook headers %v disagree with the body %s", req.Header, body)
	}
	attempt, _ := strconv.Atoi(req.Header.Get("X-Switchboard-Attempt"))
	r.seen[ev.ID]++
	status := http.StatusOK
	if r.seen[ev.ID] == 1 {
		status = http.StatusInternalServerError
	}
	r.hits = append(r.hits, webhookHit{deliveryID: ev.ID, eventType: ev.Type, eventKey: ev.EventKey, interactionID: ev.InteractionID,
		attempt: attempt, answered: status, signature: req.Header.Get("X-Switchboard-Signature"), body: body})
	w.WriteHeader(status)
}

// delivered answers the requests answered 200, by delivery ID.
func (r *webhookReceiver) delivered() map[string][]webhookHit {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]webhookHit{}
	for _, h := range r.hits {
		if h.answered == http.StatusOK {
			out[h.deliveryID] = append(out[h.deliveryID], h)
		}
	}
	return out
}

func (r *webhookReceiver) requests(deliveryID string) []webhookHit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhookHit
	for _, h := range r.hits {
		if h.deliveryID == deliveryID {
			out = append(out, h)
		}
	}
	return out
}

// waitForHits waits until the receiver answered 200 to n deliveries.
func (r *webhookReceiver) waitForDeliveries(t *testing.T, n int) map[string][]webhookHit {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.delivered()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhooks subscribes a CRM's endpoint to a few lifecycle events on a running
// stack and takes an outbound chat through its life over the API. The receiver
// verifies every signature and refuses each delivery's first attempt with a 500;
// each subscribed event arrives under one delivery ID, exactly once answered 200,
// at the second attempt with the same ID and body, and no other event arrives. The
// delivery log says delivered after two attempts; a re-send delivers again under the
// same ID; a test ping makes one attempt only; a rotated secret signs what follows;
// roles and tenants are kept apart, and bad input is answered 422 naming the field.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.args = append(s.args, "--webhook-allow-private", "true")
	s.start()
	defer s.stop()
	began := time.Now()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rdb.Del(ctx, events.DefaultPrefix+":{"+tenant+"}:events")
	})
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-webhooks", "name": "Other",
		"admin": map[string]string{"email": "boss@other-webhooks.test", "name": "Boss"}}, 201)
	otherKey := other["apiKey"].(map[string]any)["secret"].(string)
	rcv := newWebhookReceiver(t)

	// Bad input and roles.
	subscribed := []string{events.InteractionInitiated, events.InteractionConnected, events.InteractionEnded, events.InteractionDisposed}
	s.wantError(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": "ftp://crm.test/", "eventTypes": subscribed}, 422, "invalid_field", "url")
	s.wantError(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL}, 422, "invalid_field", "eventTypes")
	s.wantError(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL, "eventTypes": []string{"interactionExploded"}}, 422, "invalid_field", "eventTypes")
	s.wantError(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL, "eventTypes": subscribed, "secret": "mine"}, 422, "invalid_field", "secret")
	s.wantError(t, "POST", "/v1/webhooks", supKey, map[string]any{"url": rcv.URL, "eventTypes": subscribed}, 403, "forbidden", "")
	s.wantError(t, "GET", "/v1/webhooks", anaKey, nil, 403, "forbidden", "")

	created := s.call(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL + "/switchboard", "eventTypes": subscribed, "description": "CRM"}, 201)
	hookID, secret := created["id"].(string), created["secret"].(string)
	rcv.setSecret(secret)
	hook := "/v1/webhooks/" + hookID
	for _, r := range []response{s.do("GET", hook, supKey, ""), s.do("GET", "/v1/webhooks", supKey, "")} {
		if r.status != 200 || strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"secret"`) || !strings.Contains(string(r.body), hookID) {
			t.Errorf("a read shows %d %s", r.status, r.body)
		}
	}
	s.wantError(t, "GET", hook, otherKey, nil, 404, "not_found", "")
	s.wantError(t, "GET", hook+"/deliveries", otherKey, nil, 404, "not_found", "")
	s.wantError(t, "PATCH", hook, supKey, map[string]any{"enabled": false}, 403, "forbidden", "")

	// An outbound chat through its life: Ana, on a break, messages a customer; it is
	// hers at once; she ends and disposes it.
	s.setWrapUpTimeout(t, adminKey, 0)
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey)
	chat := s.call(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "whatsapp", "direction": "outbound", "to": "+385 91 555 0199"}, 201)
	ixID := chat["id"].(string)
	path := "/v1/interactions/" + ixID
	s.waitFor(t, path, supKey, "the chat connected to Ana", func(v map[string]any) bool { return v["status"] == "connected" && v["agentId"] == anaID })
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
	s.waitFor(t, path, supKey, "the chat disposed", func(v map[string]any) bool { return v["status"] == "disposed" })

	got := rcv.waitForDeliveries(t, len(subscribed))
	var types []string
	keys := map[string]string{}
	for id, hits := range got {
		if len(hits) != 1 {
			t.Errorf("delivery %s was answered 200 %d times", id, len(hits))
		}
		h := hits[0]
		types = append(types, h.eventType)
		if prev, dup := keys[h.eventKey]; dup {
			t.Errorf("event %s arrived under two delivery IDs, %s and %s", h.eventKey, prev, id)
		}
		keys[h.eventKey] = id
		if h.interactionID != ixID {
			t.Errorf("delivery %s is about interaction %s, want %s", id, h.interactionID, ixID)
		}
		all := rcv.requests(id)
		if len(all) != 2 || all[0].answered != 500 || all[0].attempt != 1 || all[1].attempt != 2 || string(all[0].body) != string(all[1].body) {
			t.Errorf("delivery %s (%s): %d requests %+v, want a refused first attempt and the same body again", id, h.eventType, len(all), all)
		}
	}
	slices.Sort(types)
	want := slices.Clone(subscribed)
	slices.Sort(want)
	if !slices.Equal(types, want) {
		t.Errorf("delivered types %v, want each of %v once", types, want)
	}

	// The log: every delivery delivered after two attempts. The receiver sees the
	// second attempt a moment before the delivery's activity records its answer.
	log := s.waitFor(t, hook+"/deliveries", supKey, "every delivery logged as delivered", func(v map[string]any) bool {
		items, _ := v["items"].([]any)
		for _, item := range items {
			if item.(map[string]any)["status"] != "delivered" {
				return false
			}
		}
		return len(items) >= len(subscribed)
	})["items"].([]any)
	if len(log) != len(subscribed) {
		t.Fatalf("the log has %d deliveries: %v", len(log), log)
	}
	for _, item := range log {
		d := item.(map[string]any)
		if d["status"] != "delivered" || d["attempts"] != 2.0 || d["lastStatusCode"] != 200.0 || d["lastError"] != nil || got[d["id"].(string)] == nil {
			t.Errorf("log entry %v", d)
		}
	}
	if failed := s.call(t, "GET", hook+"/deliveries?status=failed", supKey, nil, 200)["items"].([]any); len(failed) != 0 {
		t.Errorf("failed deliveries %v", failed)
	}
	s.wantError(t, "GET", hook+"/deliveries?status=lost", supKey, nil, 422, "invalid_field", "status")

	// A re-send: the same delivery ID, a third attempt, delivered again.
	var endedID string
	for key, id := range keys {
		if strings.HasSuffix(key, "/"+events.InteractionEnded) {
			endedID = id
		}
	}
	s.wantError(t, "POST", hook+"/deliveries/"+endedID+"/resend", supKey, nil, 403, "forbidden", "")
	resent := s.call(t, "POST", hook+"/deliveries/"+endedID+"/resend", adminKey, nil, 202)
	if resent["deliveryId"] != endedID || resent["workflowId"] != "webhook-delivery/"+endedID {
		t.Errorf("re-send answered %v", resent)
	}
	d := s.waitFor(t, hook+"/deliveries/"+endedID, supKey, "the re-sent delivery delivered", func(v map[string]any) bool {
		return v["status"] == "delivered" && v["attempts"] == 3.0
	})
	if d["resentAt"] == nil {
		t.Errorf("re-sent delivery %v", d)
	}
	if hits := rcv.requests(endedID); len(hits) != 3 || hits[2].answered != 200 || hits[2].attempt != 3 || string(hits[2].body) != string(hits[0].body) {
		t.Errorf("the re-send reached the receiver as %+v", hits)
	}

	// A ping makes a single attempt: the receiver refuses it, so it fails at once.
	s.wantError(t, "POST", hook+"/ping", supKey, nil, 403, "forbidden", "")
	ping := s.call(t, "POST", hook+"/ping", adminKey, nil, 200)
	pingID := ping["id"].(string)
	if ping["status"] != "failed" || ping["attempts"] != 1.0 || ping["lastStatusCode"] != 500.0 || ping["eventType"] != "ping" ||
		!strings.Contains(fmt.Sprint(ping["lastError"]), "500") {
		t.Errorf("ping %v", ping)
	}

	// A rotated secret signs from then on: the failed ping, re-sent, verifies
	// under the new secret only.
	rotated := s.call(t, "POST", hook+"/rotate-secret", adminKey, nil, 200)
	newSecret := rotated["secret"].(string)
	if newSecret == secret || rotated["id"] != hookID {
		t.Fatalf("rotated %v", rotated)
	}
	rcv.setSecret(newSecret)
	s.call(t, "POST", hook+"/deliveries/"+pingID+"/resend", adminKey, nil, 202)
	s.waitFor(t, hook+"/deliveries/"+pingID, supKey, "the re-sent ping delivered", func(v map[string]any) bool {
		return v["status"] == "delivered" && v["attempts"] == 2.0
	})
	hits := rcv.requests(pingID)
	if len(hits) != 2 {
		t.Fatalf("ping requests %+v", hits)
	}
	if verifySwitchboard(secret, hits[1].signature, hits[1].body, time.Now(), 5*time.Minute) == nil {
		t.Error("the re-sent ping still verifies under the old secret")
	}

	// A disabled endpoint takes no pings; deleting it takes its log along.
	s.call(t, "PATCH", hook, adminKey, map[string]any{"enabled": false}, 200)
	s.wantError(t, "POST", hook+"/ping", adminKey, nil, 409, "conflict", "")
	s.call(t, "DELETE", hook, adminKey, nil, 204)
	s.wantError(t, "GET", hook+"/deliveries/"+endedID, supKey, nil, 404, "not_found", "")
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
	t.Logf("webhooks exercised in %v after the stack started", time.Since(began).Round(time.Millisecond))
}
