package forms_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"switchboard/forms"
)

func fields() map[string]forms.Field {
	return map[string]forms.Field{
		"reason":  {ID: "reason", Name: "Reason", Type: forms.Dropdown, Options: []string{"Returns: Damaged", "Returns: Wrong size", "Billing"}},
		"order":   {ID: "order", Name: "Order number", Type: forms.Regex, Pattern: `[A-Z]{2}-[0-9]{4}`},
		"refund":  {ID: "refund", Name: "Refund", Type: forms.Checkbox},
		"amount":  {ID: "amount", Name: "Amount", Type: forms.Decimal},
		"items":   {ID: "items", Name: "Items", Type: forms.Integer},
		"note":    {ID: "note", Name: "Note", Type: forms.Multiline},
		"title":   {ID: "title", Name: "Title", Type: forms.Text},
		"pickup":  {ID: "pickup", Name: "Pickup", Type: forms.Datetime},
		"invoice": {ID: "invoice", Name: "Invoice", Type: forms.Text},
	}
}

func TestNormalize(t *testing.T) {
	fs := fields()
	for _, tc := range []struct {
		field, in, want string // want "" with ok: cleared; "!" an error
	}{
		{"reason", `"returns:wrong size"`, `"Returns: Wrong size"`},
		{"reason", `"Returns"`, "!"},
		{"reason", `"Food"`, "!"},
		{"order", `"AB-1234"`, `"AB-1234"`},
		{"order", `"AB-12345"`, "!"},
		{"order", `"xAB-1234"`, "!"},
		{"refund", `true`, `true`},
		{"refund", `"yes"`, "!"},
		{"amount", `12.50`, `12.5`},
		{"amount", `"12"`, "!"},
		{"items", `3`, `3`},
		{"items", `3.5`, "!"},
		{"items", `1e30`, "!"},
		{"note", `"line 1\nline 2"`, `"line 1\nline 2"`},
		{"title", `"a\nb"`, "!"},
		{"title", `"` + strings.Repeat("x", forms.MaxTextLength+1) + `"`, "!"},
		{"title", `"  spaced  "`, `"spaced"`},
		{"title", `"  "`, ""},
		{"title", `null`, ""},
		{"pickup", `"2026-03-01T10:30:00+01:00"`, `"2026-03-01T09:30:00Z"`},
		{"pickup", `"tomorrow"`, "!"},
		{"title", `{"a":1}`, "!"},
	} {
		got, err := forms.Normalize(fs[tc.field], "values."+tc.field, json.RawMessage(tc.in))
		switch {
		case tc.want == "!":
			var fe *forms.Error
			if !errors.As(err, &fe) || fe.Field != "values."+tc.field {
				t.Errorf("%s %s: %s, %v; want an error on the field", tc.field, tc.in, got, err)
			}
		case err != nil:
			t.Errorf("%s %s: %v", tc.field, tc.in, err)
		case string(got) != tc.want:
			t.Errorf("%s %s: %s, want %q", tc.field, tc.in, got, tc.want)
		}
	}
}

func TestNormalizeOptionsAndPatterns(t *testing.T) {
	got, err := forms.NormalizeOptions("options", []string{" Clothing :Shirts", "Food"})
	if err != nil || !slices.Equal(got, []string{"Clothing: Shirts", "Food"}) {
		t.Errorf("options %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {"A", "a"}, {"A::B"}, {"a:b:c:d:e:f"}, {strings.Repeat("x", 101)}} {
		if _, err := forms.NormalizeOptions("options", bad); err == nil {
			t.Errorf("options %q accepted", bad)
		}
	}
	if _, err := forms.CompilePattern("pattern", "([a-z]"); err == nil {
		t.Error("a broken pattern compiled")
	}
}

func TestValidateItems(t *testing.T) {
	fs := fields()
	when := func(id string, vs ...string) *forms.Condition { return &forms.Condition{FieldID: id, Values: vs} }
	for _, tc := range []struct {
		name  string
		items []forms.Item
		field string // "" valid
	}{
		{"plain", []forms.Item{{FieldID: "reason", Required: true}, {FieldID: "order"}}, ""},
		{"conditional twice", []forms.Item{{FieldID: "reason"}, {FieldID: "refund"},
			{FieldID: "amount", ShowWhen: when("reason", "Returns")}, {FieldID: "amount", ShowWhen: when("refund", "true")}}, ""},
		{"twice unconditional", []forms.Item{{FieldID: "order"}, {FieldID: "order"}}, "items[0].showWhen"},
		{"twice, once conditional", []forms.Item{{FieldID: "reason"}, {FieldID: "order", ShowWhen: when("reason", "Billing")}, {FieldID: "order"}}, "items[2].showWhen"},
		{"unknown field", []forms.Item{{FieldID: "nope"}}, "items[0].fieldId"},
		{"condition on a later field", []forms.Item{{FieldID: "order", ShowWhen: when("reason", "Billing")}, {FieldID: "reason"}}, "items[0].showWhen.fieldId"},
		{"condition without values", []forms.Item{{FieldID: "reason"}, {FieldID: "order", ShowWhen: when("reason")}}, "items[1].showWhen.values"},
		{"checkbox condition", []forms.Item{{FieldID: "refund"}, {FieldID: "amount", ShowWhen: when("refund", "yes")}}, "items[1].showWhen.values[0]"},
		{"dropdown condition", []forms.Item{{FieldID: "reason"}, {FieldID: "amount", ShowWhen: when("reason", "Food")}}, "items[1].showWhen.values[0]"},
	} {
		err := forms.ValidateItems(tc.items, fs)
		var fe *forms.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: %v, want an error on %s", tc.name, err, tc.field)
		}
	}
	many := make(map[string]forms.Field)
	var items []forms.Item
	for i := range forms.MaxFieldsPerConversation + 1 {
		id := "f" + strings.Repeat("x", i)
		many[id] = forms.Field{ID: id, Name: id, Type: forms.Text}
		items = append(items, forms.Item{FieldID: id})
	}
	if err := forms.ValidateItems(items, many); err == nil {
		t.Error("a form of 501 fields was accepted")
	}
}

// Conditional fields show when their condition holds (a dropdown's level matches its
// options below it), a field placed twice shows once when either place does and is
// mandatory when a shown place is; only shown mandatory empty fields are missing, and
// a mandatory checkbox must be checked.
func TestEvaluate(t *testing.T) {
	fs := fields()
	items := []forms.Item{
		{FieldID: "reason", Required: true},
		{FieldID: "refund"},
		{FieldID: "order", Required: true, ShowWhen: &forms.Condition{FieldID: "reason", Values: []string{"Returns"}}},
		{FieldID: "amount", ShowWhen: &forms.Condition{FieldID: "refund", Values: []string{"true"}}},
		{FieldID: "amount", Required: true, ShowWhen: &forms.Condition{FieldID: "reason", Values: []string{"Billing"}}},
		{FieldID: "invoice", Required: true, ShowWhen: &forms.Condition{FieldID: "amount", Values: []string{"10"}}},
	}
	v := func(kv ...string) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = json.RawMessage(kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		values  map[string]json.RawMessage
		visible []string
		missing []string
	}{
		{"empty", v(), []string{"reason", "refund"}, []string{"reason"}},
		{"returns", v("reason", `"Returns: Damaged"`), []string{"reason", "refund", "order"}, []string{"order"}},
		{"returns filled", v("reason", `"Returns: Damaged"`, "order", `"AB-1234"`), []string{"reason", "refund", "order"}, nil},
		{"refund optional", v("reason", `"Returns: Damaged"`, "order", `"AB-1234"`, "refund", `true`), []string{"reason", "refund", "order", "amount"}, nil},
		{"billing needs amount", v("reason", `"Billing"`), []string{"reason", "refund", "amount"}, []string{"amount"}},
		{"chained", v("reason", `"Billing"`, "amount", `10`), []string{"reason", "refund", "amount", "invoice"}, []string{"invoice"}},
		{"hidden keeps value", v("reason", `"Billing"`, "order", `"AB-1234"`, "amount", `3`), []string{"reason", "refund", "amount"}, nil},
	} {
		shown := forms.Evaluate(items, fs, tc.values)
		var visible []string
		for _, s := range shown {
			if s.Visible {
				visible = append(visible, s.FieldID)
			}
		}
		if len(shown) != 5 || !slices.Equal(visible, tc.visible) || !slices.Equal(forms.Missing(shown), tc.missing) {
			t.Errorf("%s: shown %+v visible %v missing %v; want %v and %v", tc.name, shown, visible, forms.Missing(shown), tc.visible, tc.missing)
		}
	}
	check := []forms.Item{{FieldID: "refund", Required: true}}
	if m := forms.Missing(forms.Evaluate(check, fs, v("refund", `false`))); !slices.Equal(m, []string{"refund"}) {
		t.Errorf("an unchecked mandatory checkbox: missing %v", m)
	}
	if m := forms.Missing(forms.Evaluate(check, fs, v("refund", `true`))); len(m) != 0 {
		t.Errorf("a checked mandatory checkbox: missing %v", m)
	}
}
