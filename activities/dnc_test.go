package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// outboundCall is an outbound voice interaction of the agent to the number, as the
// workflow asks StartOutbound to start it.
func outboundCall(t *testing.T, tenantID, agentID, to string, ch routing.Channel) activities.OutboundRequest {
	t.Helper()
	q, err := store.DefaultQueueID(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := uuid.NewString()
	ix := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: ch, Direction: pgstore.Outbound,
		To: to, CustomerPhone: to, Customer: to, QueueID: q,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at}, CreatedAt: at}
	next := ix.InteractionState
	next.Status, next.AgentID, next.ConnectedAt, next.Version = pgstore.InteractionConnected, agentID, &at, 1
	return viaJSON(t, activities.OutboundRequest{Interaction: ix, AgentID: agentID,
		Connected: pgstore.InteractionUpdate{TenantID: tenantID, InteractionID: id, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionConnected, At: at, ActorID: agentID}}}})
}

// An outbound call to a listed number is refused for good on "to" before the
// agent's slot is taken; the interaction is written (it ends as failed) but never
// connected. A message to the same number, or a call to another, starts.
func TestStartOutboundRefusesListedNumber(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	if _, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.AddDoNotCall(ctx, tenant, pgstore.Actor{}, pgstore.NewDoNotCall{Phone: "+385915550199"}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"+385 91 555 0199", "not a number"} {
		req := outboundCall(t, tenant, agent, to, routing.Voice)
		res, err := a.StartOutbound(ctx, req)
		wantRefused(t, to, err, activities.ErrTypeDoNotCall, "to")
		if res.OK {
			t.Errorf("%s: started", to)
		}
		if _, held, err := a.Presence.Holder(ctx, tenant, req.Interaction.ID); err != nil || held {
			t.Errorf("%s: a slot was taken (%v, %v)", to, held, err)
		}
		if ix := readModel(t, tenant, req.Interaction.ID); ix.Status != pgstore.InteractionQueued || ix.AgentID != "" {
			t.Errorf("%s: read model %+v", to, ix.InteractionState)
		}
	}
	sms := outboundCall(t, tenant, agent, "+385 91 555 0199", routing.LiveMessaging)
	if res, err := a.StartOutbound(ctx, sms); err != nil || !res.OK {
		t.Errorf("a message to a listed number: %+v, %v; the list suppresses calls only", res, err)
	}
	call := outboundCall(t, tenant, agent, "+385 91 555 0100", routing.Voice)
	if res, err := a.StartOutbound(ctx, call); err != nil || !res.OK {
		t.Errorf("a call to a number not listed: %+v, %v", res, err)
	}
}

// Disposing a call with a blacklist code lists its customer's number, added by the
// disposing agent with a reason naming the interaction, and says so in the disposal's
// detail; a retry answers the same and lists nothing more.
func TestDisposeBlacklistListsNumber(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newDispositions(t)
	a := newActivities(t, time.Minute)
	agent := newUser(t, f.tenant, pgstore.RoleAgent)
	q, err := store.DefaultQueueID(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := uuid.NewString()
	call := pgstore.Interaction{ID: id, TenantID: f.tenant, WorkflowID: "interaction/" + id, Channel: routing.Voice, Direction: pgstore.Inbound,
		From: "+385 91 555 0142", CustomerPhone: "+385 91 555 0142", Customer: "+385915550142", QueueID: q, CampaignID: f.campaign,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1}, CreatedAt: at}
	if _, err := store.EnqueueInteraction(ctx, call); err != nil {
		t.Fatal(err)
	}
	ended := call.InteractionState
	ended.Status, ended.AgentID, ended.ConnectedAt, ended.EndedAt, ended.Outcome, ended.Version = pgstore.InteractionEnded, agent, &at, &at, pgstore.OutcomeCompleted, 4
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: id, State: ended,
		Events: []pgstore.TimelineEvent{{Type: events.InteractionEnded, At: at}}}); err != nil {
		t.Fatal(err)
	}
	next := ended
	next.Status, next.DisposedAt, next.DisposedBy, next.Version = pgstore.InteractionDisposed, &at, agent, 5
	req := viaJSON(t, activities.DisposeRequest{CampaignID: f.campaign, Class: "Lost", Code: "Do not call",
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: id, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionDisposed, At: at, ActorID: agent}}}})
	for try := range 2 {
		if _, err := a.DisposeInteraction(ctx, req); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
	}
	e, err := store.GetDoNotCall(ctx, f.tenant, "+385915550142")
	if err != nil || e.Source != pgstore.DoNotCallDisposition || e.AddedBy == nil || *e.AddedBy != agent {
		t.Fatalf("entry %+v, %v; want listed by the disposing agent", e, err)
	}
	if list, err := store.ListDoNotCall(ctx, f.tenant, pgstore.DoNotCallFilter{}); err != nil || len(list) != 1 {
		t.Errorf("list %+v, %v; want the one number", list, err)
	}
	tl := timeline(t, f.tenant, id)
	if d := tl[len(tl)-1]; d.Type != events.InteractionDisposed || d.Data["doNotCall"] != "+385915550142" {
		t.Errorf("disposal entry %+v; want the listed number in its detail", d)
	}
}
