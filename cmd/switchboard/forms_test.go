package main

import (
	"slices"
	"testing"
	"time"

	"switchboard/events"
)

// productivityDesk is a running stack with a tenant whose agent Ana took a web chat.
type productivityDesk struct {
	s                     *testStack
	adminKey, supKey, crm string
	anaID, anaKey, boKey  string
	ana                   *sseClient
}

func newProductivityDesk(t *testing.T) *productivityDesk {
	s := newTestStack(t)
	s.start()
	t.Cleanup(s.stop)
	d := &productivityDesk{s: s, adminKey: keyPattern.FindString(s.out.String())}
	s.tenantOf(t, d.adminKey)
	_, d.supKey = s.newUserKey(t, d.adminKey, "supervisor")
	_, d.crm = s.newUserKey(t, d.adminKey, "integration")
	d.anaID, d.anaKey = s.newUserKey(t, d.adminKey, "agent")
	_, d.boKey = s.newUserKey(t, d.adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", d.adminKey, `{"ringTimeoutSeconds":120}`, 200)
	d.ana = s.follow(t, d.anaKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", d.anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, d.anaKey)
	return d
}

// chat creates a web chat with tags and has Ana accept it.
func (d *productivityDesk) chat(t *testing.T, from string, tags ...string) string {
	t.Helper()
	body := map[string]any{"channel": "web_chat", "from": from, "to": "acme-site", "content": "Hello"}
	if len(tags) > 0 {
		body["tags"] = tags
	}
	id := d.s.call(t, "POST", "/v1/interactions", d.crm, body, 201)["id"].(string)
	d.s.waitFor(t, "/v1/interactions/"+id, d.anaKey, "offered to Ana", func(v map[string]any) bool {
		return v["status"] == "offered" && v["offeredAgentId"] == d.anaID
	})
	d.s.call(t, "POST", "/v1/interactions/"+id+"/accept", d.anaKey, nil, 200)
	return id
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestTagsEndToEnd tags a chat through the HTTP API on a running stack: catalogue
// tags are added by name or ID, a creation tag removed; the agent's stream tells of
// each change, the timeline keeps who did it, the history finds the chat by tag;
// unknown tags and another agent are refused.
func TestTagsEndToEnd(t *testing.T) {
	began := time.Now()
	d := newProductivityDesk(t)
	s := d.s
	vip := s.call(t, "POST", "/v1/tags", d.adminKey, `{"name":"VIP"}`, 201)
	s.call(t, "POST", "/v1/tags", d.adminKey, `{"name":"Billing"}`, 201)
	id := d.chat(t, "visitor-1", "from-bot")
	other := d.chat(t, "visitor-2")
	path := "/v1/interactions/" + id

	v := s.call(t, "POST", path+"/tags", d.anaKey, map[string]any{"add": []string{vip["id"].(string), "billing"}, "remove": []string{"FROM-BOT"}}, 200)
	if got := strs(v["tags"]); !slices.Equal(got, []string{"VIP", "Billing"}) {
		t.Fatalf("tags after the change: %v", got)
	}
	es := d.ana.eventsUntil(t, id, events.ConversationTagsChanged)
	if det := detailOf(t, es[len(es)-1]); !slices.Equal(strs(det["added"]), []string{"VIP", "Billing"}) || !slices.Equal(strs(det["removed"]), []string{"from-bot"}) {
		t.Errorf("event detail %v", det)
	}
	s.call(t, "POST", path+"/tags", d.supKey, `{"remove":["billing"]}`, 200)
	d.ana.eventsUntil(t, id, events.ConversationTagsChanged)
	s.waitFor(t, path, d.anaKey, "tagged VIP only", func(v map[string]any) bool {
		tags := strs(v["tags"])
		return len(tags) == 1 && tags[0] == "VIP"
	})

	s.wantError(t, "POST", path+"/tags", d.anaKey, `{"add":["gold"]}`, 422, "invalid_field", "add[0]")
	s.wantError(t, "POST", path+"/tags", d.boKey, `{"add":["VIP"]}`, 403, "not_your_interaction", "")

	// The timeline keeps both changes with who made them.
	var changes []string
	for _, e := range s.call(t, "GET", "/v1/history/"+id, d.supKey, nil, 200)["timeline"].([]any) {
		e := e.(map[string]any)
		if e["type"] == events.ConversationTagsChanged {
			changes = append(changes, e["actorId"].(string))
		}
	}
	if len(changes) != 2 || changes[0] != d.anaID {
		t.Errorf("timeline tag changes by %v", changes)
	}
	// The history finds the chat by tag, by the catalogue's ID or any case.
	for _, q := range []string{"VIP", "vip", vip["id"].(string)} {
		items := s.call(t, "GET", "/v1/history?tag="+q, d.supKey, nil, 200)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Errorf("history by tag %s: %v", q, items)
		}
	}
	if n := len(s.call(t, "GET", "/v1/history?tag=Billing", d.supKey, nil, 200)["items"].([]any)); n != 0 {
		t.Errorf("history by a removed tag found %d", n)
	}
	if tags := s.call(t, "GET", "/v1/interactions/"+other, d.supKey, nil, 200)["tags"].([]any); len(tags) != 0 {
		t.Errorf("the other chat got tags %v", tags)
	}
	t.Logf("tags end to end in %v", time.Since(began).Round(time.Millisecond))
}
