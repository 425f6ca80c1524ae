package api_test

import (
	"net/http"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

// Input fields and forms: admins and supervisors write them, every role reads them;
// bad fields, items and triggers are refused naming the field; a field on a form is
// not deleted; form values are checked against their fields before any workflow.
func TestFormAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	reason := decodeJSON[pgstore.FormField](t, x.do(t, http.MethodPost, "/v1/forms/fields", x.admin, "",
		map[string]any{"name": "Reason", "type": "dropdown", "options": []string{"Returns: Damaged", "Billing"}}, http.StatusCreated))
	order := decodeJSON[pgstore.FormField](t, x.do(t, http.MethodPost, "/v1/forms/fields", x.sup, "",
		map[string]any{"name": "Order number", "type": "regex", "pattern": "[A-Z]{2}-[0-9]{4}"}, http.StatusCreated))
	x.wantError(t, http.MethodPost, "/v1/forms/fields", x.admin, "", map[string]any{"name": "x", "type": "colour"}, http.StatusUnprocessableEntity, api.CodeInvalid, "type")
	x.wantError(t, http.MethodPost, "/v1/forms/fields", x.admin, "", map[string]any{"name": "x", "type": "regex", "pattern": "(["}, http.StatusUnprocessableEntity, api.CodeInvalid, "pattern")
	x.wantError(t, http.MethodPost, "/v1/forms/fields", x.admin, "", map[string]any{"name": "reason", "type": "text"}, http.StatusConflict, api.CodeConflict, "")
	x.wantError(t, http.MethodPost, "/v1/forms/fields", x.agent, "", map[string]any{"name": "x", "type": "text"}, http.StatusForbidden, api.CodeForbidden, "")
	fields := decodeJSON[struct{ Items []pgstore.FormField }](t, x.do(t, http.MethodGet, "/v1/forms/fields", x.agent, "", nil, http.StatusOK))
	if len(fields.Items) != 2 || fields.Items[0].ID != order.ID {
		t.Fatalf("fields %+v", fields.Items)
	}

	form := decodeJSON[pgstore.Form](t, x.do(t, http.MethodPost, "/v1/forms", x.admin, "", map[string]any{
		"name": "Returns", "isDefault": true,
		"trigger": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"returns"}},
		"items": []any{map[string]any{"fieldId": reason.ID, "required": true},
			map[string]any{"fieldId": order.ID, "required": true, "showWhen": map[string]any{"fieldId": reason.ID, "values": []string{"Returns"}}}},
	}, http.StatusCreated))
	if !form.IsDefault || form.Position != 1 || len(form.Items) != 2 || form.Trigger == nil {
		t.Fatalf("form %+v", form)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "items": []any{map[string]any{"fieldId": order.ID}, map[string]any{"fieldId": order.ID}}}, "items[0].showWhen"},
		{map[string]any{"name": "x", "items": []any{map[string]any{"fieldId": "00000000-0000-0000-0000-000000000001"}}}, "items[0].fieldId"},
		{map[string]any{"name": "x", "items": []any{map[string]any{"fieldId": reason.ID}, map[string]any{"fieldId": order.ID, "showWhen": map[string]any{"fieldId": reason.ID, "values": []string{"Food"}}}}}, "items[1].showWhen.values[0]"},
		{map[string]any{"name": "x", "trigger": map[string]any{"attr": "weather", "op": "is", "value": "rain"}}, "trigger.attr"},
		{map[string]any{"name": "x", "items": []any{map[string]any{"fieldId": reason.ID, "mandatory": true}}}, "items.mandatory"},
	} {
		x.wantError(t, http.MethodPost, "/v1/forms", x.admin, "", tc.body, http.StatusUnprocessableEntity, api.CodeInvalid, tc.field)
	}
	x.wantError(t, http.MethodDelete, "/v1/forms/fields/"+order.ID, x.admin, "", nil, http.StatusConflict, api.CodeConflict, "")
	upd := decodeJSON[pgstore.Form](t, x.do(t, http.MethodPatch, "/v1/forms/"+form.ID, x.sup, "", map[string]any{"trigger": nil, "items": []any{map[string]any{"fieldId": reason.ID}}}, http.StatusOK))
	if upd.Trigger != nil || len(upd.Items) != 1 {
		t.Errorf("updated %+v", upd)
	}
	x.do(t, http.MethodDelete, "/v1/forms/fields/"+order.ID, x.admin, "", nil, http.StatusNoContent)
	list := decodeJSON[struct{ Items []pgstore.Form }](t, x.do(t, http.MethodGet, "/v1/forms", x.agent, "", nil, http.StatusOK))
	if len(list.Items) != 1 {
		t.Errorf("forms %+v", list.Items)
	}
	x.wantError(t, http.MethodGet, "/v1/forms/"+form.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	// Refused before the workflow.
	ix := "/v1/interactions/6f1c2c3e-0000-4000-8000-000000000001"
	x.wantError(t, http.MethodPut, ix+"/form-values", x.sup, "", map[string]any{"values": map[string]any{reason.ID: "Food"}}, http.StatusUnprocessableEntity, api.CodeInvalid, "values."+reason.ID)
	x.wantError(t, http.MethodPut, ix+"/form-values", x.sup, "", map[string]any{"values": map[string]any{"reason": "Billing"}}, http.StatusUnprocessableEntity, api.CodeInvalid, "values.reason")
	x.wantError(t, http.MethodPut, ix+"/form-values", x.sup, "", map[string]any{"values": map[string]any{}}, http.StatusUnprocessableEntity, api.CodeInvalid, "values")
	x.wantError(t, http.MethodPut, ix+"/form", x.sup, "", map[string]any{"formId": "00000000-0000-0000-0000-000000000001"}, http.StatusUnprocessableEntity, api.CodeInvalid, "formId")
	x.do(t, http.MethodDelete, "/v1/forms/"+form.ID, x.admin, "", nil, http.StatusNoContent)
}
