package pgstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
)

// stateJSON is a state as JSON with its times in UTC and nil lists empty, so that what
// was written compares with what was read back.
func stateJSON(t *testing.T, st pgstore.InteractionState) string {
	t.Helper()
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		u := p.UTC()
		return &u
	}
	st.QueuedAt = st.QueuedAt.UTC()
	st.OfferedAt, st.ConnectedAt, st.EndedAt = utc(st.OfferedAt), utc(st.ConnectedAt), utc(st.EndedAt)
	st.HeldAt, st.WrapUpUntil, st.DisposedAt = utc(st.HeldAt), utc(st.WrapUpUntil), utc(st.DisposedAt)
	if st.ExcludedAgents == nil {
		st.ExcludedAgents = []string{}
	}
	ps := make([]pgstore.Participant, len(st.Participants))
	for i, p := range st.Participants {
		p.JoinedAt, p.LeftAt = p.JoinedAt.UTC(), utc(p.LeftAt)
		ps[i] = p
	}
	st.Participants = ps
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// recordState writes st and checks that the interaction reads back with exactly it.
func recordState(t *testing.T, tenantID, id string, st pgstore.InteractionState, events ...pgstore.TimelineEvent) pgstore.Interaction {
	t.Helper()
	if !record(t, pgstore.InteractionUpdate{TenantID: tenantID, InteractionID: id, State: st, Events: events}) {
		t.Fatalf("version %d not written", st.Version)
	}
	got := getInteraction(t, tenantID, id)
	if g, w := stateJSON(t, got.InteractionState), stateJSON(t, st); g != w {
		t.Errorf("version %d read back as\n%s\nwant\n%s", st.Version, g, w)
	}
	return got
}

// interactionRows is every stored row of the tenant's interactions (state, offers,
// timeline, notes) as JSON, to prove that a refused write changed nothing.
func interactionRows(t *testing.T, tenantID string) string {
	t.Helper()
	var out []byte
	err := pool.QueryRow(testContext(t), `SELECT json_build_object(
		'interactions', (SELECT json_agg(i ORDER BY i.id) FROM interactions i WHERE tenant_id = $1),
		'offers', (SELECT json_agg(o ORDER BY o.interaction_id, o.attempt) FROM interaction_offers o WHERE tenant_id = $1),
		'events', (SELECT json_agg(e ORDER BY e.interaction_id, e.version, e.type) FROM interaction_events e WHERE tenant_id = $1),
		'notes', (SELECT json_agg(n ORDER BY n.id) FROM interaction_notes n WHERE tenant_id = $1))::text`, tenantID).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A call's whole life (hold, conference, transfer, wrap-up, disposition) and a
// conversation's status and linked customer are stored as written and read back
// unchanged, with the campaign and metadata given at creation.
func TestLifecycleFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	q := newQueue(t, tid, "Renewals", ana.ID, bo.ID)
	camp := newCampaign(t, tid, "Renewals 2026")
	tree := setTree(t, tid, camp.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Sale", Codes: []pgstore.DispositionCode{{Name: "Renewed", Success: true, Default: true}, {Name: "Call back", Callback: true}}},
	}})
	at := time.Now().UTC().Truncate(time.Millisecond)

	call := newInteraction(tid, q.ID, routing.Voice, routing.PriorityNormal, at)
	call.CampaignID = camp.ID
	call.CustomerName = "Ana Kovač"
	call.Metadata = map[string]string{"crmTicket": "T-1042", "language": "hr"}
	enqueue(t, call)
	got := getInteraction(t, tid, call.ID)
	if got.CampaignID != camp.ID || got.CustomerName != "Ana Kovač" || len(got.Metadata) != 2 || got.Metadata["crmTicket"] != "T-1042" ||
		got.Participants == nil || len(got.Participants) != 0 || got.Disposition != nil || got.Outcome != "" || got.Holds != 0 {
		t.Fatalf("enqueued %+v", got)
	}

	connected := at.Add(2 * time.Second)
	connect(t, call, ana.ID, connected)
	base := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: ana.ID, Offers: 1, QueuedAt: at,
		OfferedAt: &connected, ConnectedAt: &connected, CustomerID: "crm-42"}

	held := at.Add(10 * time.Second)
	st := base
	st.Status, st.HeldAt, st.Holds, st.HoldSeconds, st.Version = pgstore.InteractionOnHold, &held, 1, 12, 3
	recordState(t, tid, call.ID, st)

	joined, left := at.Add(20*time.Second), at.Add(50*time.Second)
	st = base
	st.Holds, st.HoldSeconds, st.Version = 2, 40, 4
	st.Participants = []pgstore.Participant{
		{Kind: pgstore.ParticipantSupervisor, UserID: sup.ID, AddedBy: ana.ID, JoinedAt: joined},
		{Kind: pgstore.ParticipantExternal, Number: "+385 1 555 0100", AddedBy: ana.ID, JoinedAt: joined, LeftAt: &left},
	}
	recordState(t, tid, call.ID, st)

	// Transferred to Bo, who ends it and wraps it up.
	ended, wrapUntil := at.Add(90*time.Second), at.Add(150*time.Second)
	st.AgentID, st.Transferred, st.Transfers, st.Version = bo.ID, true, 1, 5
	recordState(t, tid, call.ID, st)
	st.Status, st.EndedAt, st.EndReason, st.Outcome, st.WrapUpUntil, st.Version =
		pgstore.InteractionEnded, &ended, "customer hung up", pgstore.OutcomeCompleted, &wrapUntil, 6
	recordState(t, tid, call.ID, st)

	disposed := at.Add(100 * time.Second)
	sale := tree.Classes[0]
	st.Status, st.WrapUpUntil, st.DisposedAt, st.DisposedBy, st.Version = pgstore.InteractionDisposed, nil, &disposed, bo.ID, 7
	st.Disposition = &pgstore.AppliedDisposition{ClassID: sale.ID, Class: sale.Name, CodeID: sale.Codes[0].ID, Code: sale.Codes[0].Name,
		Notes: "Renewed for two years"}
	got = recordState(t, tid, call.ID, st)
	if got.CampaignID != camp.ID || got.Metadata["language"] != "hr" {
		t.Errorf("a state write changed what creation gave: campaign %q metadata %v", got.CampaignID, got.Metadata)
	}
	// The automatic disposition of the wrap-up timeout reads back as automatic.
	st.Disposition = &pgstore.AppliedDisposition{ClassID: sale.ID, Class: sale.Name, CodeID: sale.Codes[0].ID, Code: sale.Codes[0].Name, Auto: true}
	st.DisposedBy, st.Version = "", 8
	recordState(t, tid, call.ID, st)

	// A WhatsApp conversation: solved, reopened, closed.
	chat := newInteraction(tid, q.ID, routing.LiveMessaging, routing.PriorityNormal, at)
	chat.Source = "whatsapp"
	enqueue(t, chat)
	connect(t, chat, ana.ID, connected)
	st = base
	st.ConversationStatus, st.CustomerID, st.Version = pgstore.ConversationWaiting, "crm-7", 3
	recordState(t, tid, chat.ID, st)
	st.ConversationStatus, st.ReopenCount, st.Version = pgstore.ConversationOpen, 1, 4
	recordState(t, tid, chat.ID, st)
	st.Status, st.EndedAt, st.Outcome, st.ConversationStatus, st.Version =
		pgstore.InteractionEnded, &ended, pgstore.OutcomeCompleted, pgstore.ConversationClosed, 5
	recordState(t, tid, chat.ID, st)

	// A state the rules refuse names its field and writes nothing.
	before := interactionRows(t, tid)
	for field, bad := range map[string]func(*pgstore.InteractionState){
		"heldAt":             func(s *pgstore.InteractionState) { s.Status = pgstore.InteractionOnHold },
		"disposedAt":         func(s *pgstore.InteractionState) { s.Status = pgstore.InteractionDisposed },
		"outcome":            func(s *pgstore.InteractionState) { s.Outcome = "hung_up" },
		"conversationStatus": func(s *pgstore.InteractionState) { s.ConversationStatus = "pending" },
		"customerId":         func(s *pgstore.InteractionState) { s.CustomerID = strings.Repeat("x", 201) },
		"disposedBy":         func(s *pgstore.InteractionState) { s.DisposedBy = "bo" },
		"agentId":            func(s *pgstore.InteractionState) { s.Status, s.AgentID = pgstore.InteractionEnded, "" },
	} {
		s := base
		s.Version = 99
		bad(&s)
		_, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: chat.ID, State: s})
		wantInvalid(t, err, field)
	}
	if after := interactionRows(t, tid); after != before {
		t.Error("a refused state changed the stored rows")
	}
}

// The timeline gets one row per (version, type), however often the write that carries
// it is retried, and lists them in the order of the changes.
func TestTimelineWrittenOncePerVersionAndType(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := enqueue(t, newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at))
	enqueue(t, in) // a retried enqueue adds no second first entry

	offered := at.Add(time.Second)
	offer := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State:  pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &offered, Version: 1},
		Offer:  &pgstore.Offer{Attempt: 1, AgentID: ana.ID, Channel: routing.Voice, OfferedAt: offered, RingUntil: offered.Add(20 * time.Second)},
		Events: []pgstore.TimelineEvent{{Type: "interactionOffered", At: offered, Data: map[string]any{"attempt": 1}}},
	}
	record(t, offer)
	record(t, offer)
	connected := at.Add(3 * time.Second)
	conn := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State:    pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &offered, ConnectedAt: &connected, Version: 2},
		Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: connected},
		// Given out of order: the timeline orders a change's entries by time.
		Events: []pgstore.TimelineEvent{
			{Type: "interactionConnected", At: connected.Add(time.Millisecond)},
			{Type: "offerAccepted", At: connected, ActorID: ana.ID},
		},
	}
	record(t, conn)
	// A retry whose entries carry other times and data keeps the first ones.
	retry := conn
	retry.Events = []pgstore.TimelineEvent{{Type: "offerAccepted", At: connected.Add(time.Hour), Data: map[string]any{"retry": true}}}
	record(t, retry)
	held := at.Add(10 * time.Second)
	hold := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOnHold, AgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &offered,
			ConnectedAt: &connected, HeldAt: &held, Version: 3},
		Events: []pgstore.TimelineEvent{{Type: "interactionHeld", At: held, ActorID: sup.ID}},
	}
	record(t, hold)
	if record(t, offer) { // an old write retried late
		t.Error("a late retry of version 1 rolled the state back")
	}
	record(t, hold)

	got, err := store.Timeline(ctx, tid, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		version int64
		typ     string
		status  pgstore.InteractionStatus
		agent   string
	}
	want := []entry{
		{0, "interactionInitiated", pgstore.InteractionQueued, ""},
		{1, "interactionOffered", pgstore.InteractionOffered, ana.ID},
		{2, "offerAccepted", pgstore.InteractionConnected, ana.ID},
		{2, "interactionConnected", pgstore.InteractionConnected, ana.ID},
		{3, "interactionHeld", pgstore.InteractionOnHold, ana.ID},
	}
	if len(got) != len(want) {
		t.Fatalf("timeline %+v\nwant %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Version != w.version || g.Type != w.typ || g.Status != w.status || g.AgentID != w.agent {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if first := got[0]; !first.At.Equal(at) || first.Data["channel"] != string(routing.Voice) || first.Data["queueId"] != q ||
		first.Data["direction"] != string(pgstore.Inbound) {
		t.Errorf("first entry %+v", first)
	}
	if e := got[2]; e.ActorID != ana.ID || !e.At.Equal(connected) || e.Data["retry"] != nil || e.Data == nil {
		t.Errorf("retried entry %+v, want the first write's", e)
	}
	if e := got[1]; e.Data["attempt"] != float64(1) {
		t.Errorf("entry data %+v", e.Data)
	}
	if e := got[4]; e.ActorID != sup.ID {
		t.Errorf("actor %q, want the supervisor", e.ActorID)
	}

	// Entries the rules refuse name their field and write nothing.
	before := interactionRows(t, tid)
	for field, ev := range map[string]pgstore.TimelineEvent{
		"events[1].type":    {Type: " ", At: held},
		"events[1].at":      {Type: "x"},
		"events[1].actorId": {Type: "x", At: held, ActorID: "someone"},
	} {
		u := hold
		u.State.Version = 4
		u.Events = []pgstore.TimelineEvent{{Type: "ok", At: held}, ev}
		_, err := store.RecordInteraction(ctx, u)
		wantInvalid(t, err, field)
	}
	if after := interactionRows(t, tid); after != before {
		t.Error("refused entries changed the stored rows")
	}
	// Another tenant, or a malformed ID, reads an empty timeline.
	for _, c := range [][2]string{{newTenant(t).Tenant.ID, in.ID}, {tid, "nope"}} {
		if tl, err := store.Timeline(ctx, c[0], c[1]); err != nil || tl == nil || len(tl) != 0 {
			t.Errorf("Timeline(%s, %s) = %v, %v; want empty", c[0], c[1], tl, err)
		}
	}
}

// Moving an interaction to a campaign is refused for a campaign the tenant does not
// have, and the refused write changes nothing; one of its own is taken.
func TestRecordInteractionCampaignOfAnotherTenant(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	theirs := newCampaign(t, other, "Theirs")
	gone := newCampaign(t, tid, "Gone")
	if err := store.DeleteCampaign(ctx, tid, pgstore.Actor{}, gone.ID); err != nil {
		t.Fatal(err)
	}
	ours := newCampaign(t, tid, "Ours")
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := enqueue(t, newInteraction(tid, defaultQueue(t, tid).ID, routing.LiveChat, routing.PriorityNormal, at))
	connect(t, in, ana.ID, at.Add(time.Second))
	defaultID := getInteraction(t, tid, in.ID).CampaignID

	ended := at.Add(time.Minute)
	move := pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: ana.ID, Offers: 1, QueuedAt: at,
			ConnectedAt: &ended, EndedAt: &ended, Version: 3},
		Events: []pgstore.TimelineEvent{{Type: "interactionTransferred", At: ended}},
	}
	before := interactionRows(t, tid)
	theirsBefore := interactionRows(t, other)
	for name, id := range map[string]string{"another tenant's": theirs.ID, "deleted": gone.ID, "unknown": uuid.NewString()} {
		move.CampaignID = id
		_, err := store.RecordInteraction(ctx, move)
		wantInvalid(t, err, "campaignId")
		if after := interactionRows(t, tid); after != before {
			t.Fatalf("moving to a %s campaign changed the rows", name)
		}
	}
	if interactionRows(t, other) != theirsBefore {
		t.Error("the other tenant's rows changed")
	}
	if got := getInteraction(t, tid, in.ID); got.CampaignID != defaultID || got.Version != 2 {
		t.Errorf("after refused moves: campaign %q version %d", got.CampaignID, got.Version)
	}

	move.CampaignID = ours.ID
	record(t, move)
	if got := getInteraction(t, tid, in.ID); got.CampaignID != ours.ID || got.Status != pgstore.InteractionEnded {
		t.Errorf("moved: campaign %q status %s", got.CampaignID, got.Status)
	}
	// A later write naming no campaign leaves it where it is.
	move.CampaignID, move.State.Version = "", 4
	record(t, move)
	if got := getInteraction(t, tid, in.ID); got.CampaignID != ours.ID {
		t.Errorf("a write without campaign moved it to %q", got.CampaignID)
	}
}

// An interaction that names no campaign, a deleted one or another tenant's belongs
// to the tenant's Default campaign.
func TestInteractionCampaignDefaults(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	defaultID, err := store.DefaultCampaignID(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	gone := newCampaign(t, tid, "Spring promo")
	if err := store.DeleteCampaign(ctx, tid, pgstore.Actor{}, gone.ID); err != nil {
		t.Fatal(err)
	}
	kept := newCampaign(t, tid, "Kept")
	theirs := newCampaign(t, other, "Theirs")
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name, campaign, want string
	}{
		{"none", "", defaultID},
		{"deleted", gone.ID, defaultID},
		{"unknown", uuid.NewString(), defaultID},
		{"another tenant's", theirs.ID, defaultID},
		{"its own", kept.ID, kept.ID},
	} {
		in := newInteraction(tid, q, routing.Email, routing.PriorityNormal, at)
		in.CampaignID = tc.campaign
		enqueue(t, in)
		if got := getInteraction(t, tid, in.ID); got.CampaignID != tc.want {
			t.Errorf("%s campaign: stored %q, want %q", tc.name, got.CampaignID, tc.want)
		}
		tl, err := store.Timeline(ctx, tid, in.ID)
		if err != nil || len(tl) != 1 || tl[0].Data["campaignId"] != tc.want {
			t.Errorf("%s campaign: first timeline entry %+v, %v", tc.name, tl, err)
		}
	}
}

// Notes are written once by ID, bounded, and belong to one interaction.
func TestAddNote(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := enqueue(t, newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at))
	second := enqueue(t, newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at))

	first := pgstore.Note{ID: uuid.NewString(), TenantID: tid, InteractionID: in.ID, AuthorID: ana.ID,
		Body: "Customer asked for a callback after 5 pm", CreatedAt: at.Add(2 * time.Second)}
	got, err := store.AddNote(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.Body != first.Body || got.AuthorID != ana.ID || got.InteractionID != in.ID || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("added %+v", got)
	}
	// A retry, even with another body, answers the stored note and adds nothing.
	retry := first
	retry.Body, retry.CreatedAt = "changed", at.Add(time.Hour)
	if got, err := store.AddNote(ctx, retry); err != nil || got.Body != first.Body || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("retried note %+v, %v", got, err)
	}
	// Exactly the longest body is taken, counted in characters.
	longest := pgstore.Note{ID: uuid.NewString(), TenantID: tid, InteractionID: in.ID, Body: strings.Repeat("ž", pgstore.MaxNoteLength), CreatedAt: at}
	if _, err := store.AddNote(ctx, longest); err != nil {
		t.Errorf("a note of %d characters: %v", pgstore.MaxNoteLength, err)
	}

	before := interactionRows(t, tid)
	for _, tc := range []struct {
		name, field string
		mod         func(*pgstore.Note)
	}{
		{"empty body", "body", func(n *pgstore.Note) { n.Body = "" }},
		{"blank body", "body", func(n *pgstore.Note) { n.Body = " \n\t" }},
		{"too long", "body", func(n *pgstore.Note) { n.Body = strings.Repeat("a", pgstore.MaxNoteLength+1) }},
		{"bad ID", "id", func(n *pgstore.Note) { n.ID = "note-1" }},
		{"bad author", "authorId", func(n *pgstore.Note) { n.AuthorID = "ana" }},
		{"no time", "createdAt", func(n *pgstore.Note) { n.CreatedAt = time.Time{} }},
		{"ID of another interaction's note", "id", func(n *pgstore.Note) { n.InteractionID = second.ID; n.ID = first.ID }},
	} {
		n := pgstore.Note{ID: uuid.NewString(), TenantID: tid, InteractionID: in.ID, Body: "fine", CreatedAt: at}
		tc.mod(&n)
		_, err := store.AddNote(ctx, n)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: %v, want a validation error on %s", tc.name, err, tc.field)
		}
	}
	for name, n := range map[string]pgstore.Note{
		"unknown interaction":          {ID: uuid.NewString(), TenantID: tid, InteractionID: uuid.NewString(), Body: "x", CreatedAt: at},
		"another tenant's interaction": {ID: uuid.NewString(), TenantID: other, InteractionID: in.ID, Body: "x", CreatedAt: at},
	} {
		if _, err := store.AddNote(ctx, n); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if after := interactionRows(t, tid); after != before {
		t.Error("refused notes changed the stored rows")
	}

	notes, err := store.Notes(ctx, tid, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || notes[0].ID != longest.ID || notes[1].ID != first.ID {
		t.Errorf("notes not oldest first: %+v", notes)
	}
	if none, err := store.Notes(ctx, other, in.ID); err != nil || none == nil || len(none) != 0 {
		t.Errorf("another tenant reads notes %v, %v", none, err)
	}
	if none, err := store.Notes(ctx, tid, second.ID); err != nil || len(none) != 0 {
		t.Errorf("the second interaction has notes %v, %v", none, err)
	}
}

// An interaction on hold is still active: neither its campaign nor its queue can be
// deleted until it ends, and history keeps both IDs after they are.
func TestDeleteRefusedWhileOnHold(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	q := newQueue(t, tid, "Billing", ana.ID)
	camp := newCampaign(t, tid, "Billing")
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := newInteraction(tid, q.ID, routing.Voice, routing.PriorityNormal, at)
	in.CampaignID = camp.ID
	enqueue(t, in)
	connect(t, in, ana.ID, at)
	held := at.Add(time.Second)
	st := pgstore.InteractionState{Status: pgstore.InteractionOnHold, AgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &at,
		ConnectedAt: &at, HeldAt: &held, Version: 3}
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st})

	err := store.DeleteCampaign(ctx, tid, pgstore.Actor{}, camp.ID)
	wantErr(t, err, pgstore.ErrConflict)
	err = store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID)
	wantErr(t, err, pgstore.ErrConflict)
	if _, err := store.GetCampaign(ctx, tid, camp.ID); err != nil {
		t.Errorf("campaign after refused delete: %v", err)
	}

	ended := at.Add(time.Minute)
	st.Status, st.HeldAt, st.HoldSeconds, st.EndedAt, st.Outcome, st.Version =
		pgstore.InteractionEnded, nil, 59, &ended, pgstore.OutcomeCompleted, 4
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st})
	if err := store.DeleteCampaign(ctx, tid, pgstore.Actor{}, camp.ID); err != nil {
		t.Errorf("delete campaign once the call ended: %v", err)
	}
	if err := store.DeleteQueue(ctx, tid, pgstore.Actor{}, q.ID); err != nil {
		t.Errorf("delete queue once the call ended: %v", err)
	}
	if got := getInteraction(t, tid, in.ID); got.CampaignID != camp.ID || got.QueueID != q.ID {
		t.Errorf("history lost the IDs: campaign %q queue %q", got.CampaignID, got.QueueID)
	}
}
