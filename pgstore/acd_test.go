package pgstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"switchboard/pgstore"
	"switchboard/routing"
)

// Helpers shared by the ACD configuration tests.

func newSkill(t *testing.T, tenantID, name string) pgstore.Skill {
	t.Helper()
	s, err := store.CreateSkill(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewSkill{Name: name})
	if err != nil {
		t.Fatalf("CreateSkill %q: %v", name, err)
	}
	return s
}

func newQueue(t *testing.T, tenantID, name string, agentIDs ...string) pgstore.Queue {
	t.Helper()
	q, err := store.CreateQueue(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewQueue{Name: name, AgentIDs: agentIDs})
	if err != nil {
		t.Fatalf("CreateQueue %q: %v", name, err)
	}
	return q
}

func defaultQueue(t *testing.T, tenantID string) pgstore.Queue {
	t.Helper()
	q, err := store.DefaultQueue(testContext(t), tenantID)
	if err != nil {
		t.Fatalf("DefaultQueue: %v", err)
	}
	return q
}

// cond builds a route condition.
func cond(attr string, op routing.Operator, values ...string) *routing.Condition {
	c := routing.Where(attr, op, values...)
	return &c
}

func newRoute(t *testing.T, tenantID, name, queueID string, skills ...string) pgstore.Route {
	t.Helper()
	r, err := store.CreateRoute(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewRoute{
		Name: name, QueueID: queueID, Condition: cond(routing.AttrChannel, routing.OpIs, "whatsapp"), RequiredSkills: skills,
	})
	if err != nil {
		t.Fatalf("CreateRoute %q: %v", name, err)
	}
	return r
}

// wantInvalid checks that err is a validation error on field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var v *pgstore.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error = %v (%T), want *pgstore.ValidationError on %q", err, err, field)
	}
	if v.Field != field || v.Message == "" {
		t.Errorf("ValidationError field %q message %q, want field %q", v.Field, v.Message, field)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// snapshot is every ACD row of a tenant as JSON, to prove a refused write changed nothing.
func snapshot(t *testing.T, tenantID string) string {
	t.Helper()
	var out []byte
	err := pool.QueryRow(testContext(t), `SELECT json_build_object(
		'skills', (SELECT json_agg(s ORDER BY s.id) FROM skills s WHERE tenant_id = $1),
		'queues', (SELECT json_agg(q ORDER BY q.id) FROM queues q WHERE tenant_id = $1),
		'members', (SELECT json_agg(m ORDER BY m.queue_id, m.user_id) FROM queue_agents m WHERE tenant_id = $1),
		'agents', (SELECT json_agg(a ORDER BY a.user_id) FROM agent_settings a WHERE tenant_id = $1),
		'agentSkills', (SELECT json_agg(a ORDER BY a.user_id, a.skill_id) FROM agent_skills a WHERE tenant_id = $1),
		'settings', (SELECT json_agg(x) FROM acd_settings x WHERE tenant_id = $1),
		'routes', (SELECT json_agg(r ORDER BY r.id) FROM routes r WHERE tenant_id = $1),
		'routeSkills', (SELECT json_agg(r ORDER BY r.route_id, r.skill_id) FROM route_skills r WHERE tenant_id = $1),
		'statuses', (SELECT json_agg(s ORDER BY s.id) FROM agent_statuses s WHERE tenant_id = $1),
		'audit', (SELECT count(*) FROM audit_log WHERE tenant_id = $1))::text`, tenantID).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func auditCount(t *testing.T, tenantID, action, objectID string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(testContext(t), `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2 AND ($3 = '' OR object_id = $3)`,
		tenantID, action, objectID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewTenantHasACDDefaults(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID

	qs, err := store.ListQueues(ctx, tid, pgstore.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || !qs[0].IsDefault || qs[0].Name != pgstore.DefaultQueueName || !qs[0].AutoAssign ||
		qs[0].AssignmentMode != pgstore.AssignAny || qs[0].StickyWindow != "" || qs[0].TenantID != tid {
		t.Fatalf("queues of a new tenant = %+v, want only the Default queue with auto-assignment to any agent", qs)
	}

	st, err := store.GetACDSettings(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DefaultCapacity) != 0 || !equalCapacity(st.EffectiveCapacity, routing.DefaultCapacity()) ||
		st.CountedStatuses != pgstore.DefaultCountedStatuses() || st.WrapUpSeconds != pgstore.DefaultWrapUpSeconds {
		t.Errorf("settings of a new tenant = %+v", st)
	}
	if st.EffectiveCapacity[routing.LiveMessaging] != 5 || st.EffectiveCapacity[routing.Voice] != 1 {
		t.Errorf("effective capacity %v: live messaging defaults to 5 and voice is 1", st.EffectiveCapacity)
	}

	cat, err := store.StatusCatalog(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range cat {
		names = append(names, s.Name+"/"+string(s.Group))
	}
	want := "Available/available Busy/busy Away/away Offline/unavailable Lunch/away Training/away"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("catalogue = %s, want %s", got, want)
	}
	for _, s := range cat[4:] {
		if !s.BreakReason || s.System || s.CreatedAt == nil {
			t.Errorf("seeded break reason %+v", s)
		}
	}

	// The bootstrap tenant gets the same.
	isolated, _ := isolatedStore(t, 2)
	boot, err := isolated.Bootstrap(ctx)
	if err != nil || boot == nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if q, err := isolated.DefaultQueue(ctx, boot.Tenant.ID); err != nil || !q.IsDefault {
		t.Errorf("bootstrap tenant's Default queue: %+v, %v", q, err)
	}
	if _, err := isolated.GetACDSettings(ctx, boot.Tenant.ID); err != nil {
		t.Errorf("bootstrap tenant's settings: %v", err)
	}
}

func equalCapacity(a, b routing.Capacity) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Nullable tells an absent field from null from a value, and wrong types keep their
// field name in the decoder's error.
func TestNullable(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{}`:                      "set=false",
		`{"wrapUpSeconds":null}`:  "set=true null",
		`{"wrapUpSeconds":45}`:    "set=true 45",
		`{"wrapUpSeconds":"45"}`:  "error wrapUpSeconds",
		`{"wrapUpSeconds":[1,2]}`: "error wrapUpSeconds",
	} {
		var u pgstore.AgentUpdate
		err := json.Unmarshal([]byte(body), &u)
		var got string
		switch {
		case err != nil:
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				got = "error " + te.Field
			} else {
				got = "error " + err.Error()
			}
		case !u.WrapUpSeconds.Set:
			got = "set=false"
		case u.WrapUpSeconds.Value == nil:
			got = "set=true null"
		default:
			b, _ := json.Marshal(u.WrapUpSeconds)
			got = "set=true " + string(b)
		}
		if got != want {
			t.Errorf("%s: %s, want %s", body, got, want)
		}
	}
}

// Every tenant-scoped read and write refuses another tenant's objects and changes
// nothing there.
func TestACDTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := newTenant(t), newTenant(t)
	aAgent := newUser(t, a.Tenant.ID, pgstore.RoleAgent)
	aSkill := newSkill(t, a.Tenant.ID, "Billing")
	aQueue := newQueue(t, a.Tenant.ID, "Sales", aAgent.ID)
	aRoute := newRoute(t, a.Tenant.ID, "WhatsApp", aQueue.ID, aSkill.ID)
	aStatus, err := store.CreateStatus(ctx, a.Tenant.ID, pgstore.Actor{}, pgstore.NewStatus{Name: "Meeting", Group: routing.GroupBusy})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, a.Tenant.ID)

	bid := b.Tenant.ID
	bAgent := newUser(t, bid, pgstore.RoleAgent)
	bQueue := newQueue(t, bid, "B queue")
	bSkill := newSkill(t, bid, "B skill")
	name := "Stolen"
	on := true

	notFound := map[string]error{}
	notFound["GetQueue"] = func() error { _, err := store.GetQueue(ctx, bid, aQueue.ID); return err }()
	notFound["UpdateQueue"] = func() error {
		_, err := store.UpdateQueue(ctx, bid, pgstore.Actor{}, aQueue.ID, pgstore.QueueUpdate{Name: &name})
		return err
	}()
	notFound["SetQueueAgents"] = func() error {
		_, err := store.SetQueueAgents(ctx, bid, pgstore.Actor{}, aQueue.ID, pgstore.QueueAgents{AgentIDs: []string{}})
		return err
	}()
	notFound["DeleteQueue"] = store.DeleteQueue(ctx, bid, pgstore.Actor{}, aQueue.ID)
	notFound["DeleteSkill"] = store.DeleteSkill(ctx, bid, pgstore.Actor{}, aSkill.ID)
	notFound["GetRoute"] = func() error { _, err := store.GetRoute(ctx, bid, aRoute.ID); return err }()
	notFound["UpdateRoute"] = func() error {
		_, err := store.UpdateRoute(ctx, bid, pgstore.Actor{}, aRoute.ID, pgstore.RouteUpdate{Enabled: &on})
		return err
	}()
	notFound["DeleteRoute"] = store.DeleteRoute(ctx, bid, pgstore.Actor{}, aRoute.ID)
	notFound["DeleteStatus"] = store.DeleteStatus(ctx, bid, pgstore.Actor{}, aStatus.ID)
	notFound["GetAgent"] = func() error { _, err := store.GetAgent(ctx, bid, aAgent.ID); return err }()
	notFound["UpdateAgent"] = func() error {
		_, err := store.UpdateAgent(ctx, bid, pgstore.Actor{}, aAgent.ID, pgstore.AgentUpdate{Enabled: &on})
		return err
	}()
	for what, err := range notFound {
		if !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("%s of tenant A's object from B: %v, want ErrNotFound", what, err)
		}
	}

	// References to A's objects from B's writes are unknown IDs: 422 on the field.
	_, err = store.CreateRoute(ctx, bid, pgstore.Actor{}, pgstore.NewRoute{Name: "x", QueueID: aQueue.ID, Condition: cond("from", routing.OpIs, "1")})
	wantInvalid(t, err, "queueId")
	_, err = store.CreateRoute(ctx, bid, pgstore.Actor{}, pgstore.NewRoute{Name: "x", QueueID: bQueue.ID, RequiredSkills: []string{bSkill.ID, aSkill.ID}, Condition: cond("from", routing.OpIs, "1")})
	wantInvalid(t, err, "requiredSkills[1]")
	_, err = store.SetQueueAgents(ctx, bid, pgstore.Actor{}, bQueue.ID, pgstore.QueueAgents{AgentIDs: []string{bAgent.ID, aAgent.ID}})
	wantInvalid(t, err, "agentIds[1]")
	_, err = store.UpdateAgent(ctx, bid, pgstore.Actor{}, bAgent.ID, pgstore.AgentUpdate{QueueIDs: &[]string{aQueue.ID}})
	wantInvalid(t, err, "queueIds[0]")
	_, err = store.UpdateAgent(ctx, bid, pgstore.Actor{}, bAgent.ID, pgstore.AgentUpdate{SkillIDs: &[]string{aSkill.ID}})
	wantInvalid(t, err, "skillIds[0]")
	_, err = store.ReorderRoutes(ctx, bid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: []string{aRoute.ID}})
	wantErr(t, err, pgstore.ErrConflict)

	// Listings show B's own objects only.
	if qs, err := store.ListQueues(ctx, bid, pgstore.Page{}); err != nil || len(qs) != 2 || qs[1].ID != bQueue.ID {
		t.Errorf("B's queues = %+v, %v", qs, err)
	} else if len(qs[0].Agents) != 1 || qs[0].Agents[0].ID != bAgent.ID {
		t.Errorf("B's Default queue lists agents %+v, want B's agent only", qs[0].Agents)
	}
	if sks, err := store.ListSkills(ctx, bid, pgstore.SkillFilter{}); err != nil || len(sks) != 1 || sks[0].ID != bSkill.ID {
		t.Errorf("B's skills = %+v, %v", sks, err)
	}
	if rs, err := store.ListRoutes(ctx, bid); err != nil || len(rs) != 0 {
		t.Errorf("B's routes = %+v, %v", rs, err)
	}
	if cat, err := store.StatusCatalog(ctx, bid); err != nil || len(cat) != 6 {
		t.Errorf("B's catalogue has %d statuses, %v; want 4 predefined and 2 break reasons", len(cat), err)
	}
	if after := snapshot(t, a.Tenant.ID); after != before {
		t.Errorf("tenant A changed by tenant B's attempts:\nbefore %s\nafter  %s", before, after)
	}
}

// Deleting a tenant removes its ACD configuration: the no-cascade references between
// routes, queues and skills do not block it.
func TestTenantDeleteCascades(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	sk := newSkill(t, tid, "Billing")
	q := newQueue(t, tid, "Sales", agent.ID)
	newRoute(t, tid, "r", q.ID, sk.ID)
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{SkillIDs: &[]string{sk.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tid); err != nil {
		t.Fatalf("delete tenant: %v", err)
	}
	if s := snapshot(t, tid); s != `{"skills" : null, "queues" : null, "members" : null, "agents" : null, "agentSkills" : null, "settings" : null, "routes" : null, "routeSkills" : null, "statuses" : null, "audit" : 0}` {
		t.Errorf("left behind: %s", s)
	}
}
