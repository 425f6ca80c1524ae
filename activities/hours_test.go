package activities_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/activities"
	"switchboard/dispatch"
	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// The activities of working hours on PostgreSQL and Redis: what arrives while the
// queue is closed waits, bulk assignment leaves it out, and the queue's opening
// releases it and gives it to the queue's ready agent in order of arrival.
func TestQueueOpening(t *testing.T) {
	ctx := testContext(t)
	tenant, ana := newAgent(t)
	a := newActivities(t, time.Minute)
	var mu sync.Mutex
	var woken []string
	a.Wake = func(_ context.Context, tenantID, interactionID, agentID string) error {
		mu.Lock()
		defer mu.Unlock()
		if tenantID == tenant && agentID == ana {
			woken = append(woken, interactionID)
		}
		return nil
	}
	q, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Later", AgentIDs: []string{ana}})
	if err != nil {
		t.Fatal(err)
	}
	// Open around the clock in UTC, but today and tomorrow are a holiday.
	today := time.Now().UTC()
	week := hours.Week{}
	for _, d := range hours.Weekdays {
		week[d] = hours.Day{Enabled: true, Ranges: []hours.Range{{From: "00:00", To: "24:00"}}}
	}
	p, err := store.CreateWorkingHours(ctx, tenant, pgstore.Actor{}, pgstore.NewWorkingHours{Name: "Office", TimeZone: "UTC", Days: week,
		Holidays: []hours.Holiday{{StartDate: today.Format(time.DateOnly), EndDate: today.AddDate(0, 0, 1).Format(time.DateOnly)}}})
	if err != nil {
		t.Fatal(err)
	}
	assign := func(id *string) {
		t.Helper()
		if _, err := store.SetQueueWorkingHours(ctx, tenant, pgstore.Actor{}, q.ID, pgstore.QueueWorkingHours{WorkingHoursID: pgstore.Nullable[string]{Set: true, Value: id}}); err != nil {
			t.Fatal(err)
		}
	}
	assign(&p.ID)
	if _, err := a.Presence.Login(ctx, tenant, ana, presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}

	sched, err := a.GetQueueSchedule(ctx, activities.QueueScheduleRequest{TenantID: tenant, QueueID: q.ID})
	if err != nil || !sched.Exists || sched.PeriodID != p.ID || sched.Period == nil || sched.Period.TimeZone != "UTC" || len(sched.Period.Holidays) != 1 {
		t.Fatalf("schedule %+v, %v", sched, err)
	}
	if gone, err := a.GetQueueSchedule(ctx, activities.QueueScheduleRequest{TenantID: tenant, QueueID: uuid.NewString()}); err != nil || gone.Exists {
		t.Errorf("schedule of no queue %+v, %v", gone, err)
	}

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	chat := func(d time.Duration) pgstore.Interaction {
		id := uuid.NewString()
		return pgstore.Interaction{ID: id, TenantID: tenant, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Source: "web_chat",
			Direction: pgstore.Inbound, From: "visitor", Customer: "visitor", QueueID: q.ID, Priority: routing.PriorityNormal,
			InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: t0.Add(d)}, CreatedAt: t0.Add(d)}
	}
	first, second := chat(0), chat(time.Second)
	opens := today.AddDate(0, 0, 2)
	for _, ix := range []pgstore.Interaction{first, second, first} { // the last one a retry
		res, err := a.EnterAfterHours(ctx, activities.AfterHoursRequest{Interaction: ix, Wait: true, OpensAt: &opens})
		if err != nil || !res.Waiting || res.QueueID != q.ID {
			t.Fatalf("enter after hours %+v, %v", res, err)
		}
	}
	if got, err := store.GetInteraction(ctx, tenant, first.ID); err != nil || got.Status != pgstore.InteractionQueued {
		t.Errorf("the read model has %+v, %v", got, err)
	}
	if waits, err := store.OpeningWaits(ctx, tenant, q.ID); err != nil || len(waits) != 2 {
		t.Errorf("waits %v, %v", waits, err)
	}

	// Ana is ready, yet bulk assignment gives her nothing while they wait.
	d := &dispatch.Dispatcher{Store: store, Presence: a.Presence}
	if got, err := d.OfferWaiting(ctx, tenant, ana, a.Wake); err != nil || len(got) != 0 {
		t.Fatalf("bulk assignment while closed gave %v, %v", got, err)
	}
	v, err := a.CheckOpening(ctx, activities.OpeningRequest{TenantID: tenant, InteractionID: first.ID, QueueID: q.ID})
	want := time.Date(opens.Year(), opens.Month(), opens.Day(), 0, 0, 0, 0, time.UTC)
	if err != nil || v.Open || v.OpensAt == nil || !v.OpensAt.Equal(want) {
		t.Errorf("check while closed %+v, %v; want opening at %s", v, err, want)
	}

	// The opening: both released, and given to Ana oldest first.
	res, err := a.OpenQueue(ctx, activities.QueueScheduleRequest{TenantID: tenant, QueueID: q.ID})
	if err != nil || res.Released != 2 || !slices.Equal(res.Woken, []string{first.ID, second.ID}) {
		t.Fatalf("opening %+v, %v", res, err)
	}
	if !slices.Equal(woken, []string{first.ID, second.ID}) {
		t.Errorf("woken %v", woken)
	}
	for _, id := range []string{first.ID, second.ID} {
		if held, ok, err := a.Presence.Holder(ctx, tenant, id); err != nil || !ok || held.Agent != ana {
			t.Errorf("reservation of %s: %+v %v %v", id, held, ok, err)
		}
	}
	if waits, _ := store.OpeningWaits(ctx, tenant, q.ID); len(waits) != 0 {
		t.Errorf("waits left %v", waits)
	}

	// A third waits; the queue loses its period, so its look finds it open.
	third := chat(2 * time.Second)
	if _, err := a.EnterAfterHours(ctx, activities.AfterHoursRequest{Interaction: third, Wait: true}); err != nil {
		t.Fatal(err)
	}
	assign(nil)
	if v, err := a.CheckOpening(ctx, activities.OpeningRequest{TenantID: tenant, InteractionID: third.ID, QueueID: q.ID}); err != nil || !v.Open || v.OpensAt != nil {
		t.Errorf("check without a period %+v, %v", v, err)
	}
	if waits, _ := store.OpeningWaits(ctx, tenant, q.ID); len(waits) != 0 {
		t.Errorf("the open check left the wait %v", waits)
	}
	if err := a.LeaveOpeningWait(ctx, activities.OpeningRequest{TenantID: tenant, InteractionID: third.ID, QueueID: q.ID}); err != nil {
		t.Errorf("leaving twice: %v", err)
	}
	// A conversation closed at once does not wait.
	closed := chat(3 * time.Second)
	if res, err := a.EnterAfterHours(ctx, activities.AfterHoursRequest{Interaction: closed}); err != nil || res.Waiting {
		t.Errorf("closed at once %+v, %v", res, err)
	}
	if waits, _ := store.OpeningWaits(ctx, tenant, q.ID); len(waits) != 0 {
		t.Errorf("waits %v", waits)
	}
}
