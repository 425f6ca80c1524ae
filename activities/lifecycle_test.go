package activities_test

import (
	"context"
	"encoding/json"
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
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
)

// withEvents gives the activities a realtime feed of their own under a random Redis
// prefix, removed at the end.
func withEvents(t *testing.T, a *activities.Activities) *events.Feed {
	t.Helper()
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	feed, err := events.New(rdb, events.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	a.Events = feed
	return feed
}

// feedOf is everything the tenant's feed holds, oldest first.
func feedOf(t *testing.T, feed *events.Feed, tenantID string) []events.Event {
	t.Helper()
	evs, trimmed, err := feed.After(testContext(t), tenantID, "", 10_000)
	if err != nil || trimmed {
		t.Fatalf("read the feed: %v (trimmed %v)", err, trimmed)
	}
	return evs
}

// payload decodes an interaction event's data.
func payload(t *testing.T, e events.Event) activities.InteractionEvent {
	t.Helper()
	var out activities.InteractionEvent
	if err := json.Unmarshal(e.Data, &out); err != nil {
		t.Fatalf("event %s: %v", e.Key, err)
	}
	return out
}

// wantEvent checks one event of the feed: its key, type, tenant, interaction and
// agents.
func wantEvent(t *testing.T, e events.Event, tenantID, interactionID string, version int64, typ string, agents ...string) {
	t.Helper()
	key := fmt.Sprintf("interaction/%s/%d/%s", interactionID, version, typ)
	if e.Key != key || e.Type != typ || e.TenantID != tenantID || e.InteractionID != interactionID || !slices.Equal(e.Agents, agents) || e.At.IsZero() {
		t.Errorf("event %+v, want key %s, type %s, agents %v", e, key, typ, agents)
	}
}

// viaJSON passes v through JSON, as Temporal does with an activity's input.
func viaJSON[T any](t *testing.T, v T) T {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// newUser adds a user with the role to the tenant.
func newUser(t *testing.T, tenantID string, role pgstore.Role) string {
	t.Helper()
	u, err := store.CreateUser(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewUser{
		Email: string(role) + "-" + pgtest.RandomHex(4) + "@example.test", Name: "User " + string(role), Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// newChat enqueues a live chat of the tenant in its Default queue (version 1).
func newChat(t *testing.T, tenantID string, at time.Time) pgstore.Interaction {
	t.Helper()
	q, err := store.DefaultQueueID(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	in := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Source: "web_chat",
		Direction: pgstore.Inbound, QueueID: q, InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1},
		CreatedAt: at}
	if _, err := store.EnqueueInteraction(testContext(t), in); err != nil {
		t.Fatal(err)
	}
	return in
}

// connectChat logs the agent in (a login already open is resumed) and makes them
// hold the chat, in presence and in the read model: it was offered to them (attempt 1, version 2) and accepted (version 3). It returns
// the connected state.
func connectChat(t *testing.T, a *activities.Activities, chat pgstore.Interaction, agentID string) pgstore.InteractionState {
	t.Helper()
	ctx := testContext(t)
	if _, err := a.Presence.Login(ctx, chat.TenantID, agentID, presence.LoginInput{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Presence.Reserve(ctx, chat.TenantID, agentID, chat.ID, routing.LiveChat, routing.MaxCapacity, time.Minute); err != nil || !ok {
		t.Fatalf("reserve %s: %v, %v", chat.ID, ok, err)
	}
	if ok, err := a.Presence.Confirm(ctx, chat.TenantID, agentID, chat.ID); err != nil || !ok {
		t.Fatalf("confirm %s: %v, %v", chat.ID, ok, err)
	}
	at := chat.QueuedAt
	offered := chat.InteractionState
	offered.Status, offered.OfferedAgentID, offered.Offers, offered.OfferedAt, offered.Version = pgstore.InteractionOffered, agentID, 1, &at, 2
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: chat.TenantID, InteractionID: chat.ID, State: offered,
		Offer:  &pgstore.Offer{Attempt: 1, AgentID: agentID, Channel: routing.LiveChat, OfferedAt: at, RingUntil: at.Add(30 * time.Second)},
		Events: []pgstore.TimelineEvent{{Type: events.InteractionOffered, At: at}}}); err != nil {
		t.Fatal(err)
	}
	connected := offered
	connected.Status, connected.OfferedAgentID, connected.AgentID, connected.ConnectedAt, connected.Version = pgstore.InteractionConnected, "", agentID, &at, 3
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: chat.TenantID, InteractionID: chat.ID, State: connected,
		Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: at},
		Events:   []pgstore.TimelineEvent{{Type: events.InteractionConnected, At: at}}}); err != nil {
		t.Fatal(err)
	}
	return connected
}

func timeline(t *testing.T, tenantID, interactionID string) []pgstore.TimelineEntry {
	t.Helper()
	tl, err := store.Timeline(testContext(t), tenantID, interactionID)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func notes(t *testing.T, tenantID, interactionID string) []pgstore.Note {
	t.Helper()
	ns, err := store.Notes(testContext(t), tenantID, interactionID)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func readModel(t *testing.T, tenantID, interactionID string) pgstore.Interaction {
	t.Helper()
	ix, err := store.GetInteraction(testContext(t), tenantID, interactionID)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// wantRefused checks err is a non-retryable ApplicationError of the type whose
// details are the field named.
func wantRefused(t *testing.T, what string, err error, typ, field string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want a non-retryable %s on %s", what, typ, field)
		return
	}
	app := appError(t, err)
	var got string
	if !app.NonRetryable() || app.Type() != typ || !app.HasDetails() || app.Details(&got) != nil || got != field {
		t.Errorf("%s: %v (type %s, non-retryable %v, details %q), want a non-retryable %s on %s", what, err, app.Type(), app.NonRetryable(), got, typ, field)
	}
}

// A change is written with its timeline entry and its note, whose tenant is the
// interaction's (a note's tenant is not part of its JSON, so it never reaches the
// activity), and each of its events is published once; a retry adds nothing, and a
// late attempt of a change that was followed by another does not roll it back.
func TestRecordChange(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	feed := withEvents(t, a)
	tenant, agent := newAgent(t)
	supervisor := newUser(t, tenant, pgstore.RoleSupervisor)
	now := time.Now().UTC().Truncate(time.Millisecond)
	chat := newChat(t, tenant, now.Add(-time.Minute))
	connected := connectChat(t, a, chat, agent)
	before := len(timeline(t, tenant, chat.ID))

	held := connected
	heldAt := now
	held.Status, held.HeldAt, held.Holds, held.Version = pgstore.InteractionOnHold, &heldAt, 1, 4
	note := &pgstore.Note{ID: uuid.NewString(), TenantID: tenant, InteractionID: chat.ID, AuthorID: agent, Body: "Customer checks the order number.", CreatedAt: now}
	detail := map[string]any{"reason": "looking it up"}
	change := activities.ChangeRequest{
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: chat.ID, State: held,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionHeld, At: heldAt, ActorID: agent, Data: detail}}},
		Publish: []activities.Publication{
			{Type: events.InteractionHeld, Detail: detail},
			{Type: events.InteractionConferred, Agents: []string{agent, supervisor}},
		},
		Note: note,
	}
	sent := viaJSON(t, change)
	if sent.Note == nil || sent.Note.TenantID != "" || sent.Note.ID != note.ID {
		t.Fatalf("the note as the activity gets it: %+v (its tenant must not travel)", sent.Note)
	}

	check := func(try string) {
		t.Helper()
		ix := readModel(t, tenant, chat.ID)
		if ix.Status != pgstore.InteractionOnHold || ix.Version != 4 || ix.AgentID != agent || ix.HeldAt == nil || !ix.HeldAt.Equal(heldAt) || ix.Holds != 1 {
			t.Errorf("%s: read model %+v", try, ix.InteractionState)
		}
		tl := timeline(t, tenant, chat.ID)
		if len(tl) != before+1 {
			t.Fatalf("%s: timeline %+v, want %d entries", try, tl, before+1)
		}
		last := tl[len(tl)-1]
		if last.Version != 4 || last.Type != events.InteractionHeld || !last.At.Equal(heldAt) || last.ActorID != agent || last.AgentID != agent ||
			last.Status != pgstore.InteractionOnHold || !reflect.DeepEqual(last.Data, detail) {
			t.Errorf("%s: timeline entry %+v", try, last)
		}
		ns := notes(t, tenant, chat.ID)
		if len(ns) != 1 || ns[0].ID != note.ID || ns[0].TenantID != tenant || ns[0].InteractionID != chat.ID || ns[0].AuthorID != agent ||
			ns[0].Body != note.Body || !ns[0].CreatedAt.Equal(note.CreatedAt) {
			t.Errorf("%s: notes %+v", try, ns)
		}
		evs := feedOf(t, feed, tenant)
		if len(evs) != 2 {
			t.Fatalf("%s: feed %+v, want the 2 events of the change", try, evs)
		}
		wantEvent(t, evs[0], tenant, chat.ID, 4, events.InteractionHeld, agent)
		wantEvent(t, evs[1], tenant, chat.ID, 4, events.InteractionConferred, agent, supervisor)
		if p := payload(t, evs[0]); p.Status != pgstore.InteractionOnHold || p.AgentID != agent || p.Version != 4 || !reflect.DeepEqual(p.Detail, detail) {
			t.Errorf("%s: %s carries %+v", try, evs[0].Type, p)
		}
		if p := payload(t, evs[1]); p.Status != pgstore.InteractionOnHold || p.AgentID != agent || p.Version != 4 || p.Detail != nil {
			t.Errorf("%s: %s carries %+v", try, evs[1].Type, p)
		}
	}
	if err := a.RecordChange(ctx, sent); err != nil {
		t.Fatal(err)
	}
	check("first try")
	first := feedOf(t, feed, tenant)
	for range 2 { // retries after a lost answer
		if err := a.RecordChange(ctx, viaJSON(t, change)); err != nil {
			t.Fatal(err)
		}
	}
	check("retried")
	if again := feedOf(t, feed, tenant); again[0].ID != first[0].ID || again[1].ID != first[1].ID {
		t.Errorf("retries published again: %+v, then %+v", first, again)
	}

	// The interaction is resumed (version 5); a late attempt of the hold (version 4)
	// and a write of an older state change nothing.
	resumed := held
	resumed.Status, resumed.HeldAt, resumed.HoldSeconds, resumed.Version = pgstore.InteractionConnected, nil, 30, 5
	if err := a.RecordChange(ctx, viaJSON(t, activities.ChangeRequest{
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: chat.ID, State: resumed,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionResumed, At: now.Add(30 * time.Second), ActorID: agent}}},
		Publish: []activities.Publication{{Type: events.InteractionResumed}},
	})); err != nil {
		t.Fatal(err)
	}
	tl, published := len(timeline(t, tenant, chat.ID)), len(feedOf(t, feed, tenant))
	if tl != before+2 || published != 3 {
		t.Fatalf("after the resume: %d timeline entries, %d events; want %d, 3", tl, published, before+2)
	}
	if err := a.RecordChange(ctx, viaJSON(t, change)); err != nil {
		t.Fatal(err)
	}
	older := connected
	older.Status, older.Version = pgstore.InteractionConnected, 3
	if err := a.RecordChange(ctx, viaJSON(t, activities.ChangeRequest{Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: chat.ID, State: older}})); err != nil {
		t.Fatal(err)
	}
	ix := readModel(t, tenant, chat.ID)
	if ix.Status != pgstore.InteractionConnected || ix.Version != 5 || ix.HeldAt != nil || ix.Holds != 1 || ix.HoldSeconds != 30 {
		t.Errorf("stale writes changed the state: %+v", ix.InteractionState)
	}
	if n := len(timeline(t, tenant, chat.ID)); n != tl {
		t.Errorf("stale writes left %d timeline entries, want %d", n, tl)
	}
	if n := len(feedOf(t, feed, tenant)); n != published {
		t.Errorf("stale writes left %d events, want %d", n, published)
	}
	if ns := notes(t, tenant, chat.ID); len(ns) != 1 {
		t.Errorf("stale writes left notes %+v", ns)
	}
}

// A change of an interaction the tenant does not have is refused for good, its note
// too.
func TestRecordChangeRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	feed := withEvents(t, a)
	tenant, agent := newAgent(t)
	other, _ := newAgent(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	chat := newChat(t, tenant, now)
	connected := connectChat(t, a, chat, agent)
	connected.Version = 4
	note := &pgstore.Note{ID: uuid.NewString(), AuthorID: agent, Body: "A note", CreatedAt: now}
	// The interaction under another tenant: the note is that tenant's, and neither
	// the note nor the state reaches this tenant's interaction.
	err := a.RecordChange(ctx, viaJSON(t, activities.ChangeRequest{
		Update:  pgstore.InteractionUpdate{TenantID: other, InteractionID: chat.ID, State: connected},
		Publish: []activities.Publication{{Type: events.InteractionConnected}}, Note: note}))
	if app := appError(t, err); !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidInteraction {
		t.Errorf("a change of another tenant's interaction: %v", err)
	}
	if ns := notes(t, tenant, chat.ID); len(ns) != 0 {
		t.Errorf("notes %+v", ns)
	}
	if ix := readModel(t, tenant, chat.ID); ix.Version != 3 {
		t.Errorf("read model %+v", ix.InteractionState)
	}
	if evs := feedOf(t, feed, other); len(evs) != 0 {
		t.Errorf("published %+v", evs)
	}
}

// Events of a state already recorded are published once each: by default to the
// state's agent, to nobody in particular without one.
func TestPublishEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	feed := withEvents(t, a)
	tenant, agent := newAgent(t)
	ix, queued := uuid.NewString(), uuid.NewString()
	now := time.Now().UTC()
	connected := activities.PublishRequest{
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: ix, State: pgstore.InteractionState{
			Status: pgstore.InteractionConnected, AgentID: agent, QueuedAt: now, ConnectedAt: &now, Version: 7}},
		Publish: []activities.Publication{
			{Type: events.CustomerLinkedToInteraction, Detail: map[string]any{"customerId": "crm-42"}},
			{Type: events.InteractionTransferred, Agents: []string{agent, "", "someone"}},
		},
	}
	waiting := activities.PublishRequest{
		Update: pgstore.InteractionUpdate{TenantID: tenant, InteractionID: queued, State: pgstore.InteractionState{
			Status: pgstore.InteractionQueued, QueuedAt: now, Version: 2}},
		Publish: []activities.Publication{{Type: events.InteractionQueueChanged}},
	}
	for range 3 {
		for _, req := range []activities.PublishRequest{connected, waiting} {
			if err := a.PublishEvents(ctx, viaJSON(t, req)); err != nil {
				t.Fatal(err)
			}
		}
	}
	evs := feedOf(t, feed, tenant)
	if len(evs) != 3 {
		t.Fatalf("feed %+v, want 3 events", evs)
	}
	wantEvent(t, evs[0], tenant, ix, 7, events.CustomerLinkedToInteraction, agent)
	wantEvent(t, evs[1], tenant, ix, 7, events.InteractionTransferred, agent, "someone")
	wantEvent(t, evs[2], tenant, queued, 2, events.InteractionQueueChanged)
	if p := payload(t, evs[0]); p.InteractionID != ix || p.Status != pgstore.InteractionConnected || p.AgentID != agent || p.Version != 7 ||
		!reflect.DeepEqual(p.Detail, map[string]any{"customerId": "crm-42"}) {
		t.Errorf("%s carries %+v", evs[0].Type, p)
	}
	if p := payload(t, evs[2]); p.InteractionID != queued || p.Status != pgstore.InteractionQueued || p.AgentID != "" || p.Version != 2 {
		t.Errorf("%s carries %+v", evs[2].Type, p)
	}
	// Without a feed nothing is published, and nothing fails.
	a.Events = nil
	if err := a.PublishEvents(ctx, connected); err != nil {
		t.Errorf("without a feed: %v", err)
	}
}

// dispositionFixture is a campaign with two classes of codes.
type dispositionFixture struct {
	tenant, campaign string
	tree             pgstore.DispositionTree
}

func newDispositions(t *testing.T) dispositionFixture {
	t.Helper()
	ctx := testContext(t)
	tenant, _ := newAgent(t)
	c, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Renewals"})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := store.SetDispositions(ctx, tenant, pgstore.Actor{}, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Won", Codes: []pgstore.DispositionCode{{Name: "Renewed", Success: true, Default: true}, {Name: "Call back", Callback: true}}},
		{Name: "Lost", Codes: []pgstore.DispositionCode{{Name: "Do not call", Blacklist: true}, {Name: "Call back"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return dispositionFixture{tenant: tenant, campaign: c.ID, tree: tree}
}

func (f dispositionFixture) want(class, code int) pgstore.Disposition {
	k := f.tree.Classes[class]
	d := k.Codes[code]
	return pgstore.Disposition{CampaignID: f.campaign, ClassID: k.ID, Class: k.Name, CodeID: d.ID, Code: d.Name,
		Callback: d.Callback, Blacklist: d.Blacklist, Success: d.Success}
}

// A disposition is named by its class and code, each by ID or name (ignoring case),
// or by its code's ID alone; a class or code the campaign does not have is refused
// for good naming the field; naming neither answers the campaign's default code.
func TestResolveDisposition(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	f := newDispositions(t)
	won, lost := f.tree.Classes[0], f.tree.Classes[1]
	resolve := func(campaign, class, code string) (*pgstore.Disposition, error) {
		return a.ResolveDisposition(ctx, viaJSON(t, activities.DispositionRequest{TenantID: f.tenant, CampaignID: campaign, Class: class, Code: code}))
	}

	for _, c := range []struct {
		name, class, code string
		want              pgstore.Disposition
	}{
		{"names", "Won", "Call back", f.want(0, 1)},
		{"names in another case, with spaces", "  lost ", "CALL BACK", f.want(1, 1)},
		{"IDs", lost.ID, lost.Codes[0].ID, f.want(1, 0)},
		{"class ID and code name", won.ID, "renewed", f.want(0, 0)},
		{"code ID without class", "", lost.Codes[1].ID, f.want(1, 1)},
		{"default code named", "Won", "Renewed", f.want(0, 0)},
	} {
		got, err := resolve(f.campaign, c.class, c.code)
		if err != nil || got == nil || *got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}

	for _, c := range []struct {
		name, class, code, field string
	}{
		{"unknown class", "Pending", "Renewed", "dispositionClass"},
		{"unknown class ID", uuid.NewString(), won.Codes[0].ID, "dispositionClass"},
		{"code name without class", "", "Renewed", "dispositionClass"},
		{"unknown code", "Won", "Upsold", "dispositionCode"},
		{"code of another class", "Won", lost.Codes[0].ID, "dispositionCode"},
		{"unknown code ID without class", "", uuid.NewString(), "dispositionCode"},
		{"class without code", "Won", "", "dispositionCode"},
	} {
		got, err := resolve(f.campaign, c.class, c.code)
		if got != nil {
			t.Errorf("%s: answered %+v", c.name, got)
		}
		wantRefused(t, c.name, err, activities.ErrTypeInvalidDisposition, c.field)
	}
	// A code of the tenant's Default campaign is not one of this campaign's.
	def, err := store.DefaultCampaignID(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	defTree, err := store.GetDispositions(ctx, f.tenant, def)
	if err != nil {
		t.Fatal(err)
	}
	_, err = resolve(f.campaign, "", defTree.Classes[0].Codes[0].ID)
	wantRefused(t, "a code of another campaign", err, activities.ErrTypeInvalidDisposition, "dispositionCode")
	// A campaign the tenant does not have.
	_, err = resolve(uuid.NewString(), "Won", "Renewed")
	wantRefused(t, "unknown campaign", err, activities.ErrTypeInvalidDisposition, "campaignId")

	// Neither named: the campaign's default code.
	for _, blank := range []string{"", "  "} {
		got, err := resolve(f.campaign, blank, blank)
		if want := f.want(0, 0); err != nil || got == nil || *got != want {
			t.Errorf("default code (%q): %+v, %v; want %+v", blank, got, err, want)
		}
	}
	got, err := resolve(def, "", "")
	if err != nil || got == nil || got.CampaignID != def || got.Class != pgstore.DefaultDispositionClass || got.Code != pgstore.DefaultDispositionCode ||
		got.CodeID != defTree.Classes[0].Codes[0].ID || !got.Success {
		t.Errorf("the Default campaign's default code: %+v, %v", got, err)
	}
	// A campaign without codes has no default: nothing, without an error.
	bare, err := store.CreateCampaign(ctx, f.tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Bare"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := resolve(bare.ID, "", ""); err != nil || got != nil {
		t.Errorf("a campaign without codes: %+v, %v", got, err)
	}
}

// A campaign is read within its tenant: its wrap-up timeout and default queue; an
// unknown one, another tenant's included, is refused for good unless the Default
// campaign is asked for instead.
func TestGetCampaign(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	otherTenant, _ := newAgent(t)
	q, err := store.CreateQueue(ctx, tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Retention", AgentIDs: []string{agent}})
	if err != nil {
		t.Fatal(err)
	}
	ninety, zero := 90, 0
	sales, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Retention", WrapUpTimeoutSeconds: &ninety, DefaultQueueID: q.ID})
	if err != nil {
		t.Fatal(err)
	}
	manual, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Manual wrap-up", WrapUpTimeoutSeconds: &zero})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := store.CreateCampaign(ctx, tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteCampaign(ctx, tenant, pgstore.Actor{}, gone.ID); err != nil {
		t.Fatal(err)
	}
	foreign, err := store.CreateCampaign(ctx, otherTenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Foreign"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := store.DefaultCampaignID(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string, orDefault bool) (activities.CampaignInfo, error) {
		return a.GetCampaign(ctx, viaJSON(t, activities.CampaignRequest{TenantID: tenant, CampaignID: id, OrDefault: orDefault}))
	}
	defaultInfo := activities.CampaignInfo{ID: def, WrapUpTimeoutSeconds: pgstore.DefaultWrapUpTimeoutSeconds}

	for _, c := range []struct {
		name      string
		id        string
		orDefault bool
		want      activities.CampaignInfo
	}{
		{"with a default queue", sales.ID, false, activities.CampaignInfo{ID: sales.ID, WrapUpTimeoutSeconds: 90, DefaultQueueID: q.ID}},
		{"without a wrap-up timeout", manual.ID, false, activities.CampaignInfo{ID: manual.ID}},
		{"the Default campaign", def, false, defaultInfo},
		{"a campaign of the tenant, or the Default", sales.ID, true, activities.CampaignInfo{ID: sales.ID, WrapUpTimeoutSeconds: 90, DefaultQueueID: q.ID}},
		{"none, or the Default", "", true, defaultInfo},
		{"a deleted one, or the Default", gone.ID, true, defaultInfo},
		{"an unknown one, or the Default", uuid.NewString(), true, defaultInfo},
		{"another tenant's, or the Default", foreign.ID, true, defaultInfo},
	} {
		got, err := get(c.id, c.orDefault)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	for name, id := range map[string]string{
		"another tenant's": foreign.ID, "unknown": uuid.NewString(), "deleted": gone.ID, "none": "", "not an ID": "Retention",
	} {
		got, err := get(id, false)
		if got != (activities.CampaignInfo{}) {
			t.Errorf("%s: answered %+v", name, got)
		}
		wantRefused(t, name, err, activities.ErrTypeUnknownTarget, "campaignId")
	}
}

// A user is read within their tenant with their role; unknown, disabled and other
// tenants' users are refused for good.
func TestGetUser(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	tenant, agent := newAgent(t)
	otherTenant, foreign := newAgent(t)
	supervisor := newUser(t, tenant, pgstore.RoleSupervisor)
	disabled := newUser(t, tenant, pgstore.RoleAgent)
	yes := true
	if _, err := store.UpdateUser(ctx, tenant, pgstore.Actor{}, disabled, pgstore.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	get := func(tenantID, id string) (activities.UserInfo, error) {
		return a.GetUser(ctx, viaJSON(t, activities.UserRequest{TenantID: tenantID, UserID: id}))
	}
	for name, c := range map[string]struct {
		id   string
		want activities.UserInfo
	}{
		"agent":      {agent, activities.UserInfo{ID: agent, Role: pgstore.RoleAgent}},
		"supervisor": {supervisor, activities.UserInfo{ID: supervisor, Role: pgstore.RoleSupervisor}},
	} {
		got, err := get(tenant, c.id)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, c.want)
		}
	}
	for name, id := range map[string]string{
		"unknown": uuid.NewString(), "disabled": disabled, "another tenant's": foreign, "not an ID": "ana",
	} {
		got, err := get(tenant, id)
		if got != (activities.UserInfo{}) {
			t.Errorf("%s: answered %+v", name, got)
		}
		wantRefused(t, name, err, activities.ErrTypeUnknownTarget, "userId")
	}
	// The same user is theirs in their own tenant.
	if got, err := get(otherTenant, foreign); err != nil || got.ID != foreign {
		t.Errorf("in their own tenant: %+v, %v", got, err)
	}
}

// handoverFixture is a tenant whose agent holds a chat, with another agent to hand it
// over to.
type handoverFixture struct {
	a                *activities.Activities
	feed             *events.Feed
	tenant, from, to string
	chat             pgstore.Interaction
	connected        pgstore.InteractionState
	ring             time.Duration
	woken            *[]string
	timeline         int
}

func newHandover(t *testing.T) *handoverFixture {
	t.Helper()
	ctx := testContext(t)
	f := &handoverFixture{a: newActivities(t, time.Minute), woken: &[]string{}}
	f.feed = withEvents(t, f.a)
	f.a.Wake = func(_ context.Context, tenantID, interactionID, agentID string) error {
		*f.woken = append(*f.woken, interactionID)
		return nil
	}
	f.tenant, f.from = newAgent(t)
	f.to = newUser(t, f.tenant, pgstore.RoleAgent)
	for _, agent := range []string{f.from, f.to} {
		if _, err := f.a.Presence.Login(ctx, f.tenant, agent, presence.LoginInput{}); err != nil {
			t.Fatal(err)
		}
	}
	settings, err := store.GetACDSettings(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	f.ring = time.Duration(settings.RingTimeoutSeconds) * time.Second
	f.chat = newChat(t, f.tenant, time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute))
	f.connected = connectChat(t, f.a, f.chat, f.from)
	f.timeline = len(timeline(t, f.tenant, f.chat.ID))
	return f
}

// request is the handover of the chat to agent, as the workflow asks for it.
func (f *handoverFixture) request(t *testing.T, to string) activities.HandoverRequest {
	detail := map[string]any{"from": f.from, "to": to, "kind": "agent", "mode": "cold"}
	offered := f.connected
	offered.Status, offered.OfferedAgentID, offered.AgentID, offered.ConnectedAt = pgstore.InteractionOffered, to, "", nil
	offered.ExcludedAgents = []string{f.from}
	offered.Offers, offered.Version, offered.Transferred, offered.Transfers = 2, 4, true, 1
	return viaJSON(t, activities.HandoverRequest{FromAgentID: f.from, ToAgentID: to, QueueID: f.chat.QueueID, Channel: routing.LiveChat,
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: offered,
			Events: []pgstore.TimelineEvent{{Type: events.InteractionTransferred, At: time.Now().UTC().Truncate(time.Millisecond), ActorID: f.from, Data: detail}}},
		Publish: []activities.Publication{{Type: events.InteractionTransferred, Agents: []string{f.from, to}, Detail: detail}}})
}

// A handover moves the chat from the agent who holds it to a reservation of the
// target that rings for the ring timeout: the read model shows it offered to the
// target with the offer, the transfer and the offer are published, and the source,
// whose slot is free, is given the chat waiting for them. A retry reports the same
// and adds nothing.
func TestHandOver(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newHandover(t)
	one := routing.Capacity{routing.LiveChat: 1}
	if _, err := store.UpdateAgent(ctx, f.tenant, pgstore.Actor{}, f.from, pgstore.AgentUpdate{Capacity: &one}); err != nil {
		t.Fatal(err)
	}
	// Waiting for an agent with room; the source has none until the chat leaves them.
	waiting := newChat(t, f.tenant, f.chat.QueuedAt.Add(time.Second))
	req := f.request(t, f.to)

	var first activities.HandoverResult
	for try := range 3 { // retries after a lost answer
		start := time.Now().UTC().Truncate(time.Millisecond)
		res, err := f.a.HandOver(ctx, req)
		if err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if try == 0 {
			first = res
			if res.OfferedAt.Before(start) || res.OfferedAt.After(time.Now()) {
				t.Errorf("offered at %v, want between %v and now", res.OfferedAt, start)
			}
		}
		// The first try gives the source the waiting chat; a retry finds them
		// without room again and gives nothing more.
		var woken []string
		if try == 0 {
			woken = []string{waiting.ID}
		}
		if !res.OK || res.Reason != "" || !res.OfferedAt.Equal(first.OfferedAt) || !res.RingUntil.Equal(first.RingUntil) ||
			res.RingUntil.Sub(res.OfferedAt) != f.ring || !slices.Equal(res.Woken, woken) {
			t.Errorf("try %d: %+v, want OK ringing %v from %v, woken %v", try, res, f.ring, first.OfferedAt, woken)
		}

		held, ok, err := f.a.Presence.Holder(ctx, f.tenant, f.chat.ID)
		if want := (presence.Slot{Agent: f.to, Interaction: f.chat.ID, Channel: routing.LiveChat, ExpiresAt: first.RingUntil.Add(dispatch.ReservationMargin)}); err != nil ||
			!ok || held.Agent != want.Agent || held.Interaction != want.Interaction || held.Channel != want.Channel || held.Held || !held.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("try %d: the chat's slot %+v (%v, %v), want %+v", try, held, ok, err, want)
		}
		slots, err := f.a.Presence.Slots(ctx, f.tenant, f.from)
		if err != nil || len(slots) != 1 || slots[0].Interaction != waiting.ID || slots[0].Held {
			t.Errorf("try %d: the source's slots %+v, %v; want only the reservation of %s", try, slots, err, waiting.ID)
		}
		if w, ok, err := f.a.Presence.Holder(ctx, f.tenant, waiting.ID); err != nil || !ok || w.Agent != f.from {
			t.Errorf("try %d: the waiting chat's slot %+v (%v, %v)", try, w, ok, err)
		}

		ix := readModel(t, f.tenant, f.chat.ID)
		if ix.Status != pgstore.InteractionOffered || ix.OfferedAgentID != f.to || ix.AgentID != "" || ix.Offers != 2 || ix.Version != 4 ||
			ix.OfferedAt == nil || !ix.OfferedAt.Equal(first.OfferedAt) || ix.ConnectedAt != nil || !slices.Equal(ix.ExcludedAgents, []string{f.from}) ||
			!ix.Transferred || ix.Transfers != 1 {
			t.Errorf("try %d: read model %+v", try, ix.InteractionState)
		}
		offers, err := store.InteractionOffers(ctx, f.tenant, f.chat.ID)
		if err != nil || len(offers) != 2 {
			t.Fatalf("try %d: offers %+v, %v", try, offers, err)
		}
		if o := offers[1]; o.Attempt != 2 || o.AgentID != f.to || o.Channel != routing.LiveChat || !o.OfferedAt.Equal(first.OfferedAt) ||
			!o.RingUntil.Equal(first.RingUntil) || o.Outcome != "" || o.RespondedAt != nil {
			t.Errorf("try %d: the handover's offer %+v", try, o)
		}
		if o := offers[0]; o.Attempt != 1 || o.AgentID != f.from || o.Outcome != pgstore.OfferAccepted {
			t.Errorf("try %d: the first offer %+v", try, o)
		}

		tl := timeline(t, f.tenant, f.chat.ID)
		if len(tl) != f.timeline+1 {
			t.Fatalf("try %d: timeline %+v, want %d entries", try, tl, f.timeline+1)
		}
		if e := tl[len(tl)-1]; e.Version != 4 || e.Type != events.InteractionTransferred || e.ActorID != f.from || e.AgentID != f.to ||
			e.Status != pgstore.InteractionOffered || !reflect.DeepEqual(e.Data, req.Update.Events[0].Data) {
			t.Errorf("try %d: timeline entry %+v", try, e)
		}

		evs := feedOf(t, f.feed, f.tenant)
		if len(evs) != 2 {
			t.Fatalf("try %d: feed %+v, want the transfer and the offer", try, evs)
		}
		wantEvent(t, evs[0], f.tenant, f.chat.ID, 4, events.InteractionTransferred, f.from, f.to)
		wantEvent(t, evs[1], f.tenant, f.chat.ID, 4, events.InteractionOffered, f.to)
		if p := payload(t, evs[0]); p.Status != pgstore.InteractionOffered || p.OfferedAgentID != f.to || p.AgentID != "" || p.Version != 4 ||
			!reflect.DeepEqual(p.Detail, req.Publish[0].Detail) {
			t.Errorf("try %d: %s carries %+v", try, evs[0].Type, p)
		}
		if p := payload(t, evs[1]); p.Status != pgstore.InteractionOffered || p.OfferedAgentID != f.to || p.Attempt != 2 || p.Version != 4 ||
			p.RingUntil == nil || !p.RingUntil.Equal(first.RingUntil) {
			t.Errorf("try %d: %s carries %+v", try, evs[1].Type, p)
		}
	}
	if !slices.Equal(*f.woken, []string{waiting.ID}) {
		t.Errorf("woke %v; want %s once", *f.woken, waiting.ID)
	}
	// The target takes it as an offer.
	if ok, err := f.a.Presence.Confirm(ctx, f.tenant, f.to, f.chat.ID); err != nil || !ok {
		t.Errorf("the target confirms: %v, %v", ok, err)
	}
}

// A handover the target cannot take now changes nothing and says why.
func TestHandOverRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	away := routing.Status{Name: "Lunch", Group: routing.GroupAway}
	cases := []struct {
		name, reason string
		target       func(t *testing.T, f *handoverFixture) string
	}{
		{"not logged in", "not_logged_in", func(t *testing.T, f *handoverFixture) string { return newUser(t, f.tenant, pgstore.RoleAgent) }},
		{"away", "not_available", func(t *testing.T, f *handoverFixture) string {
			if _, err := f.a.Presence.SetStatus(ctx, f.tenant, f.to, away); err != nil {
				t.Fatal(err)
			}
			return f.to
		}},
		{"no room", "no_room", func(t *testing.T, f *handoverFixture) string {
			one := routing.Capacity{routing.LiveChat: 1}
			if _, err := store.UpdateAgent(ctx, f.tenant, pgstore.Actor{}, f.to, pgstore.AgentUpdate{Capacity: &one}); err != nil {
				t.Fatal(err)
			}
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
			f := newHandover(t)
			to := c.target(t, f)
			var slots []presence.Slot
			if to == f.to {
				var err error
				if slots, err = f.a.Presence.Slots(ctx, f.tenant, to); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				res, err := f.a.HandOver(ctx, f.request(t, to))
				if err != nil || !reflect.DeepEqual(res, activities.HandoverResult{Reason: c.reason}) {
					t.Errorf("%+v, %v; want refused with %s", res, err, c.reason)
				}
			}
			if held, ok, err := f.a.Presence.Holder(ctx, f.tenant, f.chat.ID); err != nil || !ok || held.Agent != f.from || !held.Held {
				t.Errorf("the chat is held by %+v (%v, %v), want %s", held, ok, err, f.from)
			}
			if now, err := f.a.Presence.Slots(ctx, f.tenant, to); err != nil || len(now) != len(slots) {
				t.Errorf("the target's slots %+v, %v; want %+v", now, err, slots)
			}
			ix := readModel(t, f.tenant, f.chat.ID)
			if ix.Status != pgstore.InteractionConnected || ix.AgentID != f.from || ix.OfferedAgentID != "" || ix.Version != 3 || ix.Offers != 1 || ix.Transferred {
				t.Errorf("read model %+v", ix.InteractionState)
			}
			if offers, err := store.InteractionOffers(ctx, f.tenant, f.chat.ID); err != nil || len(offers) != 1 {
				t.Errorf("offers %+v, %v", offers, err)
			}
			if n := len(timeline(t, f.tenant, f.chat.ID)); n != f.timeline {
				t.Errorf("%d timeline entries, want %d", n, f.timeline)
			}
			if evs := feedOf(t, f.feed, f.tenant); len(evs) != 0 {
				t.Errorf("published %+v", evs)
			}
			if len(*f.woken) != 0 {
				t.Errorf("woke %v", *f.woken)
			}
		})
	}
}

// A handover to someone who is not an agent of the tenant is refused for good as an
// unknown target, with nothing changed.
func TestHandOverUnknownTarget(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newHandover(t)
	_, foreign := newAgent(t)
	for name, to := range map[string]string{
		"unknown": uuid.NewString(), "a supervisor": newUser(t, f.tenant, pgstore.RoleSupervisor), "another tenant's agent": foreign,
	} {
		res, err := f.a.HandOver(ctx, f.request(t, to))
		if !reflect.DeepEqual(res, activities.HandoverResult{}) {
			t.Errorf("%s: answered %+v", name, res)
		}
		wantRefused(t, name, err, activities.ErrTypeUnknownTarget, "target.id")
	}
	if held, ok, err := f.a.Presence.Holder(ctx, f.tenant, f.chat.ID); err != nil || !ok || held.Agent != f.from || !held.Held {
		t.Errorf("the chat is held by %+v (%v, %v), want %s", held, ok, err, f.from)
	}
	if ix := readModel(t, f.tenant, f.chat.ID); ix.Status != pgstore.InteractionConnected || ix.Version != 3 {
		t.Errorf("read model %+v", ix.InteractionState)
	}
	if n := len(timeline(t, f.tenant, f.chat.ID)); n != f.timeline {
		t.Errorf("%d timeline entries, want %d", n, f.timeline)
	}
	if evs := feedOf(t, f.feed, f.tenant); len(evs) != 0 {
		t.Errorf("published %+v", evs)
	}
}
