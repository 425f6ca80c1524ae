package activities_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/activities"
	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// newChatIn enqueues a live chat of the tenant in its Default queue that names the
// campaign (version 1): the read model puts it in the Default campaign when that one
// no longer exists.
func newChatIn(t *testing.T, tenantID, campaignID string, at time.Time) pgstore.Interaction {
	t.Helper()
	q, err := store.DefaultQueueID(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	in := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Source: "web_chat",
		Direction: pgstore.Inbound, QueueID: q, CampaignID: campaignID,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1}, CreatedAt: at}
	if _, err := store.EnqueueInteraction(testContext(t), in); err != nil {
		t.Fatal(err)
	}
	return in
}

// endedState is the connected chat ended by the customer at the time (version 4), as
// the interaction workflow writes it.
func endedState(connected pgstore.InteractionState, at time.Time) pgstore.InteractionState {
	st := connected
	st.Status, st.Outcome, st.EndedAt, st.EndReason, st.Version = pgstore.InteractionEnded, pgstore.OutcomeCompleted, &at, "customer left", 4
	return st
}

// endChat records the end of the connected chat (version 4) and frees its agent's
// slot, without a wrap-up deadline. It returns the ended state.
func endChat(t *testing.T, a *activities.Activities, chat pgstore.Interaction, agent string, connected pgstore.InteractionState, at time.Time) pgstore.InteractionState {
	t.Helper()
	ctx := testContext(t)
	st := endedState(connected, at)
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: chat.TenantID, InteractionID: chat.ID, State: st,
		Events: []pgstore.TimelineEvent{{Type: events.InteractionEnded, At: at}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Presence.Release(ctx, chat.TenantID, agent, chat.ID); err != nil {
		t.Fatal(err)
	}
	return st
}

// disposeFixture is an ended chat of the Renewals campaign (newDispositions), wrapped
// up by its agent.
type disposeFixture struct {
	dispositionFixture
	a        *activities.Activities
	feed     *events.Feed
	agent    string
	chat     pgstore.Interaction
	ended    pgstore.InteractionState
	timeline int
}

func newDispose(t *testing.T) *disposeFixture {
	t.Helper()
	f := &disposeFixture{dispositionFixture: newDispositions(t), a: newActivities(t, time.Minute)}
	f.feed = withEvents(t, f.a)
	f.agent = newUser(t, f.tenant, pgstore.RoleAgent)
	now := time.Now().UTC().Truncate(time.Millisecond)
	f.chat = newChatIn(t, f.tenant, f.campaign, now.Add(-2*time.Minute))
	connected := connectChat(t, f.a, f.chat, f.agent)
	f.ended = endChat(t, f.a, f.chat, f.agent, connected, now.Add(-time.Minute))
	f.timeline = len(timeline(t, f.tenant, f.chat.ID))
	return f
}

// request is the disposal the workflow asks for (version 5): by the agent with the
// class, code and notes named, or automatic with neither.
func (f *disposeFixture) request(t *testing.T, campaign, class, code, notes string, auto bool, at time.Time) activities.DisposeRequest {
	t.Helper()
	actor := f.agent
	if auto {
		actor = ""
	}
	next := f.ended
	next.Status, next.DisposedAt, next.DisposedBy, next.WrapUpUntil, next.Version = pgstore.InteractionDisposed, &at, actor, nil, 5
	var note *pgstore.Note
	if notes != "" {
		note = &pgstore.Note{ID: uuid.NewString(), TenantID: f.tenant, InteractionID: f.chat.ID, AuthorID: actor, Body: notes, CreatedAt: at}
	}
	return viaJSON(t, activities.DisposeRequest{CampaignID: campaign, Class: class, Code: code, Auto: auto, Notes: notes, Note: note,
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionDisposed, At: at, ActorID: actor}}}})
}

// wantDisposed checks the read model, the timeline, the notes and the feed after the
// disposal req with the disposition applied and the detail told.
func (f *disposeFixture) wantDisposed(t *testing.T, try string, req activities.DisposeRequest, applied *pgstore.AppliedDisposition, detail map[string]any) {
	t.Helper()
	at, actor := *req.Update.State.DisposedAt, req.Update.State.DisposedBy
	ix := readModel(t, f.tenant, f.chat.ID)
	if ix.Status != pgstore.InteractionDisposed || ix.Version != 5 || ix.AgentID != f.agent || ix.DisposedAt == nil || !ix.DisposedAt.Equal(at) ||
		ix.DisposedBy != actor || ix.WrapUpUntil != nil || ix.EndedAt == nil || !ix.EndedAt.Equal(*f.ended.EndedAt) ||
		ix.Outcome != pgstore.OutcomeCompleted || !reflect.DeepEqual(ix.Disposition, applied) {
		t.Errorf("%s: read model %+v with disposition %+v; want disposed by %q at %v with %+v", try, ix.InteractionState, ix.Disposition, actor, at, applied)
	}
	tl := timeline(t, f.tenant, f.chat.ID)
	if len(tl) != f.timeline+1 {
		t.Fatalf("%s: timeline %+v, want %d entries", try, tl, f.timeline+1)
	}
	if e := tl[len(tl)-1]; e.Version != 5 || e.Type != events.InteractionDisposed || !e.At.Equal(at) || e.ActorID != actor || e.AgentID != f.agent ||
		e.Status != pgstore.InteractionDisposed || !reflect.DeepEqual(e.Data, detail) {
		t.Errorf("%s: timeline entry %+v, want data %v", try, e, detail)
	}
	ns := notes(t, f.tenant, f.chat.ID)
	if req.Note == nil {
		if len(ns) != 0 {
			t.Errorf("%s: notes %+v, want none", try, ns)
		}
	} else if len(ns) != 1 || ns[0].ID != req.Note.ID || ns[0].TenantID != f.tenant || ns[0].InteractionID != f.chat.ID ||
		ns[0].AuthorID != actor || ns[0].Body != req.Notes || !ns[0].CreatedAt.Equal(at) {
		t.Errorf("%s: notes %+v, want the disposal's notes %q", try, ns, req.Notes)
	}
	evs := feedOf(t, f.feed, f.tenant)
	if len(evs) != 1 {
		t.Fatalf("%s: feed %+v, want interactionDisposed alone", try, evs)
	}
	wantEvent(t, evs[0], f.tenant, f.chat.ID, 5, events.InteractionDisposed, f.agent)
	if p := payload(t, evs[0]); p.InteractionID != f.chat.ID || p.Status != pgstore.InteractionDisposed || p.AgentID != f.agent || p.Version != 5 ||
		!reflect.DeepEqual(p.Detail, detail) {
		t.Errorf("%s: %s carries %+v, want detail %v", try, evs[0].Type, p, detail)
	}
}

// An agent disposes the ended chat naming the class and code by name (in another
// case): the read model shows it disposed with the disposition's IDs and stored
// names, not automatic, with the notes; its timeline entry and its one
// interactionDisposed event carry the disposition with its flags; the notes are kept
// as a note. Retries answer the same and add nothing.
func TestDisposeInteraction(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newDispose(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	req := f.request(t, f.campaign, "lost", "DO NOT CALL", "Asked to be removed from the list.", false, at)
	d := f.want(1, 0)
	want := &pgstore.AppliedDisposition{ClassID: d.ClassID, Class: "Lost", CodeID: d.CodeID, Code: "Do not call", Notes: req.Notes}
	detail := map[string]any{"auto": false, "class": "Lost", "code": "Do not call", "classId": d.ClassID, "codeId": d.CodeID,
		"blacklist": true, "callback": false, "success": false}

	var first []events.Event
	for try := range 3 { // retries after a lost answer
		got, err := f.a.DisposeInteraction(ctx, req)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("try %d: %+v, %v; want %+v", try, got, err, want)
		}
		f.wantDisposed(t, fmt.Sprintf("try %d", try), req, want, detail)
		evs := feedOf(t, f.feed, f.tenant)
		if try == 0 {
			first = evs
		} else if evs[0].ID != first[0].ID {
			t.Errorf("try %d published again: %+v, then %+v", try, first, evs)
		}
	}
}

// The wrap-up timed out: the automatic disposal, naming neither class nor code,
// applies the campaign's default code, marked automatic, by nobody, without notes.
func TestDisposeInteractionAuto(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newDispose(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	req := f.request(t, f.campaign, "", "", "", true, at)
	d := f.want(0, 0) // Won / Renewed, the campaign's default code
	want := &pgstore.AppliedDisposition{ClassID: d.ClassID, Class: "Won", CodeID: d.CodeID, Code: "Renewed", Auto: true}
	detail := map[string]any{"auto": true, "class": "Won", "code": "Renewed", "classId": d.ClassID, "codeId": d.CodeID,
		"blacklist": false, "callback": false, "success": true}
	for try := range 2 {
		got, err := f.a.DisposeInteraction(ctx, req)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("try %d: %+v, %v; want %+v", try, got, err, want)
		}
		f.wantDisposed(t, "auto", req, want, detail)
	}
}

// A class or code the campaign does not have is refused for good naming the field,
// with nothing written: the chat stays ended without a disposition, no timeline
// entry, no note, no event.
func TestDisposeInteractionInvalid(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for _, c := range []struct {
		name, class, code, field string
	}{
		{"unknown class", "Pending", "Renewed", "dispositionClass"},
		{"unknown code", "Won", "Upsold", "dispositionCode"},
		{"code of another class", "Won", "Do not call", "dispositionCode"},
		{"unknown code ID", "", uuid.NewString(), "dispositionCode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newDispose(t)
			req := f.request(t, f.campaign, c.class, c.code, "Some notes.", false, time.Now().UTC().Truncate(time.Millisecond))
			for range 2 {
				got, err := f.a.DisposeInteraction(ctx, req)
				if got != nil {
					t.Errorf("answered %+v", got)
				}
				wantRefused(t, c.name, err, activities.ErrTypeInvalidDisposition, c.field)
			}
			if ix := readModel(t, f.tenant, f.chat.ID); ix.Status != pgstore.InteractionEnded || ix.Version != 4 || ix.Disposition != nil || ix.DisposedAt != nil {
				t.Errorf("read model %+v with disposition %+v", ix.InteractionState, ix.Disposition)
			}
			if n := len(timeline(t, f.tenant, f.chat.ID)); n != f.timeline {
				t.Errorf("%d timeline entries, want %d", n, f.timeline)
			}
			if ns := notes(t, f.tenant, f.chat.ID); len(ns) != 0 {
				t.Errorf("notes %+v", ns)
			}
			if evs := feedOf(t, f.feed, f.tenant); len(evs) != 0 {
				t.Errorf("published %+v", evs)
			}
		})
	}
}

// The release that ends a chat with its agent starts the wrap-up: the read model's
// deadline is the end plus the wrap-up timeout of the interaction's campaign, which
// the result answers; a campaign without a timeout sets no deadline; the campaign of
// an interaction whose campaign was deleted, or that names none, is the Default one.
func TestReleaseCallWrapUp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tenant, _ := newAgent(t)
	q, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Retention"})
	if err != nil {
		t.Fatal(err)
	}
	ninety, zero, long, defTimeout := 90, 0, 120, 45
	retention, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Retention", WrapUpTimeoutSeconds: &ninety, DefaultQueueID: q.ID})
	if err != nil {
		t.Fatal(err)
	}
	manual, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Manual wrap-up", WrapUpTimeoutSeconds: &zero})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Gone", WrapUpTimeoutSeconds: &long})
	if err != nil {
		t.Fatal(err)
	}
	def, err := store.DefaultCampaignID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	// The Default campaign's timeout differs from a new campaign's, so that it is
	// told apart.
	if _, err := store.UpdateCampaign(ctx, tenant, pgstore.Actor{}, def, pgstore.CampaignUpdate{WrapUpTimeoutSeconds: &defTimeout}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		campaign string
		deleted  bool
		want     activities.CampaignInfo
	}{
		{"a campaign's timeout", retention.ID, false, activities.CampaignInfo{ID: retention.ID, WrapUpTimeoutSeconds: 90, DefaultQueueID: q.ID}},
		{"no timeout", manual.ID, false, activities.CampaignInfo{ID: manual.ID}},
		{"a deleted campaign", gone.ID, true, activities.CampaignInfo{ID: def, WrapUpTimeoutSeconds: defTimeout}},
		{"no campaign", "", false, activities.CampaignInfo{ID: def, WrapUpTimeoutSeconds: defTimeout}},
	} {
		// One after the other: a chat of one case queued in the tenant's Default queue
		// would be given by another case's release to its agent.
		t.Run(c.name, func(t *testing.T) {
			a := newActivities(t, time.Minute)
			feed := withEvents(t, a)
			agent := newUser(t, tenant, pgstore.RoleAgent)
			if c.deleted {
				// Deleted after the chat named it, before it was written: the read model
				// puts it in the Default campaign, its workflow still names the deleted one.
				if err := store.DeleteCampaign(ctx, tenant, pgstore.Actor{}, c.campaign); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			chat := newChatIn(t, tenant, c.campaign, now.Add(-2*time.Minute))
			connected := connectChat(t, a, chat, agent)
			endedAt := now.Add(-time.Minute)
			st := endedState(connected, endedAt)
			req := viaJSON(t, activities.ReleaseRequest{AgentID: agent, WrapUp: &activities.WrapUpRequest{CampaignID: c.campaign},
				Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: chat.ID, State: st,
					Events: []pgstore.TimelineEvent{{Type: events.InteractionEnded, At: endedAt, Data: map[string]any{"reason": st.EndReason}}}}})
			var until *time.Time
			if c.want.WrapUpTimeoutSeconds > 0 {
				u := endedAt.Add(time.Duration(c.want.WrapUpTimeoutSeconds) * time.Second)
				until = &u
			}
			for try := range 2 {
				res, err := a.ReleaseCall(ctx, req)
				if err != nil || res.Campaign == nil || *res.Campaign != c.want || res.Voice != nil || len(res.Woken) != 0 {
					t.Fatalf("try %d: %+v (campaign %+v), %v; want campaign %+v", try, res, res.Campaign, err, c.want)
				}
				ix := readModel(t, tenant, chat.ID)
				if ix.Status != pgstore.InteractionEnded || ix.Version != 4 || ix.AgentID != agent || ix.EndedAt == nil || !ix.EndedAt.Equal(endedAt) ||
					(ix.WrapUpUntil == nil) != (until == nil) || (until != nil && !ix.WrapUpUntil.Equal(*until)) {
					t.Errorf("try %d: read model %+v, want ended at %v with wrap-up until %v", try, ix.InteractionState, endedAt, until)
				}
				if ix.CampaignID != c.want.ID {
					t.Errorf("try %d: the chat is in campaign %s, want %s", try, ix.CampaignID, c.want.ID)
				}
				if held, ok, err := a.Presence.Holder(ctx, tenant, chat.ID); err != nil || ok {
					t.Errorf("try %d: the chat's slot %+v (%v, %v), want freed", try, held, ok, err)
				}
				evs := feedOf(t, feed, tenant)
				if len(evs) != 2 {
					t.Fatalf("try %d: feed %+v, want the disconnection and the end", try, evs)
				}
				wantEvent(t, evs[0], tenant, chat.ID, 4, events.InteractionDisconnected, agent)
				wantEvent(t, evs[1], tenant, chat.ID, 4, events.InteractionEnded, agent)
			}
		})
	}
}

// consultFixture is a warm transfer of the handover fixture's chat from its agent to
// the other agent, through a consultation slot of its own ID.
type consultFixture struct {
	*handoverFixture
	id    string
	start time.Time
}

func newConsult(t *testing.T) *consultFixture {
	t.Helper()
	f := &consultFixture{handoverFixture: newHandover(t), start: time.Now().UTC().Truncate(time.Millisecond)}
	// As the workflow names it: from the interaction and the version that starts it.
	f.id = uuid.NewSHA1(uuid.MustParse(f.chat.ID), []byte("consultation/4")).String()
	return f
}

// started is the chat on hold with the target consulted (version 4).
func (f *consultFixture) started(to string) pgstore.InteractionState {
	st := f.connected
	at := f.start
	st.Status, st.HeldAt, st.Holds, st.Version = pgstore.InteractionOnHold, &at, 1, 4
	st.Participants = []pgstore.Participant{{Kind: pgstore.ParticipantAgent, UserID: to, AddedBy: f.from, JoinedAt: at, Consultation: true}}
	return st
}

// reserve is the ReserveConsultation of the workflow's startConsult for the target.
func (f *consultFixture) reserve(t *testing.T, to, id string) activities.ConsultRequest {
	t.Helper()
	st := f.started(to)
	detail := map[string]any{"from": f.from, "to": to}
	return viaJSON(t, activities.ConsultRequest{TenantID: f.tenant, AgentID: to, ConsultationID: id, QueueID: f.chat.QueueID, Channel: routing.LiveChat,
		Update: &pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: st,
			Events: []pgstore.TimelineEvent{{Type: events.ConsultationStarted, At: f.start, ActorID: f.from,
				Data: map[string]any{"from": f.from, "to": to, "reason": "billing question"}}}},
		Publish: []activities.Publication{
			{Type: events.ConsultationStarted, Agents: []string{f.from, to}, Detail: detail},
			{Type: events.InteractionOffered, Agents: []string{to}, Detail: map[string]any{"consultation": true, "from": f.from}},
			{Type: events.InteractionHeld},
		}})
}

// confirm is the ConfirmConsultation of the target's answer (version 5).
func (f *consultFixture) confirm(t *testing.T) activities.ConsultRequest {
	t.Helper()
	st := f.started(f.to)
	st.Version = 5
	detail := map[string]any{"agentId": f.to}
	return viaJSON(t, activities.ConsultRequest{TenantID: f.tenant, AgentID: f.to, ConsultationID: f.id, QueueID: f.chat.QueueID, Channel: routing.LiveChat,
		Update: &pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: st,
			Events: []pgstore.TimelineEvent{{Type: events.ConsultationConnected, At: f.start.Add(5 * time.Second), ActorID: f.to, Data: detail}}},
		Publish: []activities.Publication{{Type: events.ConsultationConnected, Agents: []string{f.from, f.to}, Detail: detail}}})
}

// release is the ReleaseConsultation of the workflow's endConsult at the version.
func (f *consultFixture) release(t *testing.T, version int64, reason string) activities.ConsultRequest {
	t.Helper()
	st := f.started(f.to)
	left := f.start.Add(10 * time.Second)
	st.Participants[0].LeftAt, st.Version = &left, version
	detail := map[string]any{"agentId": f.to, "reason": reason}
	return viaJSON(t, activities.ConsultRequest{TenantID: f.tenant, AgentID: f.to, ConsultationID: f.id, QueueID: f.chat.QueueID, Channel: routing.LiveChat,
		Update: &pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: st,
			Events: []pgstore.TimelineEvent{{Type: events.ConsultationEnded, At: left, Data: detail}}},
		Publish: []activities.Publication{{Type: events.ConsultationEnded, Agents: []string{f.from, f.to}, Detail: detail}}})
}

// complete is the CompleteTransfer of the workflow's onCompleteTransfer after the
// answer (version 6): the chat off hold and the target's.
func (f *consultFixture) complete(t *testing.T) activities.CompleteTransferRequest {
	t.Helper()
	st := f.started(f.to)
	at := f.start.Add(20 * time.Second)
	st.Status, st.HeldAt, st.HoldSeconds = pgstore.InteractionConnected, nil, 20
	st.AgentID, st.Transferred, st.Transfers, st.Version = f.to, true, 1, 6
	st.Participants[0].LeftAt = &at
	detail := map[string]any{"from": f.from, "to": f.to, "kind": "agent", "mode": "warm"}
	return viaJSON(t, activities.CompleteTransferRequest{FromAgentID: f.from, ToAgentID: f.to, ConsultationID: f.id,
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: st,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionTransferred, At: at, ActorID: f.from, Data: detail}}},
		Publish: []activities.Publication{{Type: events.InteractionTransferred, Agents: []string{f.from, f.to}, Detail: detail}}})
}

func (f *consultFixture) setCapacity(t *testing.T, agent string, n int) {
	t.Helper()
	c := routing.Capacity{routing.LiveChat: n}
	if _, err := store.UpdateAgent(testContext(t), f.tenant, pgstore.Actor{}, agent, pgstore.AgentUpdate{Capacity: &c}); err != nil {
		t.Fatal(err)
	}
}

// wantSlot checks the live slot of an interaction (or a consultation).
func (f *consultFixture) wantSlot(t *testing.T, what, interaction, agent string, held bool, expires time.Time) {
	t.Helper()
	s, ok, err := f.a.Presence.Holder(testContext(t), f.tenant, interaction)
	if err != nil || !ok || s.Agent != agent || s.Interaction != interaction || s.Channel != routing.LiveChat || s.Held != held || !s.ExpiresAt.Equal(expires) {
		t.Errorf("%s: slot %+v (%v, %v); want %s's, held %v, expiring at %v", what, s, ok, err, agent, held, expires)
	}
}

func (f *consultFixture) wantNoSlot(t *testing.T, what, interaction string) {
	t.Helper()
	if s, ok, err := f.a.Presence.Holder(testContext(t), f.tenant, interaction); err != nil || ok {
		t.Errorf("%s: slot %+v (%v, %v), want none", what, s, ok, err)
	}
}

// wantSlots checks the interactions an agent has live slots of, in order.
func (f *consultFixture) wantSlots(t *testing.T, what, agent string, interactions ...string) {
	t.Helper()
	slots, err := f.a.Presence.Slots(testContext(t), f.tenant, agent)
	var got []string
	for _, s := range slots {
		got = append(got, s.Interaction)
	}
	slices.Sort(got)
	want := slices.Clone(interactions)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("%s: slots %+v, %v; want those of %v", what, slots, err, interactions)
	}
}

// wantUntouched checks that nothing of the chat changed since it was connected.
func (f *consultFixture) wantUntouched(t *testing.T, what string) {
	t.Helper()
	f.wantSlot(t, what+": the chat", f.chat.ID, f.from, true, time.Time{})
	f.wantNoSlot(t, what+": the consultation", f.id)
	ix := readModel(t, f.tenant, f.chat.ID)
	if ix.Status != pgstore.InteractionConnected || ix.AgentID != f.from || ix.Version != 3 || len(ix.Participants) != 0 || ix.Holds != 0 {
		t.Errorf("%s: read model %+v", what, ix.InteractionState)
	}
	if n := len(timeline(t, f.tenant, f.chat.ID)); n != f.timeline {
		t.Errorf("%s: %d timeline entries, want %d", what, n, f.timeline)
	}
	if evs := feedOf(t, f.feed, f.tenant); len(evs) != 0 {
		t.Errorf("%s: published %+v", what, evs)
	}
	if len(*f.woken) != 0 {
		t.Errorf("%s: woke %v", what, *f.woken)
	}
}

// wantParticipant checks the read model's consultation participant.
func wantParticipant(t *testing.T, what string, ps []pgstore.Participant, want pgstore.Participant) {
	t.Helper()
	if len(ps) != 1 {
		t.Errorf("%s: participants %+v, want %+v alone", what, ps, want)
		return
	}
	p := ps[0]
	if p.Kind != want.Kind || p.UserID != want.UserID || p.AddedBy != want.AddedBy || !p.Consultation || !p.JoinedAt.Equal(want.JoinedAt) ||
		(p.LeftAt == nil) != (want.LeftAt == nil) || (p.LeftAt != nil && !p.LeftAt.Equal(*want.LeftAt)) {
		t.Errorf("%s: participant %+v, want %+v", what, p, want)
	}
}

// Reserving the consultation takes a slot of the target's under the consultation's
// ID for the ring timeout, which counts toward their capacity; the chat is recorded
// on hold with the target as a consultation participant and the consultation is
// published. A retry finds its reservation: the same ring end, nothing written or
// published again.
func TestReserveConsultation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newConsult(t)
	f.setCapacity(t, f.to, 1)
	req := f.reserve(t, f.to, f.id)

	before := time.Now()
	first, err := f.a.ReserveConsultation(ctx, req)
	after := time.Now()
	if err != nil || !first.OK || first.RingUntil.Before(before.Add(f.ring).Truncate(time.Millisecond)) || first.RingUntil.After(after.Add(f.ring)) {
		t.Fatalf("%+v, %v; want OK ringing %v from between %v and %v", first, err, f.ring, before, after)
	}
	if first.RingUntil.Location() != time.UTC {
		t.Errorf("ring end %v, want UTC", first.RingUntil)
	}
	var published []events.Event
	for try := range 3 { // retries after a lost answer
		if try > 0 {
			res, err := f.a.ReserveConsultation(ctx, viaJSON(t, req))
			if err != nil || !res.OK || !res.RingUntil.Equal(first.RingUntil) {
				t.Errorf("try %d: %+v, %v; want OK ringing until %v", try, res, err, first.RingUntil)
			}
		}
		f.wantSlot(t, "the consultation", f.id, f.to, false, first.RingUntil.Add(dispatch.ReservationMargin))
		f.wantSlot(t, "the chat", f.chat.ID, f.from, true, time.Time{})
		f.wantSlots(t, "the target", f.to, f.id)
		f.wantSlots(t, "the source", f.from, f.chat.ID)

		ix := readModel(t, f.tenant, f.chat.ID)
		if ix.Status != pgstore.InteractionOnHold || ix.AgentID != f.from || ix.Version != 4 || ix.HeldAt == nil || !ix.HeldAt.Equal(f.start) || ix.Holds != 1 {
			t.Errorf("try %d: read model %+v", try, ix.InteractionState)
		}
		wantParticipant(t, "reserved", ix.Participants, pgstore.Participant{Kind: pgstore.ParticipantAgent, UserID: f.to, AddedBy: f.from, JoinedAt: f.start})
		tl := timeline(t, f.tenant, f.chat.ID)
		if len(tl) != f.timeline+1 {
			t.Fatalf("try %d: timeline %+v, want %d entries", try, tl, f.timeline+1)
		}
		if e := tl[len(tl)-1]; e.Version != 4 || e.Type != events.ConsultationStarted || !e.At.Equal(f.start) || e.ActorID != f.from || e.AgentID != f.from ||
			e.Status != pgstore.InteractionOnHold || !reflect.DeepEqual(e.Data, req.Update.Events[0].Data) {
			t.Errorf("try %d: timeline entry %+v", try, e)
		}
		evs := feedOf(t, f.feed, f.tenant)
		if len(evs) != 3 {
			t.Fatalf("try %d: feed %+v, want the consultation, its offer and the hold", try, evs)
		}
		wantEvent(t, evs[0], f.tenant, f.chat.ID, 4, events.ConsultationStarted, f.from, f.to)
		wantEvent(t, evs[1], f.tenant, f.chat.ID, 4, events.InteractionOffered, f.to)
		wantEvent(t, evs[2], f.tenant, f.chat.ID, 4, events.InteractionHeld, f.from)
		for i, e := range evs {
			if p := payload(t, e); p.Status != pgstore.InteractionOnHold || p.AgentID != f.from || p.Version != 4 || !reflect.DeepEqual(p.Detail, req.Publish[i].Detail) {
				t.Errorf("try %d: %s carries %+v", try, e.Type, p)
			}
		}
		if try == 0 {
			published = evs
		} else if evs[0].ID != published[0].ID || evs[1].ID != published[1].ID || evs[2].ID != published[2].ID {
			t.Errorf("try %d published again: %+v, then %+v", try, published, evs)
		}
	}

	// The consultation fills the target's one chat slot: neither an offer nor
	// another consultation gets a slot of theirs.
	other := newChat(t, f.tenant, f.chat.QueuedAt)
	if ok, err := f.a.Presence.Reserve(ctx, f.tenant, f.to, other.ID, routing.LiveChat, 1, time.Minute); err != nil || ok {
		t.Errorf("an offer to the consulted target: %v, %v; want no room", ok, err)
	}
	second := f.reserve(t, f.to, uuid.NewString())
	second.Update.State.Version = 5
	if res, err := f.a.ReserveConsultation(ctx, second); err != nil || res != (activities.ConsultResult{}) {
		t.Errorf("a second consultation of the target: %+v, %v; want refused", res, err)
	}
	f.wantSlots(t, "the target after the refusals", f.to, f.id)
	if ix := readModel(t, f.tenant, f.chat.ID); ix.Version != 4 {
		t.Errorf("the refused consultation was recorded: %+v", ix.InteractionState)
	}
	if evs := feedOf(t, f.feed, f.tenant); len(evs) != 3 {
		t.Errorf("the refused consultation was published: %+v", evs)
	}
	if len(*f.woken) != 0 {
		t.Errorf("woke %v", *f.woken)
	}
}

// A target who cannot take the chat now is not reserved: OK false, nothing written,
// published or reserved.
func TestReserveConsultationUnavailable(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	cases := []struct {
		name   string
		target func(t *testing.T, f *consultFixture) string
	}{
		{"not logged in", func(t *testing.T, f *consultFixture) string { return newUser(t, f.tenant, pgstore.RoleAgent) }},
		{"away", func(t *testing.T, f *consultFixture) string {
			if _, err := f.a.Presence.SetStatus(ctx, f.tenant, f.to, routing.Status{Name: "Lunch", Group: routing.GroupAway}); err != nil {
				t.Fatal(err)
			}
			return f.to
		}},
		{"no room", func(t *testing.T, f *consultFixture) string {
			f.setCapacity(t, f.to, 1)
			other := newChat(t, f.tenant, f.chat.QueuedAt)
			if ok, err := f.a.Presence.Reserve(ctx, f.tenant, f.to, other.ID, routing.LiveChat, 1, time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			return f.to
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newConsult(t)
			to := c.target(t, f)
			slots, err := f.a.Presence.Slots(ctx, f.tenant, to)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				res, err := f.a.ReserveConsultation(ctx, f.reserve(t, to, f.id))
				if err != nil || res != (activities.ConsultResult{}) {
					t.Errorf("%+v, %v; want not OK", res, err)
				}
			}
			if now, err := f.a.Presence.Slots(ctx, f.tenant, to); err != nil || !reflect.DeepEqual(now, slots) {
				t.Errorf("the target's slots %+v, %v; want %+v", now, err, slots)
			}
			f.wantUntouched(t, c.name)
		})
	}
}

// A consultation of someone who is not an agent of the tenant is refused for good as
// an unknown target, naming target.id, with nothing changed.
func TestReserveConsultationUnknownTarget(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newConsult(t)
	_, foreign := newAgent(t)
	for name, to := range map[string]string{
		"unknown": uuid.NewString(), "a supervisor": newUser(t, f.tenant, pgstore.RoleSupervisor), "another tenant's agent": foreign,
	} {
		res, err := f.a.ReserveConsultation(ctx, f.reserve(t, to, f.id))
		if res != (activities.ConsultResult{}) {
			t.Errorf("%s: answered %+v", name, res)
		}
		wantRefused(t, name, err, activities.ErrTypeUnknownTarget, "target.id")
	}
	f.wantUntouched(t, "unknown targets")
}

// The target's answer makes the consultation reservation a held slot and is recorded
// and published once; a consultation whose reservation lapsed is not confirmed and
// nothing is written.
func TestConfirmConsultation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	t.Run("answered", func(t *testing.T) {
		t.Parallel()
		f := newConsult(t)
		if res, err := f.a.ReserveConsultation(ctx, f.reserve(t, f.to, f.id)); err != nil || !res.OK {
			t.Fatal(res, err)
		}
		req := f.confirm(t)
		var published []events.Event
		for try := range 3 {
			res, err := f.a.ConfirmConsultation(ctx, viaJSON(t, req))
			if err != nil || res != (activities.ConsultResult{OK: true}) {
				t.Errorf("try %d: %+v, %v; want OK", try, res, err)
			}
			f.wantSlot(t, "the consultation", f.id, f.to, true, time.Time{})
			f.wantSlot(t, "the chat", f.chat.ID, f.from, true, time.Time{})
			f.wantSlots(t, "the target", f.to, f.id)
			ix := readModel(t, f.tenant, f.chat.ID)
			if ix.Status != pgstore.InteractionOnHold || ix.AgentID != f.from || ix.Version != 5 {
				t.Errorf("try %d: read model %+v", try, ix.InteractionState)
			}
			tl := timeline(t, f.tenant, f.chat.ID)
			if len(tl) != f.timeline+2 {
				t.Fatalf("try %d: timeline %+v, want %d entries", try, tl, f.timeline+2)
			}
			if e := tl[len(tl)-1]; e.Version != 5 || e.Type != events.ConsultationConnected || e.ActorID != f.to || !reflect.DeepEqual(e.Data, req.Update.Events[0].Data) {
				t.Errorf("try %d: timeline entry %+v", try, e)
			}
			evs := feedOf(t, f.feed, f.tenant)
			if len(evs) != 4 {
				t.Fatalf("try %d: feed %+v, want the consultation's 3 events and its answer", try, evs)
			}
			wantEvent(t, evs[3], f.tenant, f.chat.ID, 5, events.ConsultationConnected, f.from, f.to)
			if p := payload(t, evs[3]); p.Status != pgstore.InteractionOnHold || p.AgentID != f.from || p.Version != 5 || !reflect.DeepEqual(p.Detail, req.Publish[0].Detail) {
				t.Errorf("try %d: %s carries %+v", try, evs[3].Type, p)
			}
			if try == 0 {
				published = evs
			} else if evs[3].ID != published[3].ID {
				t.Errorf("try %d published again", try)
			}
		}
	})
	t.Run("lapsed", func(t *testing.T) {
		t.Parallel()
		f := newConsult(t)
		// A consultation reservation that outlived its ring timeout and margin.
		if ok, err := f.a.Presence.Reserve(ctx, f.tenant, f.to, f.id, routing.LiveChat, routing.MaxCapacity, 20*time.Millisecond); err != nil || !ok {
			t.Fatal(ok, err)
		}
		time.Sleep(60 * time.Millisecond)
		for range 2 {
			res, err := f.a.ConfirmConsultation(ctx, f.confirm(t))
			if err != nil || res != (activities.ConsultResult{}) {
				t.Errorf("%+v, %v; want not OK", res, err)
			}
		}
		f.wantSlots(t, "the target", f.to)
		f.wantUntouched(t, "lapsed")
	})
}

// Ending the consultation frees the target's consultation slot, records and publishes
// it once, and gives the target, who has room again, the chat waiting for them; the
// chat stays with its agent, on hold.
func TestReleaseConsultation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newConsult(t)
	f.setCapacity(t, f.to, 1)
	if res, err := f.a.ReserveConsultation(ctx, f.reserve(t, f.to, f.id)); err != nil || !res.OK {
		t.Fatal(res, err)
	}
	// Waiting for an agent with room; the target has none while consulted.
	waiting := newChat(t, f.tenant, f.chat.QueuedAt.Add(time.Second))
	req := f.release(t, 5, "declined")
	var published []events.Event
	for try := range 3 {
		if err := f.a.ReleaseConsultation(ctx, viaJSON(t, req)); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		f.wantNoSlot(t, "the consultation", f.id)
		f.wantSlot(t, "the chat", f.chat.ID, f.from, true, time.Time{})
		if s, ok, err := f.a.Presence.Holder(ctx, f.tenant, waiting.ID); err != nil || !ok || s.Agent != f.to || s.Held {
			t.Errorf("try %d: the waiting chat's slot %+v (%v, %v), want reserved for the target", try, s, ok, err)
		}
		f.wantSlots(t, "the target", f.to, waiting.ID)
		if !slices.Equal(*f.woken, []string{waiting.ID}) {
			t.Errorf("try %d: woke %v, want %s once", try, *f.woken, waiting.ID)
		}
		ix := readModel(t, f.tenant, f.chat.ID)
		if ix.Status != pgstore.InteractionOnHold || ix.AgentID != f.from || ix.Version != 5 {
			t.Errorf("try %d: read model %+v", try, ix.InteractionState)
		}
		wantParticipant(t, "released", ix.Participants, req.Update.State.Participants[0])
		tl := timeline(t, f.tenant, f.chat.ID)
		if len(tl) != f.timeline+2 {
			t.Fatalf("try %d: timeline %+v, want %d entries", try, tl, f.timeline+2)
		}
		if e := tl[len(tl)-1]; e.Version != 5 || e.Type != events.ConsultationEnded || !reflect.DeepEqual(e.Data, req.Update.Events[0].Data) {
			t.Errorf("try %d: timeline entry %+v", try, e)
		}
		evs := feedOf(t, f.feed, f.tenant)
		if len(evs) != 4 {
			t.Fatalf("try %d: feed %+v, want the consultation's 3 events and its end", try, evs)
		}
		wantEvent(t, evs[3], f.tenant, f.chat.ID, 5, events.ConsultationEnded, f.from, f.to)
		if p := payload(t, evs[3]); p.Status != pgstore.InteractionOnHold || p.AgentID != f.from || p.Version != 5 || !reflect.DeepEqual(p.Detail, req.Publish[0].Detail) {
			t.Errorf("try %d: %s carries %+v", try, evs[3].Type, p)
		}
		if try == 0 {
			published = evs
		} else if evs[3].ID != published[3].ID {
			t.Errorf("try %d published again", try)
		}
	}
}

// Completing an answered warm transfer hands the chat over in one presence step: the
// source's slot is freed, the target holds the chat and no longer the consultation;
// the read model shows the target as its agent, the transfer is published once, and
// the source is given the chat waiting for them. A retry reports it again and adds
// nothing.
func TestCompleteTransfer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newConsult(t)
	f.setCapacity(t, f.from, 1)
	f.setCapacity(t, f.to, 1)
	if res, err := f.a.ReserveConsultation(ctx, f.reserve(t, f.to, f.id)); err != nil || !res.OK {
		t.Fatal(res, err)
	}
	if res, err := f.a.ConfirmConsultation(ctx, f.confirm(t)); err != nil || !res.OK {
		t.Fatal(res, err)
	}
	// Waiting for an agent with room; the source has none until the chat leaves them.
	waiting := newChat(t, f.tenant, f.chat.QueuedAt.Add(time.Second))
	req := f.complete(t)
	var published []events.Event
	for try := range 3 {
		ok, err := f.a.CompleteTransfer(ctx, viaJSON(t, req))
		if err != nil || !ok {
			t.Fatalf("try %d: %v, %v", try, ok, err)
		}
		f.wantSlot(t, "the chat", f.chat.ID, f.to, true, time.Time{})
		f.wantNoSlot(t, "the consultation", f.id)
		f.wantSlots(t, "the target", f.to, f.chat.ID)
		f.wantSlots(t, "the source", f.from, waiting.ID)
		if s, ok, err := f.a.Presence.Holder(ctx, f.tenant, waiting.ID); err != nil || !ok || s.Agent != f.from || s.Held {
			t.Errorf("try %d: the waiting chat's slot %+v (%v, %v), want reserved for the source", try, s, ok, err)
		}
		if !slices.Equal(*f.woken, []string{waiting.ID}) {
			t.Errorf("try %d: woke %v, want %s once", try, *f.woken, waiting.ID)
		}
		ix := readModel(t, f.tenant, f.chat.ID)
		if ix.Status != pgstore.InteractionConnected || ix.AgentID != f.to || ix.Version != 6 || ix.HeldAt != nil || ix.HoldSeconds != 20 ||
			!ix.Transferred || ix.Transfers != 1 {
			t.Errorf("try %d: read model %+v", try, ix.InteractionState)
		}
		wantParticipant(t, "completed", ix.Participants, req.Update.State.Participants[0])
		tl := timeline(t, f.tenant, f.chat.ID)
		if len(tl) != f.timeline+3 {
			t.Fatalf("try %d: timeline %+v, want %d entries", try, tl, f.timeline+3)
		}
		if e := tl[len(tl)-1]; e.Version != 6 || e.Type != events.InteractionTransferred || e.ActorID != f.from || e.AgentID != f.to ||
			e.Status != pgstore.InteractionConnected || !reflect.DeepEqual(e.Data, req.Update.Events[0].Data) {
			t.Errorf("try %d: timeline entry %+v", try, e)
		}
		evs := feedOf(t, f.feed, f.tenant)
		if len(evs) != 5 {
			t.Fatalf("try %d: feed %+v, want the consultation's 4 events and the transfer", try, evs)
		}
		wantEvent(t, evs[4], f.tenant, f.chat.ID, 6, events.InteractionTransferred, f.from, f.to)
		if p := payload(t, evs[4]); p.Status != pgstore.InteractionConnected || p.AgentID != f.to || p.Version != 6 || !reflect.DeepEqual(p.Detail, req.Publish[0].Detail) {
			t.Errorf("try %d: %s carries %+v", try, evs[4].Type, p)
		}
		if try == 0 {
			published = evs
		} else if evs[4].ID != published[4].ID {
			t.Errorf("try %d published again", try)
		}
	}
}

// A transfer whose consultation was never answered is not completed: false, with the
// chat still the source's, the consultation still ringing on the target, and nothing
// written, published or woken.
func TestCompleteTransferUnanswered(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newConsult(t)
	f.setCapacity(t, f.from, 1)
	reserved, err := f.a.ReserveConsultation(ctx, f.reserve(t, f.to, f.id))
	if err != nil || !reserved.OK {
		t.Fatal(reserved, err)
	}
	waiting := newChat(t, f.tenant, f.chat.QueuedAt.Add(time.Second))
	tl, published := len(timeline(t, f.tenant, f.chat.ID)), feedOf(t, f.feed, f.tenant)
	for range 2 {
		ok, err := f.a.CompleteTransfer(ctx, f.complete(t))
		if err != nil || ok {
			t.Errorf("%v, %v; want refused", ok, err)
		}
	}
	f.wantSlot(t, "the chat", f.chat.ID, f.from, true, time.Time{})
	f.wantSlot(t, "the consultation", f.id, f.to, false, reserved.RingUntil.Add(dispatch.ReservationMargin))
	f.wantSlots(t, "the source", f.from, f.chat.ID)
	f.wantSlots(t, "the target", f.to, f.id)
	f.wantNoSlot(t, "the waiting chat", waiting.ID)
	ix := readModel(t, f.tenant, f.chat.ID)
	if ix.Status != pgstore.InteractionOnHold || ix.AgentID != f.from || ix.Version != 4 || ix.Transferred || ix.Transfers != 0 {
		t.Errorf("read model %+v", ix.InteractionState)
	}
	if n := len(timeline(t, f.tenant, f.chat.ID)); n != tl {
		t.Errorf("%d timeline entries, want %d", n, tl)
	}
	if evs := feedOf(t, f.feed, f.tenant); len(evs) != len(published) {
		t.Errorf("published %+v, want only %+v", evs, published)
	}
	if len(*f.woken) != 0 {
		t.Errorf("woke %v", *f.woken)
	}
}
