package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// A due callback is checked on the real stores: a number on the do-not-call list is
// refused before anything is reserved; the call goes to the callback's queue, else
// its campaign's default queue, else the Default queue (a deleted campaign or queue
// falls back); an agent must be logged in with room for a call, and in an
// Available-group status unless they dial it themselves; the reservation holds the
// slot for the callback's interaction, and a retry finds it; an agent who is gone
// is told apart from one who is only busy.
func TestCheckCallback(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	supervisor := newUser(t, tenant, pgstore.RoleSupervisor)
	q, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Renewals", AgentIDs: []string{agent}})
	if err != nil {
		t.Fatal(err)
	}
	camp, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Renewals", DefaultQueueID: q.ID})
	if err != nil {
		t.Fatal(err)
	}
	defCampaign, err := store.DefaultCampaignID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defQueue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	cb := pgstore.Callback{ID: uuid.NewString(), TenantID: tenant, Phone: "+385915550101", DueAt: time.Now(), CreatedAt: time.Now()}
	check := func(c pgstore.Callback, agentID string, anyStatus bool, ix string) activities.CallbackVerdict {
		t.Helper()
		v, err := a.CheckCallback(ctx, viaJSON(t, activities.CallbackCheck{Callback: c, AgentID: agentID, AnyStatus: anyStatus, InteractionID: ix}))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Where a queue callback goes.
	for _, tc := range []struct {
		name                    string
		campaign, queue         string
		wantCampaign, wantQueue string
	}{
		{"the campaign's default queue", camp.ID, "", camp.ID, q.ID},
		{"no campaign: the Default campaign and queue", "", "", defCampaign, defQueue},
		{"its own queue", "", q.ID, defCampaign, q.ID},
		{"a deleted queue: the campaign's", camp.ID, uuid.NewString(), camp.ID, q.ID},
		{"a deleted campaign: the Default one", uuid.NewString(), "", defCampaign, defQueue},
	} {
		c := cb
		c.CampaignID, c.QueueID = tc.campaign, tc.queue
		v := check(c, "", false, uuid.NewString())
		if !v.Ready || v.DoNotCall || v.AgentGone || v.CampaignID != tc.wantCampaign || v.QueueID != tc.wantQueue {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}

	// The agent: logged out, then away, then available; each look reserves for the
	// fire's interaction, and voice has room for one call.
	ix1, ix2 := uuid.NewString(), uuid.NewString()
	if v := check(cb, agent, false, ix1); v.Ready || v.AgentGone {
		t.Errorf("logged out: %+v", v)
	}
	if v := check(cb, agent, true, ix1); v.Ready || v.AgentGone {
		t.Errorf("logged out, dialling themselves: %+v", v)
	}
	lunch := routing.Status{Name: "Lunch", Group: routing.GroupAway}
	if _, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{Status: lunch}); err != nil {
		t.Fatal(err)
	}
	if v := check(cb, agent, false, ix1); v.Ready {
		t.Errorf("at lunch, fired at its time: %+v", v)
	}
	if v := check(cb, agent, true, ix1); !v.Ready {
		t.Errorf("at lunch, dialling themselves: %+v", v)
	}
	if held, ok, err := a.Presence.Holder(ctx, tenant, ix1); err != nil || !ok || held.Agent != agent {
		t.Fatalf("slot of %s: %+v %v %v", ix1, held, ok, err)
	}
	if v := check(cb, agent, true, ix1); !v.Ready {
		t.Errorf("a retry did not find its reservation: %+v", v)
	}
	if _, err := a.Presence.SetStatus(ctx, tenant, agent, routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable}); err != nil {
		t.Fatal(err)
	}
	if v := check(cb, agent, false, ix2); v.Ready || v.AgentGone {
		t.Errorf("no room for a second call: %+v", v)
	}
	if _, err := a.Presence.Release(ctx, tenant, agent, ix1); err != nil {
		t.Fatal(err)
	}
	if v := check(cb, agent, false, ix2); !v.Ready {
		t.Errorf("available with room: %+v", v)
	}

	// Gone: not a user, or not an agent.
	for _, who := range []string{uuid.NewString(), supervisor} {
		if v := check(cb, who, false, uuid.NewString()); !v.AgentGone || v.Ready {
			t.Errorf("%s: %+v", who, v)
		}
	}

	// A listed number is refused first, reserving nothing.
	if _, _, err := store.AddDoNotCall(ctx, tenant, pgstore.Actor{}, pgstore.NewDoNotCall{Phone: "+385 91 555 0101"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Presence.Release(ctx, tenant, agent, ix2); err != nil {
		t.Fatal(err)
	}
	ix3 := uuid.NewString()
	if v := check(cb, agent, true, ix3); !v.DoNotCall || v.Ready {
		t.Errorf("listed number: %+v", v)
	}
	if _, ok, err := a.Presence.Holder(ctx, tenant, ix3); err != nil || ok {
		t.Errorf("a refused number reserved a slot (%v, %v)", ok, err)
	}
}

// A code with the callback flag needs the disposal's callback and only such a code
// takes one, each refused for good naming the field with nothing written; the
// disposal with its callback tells the callback's ID with the disposition.
func TestDisposeInteractionCallbackCode(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newDispose(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	missing := f.request(t, f.campaign, "Won", "Call back", "", false, at)
	_, err := f.a.DisposeInteraction(ctx, missing)
	wantRefused(t, "a callback code without its callback", err, activities.ErrTypeInvalidDisposition, "callback.at")
	notCallback := f.request(t, f.campaign, "Lost", "Call back", "", false, at)
	notCallback.CallbackID = uuid.NewString()
	_, err = f.a.DisposeInteraction(ctx, notCallback)
	wantRefused(t, "a callback with a code that schedules none", err, activities.ErrTypeInvalidDisposition, "callback")
	if ix := readModel(t, f.tenant, f.chat.ID); ix.Status != pgstore.InteractionEnded || ix.Disposition != nil {
		t.Fatalf("a refused disposal was written: %+v", ix.InteractionState)
	}
	ok := f.request(t, f.campaign, "Won", "Call back", "", false, at)
	ok.CallbackID = uuid.NewString()
	got, err := f.a.DisposeInteraction(ctx, ok)
	if err != nil || got == nil || got.Code != "Call back" {
		t.Fatalf("disposal with its callback: %+v, %v", got, err)
	}
	tl := timeline(t, f.tenant, f.chat.ID)
	if e := tl[len(tl)-1]; e.Data["callbackId"] != ok.CallbackID || e.Data["callback"] != true {
		t.Errorf("timeline entry %+v", e)
	}
}
