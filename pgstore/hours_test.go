package pgstore_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/routing"
)

// officeHours is Monday to Friday 08:00–16:00 in Zagreb with Christmas off.
func officeHours(name string) pgstore.NewWorkingHours {
	w := hours.Week{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		w[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "08:00", To: "16:00"}}}
	}
	return pgstore.NewWorkingHours{Name: name, TimeZone: "Europe/Zagreb", Days: w,
		Holidays:    []hours.Holiday{{Name: " Christmas ", StartDate: "2025-12-24", EndDate: "2025-12-26"}, {StartDate: "2026-01-01", EndDate: "2026-01-01"}},
		AwayMessage: "We are closed; we answer from 8 to 16 on working days."}
}

func newHours(t *testing.T, tenantID string, in pgstore.NewWorkingHours) pgstore.WorkingHours {
	t.Helper()
	w, err := store.CreateWorkingHours(testContext(t), tenantID, pgstore.Actor{}, in)
	if err != nil {
		t.Fatalf("CreateWorkingHours %q: %v", in.Name, err)
	}
	return w
}

func periodOf(q pgstore.Queue) string {
	if q.WorkingHoursID == nil {
		return ""
	}
	return *q.WorkingHoursID
}

func TestWorkingHoursCRUD(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID

	w, err := store.CreateWorkingHours(ctx, tid, pgstore.Actor{RequestID: "req-wh"}, officeHours(" Zagreb office "))
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "Zagreb office" || w.TimeZone != "Europe/Zagreb" || w.IsDefault || w.CloseOutsideHours || len(w.QueueIDs) != 0 {
		t.Errorf("created %+v", w)
	}
	// Every weekday is listed, the weekend switched off with no ranges.
	if len(w.Days) != 7 || w.Days["saturday"].Enabled || w.Days["saturday"].Ranges == nil || !w.Days["friday"].Enabled ||
		w.Days["friday"].Ranges[0] != (hours.Range{From: "08:00", To: "16:00"}) {
		t.Errorf("days %+v", w.Days)
	}
	if !slices.Equal(w.Holidays, []hours.Holiday{{Name: "Christmas", StartDate: "2025-12-24", EndDate: "2025-12-26"}, {StartDate: "2026-01-01", EndDate: "2026-01-01"}}) {
		t.Errorf("holidays %+v", w.Holidays)
	}
	if n := auditCount(t, tid, "working_hours.created", w.ID); n != 1 {
		t.Errorf("%d audit entries", n)
	}
	cal, err := w.Calendar()
	if err != nil || cal.Open(time.Date(2025, 12, 26, 10, 0, 0, 0, time.UTC)) || !cal.Open(time.Date(2025, 12, 29, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("the stored period's calendar: %v", err)
	}

	got, err := store.GetWorkingHours(ctx, tid, w.ID)
	if err != nil || got.Name != w.Name || len(got.Holidays) != 2 || got.Days["monday"].Ranges[0].To != "16:00" {
		t.Errorf("get %+v, %v", got, err)
	}
	_, err = store.GetWorkingHours(ctx, other, w.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.GetWorkingHours(ctx, tid, "nope")
	wantErr(t, err, pgstore.ErrNotFound)

	// Names are unique ignoring case.
	_, err = store.CreateWorkingHours(ctx, tid, pgstore.Actor{}, officeHours("ZAGREB OFFICE"))
	wantErr(t, err, pgstore.ErrConflict)

	bad := func(f func(*pgstore.NewWorkingHours)) pgstore.NewWorkingHours {
		in := officeHours("Bad")
		f(&in)
		return in
	}
	for _, tc := range []struct {
		in    pgstore.NewWorkingHours
		field string
	}{
		{bad(func(in *pgstore.NewWorkingHours) { in.Name = " " }), "name"},
		{bad(func(in *pgstore.NewWorkingHours) { in.Days = nil }), "days"},
		{bad(func(in *pgstore.NewWorkingHours) { in.TimeZone = "Mars/Olympus" }), "timeZone"},
		{bad(func(in *pgstore.NewWorkingHours) {
			in.Days["monday"] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "16:00", To: "08:00"}}}
		}), "days.monday.ranges[0].to"},
		{bad(func(in *pgstore.NewWorkingHours) {
			in.Holidays = []hours.Holiday{{StartDate: "2025-12-26", EndDate: "2025-12-24"}}
		}), "holidays[0].endDate"},
		{bad(func(in *pgstore.NewWorkingHours) { in.AwayMessage = "bell\a" }), "awayMessage"},
		{bad(func(in *pgstore.NewWorkingHours) { in.AwayMessage, in.CloseOutsideHours = "", true }), "closeOutsideHours"},
	} {
		_, err := store.CreateWorkingHours(ctx, tid, pgstore.Actor{}, tc.in)
		wantInvalid(t, err, tc.field)
	}

	// An update replaces the holidays and the days given and keeps the rest.
	name := "Zagreb"
	holidays := []hours.Holiday{{Name: "Easter Monday", StartDate: "2026-04-06", EndDate: "2026-04-06"}}
	closeAll := true
	up, err := store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, w.ID, pgstore.WorkingHoursUpdate{Name: &name, Holidays: &holidays, CloseOutsideHours: &closeAll})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "Zagreb" || !slices.Equal(up.Holidays, holidays) || !up.CloseOutsideHours || up.AwayMessage != w.AwayMessage ||
		!up.Days["monday"].Enabled || !up.UpdatedAt.After(w.UpdatedAt) {
		t.Errorf("updated %+v", up)
	}
	empty := ""
	_, err = store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, w.ID, pgstore.WorkingHoursUpdate{AwayMessage: &empty})
	wantInvalid(t, err, "closeOutsideHours") // closing needs the message
	zone := "Nowhere/Else"
	_, err = store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, w.ID, pgstore.WorkingHoursUpdate{TimeZone: &zone})
	wantInvalid(t, err, "timeZone")
	_, err = store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, w.ID, pgstore.WorkingHoursUpdate{})
	wantInvalid(t, err, "")
	_, err = store.UpdateWorkingHours(ctx, other, pgstore.Actor{}, w.ID, pgstore.WorkingHoursUpdate{Name: &name})
	wantErr(t, err, pgstore.ErrNotFound)
	if got, _ := store.GetWorkingHours(ctx, tid, w.ID); got.AwayMessage != w.AwayMessage || got.TimeZone != "Europe/Zagreb" {
		t.Errorf("a refused update changed the period: %+v", got)
	}

	second := newHours(t, tid, officeHours("Lisbon"))
	list, err := store.ListWorkingHours(ctx, tid, pgstore.Page{})
	if err != nil || len(list) != 2 || list[0].ID != w.ID || list[1].ID != second.ID || len(list[0].Holidays) != 1 {
		t.Errorf("list %+v, %v", list, err)
	}
	page, err := store.ListWorkingHours(ctx, tid, pgstore.Page{Limit: 1, After: w.ID})
	if err != nil || len(page) != 1 || page[0].ID != second.ID {
		t.Errorf("second page %+v, %v", page, err)
	}
	if l, _ := store.ListWorkingHours(ctx, other, pgstore.Page{}); len(l) != 0 {
		t.Errorf("the other tenant sees %d periods", len(l))
	}

	wantErr(t, store.DeleteWorkingHours(ctx, other, pgstore.Actor{}, w.ID), pgstore.ErrNotFound)
	if err := store.DeleteWorkingHours(ctx, tid, pgstore.Actor{}, second.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.GetWorkingHours(ctx, tid, second.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	var holidaysLeft int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM working_hours_holidays WHERE tenant_id = $1 AND period_id = $2`, tid, second.ID).Scan(&holidaysLeft); err != nil || holidaysLeft != 0 {
		t.Errorf("%d holidays left, %v", holidaysLeft, err)
	}
}

// The tenant's default period goes to queues created afterwards; queues created
// before keep theirs, also when the default changes.
func TestWorkingHoursDefaultAppliesToNewQueuesOnly(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID

	before := newQueue(t, tid, "Before")
	first := officeHours("First")
	first.IsDefault = true
	p1 := newHours(t, tid, first)
	if !p1.IsDefault {
		t.Fatal("not made the default")
	}
	if q, _ := store.GetQueue(ctx, tid, before.ID); q.WorkingHoursID != nil {
		t.Errorf("a queue created before the default got it: %v", periodOf(q))
	}
	if d := defaultQueue(t, tid); d.WorkingHoursID != nil {
		t.Errorf("the Default queue, created with the tenant, got %v", periodOf(d))
	}
	withFirst := newQueue(t, tid, "With first")
	if periodOf(withFirst) != p1.ID {
		t.Errorf("new queue's period %q, want the default %s", periodOf(withFirst), p1.ID)
	}

	p2 := newHours(t, tid, officeHours("Second"))
	yes := true
	p2, err := store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, p2.ID, pgstore.WorkingHoursUpdate{IsDefault: &yes})
	if err != nil || !p2.IsDefault {
		t.Fatalf("make second the default: %+v, %v", p2, err)
	}
	if got, _ := store.GetWorkingHours(ctx, tid, p1.ID); got.IsDefault {
		t.Error("two defaults")
	}
	withSecond := newQueue(t, tid, "With second")
	if q, _ := store.GetQueue(ctx, tid, withFirst.ID); periodOf(q) != p1.ID {
		t.Errorf("the earlier queue moved to %q with the default", periodOf(q))
	}
	if periodOf(withSecond) != p2.ID {
		t.Errorf("new queue's period %q, want %s", periodOf(withSecond), p2.ID)
	}
	if got, _ := store.GetWorkingHours(ctx, tid, p1.ID); !slices.Equal(got.QueueIDs, []string{withFirst.ID}) {
		t.Errorf("first's queues %v", got.QueueIDs)
	}

	no := false
	if _, err := store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, p2.ID, pgstore.WorkingHoursUpdate{IsDefault: &no}); err != nil {
		t.Fatal(err)
	}
	if q := newQueue(t, tid, "After"); q.WorkingHoursID != nil {
		t.Errorf("without a default a new queue got %s", periodOf(q))
	}
	// A default of another tenant is never given.
	otherTenant := newTenant(t).Tenant.ID
	if q := newQueue(t, otherTenant, "Elsewhere"); q.WorkingHoursID != nil {
		t.Errorf("another tenant's queue got %s", periodOf(q))
	}
}

// Making periods the default at the same time leaves exactly one default.
func TestWorkingHoursDefaultConcurrently(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	var ids []string
	for i := range 8 {
		ids = append(ids, newHours(t, tid, officeHours(fmt.Sprintf("P%d", i))).ID)
	}
	yes := true
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			_, errs[i] = store.UpdateWorkingHours(ctx, tid, pgstore.Actor{}, id, pgstore.WorkingHoursUpdate{IsDefault: &yes})
		})
	}
	for i := range 4 {
		wg.Go(func() {
			in := officeHours(fmt.Sprintf("New%d", i))
			in.IsDefault = true
			if _, err := store.CreateWorkingHours(ctx, tid, pgstore.Actor{}, in); err != nil {
				t.Errorf("create default %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("make %d the default: %v", i, err)
		}
	}
	var defaults int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM working_hours WHERE tenant_id = $1 AND is_default`, tid).Scan(&defaults); err != nil || defaults != 1 {
		t.Errorf("%d defaults, %v", defaults, err)
	}
}

func TestQueueWorkingHours(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	q := newQueue(t, tid, "Support")
	p := newHours(t, tid, officeHours("Office"))
	foreign := newHours(t, other, officeHours("Theirs"))

	if h, err := store.QueueHours(ctx, tid, q.ID); err != nil || h != nil {
		t.Errorf("a queue without a period: %+v, %v", h, err)
	}
	set := func(id *string) pgstore.QueueWorkingHours {
		return pgstore.QueueWorkingHours{WorkingHoursID: pgstore.Nullable[string]{Set: true, Value: id}}
	}
	got, err := store.SetQueueWorkingHours(ctx, tid, pgstore.Actor{}, q.ID, set(&p.ID))
	if err != nil || periodOf(got) != p.ID {
		t.Fatalf("assigned %+v, %v", got, err)
	}
	if n := auditCount(t, tid, "queue.working_hours_set", q.ID); n != 1 {
		t.Errorf("%d audit entries", n)
	}
	h, err := store.QueueHours(ctx, tid, q.ID)
	if err != nil || h == nil || h.ID != p.ID || h.TimeZone != "Europe/Zagreb" || len(h.Holidays) != 2 || h.AwayMessage == "" {
		t.Errorf("queue hours %+v, %v", h, err)
	}
	if _, err := store.QueueHours(ctx, other, q.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant reads the queue's hours: %v", err)
	}

	bogus := "6f1c2c3e-0000-4000-8000-000000000000"
	notID := "tomorrow"
	for _, in := range []pgstore.QueueWorkingHours{{}, set(&notID), set(&bogus), set(&foreign.ID)} {
		_, err := store.SetQueueWorkingHours(ctx, tid, pgstore.Actor{}, q.ID, in)
		wantInvalid(t, err, "workingHoursId")
	}
	_, err = store.SetQueueWorkingHours(ctx, other, pgstore.Actor{}, q.ID, set(&foreign.ID))
	wantErr(t, err, pgstore.ErrNotFound)

	// A period in use is not deleted; once unassigned it is.
	wantErr(t, store.DeleteWorkingHours(ctx, tid, pgstore.Actor{}, p.ID), pgstore.ErrConflict)
	if got, err := store.SetQueueWorkingHours(ctx, tid, pgstore.Actor{}, q.ID, set(nil)); err != nil || got.WorkingHoursID != nil {
		t.Fatalf("unassigned %+v, %v", got, err)
	}
	if h, err := store.QueueHours(ctx, tid, q.ID); err != nil || h != nil {
		t.Errorf("after unassigning: %+v, %v", h, err)
	}
	if err := store.DeleteWorkingHours(ctx, tid, pgstore.Actor{}, p.ID); err != nil {
		t.Fatal(err)
	}
}

// Deleting a period while it is given to a queue never leaves the queue pointing at
// nothing: one of the two is refused.
func TestDeleteWorkingHoursRacesAssignment(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	for i := range 10 {
		q := newQueue(t, tid, fmt.Sprintf("Q%d", i))
		p := newHours(t, tid, officeHours(fmt.Sprintf("P%d", i)))
		var wg sync.WaitGroup
		var setErr, delErr error
		wg.Go(func() {
			_, setErr = store.SetQueueWorkingHours(ctx, tid, pgstore.Actor{}, q.ID,
				pgstore.QueueWorkingHours{WorkingHoursID: pgstore.Nullable[string]{Set: true, Value: &p.ID}})
		})
		wg.Go(func() { delErr = store.DeleteWorkingHours(ctx, tid, pgstore.Actor{}, p.ID) })
		wg.Wait()
		if (setErr == nil) == (delErr == nil) {
			t.Fatalf("round %d: assign %v, delete %v: exactly one must succeed", i, setErr, delErr)
		}
		got, err := store.GetQueue(ctx, tid, q.ID)
		if err != nil {
			t.Fatal(err)
		}
		if setErr == nil && periodOf(got) != p.ID || delErr == nil && got.WorkingHoursID != nil {
			t.Errorf("round %d: queue's period %q after assign %v, delete %v", i, periodOf(got), setErr, delErr)
		}
	}
}

// Interactions waiting for their queue's opening are left out of bulk assignment
// until the opening releases them.
func TestOpeningWaits(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	sales := newQueue(t, tid, "Sales", ana.ID)
	other := newQueue(t, tid, "Other", ana.ID)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	early := enqueue(t, newInteraction(tid, sales.ID, routing.LiveChat, routing.PriorityNormal, t0)).ID
	late := enqueue(t, newInteraction(tid, sales.ID, routing.LiveChat, routing.PriorityNormal, t0.Add(time.Second))).ID
	elsewhere := enqueue(t, newInteraction(tid, other.ID, routing.LiveChat, routing.PriorityNormal, t0.Add(2*time.Second))).ID
	waiting := func() []string {
		t.Helper()
		got, err := store.Waiting(ctx, tid, pgstore.WaitingFilter{AgentID: ana.ID, QueueIDs: []string{sales.ID, other.ID},
			Room: routing.Occupancy{routing.LiveChat: 5}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, w := range got {
			ids = append(ids, w.ID)
		}
		return ids
	}
	opens := t0.Add(time.Hour)
	for _, w := range []pgstore.OpeningWait{
		{TenantID: tid, InteractionID: early, QueueID: sales.ID, OpensAt: &opens},
		{TenantID: tid, InteractionID: late, QueueID: sales.ID},
		{TenantID: tid, InteractionID: late, QueueID: sales.ID}, // a retry
		{TenantID: tid, InteractionID: elsewhere, QueueID: other.ID},
	} {
		if err := store.AddOpeningWait(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if got := waiting(); len(got) != 0 {
		t.Errorf("waiting for the opening, yet listed: %v", got)
	}
	if ids, err := store.OpeningWaits(ctx, tid, sales.ID); err != nil || !slices.Equal(ids, []string{early, late}) &&
		!slices.Equal(ids, []string{late, early}) {
		t.Errorf("Sales' waits %v, %v", ids, err)
	}
	// Other opens: only its interaction comes back.
	if n, err := store.ReleaseOpeningWaits(ctx, tid, other.ID); err != nil || n != 1 {
		t.Errorf("released %d, %v", n, err)
	}
	if got := waiting(); !slices.Equal(got, []string{elsewhere}) {
		t.Errorf("after Other opened: %v", got)
	}
	// One leaves the wait by itself (it found Sales open); then Sales opens.
	if ok, err := store.RemoveOpeningWait(ctx, tid, late); err != nil || !ok {
		t.Errorf("remove: %v, %v", ok, err)
	}
	if ok, _ := store.RemoveOpeningWait(ctx, tid, late); ok {
		t.Error("removed twice")
	}
	if got := waiting(); !slices.Equal(got, []string{late, elsewhere}) {
		t.Errorf("after one left its wait: %v", got)
	}
	if n, err := store.ReleaseOpeningWaits(ctx, tid, sales.ID); err != nil || n != 1 {
		t.Errorf("released %d, %v", n, err)
	}
	if got := waiting(); !slices.Equal(got, []string{early, late, elsewhere}) {
		t.Errorf("after Sales opened: %v", got)
	}
	if err := store.AddOpeningWait(ctx, pgstore.OpeningWait{TenantID: tid, InteractionID: "x", QueueID: sales.ID}); err == nil {
		t.Error("a wait without an interaction ID was taken")
	}
}
