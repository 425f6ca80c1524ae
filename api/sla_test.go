package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/api"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sla"
)

func TestSLAPolicyAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	sev := map[string]any{"name": "Default", "default": true, "firstResponseMinutes": 15, "nextReplyMinutes": 10, "resolutionMinutes": 480, "counting": "workingHours"}
	policy := func(name string, extra map[string]any) map[string]any {
		b := map[string]any{"name": name, "condition": map[string]any{"all": []any{
			map[string]any{"attr": "customer.company", "op": "is", "value": "A"},
			map[string]any{"any": []any{map[string]any{"attr": "channel", "op": "is", "value": "live_chat"}, map[string]any{"attr": "tags", "op": "contains", "value": "vip"}}},
		}}, "severities": []any{sev}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	a := decodeJSON[pgstore.SLAPolicy](t, x.do(t, http.MethodPost, "/v1/sla-policies", x.admin, "", policy("A", map[string]any{
		"validFrom": "2026-01-01T00:00:00Z", "validTo": "2027-01-01T00:00:00Z", "excludeAutomated": true}), http.StatusCreated))
	if a.Position != 1 || !a.Enabled || !a.ExcludeAutomated || a.ValidFrom == nil || a.Queues.Mode != "any" || len(a.Severities) != 1 || a.Severities[0].ID == "" {
		t.Fatalf("created %+v", a)
	}
	b := decodeJSON[pgstore.SLAPolicy](t, x.do(t, http.MethodPost, "/v1/sla-policies", x.admin, "", policy("B", map[string]any{"position": 1}), http.StatusCreated))
	if b.Position != 1 {
		t.Errorf("sent to top at %d", b.Position)
	}
	list := decodeJSON[struct{ Items []pgstore.SLAPolicy }](t, x.do(t, http.MethodGet, "/v1/sla-policies", x.sup, "", nil, http.StatusOK))
	if len(list.Items) != 2 || list.Items[0].ID != b.ID || list.Items[1].ID != a.ID {
		t.Fatalf("list %+v", list.Items)
	}

	// Move A to the top, then change its severities keeping the default's ID.
	moved := decodeJSON[pgstore.SLAPolicy](t, x.do(t, http.MethodPatch, "/v1/sla-policies/"+a.ID, x.admin, "", map[string]any{"position": 1}, http.StatusOK))
	if moved.Position != 1 {
		t.Errorf("moved to %d", moved.Position)
	}
	keep := map[string]any{"id": a.Severities[0].ID, "name": "Default", "default": true, "resolutionMinutes": 60, "counting": "always"}
	upd := decodeJSON[pgstore.SLAPolicy](t, x.do(t, http.MethodPatch, "/v1/sla-policies/"+a.ID, x.admin, "", map[string]any{
		"severities": []any{keep, map[string]any{"name": "Severity 1", "firstResponseMinutes": 5, "counting": "always"}},
		"validity":   map[string]any{"from": nil, "to": nil}, "enabled": false}, http.StatusOK))
	if len(upd.Severities) != 2 || upd.Severities[0].ID != a.Severities[0].ID || upd.ValidFrom != nil || upd.Enabled {
		t.Errorf("updated %+v", upd)
	}
	reordered := decodeJSON[struct{ Items []pgstore.SLAPolicy }](t, x.do(t, http.MethodPut, "/v1/sla-policies/order", x.admin, "",
		map[string]any{"policyIds": []string{b.ID, a.ID}}, http.StatusOK))
	if len(reordered.Items) != 2 || reordered.Items[0].ID != b.ID {
		t.Errorf("reordered %+v", reordered.Items)
	}
	x.wantError(t, http.MethodPut, "/v1/sla-policies/order", x.admin, "", map[string]any{"policyIds": []string{b.ID}}, http.StatusConflict, api.CodeConflict, "")
	x.wantError(t, http.MethodPost, "/v1/sla-policies", x.admin, "", policy("a", nil), http.StatusConflict, api.CodeConflict, "")

	// Admins write, supervisors read; agents and other tenants see nothing.
	x.wantError(t, http.MethodPost, "/v1/sla-policies", x.sup, "", policy("C", nil), http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodPatch, "/v1/sla-policies/"+a.ID, x.sup, "", map[string]any{"enabled": true}, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, "/v1/sla-policies", x.agent, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, "/v1/sla-policies/"+a.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodDelete, "/v1/sla-policies/"+a.ID, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodGet, "/v1/sla-policies/not-an-id", x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	for _, tc := range []struct {
		name  string
		mod   map[string]any
		field string
	}{
		{"unknown attribute", map[string]any{"condition": map[string]any{"any": []any{map[string]any{"attr": "company", "op": "is", "value": "A"}}}}, "condition.any[0].attr"},
		{"unknown operator", map[string]any{"condition": map[string]any{"attr": "channel", "op": "equals", "value": "voice"}}, "condition.op"},
		{"no condition", map[string]any{"condition": nil}, "condition"},
		{"no severity", map[string]any{"severities": []any{}}, "severities"},
		{"no default severity", map[string]any{"severities": []any{map[string]any{"name": "S", "firstResponseMinutes": 5, "counting": "always"}}}, "severities"},
		{"severity without times", map[string]any{"severities": []any{map[string]any{"name": "S", "default": true, "counting": "always"}}}, "severities[0].firstResponseMinutes"},
		{"unknown counting", map[string]any{"severities": []any{map[string]any{"name": "S", "default": true, "resolutionMinutes": 5, "counting": "office"}}}, "severities[0].counting"},
		{"queues applied without any", map[string]any{"queues": map[string]any{"mode": "applied"}}, "queues.queueIds"},
		{"unknown queue", map[string]any{"queues": map[string]any{"mode": "ignored", "queueIds": []string{"00000000-0000-0000-0000-000000000001"}}}, "queues.queueIds[0]"},
		{"validity reversed", map[string]any{"validFrom": "2026-02-01T00:00:00Z", "validTo": "2026-01-01T00:00:00Z"}, "validTo"},
		{"position past the end", map[string]any{"position": 9}, "position"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x.wantError(t, http.MethodPost, "/v1/sla-policies", x.admin, "", policy("Z", tc.mod), http.StatusUnprocessableEntity, api.CodeInvalid, tc.field)
		})
	}
	x.wantError(t, http.MethodPost, "/v1/sla-policies", x.admin, "", map[string]any{"name": "Z", "enabled": "yes"}, http.StatusBadRequest, api.CodeMalformed, "enabled")
	x.wantError(t, http.MethodPatch, "/v1/sla-policies/"+a.ID, x.admin, "", map[string]any{}, http.StatusUnprocessableEntity, api.CodeInvalid, "")

	x.wantError(t, http.MethodDelete, "/v1/sla-policies/"+a.ID, x.sup, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.do(t, http.MethodDelete, "/v1/sla-policies/"+b.ID, x.admin, "", nil, http.StatusNoContent)
	x.wantError(t, http.MethodGet, "/v1/sla-policies/"+b.ID, x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	left := decodeJSON[pgstore.SLAPolicy](t, x.do(t, http.MethodGet, "/v1/sla-policies/"+a.ID, x.sup, "", nil, http.StatusOK))
	if left.Position != 1 {
		t.Errorf("after delete at %d", left.Position)
	}
}

// The SLA read side: a conversation's SLA counted to now with its breach records,
// and supervisors' lists of breached and at-risk conversations, from the clocks'
// read model.
func TestSLAConversationsAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	ctx := context.Background()
	me := decodeJSON[struct {
		Tenant pgstore.Tenant `json:"tenant"`
	}](t, x.do(t, http.MethodGet, "/v1/me", x.admin, "", nil, http.StatusOK))
	tenant := me.Tenant.ID
	q, err := x.store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	p, err := x.store.CreateSLAPolicy(ctx, tenant, pgstore.Actor{}, pgstore.NewSLAPolicy{Name: "Gold",
		Condition:  &routing.Condition{Attr: routing.AttrChannel, Op: routing.OpIs, Value: "live_chat"},
		Severities: []sla.Severity{{Name: "Default", Default: true, FirstResponseSeconds: 60, ResolutionMinutes: 10, Counting: sla.Always}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2 * time.Minute).UTC()
	ix := uuid.NewString()
	rec := pgstore.SLAClockRecord{TenantID: tenant, InteractionID: ix, QueueID: q, StartedAt: start, Open: true, Seq: 1, Generation: 1,
		Match: &pgstore.SLAMatch{PolicyID: p.ID, PolicyName: p.Name, Severity: p.Severities[0]},
		Result: sla.Result{At: start.Add(time.Minute + time.Second), Clocks: []sla.Clock{
			{Metric: sla.FirstResponse, State: sla.Running, Target: time.Minute, Cycle: 1, StartedAt: start, Elapsed: 61 * time.Second,
				Remaining: -time.Second, DueAt: start.Add(time.Minute), Breached: true, BreachedAt: start.Add(time.Minute)},
			{Metric: sla.Resolution, State: sla.Running, Target: 10 * time.Minute, Cycle: 1, StartedAt: start, Elapsed: 61 * time.Second,
				Remaining: 539 * time.Second, DueAt: start.Add(10 * time.Minute)},
		}, Breaches: []sla.Breach{{Metric: sla.FirstResponse, Cycle: 1, At: start.Add(time.Minute)}}},
	}
	if _, err := x.store.WriteSLAClock(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got := decodeJSON[struct {
		pgstore.SLAConversation
		BreachRecords []pgstore.SLABreach `json:"breachRecords"`
	}](t, x.do(t, http.MethodGet, "/v1/interactions/"+ix+"/sla", x.sup, "", nil, http.StatusOK))
	if got.Policy == nil || got.Policy.Name != "Gold" || len(got.Metrics) != 2 || len(got.BreachRecords) != 1 || got.BreachRecords[0].Metric != sla.FirstResponse {
		t.Fatalf("conversation SLA %+v", got)
	}
	if r := got.Metrics[1]; r.RemainingSeconds > 480 || r.RemainingSeconds < 470 || r.State != sla.Running {
		t.Errorf("resolution not counted to now: %+v", r)
	}
	// Agents read only their own conversations; unknown ones are not found.
	x.wantError(t, http.MethodGet, "/v1/interactions/"+ix+"/sla", x.agent, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodGet, "/v1/interactions/"+uuid.NewString()+"/sla", x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodGet, "/v1/interactions/"+ix+"/sla", x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")

	type page struct {
		Items     []pgstore.SLAConversation `json:"items"`
		NextAfter string                    `json:"nextAfter"`
	}
	breached := decodeJSON[page](t, x.do(t, http.MethodGet, "/v1/sla/conversations?state=breached&limit=1", x.sup, "", nil, http.StatusOK))
	if len(breached.Items) != 1 || breached.Items[0].InteractionID != ix || breached.NextAfter == "" {
		t.Fatalf("breached %+v", breached)
	}
	next := decodeJSON[page](t, x.do(t, http.MethodGet, "/v1/sla/conversations?state=breached&limit=1&after="+breached.NextAfter, x.sup, "", nil, http.StatusOK))
	if len(next.Items) != 0 || next.NextAfter != "" {
		t.Errorf("second page %+v", next)
	}
	for _, c := range []struct {
		query string
		n     int
	}{{"state=at-risk&within=10m", 1}, {"state=at-risk&within=5m", 0}, {"state=breached&queueId=" + uuid.NewString(), 0}} {
		if l := decodeJSON[page](t, x.do(t, http.MethodGet, "/v1/sla/conversations?"+c.query, x.admin, "", nil, http.StatusOK)); len(l.Items) != c.n {
			t.Errorf("%s: %d items, want %d", c.query, len(l.Items), c.n)
		}
	}
	for _, c := range []struct{ query, field string }{
		{"state=late", "state"}, {"state=at-risk", "within"}, {"state=at-risk&within=soon", "within"}, {"state=at-risk&within=1000h", "within"},
		{"state=breached&queueId=x", "queueId"}, {"state=breached&after=nope", "after"},
	} {
		x.wantError(t, http.MethodGet, "/v1/sla/conversations?"+c.query, x.sup, "", nil, http.StatusUnprocessableEntity, api.CodeInvalid, c.field)
	}
	x.wantError(t, http.MethodGet, "/v1/sla/conversations?state=breached", x.agent, "", nil, http.StatusForbidden, api.CodeForbidden, "")
}
