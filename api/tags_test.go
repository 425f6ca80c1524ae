package api_test

import (
	"net/http"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

// The tag catalogue: admins and supervisors write it, every role reads it (agents
// pick tags), other tenants see nothing; bad input names the field.
func TestTagAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	vip := decodeJSON[pgstore.Tag](t, x.do(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "VIP", "description": "Gold"}, http.StatusCreated))
	if vip.Kind != pgstore.TagConversation || vip.Name != "VIP" {
		t.Fatalf("created %+v", vip)
	}
	esc := decodeJSON[pgstore.Tag](t, x.do(t, http.MethodPost, "/v1/tags", x.sup, "", map[string]any{"name": "Escalation", "kind": "macro"}, http.StatusCreated))
	x.wantError(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "vip"}, http.StatusConflict, api.CodeConflict, "")
	x.wantError(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": ""}, http.StatusUnprocessableEntity, api.CodeInvalid, "name")
	x.wantError(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "x", "kind": "people"}, http.StatusUnprocessableEntity, api.CodeInvalid, "kind")
	x.wantError(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "x", "colour": "red"}, http.StatusUnprocessableEntity, api.CodeInvalid, "colour")
	x.wantError(t, http.MethodPost, "/v1/tags", x.agent, "", map[string]any{"name": "x"}, http.StatusForbidden, api.CodeForbidden, "")

	list := decodeJSON[struct{ Items []pgstore.Tag }](t, x.do(t, http.MethodGet, "/v1/tags", x.agent, "", nil, http.StatusOK))
	if len(list.Items) != 2 || list.Items[0].ID != vip.ID || list.Items[1].ID != esc.ID {
		t.Fatalf("listed %+v", list.Items)
	}
	macros := decodeJSON[struct{ Items []pgstore.Tag }](t, x.do(t, http.MethodGet, "/v1/tags?kind=macro", x.agent, "", nil, http.StatusOK))
	if len(macros.Items) != 1 || macros.Items[0].ID != esc.ID {
		t.Fatalf("macro tags %+v", macros.Items)
	}
	x.wantError(t, http.MethodGet, "/v1/tags?kind=x", x.agent, "", nil, http.StatusUnprocessableEntity, api.CodeInvalid, "kind")

	renamed := decodeJSON[pgstore.Tag](t, x.do(t, http.MethodPatch, "/v1/tags/"+vip.ID, x.sup, "", map[string]any{"name": "Gold"}, http.StatusOK))
	if renamed.Name != "Gold" || renamed.Description != "Gold" {
		t.Errorf("renamed %+v", renamed)
	}
	x.wantError(t, http.MethodGet, "/v1/tags/"+vip.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodPatch, "/v1/tags/"+vip.ID, x.theirAdmin, "", map[string]any{"name": "x"}, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodDelete, "/v1/tags/"+vip.ID, x.agent, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.do(t, http.MethodDelete, "/v1/tags/"+vip.ID, x.admin, "", nil, http.StatusNoContent)
	x.wantError(t, http.MethodGet, "/v1/tags/"+vip.ID, x.admin, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	// Refused before any workflow is reached: unknown tags, an empty change, bad
	// history filters.
	ix := "6f1c2c3e-0000-4000-8000-000000000001"
	x.wantError(t, http.MethodPost, "/v1/interactions/"+ix+"/tags", x.sup, "", map[string]any{"add": []string{"nope"}}, http.StatusUnprocessableEntity, api.CodeInvalid, "add[0]")
	x.wantError(t, http.MethodPost, "/v1/interactions/"+ix+"/tags", x.sup, "", map[string]any{}, http.StatusUnprocessableEntity, api.CodeInvalid, "add")
	x.wantError(t, http.MethodPost, "/v1/interactions/"+ix+"/tags", x.sup, "", map[string]any{"remove": []string{"\t"}}, http.StatusUnprocessableEntity, api.CodeInvalid, "remove[0]")
	x.wantError(t, http.MethodPut, "/v1/interactions/"+ix+"/priority", x.sup, "", map[string]any{"priority": "asap"}, http.StatusBadRequest, api.CodeMalformed, "")
	x.wantError(t, http.MethodPut, "/v1/interactions/"+ix+"/priority", x.sup, "", map[string]any{}, http.StatusUnprocessableEntity, api.CodeInvalid, "priority")
	x.wantError(t, http.MethodPut, "/v1/interactions/"+ix+"/subject", x.sup, "", map[string]any{"subject": "a\nb"}, http.StatusUnprocessableEntity, api.CodeInvalid, "subject")
	x.wantError(t, http.MethodGet, "/v1/history?sentiment=grumpy", x.sup, "", nil, http.StatusBadRequest, api.CodeMalformed, "sentiment")
	x.wantError(t, http.MethodGet, "/v1/history?formId=x", x.sup, "", nil, http.StatusBadRequest, api.CodeMalformed, "formId")
	x.do(t, http.MethodGet, "/v1/history?tag=Gold", x.sup, "", nil, http.StatusOK)
}
