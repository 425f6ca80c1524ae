package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"switchboard/forms"
	"switchboard/pgstore"
	"switchboard/routing"
)

func newField(t *testing.T, tenantID string, in pgstore.NewFormField) pgstore.FormField {
	t.Helper()
	f, err := store.CreateFormField(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatalf("CreateFormField %s: %v", in.Name, err)
	}
	return f
}

// Input fields: each type's shape is checked (a dropdown's options, a regex's
// pattern), names are unique ignoring case, the type is fixed, and a field a form
// places is not deleted.
func TestFormFields(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	reason := newField(t, tid, pgstore.NewFormField{Name: "Reason", Type: forms.Dropdown, Options: []string{"Returns:Damaged", "Billing"}})
	if !slices.Equal(reason.Options, []string{"Returns: Damaged", "Billing"}) {
		t.Errorf("options %v", reason.Options)
	}
	order := newField(t, tid, pgstore.NewFormField{Name: "Order number", Type: forms.Regex, Pattern: `[A-Z]{2}-[0-9]{4}`})
	for _, tc := range []struct {
		in    pgstore.NewFormField
		field string
	}{
		{pgstore.NewFormField{Name: "x", Type: "color"}, "type"},
		{pgstore.NewFormField{Name: "", Type: forms.Text}, "name"},
		{pgstore.NewFormField{Name: "x", Type: forms.Dropdown}, "options"},
		{pgstore.NewFormField{Name: "x", Type: forms.Text, Options: []string{"a"}}, "options"},
		{pgstore.NewFormField{Name: "x", Type: forms.Regex, Pattern: "(["}, "pattern"},
		{pgstore.NewFormField{Name: "x", Type: forms.Regex}, "pattern"},
		{pgstore.NewFormField{Name: "x", Type: forms.Integer, Pattern: "1"}, "pattern"},
	} {
		_, err := store.CreateFormField(ctx, tid, pgstore.Actor{}, tc.in)
		wantInvalid(t, err, tc.field)
	}
	_, err := store.CreateFormField(ctx, tid, pgstore.Actor{}, pgstore.NewFormField{Name: "reason", Type: forms.Text})
	wantErr(t, err, pgstore.ErrConflict)

	up, err := store.UpdateFormField(ctx, tid, pgstore.Actor{}, reason.ID, pgstore.FormFieldPatch{Options: &[]string{"Returns: Damaged", "Returns: Late", "Billing"}})
	if err != nil || len(up.Options) != 3 {
		t.Fatalf("updated %+v, %v", up, err)
	}
	_, err = store.UpdateFormField(ctx, tid, pgstore.Actor{}, order.ID, pgstore.FormFieldPatch{Pattern: ptr("")})
	wantInvalid(t, err, "pattern")
	list, err := store.ListFormFields(ctx, tid, pgstore.FormFieldFilter{Type: forms.Regex})
	if err != nil || len(list) != 1 || list[0].ID != order.ID {
		t.Errorf("regex fields %+v, %v", list, err)
	}

	form, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "Returns", Items: []forms.Item{{FieldID: order.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, store.DeleteFormField(ctx, tid, pgstore.Actor{}, order.ID), pgstore.ErrConflict)
	if _, err := store.UpdateForm(ctx, tid, pgstore.Actor{}, form.ID, pgstore.FormPatch{Items: &[]forms.Item{}}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteFormField(ctx, tid, pgstore.Actor{}, order.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.GetFormField(ctx, tid, order.ID)
	wantErr(t, err, pgstore.ErrNotFound)
}

// A tenant has at most 10,000 input fields, counted under the tenant's form lock so
// that concurrent creations cannot pass it.
func TestFormFieldLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	// Fill up to two short of the limit in one statement, then race four creations
	// for the last two places.
	if _, err := pool.Exec(ctx, `
		INSERT INTO form_fields (tenant_id, name, type) SELECT $1, 'bulk ' || g, 'text' FROM generate_series(1, $2) g`,
		tid, forms.MaxFieldsPerTenant-2); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := store.CreateFormField(ctx, tid, pgstore.Actor{}, pgstore.NewFormField{Name: fmt.Sprintf("last %d", i), Type: forms.Text})
			errs <- err
		}()
	}
	var ok, refused int
	for range 4 {
		switch err := <-errs; {
		case err == nil:
			ok++
		default:
			wantErr(t, err, pgstore.ErrConflict)
			refused++
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM form_fields WHERE tenant_id = $1`, tid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if ok != 2 || refused != 2 || n != forms.MaxFieldsPerTenant {
		t.Errorf("created %d, refused %d, count %d", ok, refused, n)
	}
}

// Forms: items are checked against the tenant's fields, positions shift on insert,
// move and delete, one form at most is the default, and the first form whose
// trigger matches a new interaction's facts is chosen, else the default.
func TestFormsAndTriggers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	reason := newField(t, tid, pgstore.NewFormField{Name: "Reason", Type: forms.Dropdown, Options: []string{"Returns", "Billing"}})
	order := newField(t, tid, pgstore.NewFormField{Name: "Order", Type: forms.Text})
	theirs := newField(t, other, pgstore.NewFormField{Name: "Theirs", Type: forms.Text})

	general, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "General", IsDefault: true,
		Items: []forms.Item{{FieldID: reason.ID, Required: true}}})
	if err != nil {
		t.Fatal(err)
	}
	vip, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "VIP",
		Trigger: cond(routing.AttrTags, routing.OpInList, "vip"),
		Items: []forms.Item{{FieldID: reason.ID}, {FieldID: order.ID, Required: true,
			ShowWhen: &forms.Condition{FieldID: reason.ID, Values: []string{"Returns"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	chat, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "Chat", Position: 1,
		Trigger: cond(routing.AttrChannel, routing.OpIs, "live_chat")})
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.ListForms(ctx, tid)
	if err != nil || len(all) != 3 || all[0].ID != chat.ID || all[1].ID != general.ID || all[2].ID != vip.ID {
		t.Fatalf("forms %+v, %v", all, err)
	}
	if len(all[2].Items) != 2 || all[2].Items[1].ShowWhen == nil || !all[2].Items[1].Required {
		t.Errorf("items %+v", all[2].Items)
	}
	for _, tc := range []struct {
		in    pgstore.NewForm
		field string
	}{
		{pgstore.NewForm{Name: "x", Items: []forms.Item{{FieldID: theirs.ID}}}, "items[0].fieldId"},
		{pgstore.NewForm{Name: "x", Items: []forms.Item{{FieldID: order.ID}, {FieldID: order.ID}}}, "items[0].showWhen"},
		{pgstore.NewForm{Name: "x", Trigger: cond("mood", routing.OpIs, "x")}, "trigger.attr"},
		{pgstore.NewForm{Name: "x", Position: 9}, "position"},
		{pgstore.NewForm{Name: ""}, "name"},
	} {
		_, err := store.CreateForm(ctx, tid, pgstore.Actor{}, tc.in)
		wantInvalid(t, err, tc.field)
	}
	_, err = store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "general"})
	wantErr(t, err, pgstore.ErrConflict)

	choose := func(f routing.Facts) string {
		t.Helper()
		id, err := store.ChooseForm(ctx, tid, f)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := choose(routing.Facts{Channel: routing.LiveChat, Tags: []string{"vip"}}); id != chat.ID {
		t.Errorf("a VIP chat got %s, want the first matching form (Chat)", id)
	}
	if id := choose(routing.Facts{Channel: routing.Email, Tags: []string{"VIP"}}); id != vip.ID {
		t.Errorf("a VIP e-mail got %s", id)
	}
	if id := choose(routing.Facts{Channel: routing.Voice}); id != general.ID {
		t.Errorf("a call got %s, want the default form", id)
	}

	// VIP becomes the default (General no longer is) and moves to the top.
	moved, err := store.UpdateForm(ctx, tid, pgstore.Actor{}, vip.ID, pgstore.FormPatch{IsDefault: ptr(true), Position: ptr(1)})
	if err != nil || !moved.IsDefault || moved.Position != 1 {
		t.Fatalf("moved %+v, %v", moved, err)
	}
	all, _ = store.ListForms(ctx, tid)
	if all[0].ID != vip.ID || all[1].ID != chat.ID || all[2].ID != general.ID || all[2].IsDefault || all[2].Position != 3 {
		t.Errorf("after the move %+v", all)
	}
	var trig pgstore.FormPatch
	if err := json.Unmarshal([]byte(`{"trigger":null}`), &trig); err != nil {
		t.Fatal(err)
	}
	if f, err := store.UpdateForm(ctx, tid, pgstore.Actor{}, chat.ID, trig); err != nil || f.Trigger != nil {
		t.Fatalf("trigger removed %+v, %v", f, err)
	}
	if id := choose(routing.Facts{Channel: routing.LiveChat}); id != vip.ID {
		t.Errorf("with no trigger matching, a chat got %s, want the new default", id)
	}
	if err := store.DeleteForm(ctx, tid, pgstore.Actor{}, vip.ID); err != nil {
		t.Fatal(err)
	}
	all, _ = store.ListForms(ctx, tid)
	if len(all) != 2 || all[0].Position != 1 || all[1].Position != 2 {
		t.Errorf("after the delete %+v", all)
	}
	if id := choose(routing.Facts{Channel: routing.Voice}); id != "" {
		t.Errorf("without a default form, got %s", id)
	}
	wantErr(t, store.DeleteForm(ctx, other, pgstore.Actor{}, chat.ID), pgstore.ErrNotFound)
}

// Values are written with the workflow's versioned change: each is checked against
// its field, a later version wins over a late retry, clearing deletes, values stay
// when the form changes or the field leaves it, and what is missing follows the
// conditions. At most 500 fields keep values on one interaction.
func TestFormValues(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	reason := newField(t, tid, pgstore.NewFormField{Name: "Reason", Type: forms.Dropdown, Options: []string{"Returns", "Billing"}})
	order := newField(t, tid, pgstore.NewFormField{Name: "Order", Type: forms.Regex, Pattern: `[0-9]+`})
	note := newField(t, tid, pgstore.NewFormField{Name: "Note", Type: forms.Multiline})
	form, err := store.CreateForm(ctx, tid, pgstore.Actor{}, pgstore.NewForm{Name: "Returns", IsDefault: true,
		Items: []forms.Item{{FieldID: reason.ID, Required: true},
			{FieldID: order.ID, Required: true, ShowWhen: &forms.Condition{FieldID: reason.ID, Values: []string{"Returns"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	in := enqueue(t, newInteraction(tid, defaultQueue(t, tid).ID, routing.LiveChat, routing.PriorityNormal, time.Now().UTC()))
	st := in.InteractionState
	write := func(version int64, values map[string]string) ([]pgstore.FormValueChange, error) {
		st.Version = version
		raw := map[string]json.RawMessage{}
		for k, v := range values {
			raw[k] = json.RawMessage(v)
		}
		return store.RecordFormValues(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st,
			Events: []pgstore.TimelineEvent{{Type: "formFieldUpdated", At: time.Now()}}}, raw)
	}
	missing := func() []string {
		t.Helper()
		f, err := store.InteractionForm(ctx, tid, in.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if f.Form == nil || f.Form.ID != form.ID {
			t.Fatalf("form %+v", f.Form)
		}
		var out []string
		for _, m := range f.Missing {
			out = append(out, m.Name)
		}
		return out
	}
	if m := missing(); !slices.Equal(m, []string{"Reason"}) {
		t.Errorf("missing at first %v", m)
	}
	changes, err := write(1, map[string]string{reason.ID: `"returns"`, note.ID: `"kept off the form"`})
	if err != nil || len(changes) != 2 {
		t.Fatalf("changes %+v, %v", changes, err)
	}
	if m := missing(); !slices.Equal(m, []string{"Order"}) {
		t.Errorf("missing once Returns is chosen %v", m)
	}
	if _, err := write(2, map[string]string{order.ID: `"A1"`}); err == nil {
		t.Error("a value not matching the pattern was written")
	} else {
		wantInvalid(t, err, "values."+order.ID)
	}
	if _, err := write(2, map[string]string{order.ID: `"123"`}); err != nil {
		t.Fatal(err)
	}
	if m := missing(); len(m) != 0 {
		t.Errorf("missing when complete %v", m)
	}
	// A late retry of version 1 clearing the order leaves it; the same value again
	// changes nothing.
	if c, err := write(1, map[string]string{order.ID: `null`}); err != nil || len(c) != 0 {
		t.Errorf("late write changed %+v, %v", c, err)
	}
	if c, err := write(3, map[string]string{order.ID: `"123"`}); err != nil || len(c) != 0 {
		t.Errorf("same value changed %+v, %v", c, err)
	}
	// Billing hides the order, which keeps its value.
	if _, err := write(4, map[string]string{reason.ID: `"Billing"`}); err != nil {
		t.Fatal(err)
	}
	f, err := store.InteractionForm(ctx, tid, in.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Missing) != 0 || len(f.Values) != 3 || f.Fields[1].Visible || string(f.Fields[1].Value) != `"123"` {
		t.Errorf("with the order hidden: %+v", f)
	}
	// Taken off the form, the field keeps its value too.
	if _, err := store.UpdateForm(ctx, tid, pgstore.Actor{}, form.ID, pgstore.FormPatch{Items: &[]forms.Item{{FieldID: reason.ID}}}); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.InteractionForm(ctx, tid, in.ID, form.ID); len(f.Fields) != 1 || len(f.Values) != 3 {
		t.Errorf("after the field left the form: %+v", f)
	}
	if c, err := write(5, map[string]string{note.ID: `""`}); err != nil || len(c) != 1 || string(c[0].Value) != "null" {
		t.Errorf("clearing %+v, %v", c, err)
	}
	var tl []string
	entries, _ := store.Timeline(ctx, tid, in.ID)
	for _, e := range entries {
		if e.Type == "formFieldUpdated" {
			tl = append(tl, fmt.Sprint(len(e.Data["fields"].([]any))))
		}
	}
	if !slices.Equal(tl, []string{"2", "1", "1", "1"}) {
		t.Errorf("timeline field counts %v", tl)
	}
	got := getInteraction(t, tid, in.ID)
	if got.Version != 5 {
		t.Errorf("version %d", got.Version)
	}

	// 500 fields at most on one interaction.
	if _, err := pool.Exec(ctx, `
		INSERT INTO form_fields (tenant_id, name, type) SELECT $1, 'bulk ' || g, 'text' FROM generate_series(1, 499) g`, tid); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, _ := pool.Query(ctx, `SELECT id::text FROM form_fields WHERE tenant_id = $1 AND name LIKE 'bulk %' ORDER BY name`, tid)
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	vals := map[string]string{}
	for _, id := range ids[:498] {
		vals[id] = `"x"`
	}
	if _, err := write(6, vals); err != nil {
		t.Fatalf("up to 500: %v", err)
	}
	_, err = write(7, map[string]string{ids[498]: `"x"`})
	wantInvalid(t, err, "values")
	if err := store.CheckFormValues(ctx, tid, map[string]json.RawMessage{"nope": json.RawMessage(`1`)}); err == nil {
		t.Error("a value keyed by no field ID passed the check")
	}
}
