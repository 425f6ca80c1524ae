package main

import (
	"testing"
	"time"
)

// TestSelfCallbackWakesOnItsAgent runs self-callbacks whose agent cannot take the
// call at their time, on a running stack: they wait without polling, and fire as soon
// as the agent can, woken by bulk assignment — when Bo logs in, and when Bo frees his
// voice slot by ending a call — long before the safety recheck (ten minutes).
func TestSelfCallbackWakesOnItsAgent(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.setWrapUpTimeout(t, adminKey, 0)

	schedule := func() string {
		t.Helper()
		return "/v1/callbacks/" + s.call(t, "POST", "/v1/callbacks", crmKey, map[string]any{"in": "PT1S", "phone": "+385 91 555 0177",
			"selfCallback": true, "agentId": boID}, 201)["id"].(string)
	}
	// fired waits for the callback to complete and returns its call, connected to Bo.
	fired := func(cb string, since time.Time, why string) string {
		t.Helper()
		v := s.waitFor(t, cb, supKey, "the callback fired", func(v map[string]any) bool { return v["status"] == "completed" })
		d := time.Since(since)
		if d > 10*time.Second {
			t.Errorf("fired %v after %s", d, why)
		}
		t.Logf("the self-callback fired %v after %s", d.Round(time.Millisecond), why)
		ix := "/v1/interactions/" + v["interactionId"].(string)
		s.waitFor(t, ix, boKey, "the callback's call connected to Bo", func(v map[string]any) bool {
			return v["status"] == "connected" && v["agentId"] == boID
		})
		return ix
	}

	// Bo is not logged in at its time: it waits, and fires when he logs in.
	first := schedule()
	time.Sleep(2500 * time.Millisecond)
	if v := s.call(t, "GET", first, supKey, nil, 200); v["status"] != "scheduled" {
		t.Fatalf("fired without its agent: %v", v)
	}
	loggedIn := time.Now()
	s.call(t, "POST", "/v1/agents/me/session", boKey, `{"status":"available"}`, 201)
	s.heartbeats(t, boKey)
	call := fired(first, loggedIn, "Bo logged in")

	// Bo is on that call at the second's time: it fires when he ends it.
	second := schedule()
	time.Sleep(2500 * time.Millisecond)
	if v := s.call(t, "GET", second, supKey, nil, 200); v["status"] != "scheduled" {
		t.Fatalf("fired while Bo was on a call: %v", v)
	}
	ended := time.Now()
	s.call(t, "POST", call+"/end", boKey, nil, 200)
	next := fired(second, ended, "Bo ended his call")
	s.call(t, "POST", next+"/end", boKey, nil, 200)
}
