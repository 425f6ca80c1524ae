package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

func TestAutomationsAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	survey := map[string]any{"name": "Survey after solved",
		"triggers": []any{map[string]any{"type": "solvedFor", "after": map[string]any{"seconds": 10}}},
		"actions":  []any{map[string]any{"type": "sendSurvey"}}}
	a := decodeJSON[pgstore.Automation](t, x.do(t, http.MethodPost, "/v1/automations", x.admin, "", survey, http.StatusCreated))
	if a.Position != 1 || !a.Enabled || a.Triggers[0].After.Seconds != 10 || len(a.Conditions) != 0 {
		t.Fatalf("created %+v", a)
	}
	unhappy := map[string]any{"name": "Unhappy", "position": 1,
		"triggers": []any{map[string]any{"type": "surveyFeedbackReceived", "scores": []string{"notHappy"}}},
		"conditions": []any{map[string]any{"anyOf": []any{
			map[string]any{"attribute": "channel", "operator": "isNotInList", "values": []string{"calls"}},
			map[string]any{"attribute": "companyAttribute", "field": "seats", "valueType": "wholeNumber", "operator": "is", "values": []string{"5"}}}}},
		"actions": []any{
			map[string]any{"type": "callApi", "request": map[string]any{"method": "POST", "url": "https://crm.example/unhappy/{{conversation.shortId}}",
				"headers": []any{map[string]any{"name": "X-Score", "value": "{{survey.score}}"}}, "body": `{"id":"{{conversation.id}}"}`}},
			map[string]any{"type": "applyTags", "tags": []string{"unhappy"}}}}
	x.wantError(t, http.MethodPost, "/v1/automations", x.admin, "", unhappy, http.StatusUnprocessableEntity, api.CodeInvalid, "actions[1].tags[0]")
	x.do(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "Unhappy"}, http.StatusCreated)
	b := decodeJSON[pgstore.Automation](t, x.do(t, http.MethodPost, "/v1/automations", x.admin, "", unhappy, http.StatusCreated))
	if b.Position != 1 || b.Actions[0].Request.ContentType != "json" {
		t.Errorf("inserted %+v", b)
	}
	list := decodeJSON[struct{ Items []pgstore.Automation }](t, x.do(t, http.MethodGet, "/v1/automations", x.sup, "", nil, http.StatusOK))
	if len(list.Items) != 2 || list.Items[0].ID != b.ID {
		t.Fatalf("list %+v", list.Items)
	}

	// The documented error format, naming the field, for every kind of bad rule.
	rule := func(mod func(map[string]any)) map[string]any {
		r := map[string]any{"name": "Bad", "triggers": []any{map[string]any{"type": "noteCreated"}}, "actions": []any{map[string]any{"type": "sendSurvey"}}}
		mod(r)
		return r
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"close not last", rule(func(r map[string]any) {
			r["actions"] = []any{map[string]any{"type": "closeConversation"}, map[string]any{"type": "sendSurvey"}}
		}), "actions[0].type"},
		{"91-day timer", rule(func(r map[string]any) {
			r["triggers"] = []any{map[string]any{"type": "waitingFor", "after": map[string]any{"days": 91}}}
		}), "triggers[0].after"},
		{"5-second timer", rule(func(r map[string]any) {
			r["triggers"] = []any{map[string]any{"type": "solvedFor", "after": map[string]any{"seconds": 5}}}
		}), "triggers[0].after"},
		{"unknown attribute", rule(func(r map[string]any) {
			r["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "shoeSize", "operator": "is", "values": []string{"9"}}}}}
		}), "conditions[0].anyOf[0].attribute"},
		{"unknown operator", rule(func(r map[string]any) {
			r["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "tag", "operator": "matches", "values": []string{"x"}}}}}
		}), "conditions[0].anyOf[0].operator"},
		{"unknown value", rule(func(r map[string]any) {
			r["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "agentStatus", "operator": "isInList", "values": []string{"sleepy"}}}}}
		}), "conditions[0].anyOf[0].values[0]"},
		{"unknown queue", rule(func(r map[string]any) {
			r["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "queue", "operator": "isInList", "values": []string{"00000000-0000-4000-8000-000000000001"}}}}}
		}), "conditions[0].anyOf[0].values[0]"},
		{"unknown trigger", rule(func(r map[string]any) { r["triggers"] = []any{map[string]any{"type": "fullMoon"}} }), "triggers[0].type"},
		{"unknown action", rule(func(r map[string]any) { r["actions"] = []any{map[string]any{"type": "sendFax"}} }), "actions[0].type"},
		{"unknown placeholder", rule(func(r map[string]any) {
			r["actions"] = []any{map[string]any{"type": "sendMessage", "message": "Hi {{customer.nickname}}"}}
		}), "actions[0].message"},
		{"no actions", rule(func(r map[string]any) { r["actions"] = []any{} }), "actions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x.wantError(t, http.MethodPost, "/v1/automations", x.admin, "", tc.body, http.StatusUnprocessableEntity, api.CodeInvalid, tc.field)
		})
	}
	x.wantError(t, http.MethodPost, "/v1/automations", x.admin, "", rule(func(r map[string]any) { r["mood"] = "x" }), http.StatusUnprocessableEntity, api.CodeInvalid, "mood")
	x.wantError(t, http.MethodPost, "/v1/automations", x.admin, "", rule(func(r map[string]any) {
		r["triggers"] = []any{map[string]any{"type": "noteCreated", "when": "now"}}
	}), http.StatusUnprocessableEntity, api.CodeInvalid, "triggers.when")
	x.wantError(t, http.MethodPost, "/v1/automations", x.admin, "", rule(func(r map[string]any) {
		r["triggers"] = []any{map[string]any{"type": "solvedFor", "after": map[string]any{"seconds": "ten"}}}
	}), http.StatusBadRequest, api.CodeMalformed, "triggers.after.seconds")

	// Edit, disable and enable, reorder, delete.
	upd := decodeJSON[pgstore.Automation](t, x.do(t, http.MethodPatch, "/v1/automations/"+a.ID, x.admin, "", map[string]any{"position": 1,
		"actions": []any{map[string]any{"type": "sendSurvey"}, map[string]any{"type": "closeConversation"}}}, http.StatusOK))
	if upd.Position != 1 || len(upd.Actions) != 2 {
		t.Errorf("updated %+v", upd)
	}
	x.wantError(t, http.MethodPatch, "/v1/automations/"+a.ID, x.admin, "", map[string]any{
		"actions": []any{map[string]any{"type": "closeConversation"}, map[string]any{"type": "sendSurvey"}}}, http.StatusUnprocessableEntity, api.CodeInvalid, "actions[0].type")
	if d := decodeJSON[pgstore.Automation](t, x.do(t, http.MethodPost, "/v1/automations/"+a.ID+"/disable", x.admin, "", nil, http.StatusOK)); d.Enabled {
		t.Error("still enabled")
	}
	if on := decodeJSON[struct{ Items []pgstore.Automation }](t, x.do(t, http.MethodGet, "/v1/automations?enabled=true", x.admin, "", nil, http.StatusOK)); len(on.Items) != 1 {
		t.Errorf("enabled: %d", len(on.Items))
	}
	x.do(t, http.MethodPost, "/v1/automations/"+a.ID+"/enable", x.admin, "", nil, http.StatusOK)
	re := decodeJSON[struct{ Items []pgstore.Automation }](t, x.do(t, http.MethodPut, "/v1/automations/order", x.admin, "", map[string]any{"automationIds": []string{b.ID, a.ID}}, http.StatusOK))
	if re.Items[0].ID != b.ID {
		t.Errorf("reordered %+v", re.Items)
	}
	x.wantError(t, http.MethodPut, "/v1/automations/order", x.admin, "", map[string]any{"automationIds": []string{a.ID}}, http.StatusConflict, api.CodeConflict, "")

	// The log is readable, empty so far.
	runs := decodeJSON[struct{ Items []pgstore.AutomationRun }](t, x.do(t, http.MethodGet, "/v1/automations/"+a.ID+"/runs", x.sup, "", nil, http.StatusOK))
	if len(runs.Items) != 0 {
		t.Errorf("runs %+v", runs.Items)
	}
	x.wantError(t, http.MethodGet, "/v1/automations/"+a.ID+"/runs?status=odd", x.sup, "", nil, http.StatusUnprocessableEntity, api.CodeInvalid, "status")

	// Roles and tenants.
	x.wantError(t, http.MethodPost, "/v1/automations", x.sup, "", survey, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, "/v1/automations", x.agent, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, "/v1/automations/"+a.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodDelete, "/v1/automations/"+a.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodGet, "/v1/automations/"+a.ID+"/runs", x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	x.do(t, http.MethodDelete, "/v1/automations/"+a.ID, x.admin, "", nil, http.StatusNoContent)
	x.wantError(t, http.MethodGet, "/v1/automations/"+a.ID, x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	// SMTP settings: the password is never answered.
	x.wantError(t, http.MethodGet, "/v1/automations/smtp", x.admin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	body := x.do(t, http.MethodPut, "/v1/automations/smtp", x.admin, "", map[string]any{"host": "127.0.0.1", "port": 2525, "security": "none",
		"username": "bot", "password": "hunter2", "fromAddress": "no-reply@acme.test"}, http.StatusOK)
	if strings.Contains(string(body), "hunter2") || !strings.Contains(string(body), `"passwordSet":true`) {
		t.Errorf("settings answer %s", body)
	}
	if got := x.do(t, http.MethodGet, "/v1/automations/smtp", x.admin, "", nil, http.StatusOK); strings.Contains(string(got), "hunter2") {
		t.Errorf("read answers the password: %s", got)
	}
	x.wantError(t, http.MethodPut, "/v1/automations/smtp", x.admin, "", map[string]any{"host": "h", "port": 25, "security": "ssl", "fromAddress": "a@b.test"},
		http.StatusUnprocessableEntity, api.CodeInvalid, "security")
	x.wantError(t, http.MethodPut, "/v1/automations/smtp", x.admin, "", map[string]any{"host": "h", "port": 25, "security": "none", "fromAddress": "a@b.test", "passwordSet": true},
		http.StatusUnprocessableEntity, api.CodeInvalid, "passwordSet")
	x.wantError(t, http.MethodGet, "/v1/automations/smtp", x.sup, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	if s, err := x.store.GetSMTPSettings(context.Background(), a.TenantID); err != nil || s.Password != "hunter2" {
		t.Errorf("stored %+v %v", s, err)
	}
	x.do(t, http.MethodDelete, "/v1/automations/smtp", x.admin, "", nil, http.StatusNoContent)
}
