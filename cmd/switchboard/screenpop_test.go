package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"switchboard/events"
)

// screenPopOf is the screen pop URL an event carries, parsed; nil when it has none.
func screenPopOf(t *testing.T, e sseEvent) *url.URL {
	t.Helper()
	var v struct {
		ScreenPop *struct {
			URL string `json:"url"`
		} `json:"screenPop"`
	}
	if err := json.Unmarshal(e.event.Data, &v); err != nil {
		t.Fatalf("%s payload: %v: %s", e.typ, err, e.event.Data)
	}
	if v.ScreenPop == nil {
		return nil
	}
	u, err := url.Parse(v.ScreenPop.URL)
	if err != nil {
		t.Fatalf("%s: screen pop %q: %v", e.typ, v.ScreenPop.URL, err)
	}
	return u
}

// TestScreenPop drives a campaign's screen pop end to end: an invalid template is
// refused naming the field; a call of the campaign rings on the agent with the
// resolved URL on interactionOffered and callRinging, and once accepted the agent's
// stream carries it on interactionConnected and a showCrm event. An outbound call a
// CRM starts for another agent pops the same page with the outbound values.
func TestScreenPop(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
		defer rdb.Close()
		rdb.Del(context.Background(), events.DefaultPrefix+":{"+tenant+"}:events")
	})
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)

	const template = "https://crm.example.com/pop?ixn={interactionId}&phone={phone}&display={displayPhone}&agent={userId}" +
		"&name={userName}&type={callType}&order={metadata.orderId}&l={locale}&c={campaignId}&q={queueId}&t={crm_push_generated_time}"
	s.wantError(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Broken", "screenPopUrl": "https://crm.example.com/?e={email}"},
		422, "invalid_field", "screenPopUrl")
	s.wantError(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Broken", "knowledgeBaseUrl": "crm.example.com/{userId}"},
		422, "invalid_field", "knowledgeBaseUrl")
	camp := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Support line", "screenPopUrl": template,
		"locale": "hr-HR", "callerId": "+38515550000", "wrapUpTimeoutSeconds": 0}, 201)
	campID := camp["id"].(string)
	if camp["screenPopUrl"] != template || camp["locale"] != "hr-HR" {
		t.Fatalf("created %v", camp)
	}
	s.wantError(t, "PATCH", "/v1/campaigns/"+campID, adminKey, `{"screenPopUrl":"https://crm.example.com/?p=${phone}"}`, 422, "invalid_field", "screenPopUrl")
	if got := s.call(t, "GET", "/v1/campaigns/"+campID, adminKey, nil, 200); got["screenPopUrl"] != template {
		t.Fatalf("a refused change changed the template: %v", got)
	}
	// The knowledge base page, for the agent who asks.
	if kb := s.call(t, "GET", "/v1/campaigns/"+campID+"/knowledge-base", anaKey, nil, 200); kb["url"] != nil || kb["campaignId"] != campID {
		t.Errorf("knowledge base of a campaign without one: %v", kb)
	}
	s.call(t, "PATCH", "/v1/campaigns/"+campID, adminKey, `{"knowledgeBaseUrl":"https://kb.example.com/start/{campaignName}?agent={userId}&n={userName}&l={locale}"}`, 200)
	if kb := s.call(t, "GET", "/v1/campaigns/"+campID+"/knowledge-base", anaKey, nil, 200); kb["url"] != "https://kb.example.com/start/Support%20line?agent="+anaID+"&n=agent&l=hr-HR" {
		t.Errorf("knowledge base page %v", kb)
	}
	s.wantError(t, "GET", "/v1/campaigns/"+uuid.NewString()+"/knowledge-base", anaKey, nil, 404, "not_found", "")
	defaultQueue := ""
	for _, q := range s.call(t, "GET", "/v1/queues", adminKey, nil, 200)["items"].([]any) {
		if q := q.(map[string]any); q["isDefault"] == true {
			defaultQueue = q["id"].(string)
		}
	}

	ana := s.follow(t, anaKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey, boKey)
	began := time.Now()
	created := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "call", "from": "+385 91 234 5678",
		"to": "+385 1 555 0000", "campaignId": campID, "metadata": map[string]string{"orderId": "A-1&b=2"}}, 201)
	id := created["id"].(string)
	path := "/v1/interactions/" + id
	s.waitFor(t, path, anaKey, "ringing on Ana", func(v map[string]any) bool { return v["status"] == "offered" })
	s.call(t, "POST", path+"/accept", anaKey, nil, 200)

	want := url.Values{"ixn": {id}, "phone": {"+385 91 234 5678"}, "display": {"+385 1 555 0000"}, "agent": {anaID},
		"name": {"agent"}, "type": {"inbound"}, "order": {"A-1&b=2"}, "l": {"hr-HR"}, "c": {campID}, "q": {defaultQueue}}
	check := func(e sseEvent, want url.Values) {
		t.Helper()
		u := screenPopOf(t, e)
		if u == nil {
			t.Errorf("%s carries no screen pop: %s", e.typ, e.event.Data)
			return
		}
		q := u.Query()
		if u.Scheme != "https" || u.Host != "crm.example.com" || u.Path != "/pop" || len(q) != 11 {
			t.Errorf("%s: screen pop %s", e.typ, u)
		}
		for k, v := range want {
			if q.Get(k) != v[0] {
				t.Errorf("%s: screen pop %s=%q, want %q (%s)", e.typ, k, q.Get(k), v[0], u)
			}
		}
		ms, err := strconv.ParseInt(q.Get("t"), 10, 64)
		if at := time.UnixMilli(ms); err != nil || at.Before(began.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: generated at %q, want a Unix time in milliseconds of this test", e.typ, q.Get("t"))
		}
	}
	evs := ana.eventsUntil(t, id, events.ShowCRM)
	if got, wantTypes := typesOf(evs), []string{events.InteractionOffered, events.CallRinging, events.InteractionConnected, events.ShowCRM}; len(got) != len(wantTypes) ||
		got[0] != wantTypes[0] || got[1] != wantTypes[1] || got[2] != wantTypes[2] || got[3] != wantTypes[3] {
		t.Fatalf("Ana's stream for the call: %v, want %v", got, wantTypes)
	}
	for _, e := range evs {
		check(e, want)
		if !e.event.Concerns(anaID) {
			t.Errorf("%s does not name Ana: %v", e.typ, e.event.Agents)
		}
	}
	if d := detailOf(t, evs[3]); d["campaignId"] != campID || d["direction"] != "inbound" {
		t.Errorf("showCrm detail %v", d)
	}

	// A CRM dials for Bo in the campaign: the page opens on the connection, with
	// the outbound values and the campaign's caller ID as the number shown.
	bo := s.follow(t, boKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", boKey, nil, 201)
	began = time.Now()
	out := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "call", "direction": "outbound",
		"to": "+385 91 555 0102", "agentId": boID, "campaignId": campID}, 201)
	outID := out["id"].(string)
	evs = bo.eventsUntil(t, outID, events.ShowCRM)
	if got := typesOf(evs); len(got) != 3 || got[0] != events.InteractionInitiated || got[1] != events.InteractionConnected {
		t.Fatalf("Bo's stream for the outbound call: %v", got)
	}
	if u := screenPopOf(t, evs[0]); u != nil {
		t.Errorf("interactionInitiated carries a screen pop %s", u)
	}
	wantOut := url.Values{"ixn": {outID}, "phone": {"+385 91 555 0102"}, "display": {"+38515550000"}, "agent": {boID},
		"name": {"agent"}, "type": {"outbound"}, "order": {""}, "l": {"hr-HR"}, "c": {campID}}
	check(evs[1], wantOut)
	check(evs[2], wantOut)
}
