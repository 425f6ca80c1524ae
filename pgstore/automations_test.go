package pgstore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/automation"
	"switchboard/pgstore"
	"switchboard/routing"
)

func newAutomation(t *testing.T, tenantID, name string, mod func(*pgstore.NewAutomation)) pgstore.Automation {
	t.Helper()
	in := pgstore.NewAutomation{Name: name,
		Triggers: []automation.Trigger{{Type: automation.TriggerNoteCreated}},
		Actions:  []automation.Action{{Type: automation.ActionApplyTags, Tags: []string{"noted"}}},
	}
	if mod != nil {
		mod(&in)
	}
	a, err := store.CreateAutomation(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatalf("CreateAutomation %s: %v", name, err)
	}
	return a
}

// newCatalogueTag adds a conversation tag to the tenant's catalogue.
func newCatalogueTag(t *testing.T, tenantID, name string) {
	t.Helper()
	if _, err := store.CreateTag(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewTag{Name: name}); err != nil {
		t.Fatalf("CreateTag %s: %v", name, err)
	}
}

func automationOrder(t *testing.T, tenantID string) string {
	t.Helper()
	as, err := store.ListAutomations(testContext(t), tenantID, pgstore.AutomationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, a := range as {
		if a.Position != i+1 {
			t.Errorf("automation %q at position %d, index %d", a.Name, a.Position, i)
		}
		names = append(names, a.Name)
	}
	return strings.Join(names, ",")
}

func TestAutomations(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	sales := newQueue(t, tid, "Sales")
	newCatalogueTag(t, tid, "Noted")

	a := newAutomation(t, tid, " Survey ", func(n *pgstore.NewAutomation) {
		n.Triggers = []automation.Trigger{{Type: automation.TriggerSolvedFor, After: &automation.Duration{Seconds: 10}}}
		n.Conditions = []automation.ConditionGroup{{AnyOf: []automation.Condition{{Attribute: "queue", Operator: "isInList", Values: []string{sales.ID}}}}}
		n.Actions = []automation.Action{{Type: automation.ActionSendSurvey}}
	})
	if a.Name != "Survey" || a.Position != 1 || !a.Enabled || len(a.Conditions) != 1 || a.Triggers[0].After.Seconds != 10 {
		t.Errorf("created %+v", a)
	}
	b := newAutomation(t, tid, "B", nil)
	off := false
	c := newAutomation(t, tid, "C", func(n *pgstore.NewAutomation) { n.Position, n.Enabled = 1, &off })
	if c.Position != 1 || c.Enabled || len(c.Conditions) != 0 {
		t.Errorf("inserted %+v", c)
	}
	if got := automationOrder(t, tid); got != "C,Survey,B" {
		t.Errorf("order %s", got)
	}
	on := true
	if en, err := store.ListAutomations(ctx, tid, pgstore.AutomationFilter{Enabled: &on}); err != nil || len(en) != 2 {
		t.Errorf("enabled only: %d, %v", len(en), err)
	}

	// Bad rules are refused naming the field, with nothing written.
	bad := []struct {
		name  string
		mod   func(*pgstore.NewAutomation)
		field string
	}{
		{"close not last", func(n *pgstore.NewAutomation) {
			n.Actions = []automation.Action{{Type: "closeConversation"}, {Type: "sendSurvey"}}
		}, "actions[0].type"},
		{"91 days", func(n *pgstore.NewAutomation) {
			n.Triggers = []automation.Trigger{{Type: "solvedFor", After: &automation.Duration{Days: 91}}}
		}, "triggers[0].after"},
		{"unknown queue", func(n *pgstore.NewAutomation) {
			n.Conditions = []automation.ConditionGroup{{AnyOf: []automation.Condition{{Attribute: "queue", Operator: "isInList", Values: []string{sales.ID, tid}}}}}
		}, "conditions[0].anyOf[0].values[1]"},
		{"other tenant's sender", func(n *pgstore.NewAutomation) {
			n.Conditions = []automation.ConditionGroup{{AnyOf: []automation.Condition{{Attribute: "sender", Operator: "isInList", Values: []string{sales.ID}}}}}
		}, "conditions[0].anyOf[0].values[0]"},
		{"no name", func(n *pgstore.NewAutomation) { n.Name = " " }, "name"},
		{"position past the end", func(n *pgstore.NewAutomation) { n.Position = 9 }, "position"},
		{"tag not in the catalogue", func(n *pgstore.NewAutomation) {
			n.Actions = []automation.Action{{Type: "applyTags", Tags: []string{"noted", "vip"}}}
		}, "actions[0].tags[1]"},
		{"tag condition not in the catalogue", func(n *pgstore.NewAutomation) {
			n.Conditions = []automation.ConditionGroup{{AnyOf: []automation.Condition{{Attribute: "tag", Operator: "isInList", Values: []string{"vip"}}}}}
		}, "conditions[0].anyOf[0].values[0]"},
		{"unknown form field", func(n *pgstore.NewAutomation) {
			n.Actions = []automation.Action{{Type: "populateFormFields", Fields: []automation.FieldValue{{FieldID: sales.ID, Value: "x"}}}}
		}, "actions[0].fields[0].fieldId"},
	}
	for _, x := range bad {
		in := pgstore.NewAutomation{Name: "bad " + x.name,
			Triggers: []automation.Trigger{{Type: "noteCreated"}}, Actions: []automation.Action{{Type: "sendSurvey"}}}
		x.mod(&in)
		_, err := store.CreateAutomation(ctx, tid, pgstore.Actor{}, in)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != x.field {
			t.Errorf("%s: %v, want field %s", x.name, err, x.field)
		}
	}
	if _, err := store.CreateAutomation(ctx, tid, pgstore.Actor{}, pgstore.NewAutomation{Name: "b", Triggers: b.Triggers, Actions: b.Actions}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("same name: %v", err)
	}
	if got := automationOrder(t, tid); got != "C,Survey,B" {
		t.Errorf("refused rules changed the list: %s", got)
	}

	// Edit, move, enable.
	pos, name := 3, "Cee"
	acts := []automation.Action{{Type: automation.ActionSetPriority, Priority: "urgent"}, {Type: automation.ActionClose}}
	up, err := store.UpdateAutomation(ctx, tid, pgstore.Actor{}, c.ID, pgstore.AutomationUpdate{Name: &name, Position: &pos, Enabled: &on, Actions: &acts})
	if err != nil || up.Position != 3 || !up.Enabled || up.Name != "Cee" || len(up.Actions) != 2 || up.Actions[0].Priority != "urgent" {
		t.Fatalf("update: %+v, %v", up, err)
	}
	if got := automationOrder(t, tid); got != "Survey,B,Cee" {
		t.Errorf("after move: %s", got)
	}
	badActs := []automation.Action{{Type: automation.ActionClose}, {Type: automation.ActionUnassignAgent}}
	if _, err := store.UpdateAutomation(ctx, tid, pgstore.Actor{}, c.ID, pgstore.AutomationUpdate{Actions: &badActs}); err == nil || !strings.Contains(err.Error(), "actions[0].type") {
		t.Errorf("update to a bad rule: %v", err)
	}
	if _, err := store.UpdateAutomation(ctx, tid, pgstore.Actor{}, c.ID, pgstore.AutomationUpdate{}); err == nil {
		t.Error("empty update accepted")
	}
	other := newTenant(t).Tenant.ID
	if _, err := store.UpdateAutomation(ctx, other, pgstore.Actor{}, c.ID, pgstore.AutomationUpdate{Enabled: &off}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("other tenant's update: %v", err)
	}

	// Reorder: the whole list, or a conflict.
	if _, err := store.ReorderAutomations(ctx, tid, pgstore.Actor{}, pgstore.AutomationOrder{AutomationIDs: []string{b.ID, a.ID}}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("partial order: %v", err)
	}
	list, err := store.ReorderAutomations(ctx, tid, pgstore.Actor{}, pgstore.AutomationOrder{AutomationIDs: []string{c.ID, b.ID, strings.ToUpper(a.ID)}})
	if err != nil || len(list) != 3 || list[0].ID != c.ID {
		t.Fatalf("reorder: %v", err)
	}
	if got := automationOrder(t, tid); got != "Cee,B,Survey" {
		t.Errorf("after reorder: %s", got)
	}

	// Delete closes the gap.
	if err := store.DeleteAutomation(ctx, tid, pgstore.Actor{}, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteAutomation(ctx, tid, pgstore.Actor{}, b.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if got := automationOrder(t, tid); got != "Cee,Survey" {
		t.Errorf("after delete: %s", got)
	}
}

// Concurrent inserts and moves keep the positions 1..n.
func TestAutomationListUnderConcurrency(t *testing.T) {
	t.Parallel()
	tid := newTenant(t).Tenant.ID
	newCatalogueTag(t, tid, "noted")
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			newAutomation(t, tid, "r"+string(rune('a'+i)), func(n *pgstore.NewAutomation) { n.Position = 1 })
		})
	}
	wg.Wait()
	if got := automationOrder(t, tid); len(strings.Split(got, ",")) != 12 {
		t.Errorf("order %s", got)
	}
}

func TestAutomationRunLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := newQueue(t, tid, "Q")
	ix := enqueue(t, newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityNormal, time.Now()))
	newCatalogueTag(t, tid, "noted")
	r := newAutomation(t, tid, "R", nil)

	in := pgstore.NewAutomationRun{TenantID: tid, RuleID: r.ID, InteractionID: ix.ID, Key: "event/1", Trigger: "noteCreated",
		Event: map[string]any{"type": "noteCreated"}, Status: pgstore.RunRunning}
	run, created, err := store.BeginAutomationRun(ctx, in)
	if err != nil || !created || run.Status != pgstore.RunRunning {
		t.Fatalf("begin: %+v %v %v", run, created, err)
	}
	done, err := store.RecordAutomationAction(ctx, run.ID, pgstore.AutomationActionResult{Position: 0, Type: "applyTags", Status: pgstore.ActionDone,
		Detail: map[string]any{"tags": []string{"noted"}}})
	if err != nil || done.Status != pgstore.ActionDone {
		t.Fatalf("record: %+v %v", done, err)
	}
	// A retried action finds the first result.
	again, err := store.RecordAutomationAction(ctx, run.ID, pgstore.AutomationActionResult{Position: 0, Type: "applyTags", Status: pgstore.ActionFailed, Error: "late"})
	if err != nil || again.Status != pgstore.ActionDone || again.Error != "" {
		t.Errorf("second record: %+v %v", again, err)
	}
	if got, ok, err := store.AutomationAction(ctx, run.ID, 0); err != nil || !ok || got.Status != pgstore.ActionDone {
		t.Errorf("read action: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := store.AutomationAction(ctx, run.ID, 1); ok {
		t.Error("an action never run was found")
	}
	// A retried begin answers the same run with its actions.
	same, created, err := store.BeginAutomationRun(ctx, in)
	if err != nil || created || same.ID != run.ID || len(same.Actions) != 1 {
		t.Errorf("second begin: %+v %v %v", same, created, err)
	}
	if err := store.FinishAutomationRun(ctx, tid, run.ID, pgstore.RunCompleted, ""); err != nil {
		t.Fatal(err)
	}
	stopped, _, err := store.BeginAutomationRun(ctx, pgstore.NewAutomationRun{TenantID: tid, RuleID: r.ID, InteractionID: ix.ID, Key: "event/2",
		Trigger: "noteCreated", Depth: 11, Status: pgstore.RunLoopStopped, Detail: "too deep"})
	if err != nil || stopped.FinishedAt == nil {
		t.Fatalf("stopped run: %+v %v", stopped, err)
	}

	runs, err := store.ListAutomationRuns(ctx, tid, r.ID, pgstore.AutomationRunFilter{})
	if err != nil || len(runs) != 2 || runs[0].ID != stopped.ID || runs[1].Status != pgstore.RunCompleted || len(runs[1].Actions) != 1 {
		t.Fatalf("log: %+v %v", runs, err)
	}
	if runs[1].Actions[0].Detail["tags"] == nil {
		t.Errorf("action detail %+v", runs[1].Actions[0])
	}
	page, err := store.ListAutomationRuns(ctx, tid, r.ID, pgstore.AutomationRunFilter{Page: pgstore.Page{Limit: 1, After: stopped.ID}})
	if err != nil || len(page) != 1 || page[0].ID != run.ID {
		t.Errorf("second page: %+v %v", page, err)
	}
	if only, _ := store.ListAutomationRuns(ctx, tid, r.ID, pgstore.AutomationRunFilter{Status: pgstore.RunLoopStopped}); len(only) != 1 {
		t.Errorf("by status: %d", len(only))
	}
	if _, err := store.ListAutomationRuns(ctx, newTenant(t).Tenant.ID, r.ID, pgstore.AutomationRunFilter{}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("other tenant's log: %v", err)
	}
	// Deleting the rule deletes its log; a run of a deleted rule is refused.
	if err := store.DeleteAutomation(ctx, tid, pgstore.Actor{}, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.BeginAutomationRun(ctx, in); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("run of a deleted rule: %v", err)
	}
}

func TestSMTPSettings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	if _, err := store.GetSMTPSettings(ctx, tid); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("none yet: %v", err)
	}
	in := pgstore.SMTPSettings{Host: "smtp.acme.test", Port: 587, Security: "starttls", Username: "bot", Password: "s3cret", FromAddress: "no-reply@acme.test", FromName: "Acme"}
	out, err := store.PutSMTPSettings(ctx, tid, pgstore.Actor{}, in)
	if err != nil || out.Password != "" || !out.PasswordSet || out.Host != "smtp.acme.test" {
		t.Fatalf("put: %+v %v", out, err)
	}
	// Left out, the password stays.
	in.Password, in.Port = "", 2525
	if _, err := store.PutSMTPSettings(ctx, tid, pgstore.Actor{}, in); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetSMTPSettings(ctx, tid); got.Password != "s3cret" || got.Port != 2525 {
		t.Errorf("kept password: %+v", got)
	}
	for field, mod := range map[string]func(*pgstore.SMTPSettings){
		"host": func(s *pgstore.SMTPSettings) { s.Host = "" }, "port": func(s *pgstore.SMTPSettings) { s.Port = 0 },
		"security": func(s *pgstore.SMTPSettings) { s.Security = "ssl3" }, "fromAddress": func(s *pgstore.SMTPSettings) { s.FromAddress = "nobody" },
	} {
		bad := in
		mod(&bad)
		var v *pgstore.ValidationError
		if _, err := store.PutSMTPSettings(ctx, tid, pgstore.Actor{}, bad); !errors.As(err, &v) || v.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := store.DeleteSMTPSettings(ctx, tid, pgstore.Actor{}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSMTPSettings(ctx, tid, pgstore.Actor{}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestSurveys(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := newQueue(t, tid, "Q")
	ix := enqueue(t, newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityNormal, time.Now()))
	ix2 := enqueue(t, newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityNormal, time.Now()))

	set, err := store.GetSurveySettings(ctx, tid)
	if err != nil || set.Enabled || set.Question != pgstore.DefaultSurveyQuestion || set.MinIntervalSeconds != pgstore.DefaultSurveyMinInterval {
		t.Fatalf("defaults: %+v %v", set, err)
	}
	set.Enabled, set.FollowUpQuestion, set.DelaySeconds = true, "What could we do better?", 5
	if set, err = store.PutSurveySettings(ctx, tid, pgstore.Actor{}, set); err != nil || !set.Enabled || set.UpdatedAt == nil {
		t.Fatalf("put: %+v %v", set, err)
	}
	if _, err := store.PutSurveySettings(ctx, tid, pgstore.Actor{}, pgstore.SurveySettings{Question: "q", MinIntervalSeconds: -1}); err == nil {
		t.Error("negative interval accepted")
	}

	ns := pgstore.NewSurvey{TenantID: tid, InteractionID: ix.ID, SendKey: "solved/" + ix.ID + "/3", CustomerKey: "+385100",
		QueueID: q.ID, Channel: "chat", Question: set.Question, FollowUpQuestion: set.FollowUpQuestion, MinInterval: time.Hour}
	s1, err := store.CreateSurvey(ctx, ns)
	if err != nil || s1.Status != pgstore.SurveyPending || len(s1.Token) < 16 {
		t.Fatalf("create: %+v %v", s1, err)
	}
	if again, err := store.CreateSurvey(ctx, ns); err != nil || again.ID != s1.ID {
		t.Errorf("same send key: %+v %v", again, err)
	}
	// The same customer on another conversation within the interval gets none.
	ns2 := ns
	ns2.InteractionID, ns2.SendKey = ix2.ID, "solved/"+ix2.ID+"/3"
	if _, err := store.CreateSurvey(ctx, ns2); !errors.Is(err, pgstore.ErrSurveyTooSoon) {
		t.Errorf("within the interval: %v", err)
	}
	// Answers only once sent.
	if _, _, err := store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Score: "happy"}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("answer before sent: %v", err)
	}
	if s1, err = store.MarkSurveySent(ctx, tid, s1.ID, ix.ID, ""); err != nil || s1.Status != pgstore.SurveySent {
		t.Fatalf("mark sent: %+v %v", s1, err)
	}
	if byToken, err := store.SurveyByToken(ctx, s1.Token); err != nil || byToken.ID != s1.ID {
		t.Errorf("by token: %v", err)
	}
	if _, _, err := store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Comment: "first?"}); err == nil {
		t.Error("a comment before the score was accepted")
	}
	got, completed, err := store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Score: "notHappy"})
	if err != nil || completed || got.Score != "notHappy" || got.AnsweredAt == nil || got.CompletedAt != nil {
		t.Fatalf("score: %+v %v %v", got, completed, err)
	}
	got, completed, err = store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Comment: "Too slow"})
	if err != nil || !completed || got.CompletedAt == nil || got.Comment != "Too slow" {
		t.Fatalf("follow-up: %+v %v %v", got, completed, err)
	}
	if _, completed, err := store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Score: "notHappy", Comment: "Too slow"}); err != nil || completed {
		t.Errorf("the same answer again: %v %v", completed, err)
	}
	if _, _, err := store.AnswerSurvey(ctx, tid, s1.ID, pgstore.SurveyAnswer{Score: "happy"}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("changed answer: %v", err)
	}
	// A failed send does not count against the interval.
	ns3 := ns2
	ns3.CustomerKey, ns3.SendKey = "ana@example.com", "x/1"
	s3, err := store.CreateSurvey(ctx, ns3)
	if err != nil {
		t.Fatal(err)
	}
	if s3, err = store.MarkSurveySent(ctx, tid, s3.ID, "", "no sender"); err != nil || s3.Status != pgstore.SurveyFailed {
		t.Fatalf("failed: %+v %v", s3, err)
	}
	ns3.SendKey = "x/2"
	if _, err := store.CreateSurvey(ctx, ns3); err != nil {
		t.Errorf("after a failed survey: %v", err)
	}

	list, err := store.ListSurveys(ctx, tid, pgstore.SurveyFilter{InteractionID: ix.ID})
	if err != nil || len(list) != 1 || list[0].ID != s1.ID {
		t.Errorf("by interaction: %+v %v", list, err)
	}
	rep, err := store.SurveyReport(ctx, tid, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || rep.Totals.Sent != 1 || rep.Totals.Answered != 1 || rep.Totals.NotHappy != 1 || rep.Totals.CSAT != 0 ||
		rep.Totals.ResponseRate != 100 || len(rep.ByQueue) != 1 || rep.ByQueue[0].Key != q.ID || len(rep.Recent) != 1 || len(rep.ByDay) != 1 {
		t.Errorf("report: %+v %v", rep, err)
	}
}
