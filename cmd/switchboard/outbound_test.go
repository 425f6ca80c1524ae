package main

import (
	"testing"
)

// TestOutboundInteractions drives outbound interactions through the API: an agent
// starts a chat of their own, which is theirs at once and goes through the same
// lifecycle; a CRM starts a call for a logged-in agent, and the channel reports it
// busy, which ends it as busy; refusals (an agent for someone else, an agent logged
// out, an agent starting an inbound one, no customer address) change nothing.
func TestOutboundInteractions(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.setWrapUpTimeout(t, adminKey, 0)

	// Refusals before anything starts.
	chat := map[string]any{"channel": "whatsapp", "direction": "outbound", "to": "+385 91 555 0101", "from": "+385 1 555 0000"}
	s.wantError(t, "POST", "/v1/interactions", anaKey, chat, 409, "not_logged_in", "")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey, boKey)
	s.wantError(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "whatsapp", "direction": "outbound", "to": "+385 91 555 0101", "agentId": boID}, 403, "forbidden", "")
	s.wantError(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "whatsapp", "from": "+385 91 555 0101"}, 403, "forbidden", "")
	s.wantError(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "whatsapp", "direction": "outbound"}, 422, "invalid_field", "to")
	s.wantError(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "call", "direction": "outbound", "to": "+385 91 555 0102"}, 422, "invalid_field", "agentId")
	s.wantError(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "call", "direction": "outbound", "to": "+385 91 555 0102", "agentId": boID}, 409, "not_logged_in", "")

	// Ana, on a break, messages a customer: the chat is hers at once.
	created := s.call(t, "POST", "/v1/interactions", anaKey, chat, 201)
	id := created["id"].(string)
	if created["direction"] != "outbound" {
		t.Errorf("created %v", created)
	}
	path := "/v1/interactions/" + id
	st := s.waitFor(t, path, supKey, "the chat connected to Ana", func(v map[string]any) bool {
		return v["status"] == "connected" && v["agentId"] == anaID
	})
	if st["customerPhone"] != "+385 91 555 0101" || st["offerCount"] != float64(0) {
		t.Errorf("outbound chat %v", st)
	}
	s.call(t, "POST", path+"/notes", anaKey, `{"body":"asked about the renewal"}`, 200)
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
	done := s.waitFor(t, path, supKey, "the chat disposed", func(v map[string]any) bool { return v["status"] == "disposed" })
	if done["outcome"] != "completed" || done["direction"] != "outbound" {
		t.Errorf("disposed chat %v", done)
	}

	// A CRM dials for Bo; the call is busy.
	s.call(t, "POST", "/v1/agents/me/session", boKey, nil, 201)
	call := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "call", "direction": "outbound", "to": "+385 91 555 0102", "agentId": boID}, 201)
	cpath := "/v1/interactions/" + call["id"].(string)
	s.waitFor(t, cpath, supKey, "the call connected to Bo", func(v map[string]any) bool {
		return v["status"] == "connected" && v["agentId"] == boID
	})
	s.wantError(t, "POST", cpath+"/channel-events", crmKey, `{"type":"outcome","outcome":"completed"}`, 422, "invalid_field", "outcome")
	s.call(t, "POST", cpath+"/channel-events", crmKey, `{"type":"outcome","outcome":"busy"}`, 202)
	ended := s.waitFor(t, cpath, supKey, "the call ended busy", func(v map[string]any) bool { return v["status"] == "ended" })
	if ended["outcome"] != "busy" || ended["agentId"] != boID {
		t.Errorf("busy call %v", ended)
	}
	// Bo's slot is free again: Bo may log out once the call is disposed.
	s.call(t, "POST", cpath+"/dispose", boKey, `{"dispositionClass":"Closed","dispositionCode":"No action"}`, 200)
	s.waitFor(t, cpath, supKey, "the call disposed", func(v map[string]any) bool { return v["status"] == "disposed" })
	s.call(t, "DELETE", "/v1/agents/me/session", boKey, nil, 204)
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
}
