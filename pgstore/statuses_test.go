package pgstore_test

import (
	"testing"

	"switchboard/pgstore"
	"switchboard/routing"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID

	meeting, err := store.CreateStatus(ctx, tid, pgstore.Actor{}, pgstore.NewStatus{Name: " In a meeting ", Group: routing.GroupBusy})
	if err != nil {
		t.Fatal(err)
	}
	if meeting.Name != "In a meeting" || meeting.Group != routing.GroupBusy || meeting.System || meeting.BreakReason || meeting.ID == "" {
		t.Errorf("created %+v", meeting)
	}
	coffee, err := store.CreateStatus(ctx, tid, pgstore.Actor{}, pgstore.NewStatus{Name: "Coffee", Group: routing.GroupAway, BreakReason: true})
	if err != nil || !coffee.BreakReason {
		t.Fatalf("break reason: %+v, %v", coffee, err)
	}
	if n := auditCount(t, tid, "status.created", ""); n != 2 {
		t.Errorf("%d status.created audit rows", n)
	}

	// Names are unique ignoring case, the predefined ones included.
	before := snapshot(t, tid)
	for _, name := range []string{"available", "OFFLINE", "Busy", "lunch", "in a MEETING"} {
		_, err := store.CreateStatus(ctx, tid, pgstore.Actor{}, pgstore.NewStatus{Name: name, Group: routing.GroupAway})
		wantErr(t, err, pgstore.ErrConflict)
	}
	// Predefined statuses are not deleted, by ID or by name.
	for _, id := range []string{"available", "Busy", "away", "offline"} {
		wantErr(t, store.DeleteStatus(ctx, tid, pgstore.Actor{}, id), pgstore.ErrConflict)
	}
	wantErr(t, store.DeleteStatus(ctx, tid, pgstore.Actor{}, "Nap"), pgstore.ErrNotFound)
	if after := snapshot(t, tid); after != before {
		t.Error("refused writes changed data")
	}

	cat, err := store.StatusCatalog(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range cat {
		got = append(got, s.ID)
	}
	if len(cat) != 8 || cat[0].ID != "available" || !cat[0].System || cat[3].ID != "offline" || cat[3].Group != routing.GroupUnavailable ||
		cat[4].Name != "Lunch" || cat[5].Name != "Training" || cat[6].ID != meeting.ID || cat[7].ID != coffee.ID {
		t.Errorf("catalogue %v", got)
	}
	// The catalogue is a valid routing catalogue.
	var custom []routing.Status
	for _, s := range cat[4:] {
		custom = append(custom, s.Status())
	}
	if rc, err := routing.NewStatusCatalog(custom); err != nil || len(rc) != 8 {
		t.Errorf("routing catalogue: %v", err)
	} else if s, ok := rc.Find("coffee"); !ok || s.Group != routing.GroupAway {
		t.Errorf("Find(coffee) = %+v, %v", s, ok)
	}

	// Custom statuses, the seeded break reasons included, can be deleted.
	lunch := cat[4]
	for _, s := range []pgstore.AgentStatus{meeting, lunch} {
		if err := store.DeleteStatus(ctx, tid, pgstore.Actor{}, s.ID); err != nil {
			t.Errorf("delete %s: %v", s.Name, err)
		}
		wantErr(t, store.DeleteStatus(ctx, tid, pgstore.Actor{}, s.ID), pgstore.ErrNotFound)
	}
	if n := auditCount(t, tid, "status.deleted", ""); n != 2 {
		t.Errorf("%d status.deleted audit rows", n)
	}
	if cat, err := store.StatusCatalog(ctx, tid); err != nil || len(cat) != 6 {
		t.Errorf("catalogue after deletes: %d, %v", len(cat), err)
	}
	// A deleted name can be used again.
	if _, err := store.CreateStatus(ctx, tid, pgstore.Actor{}, pgstore.NewStatus{Name: "LUNCH", Group: routing.GroupAway, BreakReason: true}); err != nil {
		t.Errorf("recreate Lunch: %v", err)
	}
}

func TestACDSettings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)

	def := routing.Capacity{routing.LiveMessaging: 8, routing.Email: 0, routing.Voice: 1}
	no := false
	wrap := 0
	st, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{RequestID: "req-s"}, pgstore.ACDSettingsUpdate{
		DefaultCapacity: &def, CountedStatuses: &pgstore.CountedStatusesUpdate{Solved: &no}, WrapUpSeconds: &wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := routing.Capacity{routing.Voice: 1, routing.LiveChat: 5, routing.LiveMessaging: 8, routing.Email: 0}
	if !equalCapacity(st.DefaultCapacity, def) || !equalCapacity(st.EffectiveCapacity, want) ||
		st.CountedStatuses != (pgstore.CountedStatuses{Open: true, Waiting: true, Solved: false}) || st.WrapUpSeconds != 0 {
		t.Errorf("updated %+v", st)
	}
	if !st.CountedStatuses.Counts("open") || !st.CountedStatuses.Counts("waiting") || st.CountedStatuses.Counts("solved") || st.CountedStatuses.Counts("closed") {
		t.Errorf("Counts with solved excluded: %+v", st.CountedStatuses)
	}
	// Agents without an override follow the tenant default.
	if a, err := store.GetAgent(ctx, tid, agent.ID); err != nil || !equalCapacity(a.EffectiveCapacity, want) || a.EffectiveWrapUpSeconds != 0 {
		t.Errorf("agent %+v, %v", a, err)
	}
	// Fields left out are kept; open may be sent as true.
	yes := true
	st, err = store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, pgstore.ACDSettingsUpdate{CountedStatuses: &pgstore.CountedStatusesUpdate{Open: &yes, Waiting: &no}})
	if err != nil || st.CountedStatuses != (pgstore.CountedStatuses{Open: true}) || !equalCapacity(st.DefaultCapacity, def) || st.WrapUpSeconds != 0 {
		t.Errorf("waiting excluded: %+v, %v", st, err)
	}
	if got, err := store.GetACDSettings(ctx, tid); err != nil || got.CountedStatuses != st.CountedStatuses || !got.UpdatedAt.Equal(st.UpdatedAt) {
		t.Errorf("read back %+v, %v", got, err)
	}

	st, err = store.ResetACDSettings(ctx, tid, pgstore.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DefaultCapacity) != 0 || !equalCapacity(st.EffectiveCapacity, routing.DefaultCapacity()) ||
		st.CountedStatuses != pgstore.DefaultCountedStatuses() || st.WrapUpSeconds != pgstore.DefaultWrapUpSeconds {
		t.Errorf("after reset %+v", st)
	}
	if n, m := auditCount(t, tid, "acd_settings.updated", tid), auditCount(t, tid, "acd_settings.reset", tid); n != 2 || m != 1 {
		t.Errorf("%d updated and %d reset audit rows, want 2 and 1", n, m)
	}
}
