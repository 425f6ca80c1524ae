package automation_test

import (
	"testing"
	"time"

	"switchboard/automation"
)

func cond(attr, op string, values ...string) automation.Condition {
	return automation.Condition{Attribute: attr, Operator: op, Values: values}
}

func TestConditionsHold(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	updated := now.Add(-7 * time.Hour)
	f := automation.Facts{
		QueueID: queueA, Direction: "inbound", Tags: []string{"VIP", "billing"}, Channels: []string{"chat", "email"},
		FormID: fieldA, Status: "solved", EmailSubject: "Refund for order 42", AssigneeUpdatedAt: &updated,
		AgentID: "agent-1", AgentStatus: "busy", SenderID: queueA,
		CustomerContacts: []string{"+385 91 234 5678", "Ana@Example.com"}, PeopleTags: []string{"gold"}, PersonCountry: "HR",
		Company:           map[string]string{"company": "Acme", "companySegment": "SMB", "companyCountry": "Croatia", "companyDomains": "acme.test, acme.hr"},
		CompanyTags:       []string{"partner"},
		CompanyAttributes: map[string]string{"Seats": "12", "since": "2021-05-01", "active": "true", "ratio": "0.50"},
		FormFields:        map[string]string{fieldA: "gold plan"},
		Now:               now,
	}
	other := "0f9d8f5e-9999-4a4a-8b8b-000000000009"
	cases := []struct {
		name string
		c    automation.Condition
		want bool
	}{
		{"queue in", cond("queue", "isInList", queueA), true},
		{"queue in (case)", cond("queue", "isInList", "0F9D8F5E-1111-4A4A-8B8B-000000000001"), true},
		{"queue not in", cond("queue", "isNotInList", queueA), false},
		{"queue not in other", cond("queue", "isNotInList", other), true},
		{"direction", cond("direction", "is", "inbound"), true},
		{"direction outbound", cond("direction", "is", "outbound"), false},
		{"tag any", cond("tag", "isInList", "vip", "x"), true},
		{"tag none", cond("tag", "isNotInList", "x", "y"), true},
		{"tag none fails", cond("tag", "isNotInList", "billing"), false},
		{"channel is", cond("channel", "is", "email"), true},
		{"channel is not", cond("channel", "isNot", "sms"), true},
		{"channel multichannel", cond("channel", "is", "multichannel"), true},
		{"channel internal", cond("channel", "is", "internal"), false},
		{"channel in list", cond("channel", "isInList", "sms", "chat"), true},
		{"channel not in list", cond("channel", "isNotInList", "sms", "chat"), false},
		{"form is", cond("form", "is", fieldA), true},
		{"form not in", cond("form", "isNotInList", fieldA), false},
		{"status in", cond("status", "isInList", "open", "solved"), true},
		{"status not in", cond("status", "isNotInList", "solved"), false},
		{"subject contains", cond("emailSubject", "containsAny", "refund", "angry"), true},
		{"subject does not contain", cond("emailSubject", "doesNotContain", "REFUND"), false},
		{"first message (no)", cond("message", "is", "first"), false},
		{"hours > 6", cond("hoursSinceAssigneeUpdated", "greaterThan", "6"), true},
		{"hours > 12", cond("hoursSinceAssigneeUpdated", "greaterThan", "12"), false},
		{"agent assigned", cond("agent", "is", "assigned"), true},
		{"agent unassigned", cond("agent", "is", "unassigned"), false},
		{"agent status", cond("agentStatus", "isInList", "busy", "away"), true},
		{"agent status not", cond("agentStatus", "isNotInList", "active"), true},
		{"sender", cond("sender", "isInList", queueA), true},
		{"customer contact phone digits", cond("customerContact", "isInList", "+38591 2345678"), true},
		{"customer contact email case", cond("customerContact", "isInList", "ana@example.com"), true},
		{"customer contact not", cond("customerContact", "isNotInList", "bo@example.com"), true},
		{"people tag", cond("peopleTag", "isInList", "GOLD"), true},
		{"person country", cond("personCountry", "isInList", "hr", "si"), true},
		{"person country not", cond("personCountry", "isNotInList", "hr"), false},
		{"company", cond("company", "isInList", "acme"), true},
		{"company segment not", cond("companySegment", "isNotInList", "Enterprise"), true},
		{"company tag", cond("companyTag", "isInList", "partner"), true},
		{"company country is", cond("companyCountry", "is", "croatia"), true},
		{"company country is not", cond("companyCountry", "isNot", "Croatia"), false},
		{"company domains contains", cond("companyDomains", "containsAny", "acme.hr"), true},
		{"company region unknown is not", cond("companyRegion", "isNot", "EMEA"), true},
		{"company region unknown is", cond("companyRegion", "is", "EMEA"), false},
		{"custom number", automation.Condition{Attribute: "companyAttribute", Field: "seats", ValueType: "wholeNumber", Operator: "is", Values: []string{"12"}}, true},
		{"custom decimal", automation.Condition{Attribute: "companyAttribute", Field: "ratio", ValueType: "decimal", Operator: "is", Values: []string{"0.5"}}, true},
		{"custom date", automation.Condition{Attribute: "companyAttribute", Field: "since", ValueType: "date", Operator: "isNot", Values: []string{"2021-05-02"}}, true},
		{"custom bool", automation.Condition{Attribute: "companyAttribute", Field: "active", ValueType: "boolean", Operator: "is", Values: []string{"1"}}, true},
		{"custom text contains", automation.Condition{Attribute: "companyAttribute", Field: "since", ValueType: "text", Operator: "containsAny", Values: []string{"2021"}}, true},
		{"form field is", automation.Condition{Attribute: "formField", Field: fieldA, Operator: "is", Values: []string{"gold plan"}}, true},
		{"form field is not", automation.Condition{Attribute: "formField", Field: fieldA, Operator: "isNot", Values: []string{"gold plan"}}, false},
		{"form field missing is empty", automation.Condition{Attribute: "formField", Field: other, Operator: "is", Values: []string{""}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.Holds(f); got != c.want {
				t.Errorf("Holds = %v, want %v", got, c.want)
			}
		})
	}

	// An unassigned conversation: agent status conditions hold only negatively.
	bare := automation.Facts{Channels: []string{"sms"}, Now: now}
	for _, c := range []struct {
		c    automation.Condition
		want bool
	}{
		{cond("agentStatus", "isInList", "offline"), false},
		{cond("agentStatus", "isNotInList", "active"), true},
		{cond("agent", "is", "unassigned"), true},
		{cond("hoursSinceAssigneeUpdated", "greaterThan", "6"), false},
		{cond("channel", "is", "multichannel"), false},
		{cond("form", "isNotInList", fieldA), true},
	} {
		if got := c.c.Holds(bare); got != c.want {
			t.Errorf("bare %+v: %v, want %v", c.c, got, c.want)
		}
	}
}

func TestEvaluateGroups(t *testing.T) {
	f := automation.Facts{Tags: []string{"vip"}, Status: "open", Direction: "inbound"}
	g := func(cs ...automation.Condition) automation.ConditionGroup {
		return automation.ConditionGroup{AnyOf: cs}
	}
	cases := []struct {
		name      string
		groups    []automation.ConditionGroup
		want      bool
		failGroup int
	}{
		{"no conditions", nil, true, 0},
		{"OR inside a group", []automation.ConditionGroup{g(cond("tag", "isInList", "x"), cond("status", "isInList", "open"))}, true, 0},
		{"AND between groups", []automation.ConditionGroup{g(cond("tag", "isInList", "vip")), g(cond("direction", "is", "outbound"))}, false, 1},
		{"first group fails", []automation.ConditionGroup{g(cond("tag", "isInList", "x"), cond("status", "isInList", "solved")), g(cond("direction", "is", "inbound"))}, false, 0},
	}
	for _, c := range cases {
		ok, unmet := automation.Evaluate(c.groups, f)
		if ok != c.want || (!ok && unmet.Group != c.failGroup) {
			t.Errorf("%s: %v %+v", c.name, ok, unmet)
		}
	}
}

func TestTriggersMatchEvents(t *testing.T) {
	tr := func(typ string, mod func(*automation.Trigger)) automation.Trigger {
		x := automation.Trigger{Type: typ}
		if mod != nil {
			mod(&x)
		}
		return x
	}
	cases := []struct {
		name string
		t    automation.Trigger
		e    automation.Event
		want bool
	}{
		{"status to solved", tr("statusChanged", func(t *automation.Trigger) { t.To = "solved" }), automation.Event{Type: "statusChanged", StatusFrom: "open", StatusTo: "solved"}, true},
		{"status to waiting not solved", tr("statusChanged", func(t *automation.Trigger) { t.To = "waiting" }), automation.Event{Type: "statusChanged", StatusFrom: "open", StatusTo: "solved"}, false},
		{"note", tr("noteCreated", nil), automation.Event{Type: "noteCreated"}, true},
		{"note vs message", tr("noteCreated", nil), automation.Event{Type: "messageReceived"}, false},
		{"channel any", tr("channelChanged", func(t *automation.Trigger) { t.From, t.To = "any", "any" }), automation.Event{Type: "channelChanged", ChannelFrom: "chat", ChannelTo: "sms"}, true},
		{"channel to email", tr("channelChanged", func(t *automation.Trigger) { t.From, t.To = "any", "email" }), automation.Event{Type: "channelChanged", ChannelFrom: "chat", ChannelTo: "sms"}, false},
		{"survey not happy", tr("surveyFeedbackReceived", func(t *automation.Trigger) { t.Scores = []string{"notHappy"} }), automation.Event{Type: "surveyFeedbackReceived", Score: "notHappy"}, true},
		{"survey happy only", tr("surveyFeedbackReceived", func(t *automation.Trigger) { t.Scores = []string{"happy"} }), automation.Event{Type: "surveyFeedbackReceived", Score: "notHappy"}, false},
		{"time triggers never match events", tr("solvedFor", nil), automation.Event{Type: "solvedFor"}, false},
	}
	for _, c := range cases {
		if got := c.t.Matches(c.e); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTimerEffects(t *testing.T) {
	status := func(from, to string) automation.Change {
		return automation.Change{Kind: automation.ChangeStatus, StatusFrom: from, StatusTo: to, Status: to}
	}
	agentMsg := func(prev, st string) automation.Change {
		return automation.Change{Kind: automation.ChangeAgentMessage, Previous: prev, Status: st}
	}
	custMsg := func(prev, st string) automation.Change {
		return automation.Change{Kind: automation.ChangeCustomerMessage, Previous: prev, Status: st}
	}
	other := func(st string) automation.Change { return automation.Change{Kind: automation.ChangeOther, Status: st} }
	ended := automation.Change{Kind: automation.ChangeEnded}
	A, R, C, N := automation.Arm, automation.Rearm, automation.Cancel, automation.None
	cases := []struct {
		typ  string
		c    automation.Change
		want automation.Effect
	}{
		{"customerNotReplied", agentMsg("customer", "open"), A},
		{"customerNotReplied", agentMsg("", "open"), A},
		{"customerNotReplied", agentMsg("agent", "open"), N}, // the period runs from the first agent message
		{"customerNotReplied", custMsg("agent", "open"), C},
		{"customerNotReplied", custMsg("customer", "open"), N},
		{"customerNotReplied", status("open", "solved"), N},
		{"customerNotReplied", ended, C},
		{"agentNotReplied", custMsg("agent", "open"), A},
		{"agentNotReplied", custMsg("", "open"), A},
		{"agentNotReplied", custMsg("customer", "open"), N}, // the period runs from the first customer message
		{"agentNotReplied", agentMsg("customer", "open"), C},
		{"agentNotReplied", agentMsg("agent", "open"), N},
		{"agentNotReplied", ended, C},
		{"solvedFor", status("open", "solved"), R},
		{"solvedFor", status("solved", "open"), C},
		{"solvedFor", other("solved"), N}, // regardless of changes
		{"solvedFor", agentMsg("customer", "solved"), N},
		{"solvedFor", ended, C},
		{"solvedUnmodified", status("waiting", "solved"), R},
		{"solvedUnmodified", other("solved"), R}, // a change while solved starts the period again
		{"solvedUnmodified", agentMsg("agent", "solved"), R},
		{"solvedUnmodified", other("open"), N},
		{"solvedUnmodified", status("solved", "open"), C},
		{"solvedUnmodified", ended, C},
		{"waitingFor", status("open", "waiting"), R},
		{"waitingFor", status("waiting", "solved"), C},
		{"waitingFor", status("open", "solved"), N},
		{"waitingFor", other("waiting"), N},
		{"waitingFor", ended, C},
	}
	for _, c := range cases {
		if got := automation.TimerEffect(c.typ, c.c); got != c.want {
			t.Errorf("%s on %+v: %q, want %q", c.typ, c.c, got, c.want)
		}
	}
	for _, c := range []struct {
		typ, status, writer string
		want                bool
	}{
		{"solvedFor", "solved", "", true}, {"solvedFor", "open", "", false}, {"solvedUnmodified", "solved", "agent", true},
		{"waitingFor", "waiting", "", true}, {"waitingFor", "solved", "", false},
		{"customerNotReplied", "open", "agent", true}, {"customerNotReplied", "open", "customer", false},
		{"agentNotReplied", "solved", "customer", true}, {"agentNotReplied", "open", "agent", false},
	} {
		if got := automation.StillDue(c.typ, c.status, c.writer); got != c.want {
			t.Errorf("StillDue(%s, %s, %s) = %v", c.typ, c.status, c.writer, got)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	v := automation.Values{
		"customer.name": `Ana "the boss" <Ivić>`, "conversation.id": "c-1", "conversation.shortId": "42",
		"customer.attributes.plan": "gold", "survey.score": "notHappy",
	}
	if got := automation.Resolve("Hi {{ customer.name }}, #{{conversation.shortId}} {{customer.attributes.plan}}{{customer.phone}}!", v, automation.Plain); got != `Hi Ana "the boss" <Ivić>, #42 gold!` {
		t.Errorf("plain: %q", got)
	}
	r := automation.ResolveRequest(automation.Request{
		Method: "POST", URL: "https://x.test/c/{{customer.name}}?id={{conversation.id}}", ContentType: "json",
		Headers: []automation.Header{{Name: "X-Name", Value: "{{customer.name}}"}},
		Body:    `{"name":"{{customer.name}}","score":"{{survey.score}}"}`,
	}, v)
	if r.URL != "https://x.test/c/Ana+%22the+boss%22+%3CIvi%C4%87%3E?id=c-1" {
		t.Errorf("url %q", r.URL)
	}
	if r.Body != `{"name":"Ana \"the boss\" \u003cIvić\u003e","score":"notHappy"}` {
		t.Errorf("json body %q", r.Body)
	}
	if r.Headers[0].Value != `Ana "the boss" <Ivić>` {
		t.Errorf("header %q", r.Headers[0].Value)
	}
	x := automation.ResolveRequest(automation.Request{ContentType: "xml", Body: "<n>{{customer.name}}</n>"}, v)
	if x.Body != "<n>Ana &quot;the boss&quot; &lt;Ivić&gt;</n>" {
		t.Errorf("xml body %q", x.Body)
	}
	if automation.MessageLimit("instagram") != 1000 || automation.MessageLimit("sms") != 1000 || automation.MessageLimit("") != 1000 {
		t.Error("message limits")
	}
}

func TestNeedsAndAffects(t *testing.T) {
	g := func(c ...automation.Condition) automation.ConditionGroup { return automation.ConditionGroup{AnyOf: c} }
	cases := []struct {
		groups []automation.ConditionGroup
		want   automation.Needs
	}{
		{nil, automation.Needs{}},
		{[]automation.ConditionGroup{g(cond("tag", "isInList", "a"), cond("queue", "isInList", queueA))}, automation.Needs{}},
		{[]automation.ConditionGroup{g(cond("channel", "is", "sms")), g(cond("personCountry", "isInList", "HR"))}, automation.Needs{Activity: true, Customer: true}},
		{[]automation.ConditionGroup{g(cond("agentStatus", "isInList", "busy"), cond("sender", "isInList", queueA)), g(cond("message", "is", "first"))},
			automation.Needs{AgentStatus: true, Sender: true, Message: true}},
		{[]automation.ConditionGroup{g(automation.Condition{Attribute: "formField", Field: fieldA, Operator: "is", Values: []string{"x"}}),
			g(cond("hoursSinceAssigneeUpdated", "greaterThan", "6"))}, automation.Needs{Forms: true, Activity: true}},
	}
	for i, c := range cases {
		if got := automation.NeedsOf(c.groups); got != c.want {
			t.Errorf("case %d: %+v, want %+v", i, got, c.want)
		}
	}
	var n automation.Needs
	n.Add(automation.Needs{Customer: true})
	n.Add(automation.Needs{Forms: true})
	if n != (automation.Needs{Customer: true, Forms: true}) {
		t.Errorf("add: %+v", n)
	}
	tagged := []automation.ConditionGroup{g(cond("tag", "isInList", "vip"))}
	for _, c := range []struct {
		action automation.Action
		uses   bool
	}{
		{automation.Action{Type: automation.ActionApplyTags}, true},
		{automation.Action{Type: automation.ActionRemoveTags}, true},
		{automation.Action{Type: automation.ActionSetPriority}, false},
		{automation.Action{Type: automation.ActionSendSurvey}, false},
		{automation.Action{Type: automation.ActionSetStatus}, false},
	} {
		if got := automation.Uses(tagged, c.action.Affects()); got != c.uses {
			t.Errorf("%s affects a tag condition: %v", c.action.Type, got)
		}
	}
	if !automation.Uses([]automation.ConditionGroup{g(cond("status", "isInList", "solved"))}, automation.Action{Type: automation.ActionSetStatus}.Affects()) {
		t.Error("setStatus does not affect a status condition")
	}
	if !automation.Uses([]automation.ConditionGroup{g(cond("company", "isInList", "Acme"))}, automation.Action{Type: automation.ActionCallAPI}.Affects()) {
		t.Error("a Call API does not affect company conditions")
	}
}
