package main

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// callbackCalls lists the interactions of agentID, as key sees them, that the
// callback started.
func (s *testStack) callbackCalls(t *testing.T, key, agentID, callbackID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, it := range s.call(t, "GET", "/v1/interactions?limit=200&agentId="+agentID, key, nil, 200)["items"].([]any) {
		ix := it.(map[string]any)
		if md, _ := ix["metadata"].(map[string]any); md != nil && md["callbackId"] == callbackID {
			out = append(out, ix)
		}
	}
	return out
}

// TestCallbacksEndToEnd drives scheduled callbacks on a running stack with
// second-scale times: a disposal with a callback code schedules a self-callback that
// fires about 2 s later as an outbound call connected to the same agent, once; the
// disposal's refusals name the field; an API-created callback is rescheduled (its
// history keeps the reason) and deleted with a reason; a queue callback is routed
// like an inbound call but outbound; an integration schedules one for an agent who
// dials it at once; a number on the do-not-call list fails its callback before any
// call.
func TestCallbacksEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	campaign := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Renewals", "wrapUpTimeoutSeconds": 0}, 201)["id"].(string)
	s.call(t, "PUT", "/v1/campaigns/"+campaign+"/dispositions", adminKey, `{"classes":[
		{"name":"Closed","codes":[{"name":"Resolved","success":true,"default":true},{"name":"Call back","callback":true}]}]}`, 200)
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey, boKey)
	c := s.temporalClient()

	// Ana calls a customer, ends the call and disposes it with the callback code.
	call := s.call(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "call", "direction": "outbound",
		"to": "+385 91 555 0101", "campaignId": campaign, "customer": map[string]any{"name": "Ivo Ivić"}}, 201)
	path := "/v1/interactions/" + call["id"].(string)
	s.waitFor(t, path, anaKey, "Ana's call connected", func(v map[string]any) bool { return v["status"] == "connected" })
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.waitFor(t, path, anaKey, "the call ended", func(v map[string]any) bool { return v["status"] == "ended" })
	s.wantError(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Call back"}`, 422, "invalid_field", "callback.at")
	s.wantError(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved","callback":{"in":"PT1H"}}`, 422, "invalid_field", "callback")
	s.wantError(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Call back","callback":{"in":"2 hours"}}`, 422, "invalid_field", "callback.in")
	s.wantError(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Call back","callback":{"at":"2020-01-01T10:00:00+01:00"}}`, 422, "invalid_field", "callback.at")
	s.wantError(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Call back","callback":{"in":"PT1H","phone":"call me"}}`, 422, "invalid_field", "callback.phone")
	disposedAt := time.Now()
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Call back",
		"callback":{"in":"PT2S","selfCallback":true,"notes":"wants the renewal quote"}}`, 200)
	cbID := workflows.DisposalCallbackID(call["id"].(string))
	cbPath := "/v1/callbacks/" + cbID
	scheduled := s.waitFor(t, "/v1/callbacks?status=all", anaKey, "the callback in Ana's list", func(v map[string]any) bool {
		items := v["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["id"] == cbID
	})["items"].([]any)[0].(map[string]any)
	if scheduled["agentId"] != anaID || scheduled["selfCallback"] != true || scheduled["phone"] != "+385915550101" ||
		scheduled["sourceInteractionId"] != call["id"] || scheduled["campaignId"] != campaign || scheduled["notes"] != "wants the renewal quote" {
		t.Errorf("scheduled %v", scheduled)
	}
	if due, _ := time.Parse(time.RFC3339Nano, scheduled["dueAt"].(string)); due.Sub(disposedAt) < time.Second || due.Sub(disposedAt) > 4*time.Second {
		t.Errorf("due %v, disposed at %v", due, disposedAt)
	}
	s.wantError(t, "GET", cbPath, boKey, nil, 404, "not_found", "")

	// It fires about 2 s later as an outbound call connected to Ana.
	fired := s.waitFor(t, cbPath, anaKey, "the callback fired", func(v map[string]any) bool { return v["status"] == "completed" })
	firedAt := time.Now()
	if d := firedAt.Sub(disposedAt); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("fired %v after the disposal, want about 2 s", d)
	}
	due, _ := time.Parse(time.RFC3339Nano, fired["dueAt"].(string))
	at, _ := time.Parse(time.RFC3339Nano, fired["firedAt"].(string))
	t.Logf("the callback fired %v after its due time (%v after the disposal)", at.Sub(due).Round(time.Millisecond), at.Sub(disposedAt).Round(time.Millisecond))
	ixID, _ := fired["interactionId"].(string)
	if ixID != workflows.CallbackInteractionID(cbID, 1) || fired["generation"] != float64(1) {
		t.Errorf("fired %v", fired)
	}
	back := s.waitFor(t, "/v1/interactions/"+ixID, anaKey, "the callback's call connected to Ana", func(v map[string]any) bool {
		return v["status"] == "connected"
	})
	if back["agentId"] != anaID || back["direction"] != "outbound" || back["customerPhone"] != "+385915550101" || back["campaignId"] != campaign {
		t.Errorf("callback call %v", back)
	}
	var types []any
	for _, e := range fired["history"].([]any) {
		types = append(types, e.(map[string]any)["type"])
	}
	if len(types) != 3 || types[0] != "scheduled" || types[1] != "dialing" || types[2] != "completed" {
		t.Errorf("history %v", types)
	}
	// Fired once: one call, and the callback's run is over.
	waitDone(t, c, workflows.CallbackWorkflowID(cbID))
	time.Sleep(500 * time.Millisecond)
	if calls := s.callbackCalls(t, supKey, anaID, cbID); len(calls) != 1 || calls[0]["id"] != ixID {
		t.Errorf("the callback started %d calls: %v", len(calls), calls)
	}
	if open := s.call(t, "GET", "/v1/callbacks", anaKey, nil, 200)["items"].([]any); len(open) != 0 {
		t.Errorf("a fired callback is still listed: %v", open)
	}
	s.wantError(t, "POST", cbPath+"/dial", anaKey, nil, 409, "callback_closed", "")
	bpath := "/v1/interactions/" + ixID
	s.call(t, "POST", bpath+"/end", anaKey, nil, 200)
	s.waitFor(t, bpath, anaKey, "the callback's call ended", func(v map[string]any) bool { return v["status"] == "ended" })
	s.call(t, "POST", bpath+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)

	t.Run("an API callback is rescheduled and deleted", func(t *testing.T) {
		body := map[string]any{"in": 60, "phone": "+385 91 555 0199", "notes": "about the invoice", "requestId": "cb-1", "campaignId": campaign}
		created := s.call(t, "POST", "/v1/callbacks", anaKey, body, 201)
		id := created["id"].(string)
		if created["status"] != "scheduled" || created["createdBy"] != anaID || created["selfCallback"] != false || created["version"] != float64(1) {
			t.Errorf("created %v", created)
		}
		if again := s.call(t, "POST", "/v1/callbacks", anaKey, body, 200); again["id"] != id {
			t.Errorf("a repeated request ID scheduled %v", again)
		}
		p := "/v1/callbacks/" + id
		s.wantError(t, "POST", "/v1/callbacks", anaKey, map[string]any{"phone": "+385 91 555 0199"}, 422, "invalid_field", "at")
		s.wantError(t, "POST", "/v1/callbacks", anaKey, map[string]any{"in": "PT1H"}, 422, "invalid_field", "phone")
		s.wantError(t, "POST", "/v1/callbacks", anaKey, map[string]any{"in": "PT1H", "at": "2030-01-01T10:00:00Z", "phone": "+38591"}, 422, "invalid_field", "in")
		s.wantError(t, "POST", "/v1/callbacks", anaKey, map[string]any{"in": "PT1H", "phone": "+385915550199", "selfCallback": true, "agentId": boID}, 403, "forbidden", "")
		s.wantError(t, "GET", p, boKey, nil, 404, "not_found", "")
		s.wantError(t, "POST", p+"/reschedule", boKey, map[string]any{"in": "PT2H", "reason": "mine now"}, 404, "not_found", "")
		s.wantError(t, "POST", p+"/reschedule", anaKey, map[string]any{"in": "PT2H"}, 422, "invalid_field", "reason")
		at := time.Now().Add(2 * time.Hour).In(time.FixedZone("CET", 3600)).Truncate(time.Second)
		moved := s.call(t, "POST", p+"/reschedule", anaKey, map[string]any{"at": at.Format(time.RFC3339), "reason": "customer is travelling"}, 200)
		if due, _ := time.Parse(time.RFC3339Nano, moved["dueAt"].(string)); !due.Equal(at) || moved["reschedules"] != float64(1) {
			t.Errorf("rescheduled %v, want due %v", moved, at)
		}
		detail := s.call(t, "GET", p, supKey, nil, 200)
		h := detail["history"].([]any)
		if len(h) != 2 || h[1].(map[string]any)["type"] != "rescheduled" || h[1].(map[string]any)["reason"] != "customer is travelling" ||
			h[1].(map[string]any)["previousDueAt"] == nil || h[1].(map[string]any)["actorId"] != anaID {
			t.Errorf("history %v", h)
		}
		list := s.call(t, "GET", "/v1/callbacks?campaignId="+campaign+"&from="+url.QueryEscape(time.Now().Format(time.RFC3339)), supKey, nil, 200)["items"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != id {
			t.Errorf("the supervisor's list %v", list)
		}
		s.wantError(t, "GET", "/v1/callbacks", crmKey, nil, 403, "forbidden", "")
		s.wantError(t, "GET", "/v1/callbacks?agentId="+boID, anaKey, nil, 403, "forbidden", "")
		s.wantError(t, "GET", "/v1/callbacks?status=late", anaKey, nil, 422, "invalid_field", "status")
		s.wantError(t, "DELETE", p, anaKey, nil, 422, "invalid_field", "reason")
		gone := s.call(t, "DELETE", p+"?reason="+url.QueryEscape("customer renewed online"), anaKey, nil, 200)
		if gone["status"] != "cancelled" || gone["reason"] != "customer renewed online" || gone["closedBy"] != anaID {
			t.Errorf("deleted %v", gone)
		}
		if open := s.call(t, "GET", "/v1/callbacks", anaKey, nil, 200)["items"].([]any); len(open) != 0 {
			t.Errorf("a deleted callback is still listed: %v", open)
		}
		if got := s.call(t, "GET", "/v1/callbacks?status=cancelled", anaKey, nil, 200)["items"].([]any); len(got) != 1 {
			t.Errorf("cancelled %v", got)
		}
		s.wantError(t, "POST", p+"/reschedule", anaKey, map[string]any{"in": "PT3H", "reason": "again"}, 409, "callback_closed", "")
		waitDone(t, c, workflows.CallbackWorkflowID(id))
		if again := s.call(t, "POST", "/v1/callbacks", anaKey, body, 200); again["id"] != id || again["status"] != "cancelled" {
			t.Errorf("a request ID repeated after the deletion answered %v", again)
		}
		if calls := s.callbackCalls(t, supKey, anaID, id); len(calls) != 0 {
			t.Errorf("a deleted callback called: %v", calls)
		}
	})

	t.Run("a queue callback is routed outbound", func(t *testing.T) {
		s.call(t, "POST", "/v1/agents/me/session", boKey, nil, 201)
		created := s.call(t, "POST", "/v1/callbacks", supKey, map[string]any{"in": "PT1S", "phone": "+385 91 555 0177", "customerName": "Mia"}, 201)
		p := "/v1/callbacks/" + created["id"].(string)
		done := s.waitFor(t, p, supKey, "the queue callback fired", func(v map[string]any) bool { return v["status"] == "completed" })
		ix := "/v1/interactions/" + done["interactionId"].(string)
		offered := s.waitFor(t, ix, supKey, "the call offered", func(v map[string]any) bool { return v["status"] == "offered" })
		if offered["direction"] != "outbound" || offered["customerPhone"] != "+385915550177" || offered["customerName"] != "Mia" {
			t.Errorf("queue callback call %v", offered)
		}
		key := anaKey
		if offered["offeredAgentId"] == boID {
			key = boKey
		}
		s.call(t, "POST", ix+"/accept", key, nil, 200)
		s.waitFor(t, ix, supKey, "the call connected", func(v map[string]any) bool { return v["status"] == "connected" })
		s.call(t, "POST", ix+"/end", key, nil, 200)
		s.waitFor(t, ix, supKey, "the call ended", func(v map[string]any) bool { return v["status"] == "ended" })
		s.call(t, "POST", ix+"/dispose", key, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
	})

	t.Run("an integration schedules, the agent dials now", func(t *testing.T) {
		s.wantError(t, "POST", "/v1/callbacks", crmKey, map[string]any{"in": "PT1H", "phone": "+385915550155", "selfCallback": true}, 422, "invalid_field", "agentId")
		created := s.call(t, "POST", "/v1/callbacks", crmKey, map[string]any{"in": "PT1H", "phone": "+385 91 555 0155", "selfCallback": true, "agentId": boID}, 201)
		p := "/v1/callbacks/" + created["id"].(string)
		if mine := s.call(t, "GET", "/v1/callbacks", boKey, nil, 200)["items"].([]any); len(mine) != 1 || mine[0].(map[string]any)["id"] != created["id"] {
			t.Errorf("Bo's list %v", mine)
		}
		s.wantError(t, "POST", p+"/dial", crmKey, nil, 403, "forbidden", "")
		dialled := s.call(t, "POST", p+"/dial", boKey, nil, 200)
		if dialled["status"] != "completed" || dialled["interactionId"] == nil {
			t.Fatalf("dialled %v", dialled)
		}
		ix := "/v1/interactions/" + dialled["interactionId"].(string)
		s.waitFor(t, ix, boKey, "Bo's call connected", func(v map[string]any) bool { return v["status"] == "connected" && v["agentId"] == boID })
		if open := s.call(t, "GET", "/v1/callbacks", boKey, nil, 200)["items"].([]any); len(open) != 0 {
			t.Errorf("a dialled callback is still listed: %v", open)
		}
		s.call(t, "POST", ix+"/end", boKey, nil, 200)
	})

	t.Run("a do-not-call number fails its callback", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, s.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, _, err := pgstore.New(pool).AddDoNotCall(ctx, tenant, pgstore.Actor{}, pgstore.NewDoNotCall{Phone: "+385 91 555 0166", Reason: "asked"}); err != nil {
			t.Fatal(err)
		}
		created := s.call(t, "POST", "/v1/callbacks", supKey, map[string]any{"in": "PT1S", "phone": "+385915550166"}, 201)
		p := "/v1/callbacks/" + created["id"].(string)
		failed := s.waitFor(t, p, supKey, "the callback failed", func(v map[string]any) bool { return v["status"] == "failed" })
		if failed["reason"] != "do_not_call" || failed["interactionId"] != nil {
			t.Errorf("failed %v", failed)
		}
	})
	t.Logf("callbacks end to end in %v", time.Since(began).Round(time.Millisecond))
}
