package api_test

import (
	"net/http"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

// Macros: admins and supervisors write them; agents see only the active macros
// available to their queues; bad actions are refused naming the field.
func TestMacroAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	tag := decodeJSON[pgstore.Tag](t, x.do(t, http.MethodPost, "/v1/tags", x.admin, "", map[string]any{"name": "VIP"}, http.StatusCreated))
	queue := decodeJSON[pgstore.Queue](t, x.do(t, http.MethodPost, "/v1/queues", x.admin, "", map[string]any{"name": "Sales"}, http.StatusCreated))
	m := decodeJSON[pgstore.Macro](t, x.do(t, http.MethodPost, "/v1/macros", x.sup, "", map[string]any{
		"name": "Escalate", "availability": "queues", "queueIds": []string{queue.ID},
		"actions": []any{map[string]any{"type": "priority", "priority": "urgent"}, map[string]any{"type": "tag", "tagIds": []string{tag.ID}}},
	}, http.StatusCreated))
	all := decodeJSON[pgstore.Macro](t, x.do(t, http.MethodPost, "/v1/macros", x.admin, "", map[string]any{
		"name": "Greet", "actions": []any{map[string]any{"type": "template", "templates": map[string]string{"web_chat": "Hi!"}}},
	}, http.StatusCreated))
	x.wantError(t, http.MethodPost, "/v1/macros", x.agent, "", map[string]any{"name": "x"}, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodPost, "/v1/macros", x.admin, "", map[string]any{"name": "x", "actions": []any{map[string]any{"type": "status", "status": "done"}}},
		http.StatusUnprocessableEntity, api.CodeInvalid, "actions[0].status")
	x.wantError(t, http.MethodPost, "/v1/macros", x.admin, "", map[string]any{"name": "x", "actions": []any{map[string]any{"type": "launch"}}},
		http.StatusUnprocessableEntity, api.CodeInvalid, "actions[0].type")
	x.wantError(t, http.MethodGet, "/v1/macros?sort=size", x.admin, "", nil, http.StatusUnprocessableEntity, api.CodeInvalid, "sort")
	x.wantError(t, http.MethodGet, "/v1/macros?colour=red", x.admin, "", nil, http.StatusUnprocessableEntity, api.CodeInvalid, "colour")

	// The agent is in no queue of Escalate: they see Greet only.
	seen := decodeJSON[struct{ Items []pgstore.Macro }](t, x.do(t, http.MethodGet, "/v1/macros", x.agent, "", nil, http.StatusOK))
	if len(seen.Items) != 1 || seen.Items[0].ID != all.ID {
		t.Errorf("the agent sees %+v", seen.Items)
	}
	x.wantError(t, http.MethodGet, "/v1/macros/"+m.ID, x.agent, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	sup := decodeJSON[struct{ Items []pgstore.Macro }](t, x.do(t, http.MethodGet, "/v1/macros?sort=-name", x.sup, "", nil, http.StatusOK))
	if len(sup.Items) != 2 || sup.Items[0].ID != all.ID {
		t.Errorf("the supervisor sees %+v", sup.Items)
	}
	dup := decodeJSON[pgstore.Macro](t, x.do(t, http.MethodPost, "/v1/macros/"+m.ID+"/duplicate", x.admin, "", nil, http.StatusCreated))
	if dup.Name != "Escalate (copy)" || len(dup.Actions) != 2 {
		t.Errorf("duplicate %+v", dup)
	}
	off := decodeJSON[pgstore.Macro](t, x.do(t, http.MethodPatch, "/v1/macros/"+all.ID, x.admin, "", map[string]any{"status": "inactive"}, http.StatusOK))
	if off.Status != "inactive" {
		t.Errorf("patched %+v", off)
	}
	if seen := decodeJSON[struct{ Items []pgstore.Macro }](t, x.do(t, http.MethodGet, "/v1/macros", x.agent, "", nil, http.StatusOK)); len(seen.Items) != 0 {
		t.Errorf("an inactive macro is offered to the agent: %+v", seen.Items)
	}
	x.wantError(t, http.MethodPost, "/v1/interactions/6f1c2c3e-0000-4000-8000-000000000001/macros/"+all.ID, x.admin, "", nil, http.StatusConflict, api.CodeActionNotAllowed, "")
	x.wantError(t, http.MethodGet, "/v1/macros/"+m.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.do(t, http.MethodDelete, "/v1/macros/"+dup.ID, x.admin, "", nil, http.StatusNoContent)
	x.wantError(t, http.MethodGet, "/v1/macros/"+dup.ID, x.admin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
}
