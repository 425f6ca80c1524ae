package main

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkworker "go.temporal.io/sdk/worker"

	"switchboard/events"
	"switchboard/worker"
	"switchboard/workflows"
)

// TestSnoozeEndToEnd snoozes web chats on a running stack through the HTTP API, with
// second-scale times: a chat snoozed for 2 s opens again by itself about 2 s later
// (the agent's stream gets both status changes, the timeline keeps them with why it
// opened); one snoozed for an hour is unsnoozed at once; one snoozed for an hour is
// opened by the customer's next message; one snoozed is closed. The refusals name
// the field (a past time, both forms, a plain snoozed status) or answer 409 (a call,
// an unsnooze of an open chat) and 403 (another agent's chat).
func TestSnoozeEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	supID, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	_, boKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	ana := s.follow(t, anaKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)

	// chat creates a web chat and has Ana accept it.
	chat := func(channel, from string) string {
		t.Helper()
		id := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": channel, "from": from, "to": "acme-site",
			"content": "Hello"}, 201)["id"].(string)
		s.waitFor(t, "/v1/interactions/"+id, anaKey, "offered to Ana", func(v map[string]any) bool {
			return v["status"] == "offered" && v["offeredAgentId"] == anaID
		})
		s.call(t, "POST", "/v1/interactions/"+id+"/accept", anaKey, nil, 200)
		return id
	}
	// statusChange takes Ana's stream up to the chat's next status change.
	statusChange := func(id string) map[string]any {
		t.Helper()
		es := ana.eventsUntil(t, id, events.ConversationStatusChanged)
		return detailOf(t, es[len(es)-1])
	}

	// Snoozed for 2 s, it opens again by itself.
	first := chat("web_chat", "visitor-1")
	path := "/v1/interactions/" + first
	snoozedAt := time.Now()
	v := s.call(t, "POST", path+"/snooze", anaKey, `{"for":"PT2S"}`, 200)
	until, err := time.Parse(time.RFC3339Nano, v["snoozedUntil"].(string))
	if v["conversationStatus"] != "snoozed" || err != nil || until.Before(snoozedAt.Add(2*time.Second-time.Millisecond)) || until.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("snoozed %v (%v)", v, err)
	}
	if d := statusChange(first); d["from"] != "open" || d["to"] != "snoozed" || d["snoozedUntil"] == nil {
		t.Errorf("snooze event %v", d)
	}
	if got := s.call(t, "GET", path, anaKey, nil, 200); got["conversationStatus"] != "snoozed" || got["snoozedUntil"] != v["snoozedUntil"] {
		t.Errorf("read model while snoozed: %v until %v", got["conversationStatus"], got["snoozedUntil"])
	}
	d := statusChange(first)
	opened := time.Now()
	if d["from"] != "snoozed" || d["to"] != "open" || d["reason"] != "snoozeExpired" {
		t.Errorf("opening event %v", d)
	}
	if opened.Before(until) {
		t.Errorf("opened at %v, before its time %v", opened, until)
	}
	t.Logf("snoozed for 2 s: the agent's stream told of the opening %v after its time", opened.Sub(until).Round(time.Millisecond))
	got := s.waitFor(t, path, anaKey, "open again", func(v map[string]any) bool { return v["conversationStatus"] == "open" })
	if _, ok := got["snoozedUntil"]; ok {
		t.Errorf("open chat still shows snoozedUntil: %v", got)
	}

	// Refusals, each naming its field or answering its conflict.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	s.wantError(t, "POST", path+"/snooze", anaKey, map[string]string{"until": past}, 422, "invalid_field", "until")
	s.wantError(t, "POST", path+"/snooze", anaKey, `{"until":"2030-01-01T00:00:00Z","for":"PT1H"}`, 422, "invalid_field", "for")
	s.wantError(t, "POST", path+"/snooze", anaKey, `{"for":"P400D"}`, 422, "invalid_field", "for")
	s.wantError(t, "POST", path+"/snooze", anaKey, `{}`, 422, "invalid_field", "until")
	s.wantError(t, "PUT", path+"/conversation-status", anaKey, `{"status":"snoozed"}`, 422, "invalid_field", "status")
	s.wantError(t, "POST", path+"/unsnooze", anaKey, nil, 409, "action_not_allowed", "")
	s.wantError(t, "POST", path+"/snooze", boKey, `{"for":"PT1H"}`, 403, "not_your_interaction", "")
	s.wantError(t, "POST", path+"/snooze", crmKey, `{"for":"PT1H"}`, 403, "forbidden", "")

	// Snoozed for an hour, unsnoozed by a supervisor at once.
	v = s.call(t, "POST", path+"/snooze", anaKey, map[string]string{"until": time.Now().Add(time.Hour).Format(time.RFC3339)}, 200)
	if v["conversationStatus"] != "snoozed" {
		t.Fatalf("snoozed for an hour: %v", v)
	}
	statusChange(first)
	v = s.call(t, "POST", path+"/unsnooze", supKey, nil, 200)
	if v["conversationStatus"] != "open" || v["snoozedUntil"] != nil {
		t.Errorf("unsnoozed %v", v)
	}
	if d := statusChange(first); d["reason"] != "unsnoozed" || d["to"] != "open" {
		t.Errorf("unsnooze event %v", d)
	}

	// Snoozed for an hour, opened by the customer's message.
	s.call(t, "POST", path+"/snooze", anaKey, `{"for":"PT1H"}`, 200)
	statusChange(first)
	s.call(t, "POST", path+"/inbound-messages", crmKey, `{"body":"Any news?"}`, 202)
	if d := statusChange(first); d["reason"] != "customerMessage" || d["to"] != "open" || d["messageId"] == nil {
		t.Errorf("event of the message's opening %v", d)
	}
	s.waitFor(t, path, anaKey, "opened by the message", func(v map[string]any) bool { return v["conversationStatus"] == "open" })

	// The timeline keeps every change, with who and why.
	var reasons []string
	for _, e := range s.call(t, "GET", "/v1/history/"+first, supKey, nil, 200)["timeline"].([]any) {
		e := e.(map[string]any)
		if e["type"] != events.ConversationStatusChanged {
			continue
		}
		data := e["data"].(map[string]any)
		r, _ := data["reason"].(string)
		reasons = append(reasons, data["to"].(string)+"/"+r)
		if r == "unsnoozed" && e["actorId"] != supID {
			t.Errorf("unsnooze entry %v", e)
		}
	}
	want := []string{"snoozed/", "open/snoozeExpired", "snoozed/", "open/unsnoozed", "snoozed/", "open/customerMessage"}
	if len(reasons) != len(want) {
		t.Errorf("timeline status changes %v, want %v", reasons, want)
	} else {
		for i := range want {
			if reasons[i] != want[i] {
				t.Errorf("timeline status changes %v, want %v", reasons, want)
				break
			}
		}
	}

	// A snoozed chat closed ends; a call cannot be snoozed.
	second := chat("web_chat", "visitor-2")
	s.call(t, "POST", "/v1/interactions/"+second+"/snooze", anaKey, `{"for":"PT1H"}`, 200)
	v = s.call(t, "PUT", "/v1/interactions/"+second+"/conversation-status", anaKey, `{"status":"closed"}`, 200)
	if v["status"] != "ended" || v["conversationStatus"] != "closed" || v["snoozedUntil"] != nil {
		t.Errorf("closed while snoozed: %v", v)
	}
	call := chat("voice", "+385100200300")
	s.wantError(t, "POST", "/v1/interactions/"+call+"/snooze", anaKey, `{"for":"PT1H"}`, 409, "action_not_allowed", "")

	// The runs replay against today's code: the snooze's paths are deterministic.
	replayer := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(replayer)
	c := s.temporalClient()
	for _, id := range []string{first, second} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		iter := c.GetWorkflowHistory(ctx, workflows.InteractionWorkflowID(id), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var hist historypb.History
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		cancel()
		if err := replayer.ReplayWorkflowHistory(quietLogger(), &hist); err != nil {
			t.Errorf("replay of %s (%d events): %v", id, len(hist.Events), err)
		}
	}
	t.Logf("whole test, stack start included: %v", time.Since(began).Round(time.Millisecond))
}
