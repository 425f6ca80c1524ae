package pgstore_test

import (
	"strings"
	"testing"

	"switchboard/pgstore"
)

func TestSkills(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID

	created := map[string]pgstore.Skill{}
	for _, name := range []string{"  Spanish ", "Billing", "spanish-advanced", "Fraud Assistance", "Merchant Assistance"} {
		s, err := store.CreateSkill(ctx, tid, pgstore.Actor{RequestID: "req-skill"}, pgstore.NewSkill{Name: name})
		if err != nil {
			t.Fatalf("CreateSkill %q: %v", name, err)
		}
		if s.Name != strings.TrimSpace(name) || s.TenantID != tid || s.ID == "" || s.CreatedAt.IsZero() {
			t.Errorf("created %+v", s)
		}
		created[s.Name] = s
	}
	if n := auditCount(t, tid, "skill.created", ""); n != 5 {
		t.Errorf("%d skill.created audit rows, want 5", n)
	}

	// Names are unique ignoring case; other tenants may reuse them.
	for _, dup := range []string{"Spanish", "SPANISH", " billing "} {
		_, err := store.CreateSkill(ctx, tid, pgstore.Actor{}, pgstore.NewSkill{Name: dup})
		wantErr(t, err, pgstore.ErrConflict)
	}
	newSkill(t, newTenant(t).Tenant.ID, "Spanish")

	names := func(f pgstore.SkillFilter) string {
		t.Helper()
		sks, err := store.ListSkills(ctx, tid, f)
		if err != nil {
			t.Fatalf("ListSkills(%+v): %v", f, err)
		}
		var out []string
		for _, s := range sks {
			out = append(out, s.Name)
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":            "Billing,Fraud Assistance,Merchant Assistance,Spanish,spanish-advanced",
		"span":        "Spanish,spanish-advanced",
		"SPAN":        "Spanish,spanish-advanced",
		" assist ":    "Fraud Assistance,Merchant Assistance",
		"%":           "", // no LIKE wildcards
		"_":           "",
		"x":           "",
		"t ASSISTANC": "Merchant Assistance",
	} {
		if got := names(pgstore.SkillFilter{Query: q}); got != want {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
	// Pages follow the alphabetical order.
	var paged []string
	f := pgstore.SkillFilter{Page: pgstore.Page{Limit: 2}}
	for range 5 {
		sks, err := store.ListSkills(ctx, tid, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(sks) == 0 {
			break
		}
		for _, s := range sks {
			paged = append(paged, s.Name)
		}
		f.After = sks[len(sks)-1].ID
	}
	if got := strings.Join(paged, ","); got != names(pgstore.SkillFilter{}) {
		t.Errorf("pages of 2 = %s", got)
	}

	// Deleting a skill takes it from agents; a skill a route requires stays.
	agent := newUser(t, tid, pgstore.RoleAgent)
	spanish, billing := created["Spanish"], created["Billing"]
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{SkillIDs: &[]string{spanish.ID, billing.ID}}); err != nil {
		t.Fatal(err)
	}
	route := newRoute(t, tid, "Spanish speakers", defaultQueue(t, tid).ID, spanish.ID)
	before := snapshot(t, tid)
	err := store.DeleteSkill(ctx, tid, pgstore.Actor{}, spanish.ID)
	wantErr(t, err, pgstore.ErrConflict)
	if !strings.Contains(err.Error(), "Spanish speakers") {
		t.Errorf("error %q does not name the route", err)
	}
	if after := snapshot(t, tid); after != before {
		t.Errorf("refused delete changed data:\n%s\n%s", before, after)
	}
	if err := store.DeleteSkill(ctx, tid, pgstore.Actor{}, billing.ID); err != nil {
		t.Fatalf("DeleteSkill: %v", err)
	}
	a, err := store.GetAgent(ctx, tid, agent.ID)
	if err != nil || strings.Join(a.SkillIDs, ",") != spanish.ID {
		t.Errorf("agent skills after deleting Billing = %v, %v", a.SkillIDs, err)
	}
	if n := auditCount(t, tid, "skill.deleted", billing.ID); n != 1 {
		t.Errorf("%d skill.deleted audit rows", n)
	}
	wantErr(t, store.DeleteSkill(ctx, tid, pgstore.Actor{}, billing.ID), pgstore.ErrNotFound)
	wantErr(t, store.DeleteSkill(ctx, tid, pgstore.Actor{}, "nope"), pgstore.ErrNotFound)

	// Once the route no longer requires it, the skill can go.
	if _, err := store.UpdateRoute(ctx, tid, pgstore.Actor{}, route.ID, pgstore.RouteUpdate{RequiredSkills: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSkill(ctx, tid, pgstore.Actor{}, spanish.ID); err != nil {
		t.Errorf("DeleteSkill after the route dropped it: %v", err)
	}
}
