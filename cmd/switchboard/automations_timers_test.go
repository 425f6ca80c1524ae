package main

import (
	"slices"
	"testing"
	"time"
)

// TestAutomationTimeTriggersEndToEnd runs every time-based trigger on a running stack
// with 10-second periods: each fires once its period passed, a change that resets it
// starts it again, a change that ends it cancels it; and the built-in survey goes
// out shortly after a conversation is solved.
func TestAutomationTimeTriggersEndToEnd(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-site","kind":"test"}`, 201)
	for _, tag := range []string{"agent-late", "customer-late", "waited", "stale", "solved-long"} {
		s.call(t, "POST", "/v1/tags", adminKey, map[string]string{"name": tag}, 201)
	}
	// Each rule acts on its own conversation (by its visitor): the others' periods
	// run too, and end with their conditions not met.
	rules := map[string]string{}
	rule := func(trigger, visitor, tag string) {
		rules[tag] = s.call(t, "POST", "/v1/automations", adminKey, map[string]any{"name": trigger,
			"triggers": []any{map[string]any{"type": trigger, "after": map[string]int{"seconds": 10}}},
			"conditions": []any{map[string]any{"anyOf": []any{
				map[string]any{"attribute": "customerContact", "operator": "isInList", "values": []string{visitor}}}}},
			"actions": []any{map[string]any{"type": "applyTags", "tags": []string{tag}}}}, 201)["id"].(string)
	}
	rule("agentNotReplied", "visitor-a", "agent-late")
	rule("customerNotReplied", "visitor-a", "customer-late")
	rule("waitingFor", "visitor-b", "waited")
	rule("solvedFor", "visitor-c", "solved-long")
	rule("solvedUnmodified", "visitor-d", "stale")
	s.call(t, "PUT", "/v1/surveys/settings", adminKey, `{"enabled":true,"delaySeconds":1,"minIntervalSeconds":0}`, 200)

	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)
	chat := func(from string) string {
		t.Helper()
		id := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "web_chat", "from": from, "to": "acme-site"}, 201)["id"].(string)
		s.waitFor(t, "/v1/interactions/"+id, anaKey, "offered to Ana", func(v map[string]any) bool {
			return v["status"] == "offered" && v["offeredAgentId"] == anaID
		})
		s.call(t, "POST", "/v1/interactions/"+id+"/accept", anaKey, nil, 200)
		return id
	}
	tags := func(id string) []any {
		v, _ := s.call(t, "GET", "/v1/interactions/"+id, adminKey, nil, 200)["tags"].([]any)
		return v
	}
	// waitTag waits for the tag, and answers when its rule's run began (its log).
	waitTag := func(id, tag string, within time.Duration) time.Time {
		t.Helper()
		deadline := time.Now().Add(within)
		for !slices.Contains(tags(id), any(tag)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no %s within %v; tags %v", id, tag, within, tags(id))
			}
			time.Sleep(200 * time.Millisecond)
		}
		// The run ends just after its action.
		var runs []any
		for end := time.Now().Add(10 * time.Second); len(runs) == 0 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			runs = s.call(t, "GET", "/v1/automations/"+rules[tag]+"/runs?status=completed&interactionId="+id, adminKey, nil, 200)["items"].([]any)
		}
		if len(runs) != 1 {
			t.Fatalf("%s: runs of the %s rule: %v", id, tag, runs)
		}
		at, err := time.Parse(time.RFC3339Nano, runs[0].(map[string]any)["startedAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	customerWrites := func(id, body string) {
		s.call(t, "POST", "/v1/interactions/"+id+"/inbound-messages", crmKey, map[string]string{"from": "visitor-a", "body": body}, 202)
	}
	agentWrites := func(id, body string) {
		s.call(t, "POST", "/v1/interactions/"+id+"/messages", anaKey, map[string]string{"body": body}, 200)
	}
	status := func(id, st string) {
		s.call(t, "PUT", "/v1/interactions/"+id+"/conversation-status", anaKey, map[string]string{"status": st}, 200)
	}
	within := func(what string, from, at time.Time, lo, hi time.Duration) {
		t.Helper()
		if d := at.Sub(from); d < lo || d > hi {
			t.Errorf("%s after %v, want %v … %v", what, d.Round(time.Millisecond), lo, hi)
		} else {
			t.Logf("%s after %v", what, d.Round(time.Millisecond))
		}
	}

	// One conversation per trigger, side by side.
	replies, waits, solves, unmodified := chat("visitor-a"), chat("visitor-b"), chat("visitor-c"), chat("visitor-d")
	began := time.Now()
	customerWrites(replies, "Anyone there?")
	status(waits, "waiting")
	status(solves, "solved")
	status(unmodified, "solved")
	solvedAt := time.Now()
	// Waiting: reopened after 3 s (cancelled), waiting again, it runs from then.
	time.Sleep(3 * time.Second)
	status(waits, "open")
	again := time.Now()
	status(waits, "waiting")
	time.Sleep(2 * time.Second)
	// A note while solved starts solvedUnmodified again; solvedFor runs on.
	noted := time.Now()
	s.call(t, "POST", "/v1/interactions/"+unmodified+"/notes", anaKey, `{"body":"Customer may call back"}`, 200)

	// The agent's reply is late: agentNotReplied fires 10 s after the customer wrote.
	late := waitTag(replies, "agent-late", 20*time.Second)
	if slices.Contains(tags(waits), any("waited")) {
		t.Fatal("waiting for fired early")
	}
	within("agent has not replied", began, late, 10*time.Second, 16*time.Second)
	// The agent answers: the customer's reply is awaited from the first agent message.
	answered := time.Now()
	agentWrites(replies, "Here, sorry!")
	time.Sleep(4 * time.Second)
	agentWrites(replies, "Still there?") // a second message does not restart the period
	within("customer has not replied", answered, waitTag(replies, "customer-late", 20*time.Second), 10*time.Second, 16*time.Second)

	within("waiting for", again, waitTag(waits, "waited", 20*time.Second), 10*time.Second, 16*time.Second)

	// Solved: the built-in survey goes out about 1 s after; solvedFor fires 10 s
	// after the solve whatever changes; solvedUnmodified restarts at the change.
	sv := s.waitFor(t, "/v1/interactions/"+solves+"/surveys", adminKey, "built-in survey", func(v map[string]any) bool {
		items, _ := v["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["status"] == "sent"
	})
	sentAt, _ := time.Parse(time.RFC3339Nano, sv["items"].([]any)[0].(map[string]any)["sentAt"].(string))
	within("built-in survey", solvedAt, sentAt, 500*time.Millisecond, 6*time.Second)
	within("solved for", solvedAt, waitTag(solves, "solved-long", 20*time.Second), 9*time.Second, 16*time.Second)
	within("solved and unmodified (from the note)", noted, waitTag(unmodified, "stale", 20*time.Second), 10*time.Second, 16*time.Second)

	// Each fired once per arming: one run each in its log.
	for _, rl := range s.call(t, "GET", "/v1/automations", adminKey, nil, 200)["items"].([]any) {
		r := rl.(map[string]any)
		runs := s.call(t, "GET", "/v1/automations/"+r["id"].(string)+"/runs", adminKey, nil, 200)["items"].([]any)
		var completed int
		for _, run := range runs {
			if run.(map[string]any)["status"] == "completed" {
				completed++
			}
		}
		if completed != 1 {
			t.Errorf("%s: %d completed runs: %v", r["name"], completed, runs)
		}
	}
}
