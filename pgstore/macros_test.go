package pgstore_test

import (
	"encoding/json"
	"testing"
	"time"

	"switchboard/forms"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Macros: every action type is checked against the tenant (forms, fields, tags,
// agents, queues, senders), only the fields of an action's type may be set; macros
// are searched, filtered by macro tag and status, sorted by name or date, duplicated
// under a free name, and agents find the ones available to their queues.
func TestMacros(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	outsider := newUser(t, tid, pgstore.RoleAgent)
	sales := newQueue(t, tid, "Sales", agent.ID)
	vip, err := store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Name: "VIP"})
	if err != nil {
		t.Fatal(err)
	}
	escalation, err := store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Name: "Escalation", Kind: pgstore.TagMacro})
	if err != nil {
		t.Fatal(err)
	}
	field := newField(t, tid, pgstore.NewFormField{Name: "Order", Type: forms.Integer})
	form, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "Returns", Items: []forms.Item{{FieldID: field.ID, Required: true}}})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := store.CreateSender(ctx, tid, pgstore.Actor{}, pgstore.NewChannelSender{SubChannel: "sms", Address: "+14155550100", Kind: "test"})
	if err != nil {
		t.Fatal(err)
	}
	high := routing.PriorityHigh
	actions := []pgstore.MacroAction{
		{Type: pgstore.MacroForm, FormID: form.ID},
		{Type: pgstore.MacroFormValues, Values: map[string]json.RawMessage{field.ID: json.RawMessage(`42`)}},
		{Type: pgstore.MacroPriority, Priority: &high},
		{Type: pgstore.MacroTag, TagIDs: []string{vip.ID}},
		{Type: pgstore.MacroTemplate, Templates: map[string]string{"WhatsApp": "Hello from WhatsApp", "live_chat": "Hello"}},
		{Type: pgstore.MacroSubject, Subject: "Return"},
		{Type: pgstore.MacroQueue, QueueID: sales.ID},
		{Type: pgstore.MacroAssignAgent, AgentID: agent.ID},
		{Type: pgstore.MacroRecipient, Channel: "SMS", SenderID: sender.ID},
		{Type: pgstore.MacroStatus, Status: pgstore.ConversationSolved},
	}
	refund, err := store.CreateMacro(ctx, tid, pgstore.Actor{}, pgstore.NewMacro{Name: "Refund", Description: "Solve a return",
		Availability: "queues", QueueIDs: []string{sales.ID}, TagIDs: []string{escalation.ID}, Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	if refund.Status != "active" || len(refund.Actions) != 10 || refund.Actions[4].Templates["whatsapp"] == "" || refund.Actions[8].Channel != "sms" {
		t.Errorf("created %+v", refund)
	}
	time.Sleep(10 * time.Millisecond)
	greet, err := store.CreateMacro(ctx, tid, pgstore.Actor{}, pgstore.NewMacro{Name: "greeting", Status: "inactive",
		Actions: []pgstore.MacroAction{{Type: pgstore.MacroTemplate, Templates: map[string]string{"email": "Dear customer"}}}})
	if err != nil {
		t.Fatal(err)
	}

	bad := func(a pgstore.MacroAction) pgstore.NewMacro {
		return pgstore.NewMacro{Name: "bad", Actions: []pgstore.MacroAction{{Type: pgstore.MacroSubject, Subject: "ok"}, a}}
	}
	theirTag, _ := store.CreateTag(ctx, other, pgstore.Actor{}, pgstore.NewTag{Name: "x"})
	for _, tc := range []struct {
		in    pgstore.NewMacro
		field string
	}{
		{pgstore.NewMacro{Name: "x"}, "actions"},
		{pgstore.NewMacro{Name: "", Actions: actions}, "name"},
		{pgstore.NewMacro{Name: "x", Availability: "queues", Actions: actions}, "queueIds"},
		{pgstore.NewMacro{Name: "x", Availability: "some", Actions: actions}, "availability"},
		{pgstore.NewMacro{Name: "x", TagIDs: []string{vip.ID}, Actions: actions}, "tagIds[0]"},
		{bad(pgstore.MacroAction{Type: "email"}), "actions[1].type"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroStatus, Status: "snoozed"}), "actions[1].status"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroStatus, Status: "open", QueueID: sales.ID}), "actions[1].queueId"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroForm, FormID: theirTag.ID}), "actions[1].formId"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroFormValues, Values: map[string]json.RawMessage{field.ID: json.RawMessage(`"x"`)}}), "actions[1].values." + field.ID},
		{bad(pgstore.MacroAction{Type: pgstore.MacroTag, TagIDs: []string{escalation.ID}}), "actions[1].tagIds[0]"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroTemplate, Templates: map[string]string{"fax": "x"}}), "actions[1].templates.fax"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroAssignAgent, AgentID: refund.ID}), "actions[1].agentId"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroQueue, QueueID: "q"}), "actions[1].queueId"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroRecipient, Channel: "telegram", SenderID: sender.ID}), "actions[1].channel"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroRecipient, Channel: "whatsapp", SenderID: sender.ID}), "actions[1].senderId"},
		{bad(pgstore.MacroAction{Type: pgstore.MacroPriority}), "actions[1].priority"},
	} {
		_, err := store.CreateMacro(ctx, tid, pgstore.Actor{}, tc.in)
		wantInvalid(t, err, tc.field)
	}
	_, err = store.CreateMacro(ctx, tid, pgstore.Actor{}, pgstore.NewMacro{Name: "REFUND", Actions: actions})
	wantErr(t, err, pgstore.ErrConflict)

	list := func(f pgstore.MacroFilter) []string {
		t.Helper()
		ms, err := store.ListMacros(ctx, tid, f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		return names
	}
	for _, tc := range []struct {
		f    pgstore.MacroFilter
		want string
	}{
		{pgstore.MacroFilter{}, "[greeting Refund]"},
		{pgstore.MacroFilter{Sort: pgstore.MacroNameDesc}, "[Refund greeting]"},
		{pgstore.MacroFilter{Sort: pgstore.MacroCreatedDesc}, "[greeting Refund]"},
		{pgstore.MacroFilter{Sort: pgstore.MacroCreatedAsc, Limit: 1}, "[Refund]"},
		{pgstore.MacroFilter{Sort: pgstore.MacroCreatedAsc, Limit: 1, Offset: 1}, "[greeting]"},
		{pgstore.MacroFilter{Query: "RETURN"}, "[Refund]"},
		{pgstore.MacroFilter{Status: "inactive"}, "[greeting]"},
		{pgstore.MacroFilter{TagIDs: []string{escalation.ID}}, "[Refund]"},
		{pgstore.MacroFilter{AvailableTo: outsider.ID}, "[greeting]"},
		{pgstore.MacroFilter{AvailableTo: agent.ID, Status: "active"}, "[Refund]"},
	} {
		if got := fmtNames(list(tc.f)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, got, tc.want)
		}
	}
	copyOf, err := store.DuplicateMacro(ctx, tid, pgstore.Actor{}, refund.ID)
	if err != nil || copyOf.Name != "Refund (copy)" || len(copyOf.Actions) != 10 || len(copyOf.QueueIDs) != 1 || len(copyOf.TagIDs) != 1 {
		t.Fatalf("duplicate %+v, %v", copyOf, err)
	}
	again, err := store.DuplicateMacro(ctx, tid, pgstore.Actor{}, refund.ID)
	if err != nil || again.Name != "Refund (copy 2)" {
		t.Fatalf("second duplicate %+v, %v", again, err)
	}
	if got := fmtNames(list(pgstore.MacroFilter{Query: "copy 2"})); got != "[Refund (copy 2)]" {
		t.Errorf("search for the second copy: %s", got)
	}
	_, err = store.ListMacros(ctx, tid, pgstore.MacroFilter{Sort: "size"})
	wantInvalid(t, err, "sort")

	for _, tc := range []struct {
		agent string
		want  bool
	}{{agent.ID, true}, {outsider.ID, false}} {
		if ok, err := store.MacroAvailable(ctx, refund, tc.agent); err != nil || ok != tc.want {
			t.Errorf("available to %s: %v, %v", tc.agent, ok, err)
		}
	}
	open := "all"
	up, err := store.UpdateMacro(ctx, tid, pgstore.Actor{}, refund.ID, pgstore.MacroPatch{Availability: &open, Name: ptr("Refund and solve")})
	if err != nil || up.Availability != "all" || len(up.QueueIDs) != 0 || up.Name != "Refund and solve" {
		t.Fatalf("updated %+v, %v", up, err)
	}
	if ok, _ := store.MacroAvailable(ctx, up, outsider.ID); !ok {
		t.Error("a macro for all agents is not available to one")
	}
	// A deleted macro tag leaves the macros; a deleted queue too.
	if err := store.DeleteTag(ctx, tid, pgstore.Actor{}, escalation.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ := store.GetMacro(ctx, tid, copyOf.ID); len(m.TagIDs) != 0 {
		t.Errorf("tags after the tag's deletion %v", m.TagIDs)
	}
	wantErr(t, store.DeleteMacro(ctx, other, pgstore.Actor{}, greet.ID), pgstore.ErrNotFound)
	if err := store.DeleteMacro(ctx, tid, pgstore.Actor{}, greet.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.GetMacro(ctx, tid, greet.ID)
	wantErr(t, err, pgstore.ErrNotFound)
}

func fmtNames(names []string) string {
	out := "["
	for i, n := range names {
		if i > 0 {
			out += " "
		}
		out += n
	}
	return out + "]"
}
