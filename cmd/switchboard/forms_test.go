package main

import (
	"context"
	"slices"
	"strings"
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
	t.Parallel()
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

// TestMandatoryFieldsBlockSolvedEndToEnd runs forms on a running stack: a form whose
// trigger matches the chat's tag is chosen when it is created; solving the chat with
// its mandatory field empty is refused (409 form_incomplete naming the field) and
// changes nothing; a conditional mandatory field shows once its condition holds and
// blocks too; once filled, the chat is solved. A value kept off the form stays, the
// values are in the timeline and the agent's stream, and the history finds the chat
// by its form.
func TestMandatoryFieldsBlockSolvedEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	d := newProductivityDesk(t)
	s := d.s
	reason := s.call(t, "POST", "/v1/forms/fields", d.adminKey, map[string]any{"name": "Reason", "type": "dropdown",
		"options": []string{"Returns: Damaged", "Returns: Wrong size", "Billing"}}, 201)["id"].(string)
	order := s.call(t, "POST", "/v1/forms/fields", d.adminKey, map[string]any{"name": "Order number", "type": "regex",
		"pattern": "[A-Z]{2}-[0-9]{4}"}, 201)["id"].(string)
	note := s.call(t, "POST", "/v1/forms/fields", d.adminKey, map[string]any{"name": "Note", "type": "multiline"}, 201)["id"].(string)
	s.call(t, "POST", "/v1/forms", d.adminKey, map[string]any{"name": "General", "isDefault": true}, 201)
	returns := s.call(t, "POST", "/v1/forms", d.adminKey, map[string]any{"name": "Returns",
		"trigger": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"returns"}},
		"items": []any{map[string]any{"fieldId": reason, "required": true},
			map[string]any{"fieldId": order, "required": true, "showWhen": map[string]any{"fieldId": reason, "values": []string{"Returns"}}}},
	}, 201)["id"].(string)

	id := d.chat(t, "visitor-1", "returns")
	path := "/v1/interactions/" + id
	if v := s.call(t, "GET", path, d.anaKey, nil, 200); v["formId"] != returns {
		t.Fatalf("the chat's form is %v, want Returns (its trigger matched)", v["formId"])
	}
	form := s.call(t, "GET", path+"/form", d.anaKey, nil, 200)
	if m := form["missing"].([]any); len(m) != 1 || m[0].(map[string]any)["name"] != "Reason" {
		t.Errorf("missing at first %v", m)
	}
	s.wantError(t, "PUT", path+"/conversation-status", d.anaKey, `{"status":"solved"}`, 409, "form_incomplete", "values."+reason)
	e := s.do("PUT", path+"/conversation-status", d.anaKey, `{"status":"solved"}`)
	if !strings.Contains(string(e.body), `mandatory field \"Reason\" is empty`) {
		t.Errorf("refusal %s", e.body)
	}
	// Ending the chat closes it: refused to its agent too.
	s.wantError(t, "POST", path+"/end", d.anaKey, nil, 409, "form_incomplete", "values."+reason)
	if v := s.call(t, "GET", path, d.anaKey, nil, 200); v["conversationStatus"] != "open" || v["status"] != "connected" {
		t.Errorf("a refused solve or end changed the chat: %v / %v", v["status"], v["conversationStatus"])
	}

	// Returns makes the order number show, mandatory.
	s.call(t, "PUT", path+"/form-values", d.anaKey, map[string]any{"values": map[string]any{reason: "returns: damaged", note: "Box was wet"}}, 200)
	es := d.ana.eventsUntil(t, id, events.FormFieldUpdated)
	if f := detailOf(t, es[len(es)-1])["fields"].([]any); len(f) != 2 {
		t.Errorf("event fields %v", f)
	}
	s.wantError(t, "PUT", path+"/conversation-status", d.anaKey, `{"status":"solved"}`, 409, "form_incomplete", "values."+order)
	s.wantError(t, "PUT", path+"/form-values", d.anaKey, map[string]any{"values": map[string]any{order: "12345"}}, 422, "invalid_field", "values."+order)
	s.wantError(t, "PUT", path+"/form-values", d.boKey, map[string]any{"values": map[string]any{order: "AB-1234"}}, 403, "not_your_interaction", "")
	s.call(t, "PUT", path+"/form-values", d.anaKey, map[string]any{"values": map[string]any{order: "AB-1234"}}, 200)
	if v := s.call(t, "PUT", path+"/conversation-status", d.anaKey, `{"status":"solved"}`, 200); v["conversationStatus"] != "solved" {
		t.Errorf("solved %v", v["conversationStatus"])
	}

	// The note is off the form but kept; the timeline has both value changes.
	form = s.call(t, "GET", path+"/form", d.supKey, nil, 200)
	if len(form["values"].([]any)) != 3 || len(form["missing"].([]any)) != 0 || len(form["fields"].([]any)) != 2 {
		t.Errorf("form after solving %v", form)
	}
	n := 0
	for _, e := range s.call(t, "GET", "/v1/history/"+id, d.supKey, nil, 200)["timeline"].([]any) {
		if e.(map[string]any)["type"] == events.FormFieldUpdated {
			n++
		}
	}
	if n != 2 {
		t.Errorf("timeline has %d form value changes, want 2", n)
	}
	if items := s.call(t, "GET", "/v1/history?formId="+returns, d.supKey, nil, 200)["items"].([]any); len(items) != 1 {
		t.Errorf("history by form: %v", items)
	}
	t.Logf("mandatory fields end to end in %v", time.Since(began).Round(time.Millisecond))
}

// TestMacroEndToEnd applies macros to a chat on a running stack: one that chooses a
// form, fills its mandatory field, tags, sets the priority and subject, pre-fills the
// web chat's template and solves the chat runs every action in order; one that solves
// before its form is filled stops at the status action, reporting it with its error,
// and runs nothing after it. Each run is in the timeline.
func TestMacroEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	d := newProductivityDesk(t)
	s := d.s
	order := s.call(t, "POST", "/v1/forms/fields", d.adminKey, map[string]any{"name": "Order", "type": "integer"}, 201)["id"].(string)
	form := s.call(t, "POST", "/v1/forms", d.adminKey, map[string]any{"name": "Orders", "items": []any{map[string]any{"fieldId": order, "required": true}}}, 201)["id"].(string)
	vip := s.call(t, "POST", "/v1/tags", d.adminKey, `{"name":"VIP"}`, 201)["id"].(string)
	mk := func(name string, actions ...map[string]any) string {
		return s.call(t, "POST", "/v1/macros", d.supKey, map[string]any{"name": name, "actions": actions}, 201)["id"].(string)
	}
	hasty := mk("Hasty", map[string]any{"type": "form", "formId": form}, map[string]any{"type": "status", "status": "solved"},
		map[string]any{"type": "tag", "tagIds": []string{vip}})
	full := mk("Resolve order", map[string]any{"type": "form", "formId": form},
		map[string]any{"type": "formValues", "values": map[string]any{order: 42}},
		map[string]any{"type": "tag", "tagIds": []string{vip}},
		map[string]any{"type": "priority", "priority": "urgent"},
		map[string]any{"type": "subject", "subject": "Order 42"},
		map[string]any{"type": "template", "templates": map[string]string{"web_chat": "Your order is on its way", "email": "Dear customer"}},
		map[string]any{"type": "status", "status": "solved"})

	id := d.chat(t, "visitor-1")
	path := "/v1/interactions/" + id
	run := s.call(t, "POST", path+"/macros/"+hasty, d.anaKey, nil, 200)
	failed, _ := run["failed"].(map[string]any)
	if run["completed"] != false || failed == nil || failed["index"].(float64) != 1 || failed["type"] != "status" ||
		failed["error"].(map[string]any)["code"] != "form_incomplete" || len(run["steps"].([]any)) != 2 {
		t.Fatalf("hasty run %v", run)
	}
	if v := s.call(t, "GET", path, d.anaKey, nil, 200); len(v["tags"].([]any)) != 0 || v["conversationStatus"] != "open" || v["formId"] != form {
		t.Errorf("after the failed run: tags %v status %v form %v", v["tags"], v["conversationStatus"], v["formId"])
	}

	run = s.call(t, "POST", path+"/macros/"+full, d.anaKey, nil, 200)
	if run["completed"] != true || len(run["steps"].([]any)) != 7 {
		t.Fatalf("full run %v", run)
	}
	cp := run["composer"].(map[string]any)
	if cp["template"] != "Your order is on its way" || cp["templateChannel"] != "web_chat" {
		t.Errorf("composer %v", cp)
	}
	ix := run["interaction"].(map[string]any)
	if ix["conversationStatus"] != "solved" || ix["priority"] != "urgent" || ix["subject"] != "Order 42" || !slices.Equal(strs(ix["tags"]), []string{"VIP"}) {
		t.Errorf("interaction after the run %v", ix)
	}
	var runs []string
	for _, e := range s.call(t, "GET", "/v1/history/"+id, d.supKey, nil, 200)["timeline"].([]any) {
		e := e.(map[string]any)
		if e["type"] == events.MacroApplied {
			runs = append(runs, e["data"].(map[string]any)["name"].(string))
		}
	}
	if !slices.Equal(runs, []string{"Hasty", "Resolve order"}) {
		t.Errorf("macro runs in the timeline %v", runs)
	}
	s.wantError(t, "POST", path+"/macros/"+full, d.boKey, nil, 404, "not_found", "")

	// Closed and disposed, the run ends; its history (tags, form, values, priority,
	// subject, the form check, macro runs) is what the replay tests keep.
	s.call(t, "PUT", path+"/conversation-status", d.anaKey, `{"status":"closed"}`, 200)
	s.call(t, "POST", path+"/dispose", d.anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
	if *updateHistories {
		c := s.temporalClient()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.GetWorkflow(ctx, "interaction/"+id, "").Get(ctx, nil); err != nil {
			t.Fatalf("the interaction's run did not complete: %v", err)
		}
		recordHistory(t, c, "interaction/"+id, "interaction_conversation.json")
	}
	t.Logf("macros end to end in %v", time.Since(began).Round(time.Millisecond))
}

// TestSentimentEndToEnd follows a chat's sentiment on a running stack: each customer
// message is scored as it arrives and the supervisor's stream gets the score with the
// conversation's weighted mean; the agent's drill-down in the monitor shows it; when
// the chat is closed it gets its post-conversation tag, the history finds it by that
// tag, and the customer's Customer 360 trend runs over their chats.
func TestSentimentEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	d := newProductivityDesk(t)
	s := d.s
	sup := s.follow(t, d.supKey, "", "")
	cust := s.call(t, "POST", "/v1/contacts", d.crm, map[string]any{"name": "Rita"}, 201)["id"].(string)

	talk := func(from string, messages ...string) (string, []map[string]any) {
		t.Helper()
		id := d.chat(t, from)
		path := "/v1/interactions/" + id
		s.call(t, "PUT", path+"/customer", d.anaKey, map[string]any{"customerId": cust}, 200)
		var details []map[string]any
		for _, m := range messages {
			s.call(t, "POST", path+"/inbound-messages", d.crm, map[string]any{"body": m}, 202)
			es := sup.eventsUntil(t, id, events.SentimentUpdated)
			details = append(details, detailOf(t, es[len(es)-1]))
		}
		return id, details
	}
	angry, det := talk("visitor-1", "My parcel never arrived and nobody answers, this is ridiculous!",
		"Still waiting for my refund, this is unacceptable.")
	if len(det) != 2 || det[0]["messageScore"].(float64) >= -0.35 || det[1]["band"] != "negative" || det[1]["messages"].(float64) != 2 {
		t.Fatalf("sentiment events %v", det)
	}
	t.Logf("angry chat: message scores %+.2f, %+.2f; conversation %+.2f", det[0]["messageScore"], det[1]["messageScore"], det[1]["score"])
	drill := s.call(t, "GET", "/v1/monitor/agents/"+d.anaID, d.supKey, nil, 200)
	found := false
	for _, ix := range drill["interactions"].([]any) {
		ix := ix.(map[string]any)
		if ix["interactionId"] == angry {
			found = ix["sentiment"] != nil && ix["sentiment"].(map[string]any)["band"] == "negative"
		}
	}
	if !found {
		t.Errorf("the monitor's drill-down lacks the chat's sentiment: %v", drill["interactions"])
	}
	s.call(t, "PUT", "/v1/interactions/"+angry+"/conversation-status", d.anaKey, `{"status":"closed"}`, 200)
	v := s.waitFor(t, "/v1/interactions/"+angry, d.supKey, "tagged at the end", func(v map[string]any) bool {
		st, _ := v["sentiment"].(map[string]any)
		return st != nil && st["tag"] != nil
	})
	if tag := v["sentiment"].(map[string]any)["tag"]; tag != "negative" && tag != "overly-negative" {
		t.Errorf("angry chat ended %v", tag)
	}

	happy, det := talk("visitor-2", "Thank you so much, that fixed it!", "Great service, really appreciated.")
	if det[1]["band"] != "positive" {
		t.Errorf("happy chat %v", det)
	}
	s.call(t, "PUT", "/v1/interactions/"+happy+"/conversation-status", d.anaKey, `{"status":"closed"}`, 200)
	s.waitFor(t, "/v1/interactions/"+happy, d.supKey, "tagged at the end", func(v map[string]any) bool {
		st, _ := v["sentiment"].(map[string]any)
		return st != nil && (st["tag"] == "positive" || st["tag"] == "overly-positive")
	})
	trend := s.call(t, "GET", "/v1/contacts/"+cust+"/sentiment", d.supKey, nil, 200)
	points := trend["points"].([]any)
	if len(points) != 2 || points[0].(map[string]any)["interactionId"] != angry || trend["direction"] != "improving" {
		t.Errorf("trend %v", trend)
	}
	for _, tag := range []string{"negative", "overly-negative"} {
		for _, it := range s.call(t, "GET", "/v1/history?sentiment="+tag, d.supKey, nil, 200)["items"].([]any) {
			if it.(map[string]any)["id"] == happy {
				t.Errorf("the happy chat is in the %s history", tag)
			}
		}
	}
	t.Logf("sentiment end to end in %v", time.Since(began).Round(time.Millisecond))
}
