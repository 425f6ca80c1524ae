package activities_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

func TestAgentVoice(t *testing.T) {
	const me, other = "ix-me", "ix-other"
	ringingOther := []presence.Slot{{Interaction: other, Channel: routing.Voice}}
	heldOther := []presence.Slot{{Interaction: other, Channel: routing.Voice, Held: true}}
	mine := []presence.Slot{{Interaction: me, Channel: routing.Voice, Held: true}}
	chat := []presence.Slot{{Interaction: other, Channel: routing.LiveChat, Held: true}}
	cases := []struct {
		name     string
		state    routing.VoiceState
		slots    []presence.Slot
		wrapping bool
		want     routing.VoiceState
	}{
		{"ringing alone", routing.VoiceRinging, nil, false, routing.VoiceRinging},
		{"own held slot does not count twice", routing.VoiceWrapping, mine, false, routing.VoiceWrapping},
		{"idle alone", routing.VoiceIdle, nil, false, routing.VoiceIdle},
		{"idle while another call rings", routing.VoiceIdle, ringingOther, false, routing.VoiceRinging},
		{"wrapping while another call rings", routing.VoiceWrapping, ringingOther, false, routing.VoiceRinging},
		{"idle while another call is in progress", routing.VoiceIdle, heldOther, true, routing.VoiceInCall},
		{"idle while another call wraps up", routing.VoiceIdle, nil, true, routing.VoiceWrapping},
		{"ringing while another call wraps up", routing.VoiceRinging, nil, true, routing.VoiceRinging},
		{"chats do not count", routing.VoiceIdle, chat, false, routing.VoiceIdle},
	}
	for _, c := range cases {
		if got := activities.AgentVoice(me, c.state, c.slots, c.wrapping); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// newCall enqueues a call of the tenant in its Default queue.
func newCall(t *testing.T, tenantID string, at time.Time) pgstore.Interaction {
	t.Helper()
	q, err := store.DefaultQueueID(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	in := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: routing.Voice, Direction: pgstore.Inbound,
		QueueID: q, InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at}, CreatedAt: at}
	if _, err := store.EnqueueInteraction(testContext(t), in); err != nil {
		t.Fatal(err)
	}
	return in
}

// An agent's voice sub-state follows their calls: what one call lets go of never
// hides another call ringing, in progress or wrapping up, and a ringing or in-call
// state never stays without a slot under it.
func TestSetAgentVoice(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	told := recordSignals(a)
	tenant, agent := newAgent(t)
	login, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{})
	if err != nil {
		t.Fatal(err)
	}
	session := "agent/" + tenant + "/" + agent
	set := func(ix string, state routing.VoiceState, bulk bool) activities.VoiceResult {
		t.Helper()
		res, err := a.SetAgentVoice(ctx, activities.VoiceRequest{TenantID: tenant, AgentID: agent, InteractionID: ix, OfferWaiting: bulk,
			Step: activities.VoiceStep{State: state, SessionWorkflowID: session, SessionSignal: "agent-voice"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Presence.Get(ctx, tenant, agent)
		if err != nil {
			t.Fatal(err)
		}
		if p.Voice != res.State || res.Session != login.Presence.Session || res.At.IsZero() || res.At.After(p.At) {
			t.Fatalf("result %+v, presence %+v", res, p)
		}
		last := (*told)[len(*told)-1]
		if last.workflowID != session || last.signal != "agent-voice" ||
			last.change != (activities.VoiceChange{Session: res.Session, State: res.State, At: res.At}) {
			t.Fatalf("the session was told %+v after %+v", last, res)
		}
		return res
	}
	reserve := func(ix string) {
		t.Helper()
		if ok, err := a.Presence.Reserve(ctx, tenant, agent, ix, routing.Voice, 1, time.Minute); err != nil || !ok {
			t.Fatalf("reserve %s: %v, %v", ix, ok, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	first, second := newCall(t, tenant, now), newCall(t, tenant, now)

	reserve(first.ID)
	if res := set(first.ID, routing.VoiceRinging, false); res.State != routing.VoiceRinging {
		t.Errorf("ringing: %+v", res)
	}
	if ok, err := a.Presence.Confirm(ctx, tenant, agent, first.ID); !ok || err != nil {
		t.Fatal(ok, err)
	}
	set(first.ID, routing.VoiceInCall, false)
	res := set(first.ID, routing.VoiceWrapping, false)
	if res.State != routing.VoiceWrapping || res.WrapUp != pgstore.DefaultWrapUpSeconds*time.Second {
		t.Errorf("wrapping: %+v", res)
	}
	ended := time.Now().UTC()
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tenant, InteractionID: first.ID, State: pgstore.InteractionState{
		Status: pgstore.InteractionEnded, AgentID: agent, QueuedAt: now, ConnectedAt: &now, EndedAt: &ended, Version: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Presence.Release(ctx, tenant, agent, first.ID); err != nil {
		t.Fatal(err)
	}

	// During the wrap-up the next call rings: the wrap-up's end does not hide it,
	// nor its being taken.
	reserve(second.ID)
	set(second.ID, routing.VoiceRinging, false)
	if res := set(first.ID, routing.VoiceIdle, true); res.State != routing.VoiceRinging {
		t.Errorf("end of the wrap-up while the next call rings: %+v", res)
	}
	if ok, err := a.Presence.Confirm(ctx, tenant, agent, second.ID); !ok || err != nil {
		t.Fatal(ok, err)
	}
	set(second.ID, routing.VoiceInCall, false)
	if res := set(first.ID, routing.VoiceIdle, false); res.State != routing.VoiceInCall {
		t.Errorf("a retried end of the wrap-up during the next call: %+v", res)
	}

	// The next call moves away from the agent (to a queue they do not work, say)
	// while the first is still in its wrap-up: the agent is back to wrapping; with
	// no wrap-up time, idle.
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tenant, InteractionID: second.ID, State: pgstore.InteractionState{
		Status: pgstore.InteractionQueued, ExcludedAgents: []string{agent}, QueuedAt: now, Version: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Presence.Release(ctx, tenant, agent, second.ID); err != nil {
		t.Fatal(err)
	}
	if res := set(second.ID, routing.VoiceIdle, false); res.State != routing.VoiceWrapping {
		t.Errorf("idle while another call wraps up: %+v", res)
	}
	zero := 0
	if _, err := store.UpdateACDSettings(ctx, tenant, pgstore.Actor{}, pgstore.ACDSettingsUpdate{WrapUpSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if res := set(second.ID, routing.VoiceIdle, false); res.State != routing.VoiceIdle {
		t.Errorf("idle: %+v", res)
	}

	// Idle with bulk assignment: the waiting call is reserved for the agent, whose
	// voice slot is free again.
	waiting := newCall(t, tenant, now)
	res = set(first.ID, routing.VoiceIdle, true)
	if !slices.Equal(res.Woken, []string{waiting.ID}) {
		t.Errorf("bulk assignment woke %v, want %s", res.Woken, waiting.ID)
	}
	if held, ok, err := a.Presence.Holder(ctx, tenant, waiting.ID); err != nil || !ok || held.Agent != agent {
		t.Errorf("waiting call held by %+v, %v, %v", held, ok, err)
	}

	_, err = a.SetAgentVoice(ctx, activities.VoiceRequest{TenantID: tenant, AgentID: agent, InteractionID: first.ID, Step: activities.VoiceStep{State: "dozing"}})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidVoiceState {
		t.Errorf("unknown state: %v", err)
	}
}

// told is a signal an activity sent.
type told struct {
	workflowID, signal string
	change             activities.VoiceChange
}

// recordSignals makes a's signals to workflows recorded rather than sent.
func recordSignals(a *activities.Activities) *[]told {
	var mu sync.Mutex
	out := &[]told{}
	a.Signal = func(_ context.Context, workflowID, signal string, arg any) error {
		mu.Lock()
		defer mu.Unlock()
		*out = append(*out, told{workflowID: workflowID, signal: signal, change: arg.(activities.VoiceChange)})
		return nil
	}
	return out
}

// A call's answer puts the agent in the call once the slot is theirs, and its end
// puts them in wrap-up before the slot is freed and bulk assignment runs for them,
// answering their wrap-up time; a reservation that lapsed sets nothing.
func TestConfirmAndReleaseCall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	told := recordSignals(a)
	tenant, agent := newAgent(t)
	if _, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}
	twelve := 12
	if _, err := store.UpdateAgent(ctx, tenant, pgstore.Actor{}, agent, pgstore.AgentUpdate{WrapUpSeconds: pgstore.Nullable[int]{Set: true, Value: &twelve}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	call, waiting, lapsed := newCall(t, tenant, now), newCall(t, tenant, now.Add(time.Second)), newCall(t, tenant, now.Add(2*time.Second))
	step := func(state routing.VoiceState) *activities.VoiceStep {
		return &activities.VoiceStep{State: state, SessionWorkflowID: "agent/" + tenant + "/" + agent, SessionSignal: "agent-voice"}
	}
	voice := func() routing.VoiceState {
		p, err := a.Presence.Get(ctx, tenant, agent)
		if err != nil {
			t.Fatal(err)
		}
		return p.Voice
	}

	// A lapsed reservation: nothing is confirmed, nothing set.
	confirmed := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: agent, Offers: 1, QueuedAt: now, ConnectedAt: &now, Version: 2}
	ok, err := a.ConfirmOffer(ctx, activities.ConfirmRequest{AgentID: agent, Voice: step(routing.VoiceInCall),
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: lapsed.ID, State: confirmed}})
	if err != nil || ok || voice() != routing.VoiceIdle || len(*told) != 0 {
		t.Fatalf("confirm without a reservation: %v, %v, voice %q, told %v", ok, err, voice(), *told)
	}

	if ok, err := a.Presence.Reserve(ctx, tenant, agent, call.ID, routing.Voice, 1, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for range 2 { // a retried activity
		ok, err := a.ConfirmOffer(ctx, activities.ConfirmRequest{AgentID: agent, Voice: step(routing.VoiceInCall),
			Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: call.ID, State: confirmed}})
		if err != nil || !ok || voice() != routing.VoiceInCall {
			t.Fatalf("confirm: %v, %v, voice %q", ok, err, voice())
		}
	}
	ended := confirmed
	ended.Status, ended.EndedAt, ended.Version = pgstore.InteractionEnded, &now, 3
	res, err := a.ReleaseCall(ctx, activities.ReleaseRequest{AgentID: agent, Voice: step(routing.VoiceWrapping),
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: call.ID, State: ended}})
	if err != nil || res.Voice == nil || res.Voice.State != routing.VoiceWrapping || res.Voice.WrapUp != 12*time.Second {
		t.Fatalf("release: %+v, %v", res, err)
	}
	// The waiting call was given to the agent in wrap-up: it rings on them now.
	if !slices.Equal(res.Woken, []string{waiting.ID}) {
		t.Errorf("bulk assignment woke %v, want %s", res.Woken, waiting.ID)
	}
	if _, ok, _ := a.Presence.Holder(ctx, tenant, call.ID); ok {
		t.Error("the ended call still holds a slot")
	}
	if got, _ := store.GetInteraction(ctx, tenant, call.ID); got.Status != pgstore.InteractionEnded {
		t.Errorf("read model %+v", got)
	}
	var states []routing.VoiceState
	for _, s := range *told {
		states = append(states, s.change.State)
	}
	if !slices.Equal(states, []routing.VoiceState{routing.VoiceInCall, routing.VoiceInCall, routing.VoiceWrapping}) {
		t.Errorf("the session was told %v", states)
	}
}

// Moving a queued interaction lets go of a reservation bulk assignment made for it
// in the old queue; a queue the tenant does not have is refused, writing nothing.
func TestMoveInteractionActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	sales, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Sales", AgentIDs: []string{agent}})
	if err != nil {
		t.Fatal(err)
	}
	billing, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Billing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	call := newCall(t, tenant, now)
	if _, err := store.MoveInteraction(ctx, pgstore.QueueChange{QueueID: sales.ID, Kept: pgstore.InteractionUpdate{
		TenantID: tenant, InteractionID: call.ID, State: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now, Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Presence.Reserve(ctx, tenant, agent, call.ID, routing.Voice, 1, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	move := func(queue string, version int64) (activities.MoveResult, error) {
		return a.MoveInteraction(ctx, activities.MoveRequest{Change: pgstore.QueueChange{QueueID: queue, Kept: pgstore.InteractionUpdate{
			TenantID: tenant, InteractionID: call.ID, State: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now, Version: version}}}})
	}

	_, err = move(uuid.NewString(), 2)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeUnknownQueue {
		t.Errorf("unknown queue: %v", err)
	}
	if held, ok, _ := a.Presence.Holder(ctx, tenant, call.ID); !ok || held.Agent != agent {
		t.Errorf("a refused move let go of the reservation: %+v %v", held, ok)
	}
	res, err := move(billing.ID, 2)
	if err != nil || !res.Member || res.Withdrawn != agent || len(res.Woken) != 0 {
		t.Fatalf("move to Billing: %+v, %v", res, err)
	}
	if _, ok, _ := a.Presence.Holder(ctx, tenant, call.ID); ok {
		t.Error("the reservation from the old queue is still there")
	}
	if got, err := store.GetInteraction(ctx, tenant, call.ID); err != nil || got.QueueID != billing.ID || got.Version != 2 {
		t.Errorf("after the move %+v, %v", got, err)
	}

	// An interaction not written yet is written with its move.
	fresh := call
	fresh.ID = uuid.NewString()
	fresh.WorkflowID = "interaction/" + fresh.ID
	res, err = a.MoveInteraction(ctx, activities.MoveRequest{Enqueue: &fresh, Change: pgstore.QueueChange{QueueID: sales.ID, Kept: pgstore.InteractionUpdate{
		TenantID: tenant, InteractionID: fresh.ID, State: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now, Version: 1}}}})
	if err != nil || !res.Member {
		t.Fatalf("move of an unwritten interaction: %+v, %v", res, err)
	}
	if got, err := store.GetInteraction(ctx, tenant, fresh.ID); err != nil || got.QueueID != sales.ID || got.Version != 1 {
		t.Errorf("written with its move: %+v, %v", got, err)
	}
}

// The presence check clears a call left ringing or in progress with no voice slot
// under it (its run held up past the reservation, or stopped by hand), and leaves a
// ringing call with its reservation alone.
func TestCheckAgentPresenceClearsAStaleCall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	login, err := a.Presence.Login(ctx, tenant, agent, presence.LoginInput{})
	if err != nil {
		t.Fatal(err)
	}
	check := func() activities.PresenceVerdict {
		t.Helper()
		v, err := a.CheckAgentPresence(ctx, activities.PresenceCheck{TenantID: tenant, AgentID: agent, Session: login.Presence.Session, Status: availableSheet})
		if err != nil || v.Ended || v.Status != nil {
			t.Fatalf("check %+v, %v", v, err)
		}
		return v
	}
	call := uuid.NewString()
	if ok, err := a.Presence.Reserve(ctx, tenant, agent, call, routing.Voice, 1, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := a.Presence.SetVoiceState(ctx, tenant, agent, routing.VoiceRinging); err != nil {
		t.Fatal(err)
	}
	if v := check(); v.Voice != nil {
		t.Errorf("a ringing call with its reservation was cleared: %+v", v.Voice)
	}
	if _, err := a.Presence.Release(ctx, tenant, agent, call); err != nil {
		t.Fatal(err)
	}
	for _, stale := range []routing.VoiceState{routing.VoiceRinging, routing.VoiceInCall} {
		if _, err := a.Presence.SetVoiceState(ctx, tenant, agent, stale); err != nil {
			t.Fatal(err)
		}
		v := check()
		p, _ := a.Presence.Get(ctx, tenant, agent)
		if v.Voice == nil || v.Voice.State != routing.VoiceIdle || v.Voice.Session != login.Presence.Session || v.Voice.At.IsZero() || p.Voice != routing.VoiceIdle {
			t.Errorf("stale %s: verdict %+v, presence voice %q", stale, v.Voice, p.Voice)
		}
		// A voice reservation can be made again.
		again := uuid.NewString()
		if ok, err := a.Presence.Reserve(ctx, tenant, agent, again, routing.Voice, 1, time.Minute); err != nil || !ok {
			t.Errorf("after clearing %s the agent takes no call: %v, %v", stale, ok, err)
		}
		if _, err := a.Presence.Release(ctx, tenant, agent, again); err != nil {
			t.Fatal(err)
		}
	}
	if v := check(); v.Voice != nil {
		t.Errorf("an idle agent was changed: %+v", v.Voice)
	}
}
