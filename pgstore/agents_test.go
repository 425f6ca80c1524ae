package pgstore_test

import (
	"strings"
	"testing"

	"switchboard/pgstore"
	"switchboard/routing"
)

func TestAgents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	agent := newUserNamed(t, tid, pgstore.RoleAgent, "Ana")
	def := defaultQueue(t, tid)

	// A new agent has every default.
	a, err := store.GetAgent(ctx, tid, agent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != agent.ID || a.Name != "Ana" || a.Email != agent.Email || !a.Enabled || a.Title != "" || a.Phone != "" || a.Extension != "" ||
		strings.Join(a.QueueIDs, ",") != def.ID || len(a.SkillIDs) != 0 || len(a.Capacity) != 0 ||
		!equalCapacity(a.EffectiveCapacity, routing.DefaultCapacity()) || a.WrapUpSeconds != nil || a.EffectiveWrapUpSeconds != pgstore.DefaultWrapUpSeconds {
		t.Errorf("new agent = %+v", a)
	}

	// Users who are not agents are not found, nor is anyone of another tenant.
	for _, id := range []string{ct.Admin.ID, newUser(t, tid, pgstore.RoleSupervisor).ID, newUser(t, newTenant(t).Tenant.ID, pgstore.RoleAgent).ID, "me", "00000000-0000-4000-8000-000000000000"} {
		_, err := store.GetAgent(ctx, tid, id)
		wantErr(t, err, pgstore.ErrNotFound)
		on := true
		_, err = store.UpdateAgent(ctx, tid, pgstore.Actor{}, id, pgstore.AgentUpdate{Enabled: &on})
		wantErr(t, err, pgstore.ErrNotFound)
	}

	sales := newQueue(t, tid, "Sales")
	vip := newQueue(t, tid, "VIP")
	spanish, billing := newSkill(t, tid, "Spanish"), newSkill(t, tid, "Billing")

	// The tenant default sits between the system default and the agent's override.
	email := routing.Capacity{routing.Email: 4, routing.LiveChat: 2}
	if _, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, pgstore.ACDSettingsUpdate{DefaultCapacity: &email}); err != nil {
		t.Fatal(err)
	}
	off := false
	title, phone, ext := " Senior agent ", "+385 1 234 5678", "101"
	override := routing.Capacity{routing.LiveChat: 3, routing.Voice: 1}
	wrap := 90
	a, err = store.UpdateAgent(ctx, tid, pgstore.Actor{RequestID: "req-agent"}, agent.ID, pgstore.AgentUpdate{
		Enabled: &off, Title: &title, Phone: &phone, Extension: &ext,
		QueueIDs: &[]string{vip.ID, def.ID, sales.ID}, SkillIDs: &[]string{spanish.ID, billing.ID},
		Capacity: &override, WrapUpSeconds: pgstore.Nullable[int]{Set: true, Value: &wrap},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantEffective := routing.Capacity{routing.Voice: 1, routing.LiveChat: 3, routing.LiveMessaging: 5, routing.Email: 4}
	if a.Enabled || a.Title != "Senior agent" || a.Phone != phone || a.Extension != ext ||
		strings.Join(a.QueueIDs, ",") != def.ID+","+sales.ID+","+vip.ID ||
		strings.Join(a.SkillIDs, ",") != billing.ID+","+spanish.ID ||
		!equalCapacity(a.Capacity, override) || !equalCapacity(a.EffectiveCapacity, wantEffective) ||
		a.WrapUpSeconds == nil || *a.WrapUpSeconds != 90 || a.EffectiveWrapUpSeconds != 90 {
		t.Errorf("updated agent = %+v", a)
	}
	if got, err := store.GetAgent(ctx, tid, agent.ID); err != nil || got.Title != a.Title || !equalCapacity(got.EffectiveCapacity, wantEffective) {
		t.Errorf("read back %+v, %v", got, err)
	}
	// The queues list the agent; the Default queue got no membership row.
	for _, q := range []string{sales.ID, vip.ID} {
		if got, err := store.GetQueue(ctx, tid, q); err != nil || agentIDs(got.Agents) != agent.ID || got.Agents[0].Enabled {
			t.Errorf("queue %s agents = %+v, %v", q, got.Agents, err)
		}
	}
	var defaultRows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM queue_agents WHERE queue_id = $1`, def.ID).Scan(&defaultRows); err != nil || defaultRows != 0 {
		t.Errorf("%d Default queue membership rows, %v", defaultRows, err)
	}

	// Fields left out are kept; empty strings, {} and null clear.
	empty := ""
	a, err = store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{
		Title: &empty, Capacity: &routing.Capacity{}, WrapUpSeconds: pgstore.Nullable[int]{Set: true}, QueueIDs: &[]string{sales.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Title != "" || a.Phone != phone || a.Extension != ext || a.Enabled || len(a.Capacity) != 0 ||
		!equalCapacity(a.EffectiveCapacity, routing.Capacity{routing.Voice: 1, routing.LiveChat: 2, routing.LiveMessaging: 5, routing.Email: 4}) ||
		a.WrapUpSeconds != nil || a.EffectiveWrapUpSeconds != pgstore.DefaultWrapUpSeconds ||
		strings.Join(a.QueueIDs, ",") != def.ID+","+sales.ID || len(a.SkillIDs) != 2 {
		t.Errorf("after clearing = %+v", a)
	}
	// An override of 0 means no automatic work on that channel.
	zero := routing.Capacity{routing.Email: 0}
	if a, err = store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{Capacity: &zero}); err != nil || a.EffectiveCapacity[routing.Email] != 0 {
		t.Errorf("email capacity 0: %+v, %v", a.EffectiveCapacity, err)
	}
	if n := auditCount(t, tid, "agent.updated", agent.ID); n != 3 {
		t.Errorf("%d agent.updated audit rows, want 3", n)
	}

	// Extensions are unique in the tenant.
	bo := newUserNamed(t, tid, pgstore.RoleAgent, "Bo")
	before := snapshot(t, tid)
	_, err = store.UpdateAgent(ctx, tid, pgstore.Actor{}, bo.ID, pgstore.AgentUpdate{Extension: &ext, Title: &title})
	wantErr(t, err, pgstore.ErrConflict)
	if after := snapshot(t, tid); after != before {
		t.Error("refused update changed data")
	}
	other := "102"
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, bo.ID, pgstore.AgentUpdate{Extension: &other}); err != nil {
		t.Errorf("another extension: %v", err)
	}
	ot := newTenant(t).Tenant.ID
	if _, err := store.UpdateAgent(ctx, ot, pgstore.Actor{}, newUser(t, ot, pgstore.RoleAgent).ID, pgstore.AgentUpdate{Extension: &ext}); err != nil {
		t.Errorf("the same extension in another tenant: %v", err)
	}
	// Clearing frees the extension.
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{Extension: &empty}); err != nil {
		t.Fatal(err)
	}
	if b, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, bo.ID, pgstore.AgentUpdate{Extension: &ext}); err != nil || b.Extension != ext {
		t.Errorf("reuse a freed extension: %+v, %v", b, err)
	}
}
