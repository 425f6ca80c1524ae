package pgstore_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
)

// historyFixture is a tenant with interactions covering what history filters on:
//
//	a  voice, Sales, Renewals; Ana held it; disposed Sale/Renewed      "Ana Kovač" +385 91 234 5678
//	b  WhatsApp; offered to Ana, who rejected it; Bo held it; ended     "Marko Horvat" +385 98 111 2222
//	c  e-mail, Sales; abandoned                                        "ANA-MARIJA Perić"
//	d  voice outbound, Renewals; Bo holds it, Ana joined (conference)  "Ivo Ivić" 01 234 5678
//	e  live chat; queued                                               "100% Real_Name"
//	f  voice; Ana held it and transferred it to Bo                     "Petra Novak" +1 (555) 010-9999
//
// created a minute apart in that order, and another tenant with an "Ana Kovač" of its own.
type historyFixture struct {
	tid, other       string
	ana, bo          pgstore.User
	sales            pgstore.Queue
	defaultQ         string
	renewals         pgstore.Campaign
	sale             pgstore.DispositionClass
	t0               time.Time
	a, b, c, d, e, f pgstore.Interaction
	theirs           pgstore.Interaction
}

func newHistoryFixture(t *testing.T) *historyFixture {
	t.Helper()
	x := &historyFixture{tid: newTenant(t).Tenant.ID, other: newTenant(t).Tenant.ID}
	tid := x.tid
	x.ana, x.bo = newUser(t, tid, pgstore.RoleAgent), newUser(t, tid, pgstore.RoleAgent)
	x.sales = newQueue(t, tid, "Sales", x.ana.ID, x.bo.ID)
	x.defaultQ = defaultQueue(t, tid).ID
	x.renewals = newCampaign(t, tid, "Renewals")
	x.sale = setTree(t, tid, x.renewals.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Sale", Codes: []pgstore.DispositionCode{{Name: "Renewed", Success: true, Default: true}, {Name: "Lost"}}},
	}}).Classes[0]
	x.t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(minutes int, seconds int) time.Time {
		return x.t0.Add(time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second)
	}
	add := func(n int, ch routing.Channel, queue, name, phone string, mod func(*pgstore.Interaction)) pgstore.Interaction {
		in := newInteraction(tid, queue, ch, routing.PriorityNormal, at(n, 0))
		in.CustomerName, in.CustomerPhone, in.Customer, in.From = name, phone, phone, phone
		if mod != nil {
			mod(&in)
		}
		return enqueue(t, in)
	}
	write := func(in pgstore.Interaction, st pgstore.InteractionState, events ...pgstore.TimelineEvent) {
		t.Helper()
		st.QueuedAt = in.QueuedAt
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st, Events: events})
	}
	ptr := func(t time.Time) *time.Time { return &t }

	x.a = add(0, routing.Voice, x.sales.ID, "Ana Kovač", "+385 91 234 5678", func(in *pgstore.Interaction) { in.CampaignID = x.renewals.ID })
	connect(t, x.a, x.ana.ID, at(0, 5))
	write(x.a, pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: x.ana.ID, Offers: 1, ConnectedAt: ptr(at(0, 5)),
		EndedAt: ptr(at(0, 50)), Outcome: pgstore.OutcomeCompleted, Version: 3},
		pgstore.TimelineEvent{Type: "interactionEnded", At: at(0, 50)})
	write(x.a, pgstore.InteractionState{Status: pgstore.InteractionDisposed, AgentID: x.ana.ID, Offers: 1, ConnectedAt: ptr(at(0, 5)),
		EndedAt: ptr(at(0, 50)), Outcome: pgstore.OutcomeCompleted, DisposedAt: ptr(at(0, 55)), DisposedBy: x.ana.ID, Version: 4,
		Disposition: &pgstore.AppliedDisposition{ClassID: x.sale.ID, Class: "Sale", CodeID: x.sale.Codes[0].ID, Code: "Renewed"}},
		pgstore.TimelineEvent{Type: "interactionDisposed", At: at(0, 55), ActorID: x.ana.ID})

	x.b = add(1, routing.LiveMessaging, x.defaultQ, "Marko Horvat", "+385 98 111 2222", func(in *pgstore.Interaction) { in.Source = "whatsapp" })
	offerB := func(attempt int, agent string, sec int, version int64, excluded []string) {
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: x.b.ID,
			State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: agent, ExcludedAgents: excluded,
				Offers: attempt, QueuedAt: x.b.QueuedAt, OfferedAt: ptr(at(1, sec)), Version: version},
			Offer:  &pgstore.Offer{Attempt: attempt, AgentID: agent, Channel: routing.LiveMessaging, OfferedAt: at(1, sec), RingUntil: at(1, sec+20)},
			Events: []pgstore.TimelineEvent{{Type: "interactionOffered", At: at(1, sec)}}})
	}
	offerB(1, x.ana.ID, 1, 1, nil)
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: x.b.ID,
		State:    pgstore.InteractionState{Status: pgstore.InteractionQueued, ExcludedAgents: []string{x.ana.ID}, Offers: 1, QueuedAt: x.b.QueuedAt, Version: 2},
		Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferRejected, RespondedAt: at(1, 4)},
		Events:   []pgstore.TimelineEvent{{Type: "offerRejected", At: at(1, 4), ActorID: x.ana.ID}}})
	offerB(2, x.bo.ID, 5, 3, []string{x.ana.ID})
	write(x.b, pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.bo.ID, ExcludedAgents: []string{x.ana.ID}, Offers: 2,
		ConnectedAt: ptr(at(1, 8)), Version: 4}, pgstore.TimelineEvent{Type: "interactionConnected", At: at(1, 8)})
	write(x.b, pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: x.bo.ID, ExcludedAgents: []string{x.ana.ID}, Offers: 2,
		ConnectedAt: ptr(at(1, 8)), EndedAt: ptr(at(1, 40)), Outcome: pgstore.OutcomeCompleted, Version: 5},
		pgstore.TimelineEvent{Type: "interactionEnded", At: at(1, 40)})

	x.c = add(2, routing.Email, x.sales.ID, "ANA-MARIJA Perić", "", func(in *pgstore.Interaction) { in.From, in.Customer = "am@example.com", "am@example.com" })
	write(x.c, pgstore.InteractionState{Status: pgstore.InteractionAbandoned, EndedAt: ptr(at(2, 30)), Outcome: pgstore.OutcomeAbandoned, Version: 1},
		pgstore.TimelineEvent{Type: "interactionAbandoned", At: at(2, 30)})

	x.d = add(3, routing.Voice, x.defaultQ, "Ivo Ivić", "01 234 5678", func(in *pgstore.Interaction) {
		in.Direction, in.CampaignID = pgstore.Outbound, x.renewals.ID
	})
	connect(t, x.d, x.bo.ID, at(3, 2))
	write(x.d, pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.bo.ID, Offers: 1, ConnectedAt: ptr(at(3, 2)), Version: 3,
		Participants: []pgstore.Participant{{Kind: pgstore.ParticipantAgent, UserID: x.ana.ID, AddedBy: x.bo.ID, JoinedAt: at(3, 30)}}},
		pgstore.TimelineEvent{Type: "participantAdded", At: at(3, 30), ActorID: x.bo.ID, Data: map[string]any{"userId": x.ana.ID}})

	x.e = add(4, routing.LiveChat, x.defaultQ, "100% Real_Name", "", nil)

	x.f = add(5, routing.Voice, x.defaultQ, "Petra Novak", "+1 (555) 010-9999", nil)
	write(x.f, pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: x.ana.ID, Offers: 1, OfferedAt: ptr(at(5, 1)), Version: 1},
		pgstore.TimelineEvent{Type: "interactionOffered", At: at(5, 1)})
	write(x.f, pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.ana.ID, Offers: 1, ConnectedAt: ptr(at(5, 3)), Version: 2},
		pgstore.TimelineEvent{Type: "interactionConnected", At: at(5, 3)})
	write(x.f, pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.bo.ID, Offers: 1, ConnectedAt: ptr(at(5, 3)),
		Transferred: true, Transfers: 1, Version: 3},
		pgstore.TimelineEvent{Type: "interactionTransferred", At: at(5, 40), ActorID: x.ana.ID})

	theirs := newInteraction(x.other, defaultQueue(t, x.other).ID, routing.Voice, routing.PriorityNormal, at(0, 0))
	theirs.CustomerName, theirs.CustomerPhone = "Ana Kovač", "+385 91 234 5678"
	x.theirs = enqueue(t, theirs)
	return x
}

// ids names the interactions of a page by their fixture letter.
func (x *historyFixture) ids(items []pgstore.Interaction) string {
	names := map[string]string{x.a.ID: "a", x.b.ID: "b", x.c.ID: "c", x.d.ID: "d", x.e.ID: "e", x.f.ID: "f", x.theirs.ID: "theirs"}
	var out []string
	for _, in := range items {
		n, ok := names[in.ID]
		if !ok {
			n = in.ID
		}
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

// Each filter keeps exactly the interactions it names, newest first.
func TestSearchHistoryFilters(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	x := newHistoryFixture(t)
	ana, bo := x.ana.ID, x.bo.ID
	for _, tc := range []struct {
		name string
		f    pgstore.HistoryFilter
		want string
	}{
		{"everything", pgstore.HistoryFilter{}, "f,e,d,c,b,a"},
		{"name, any case", pgstore.HistoryFilter{Q: "ana"}, "c,a"},
		{"name with accents", pgstore.HistoryFilter{Q: "kovač"}, "a"},
		{"name, surrounding spaces", pgstore.HistoryFilter{Q: "  horvat "}, "b"},
		{"phone digits across spacing", pgstore.HistoryFilter{Q: "91234"}, "a"},
		{"phone with other punctuation", pgstore.HistoryFilter{Q: "+385-98-111"}, "b"},
		{"phone tail shared by two", pgstore.HistoryFilter{Q: "234 5678"}, "d,a"},
		{"phone in parentheses", pgstore.HistoryFilter{Q: "(555) 010"}, "f"},
		{"interaction ID", pgstore.HistoryFilter{Q: x.b.ID}, "b"},
		{"interaction ID in capitals", pgstore.HistoryFilter{Q: strings.ToUpper(x.b.ID)}, "b"},
		{"another tenant's ID", pgstore.HistoryFilter{Q: x.theirs.ID}, ""},
		{"percent is literal", pgstore.HistoryFilter{Q: "100%"}, "e"},
		{"underscore is literal", pgstore.HistoryFilter{Q: "a_e"}, ""},
		{"nothing like it", pgstore.HistoryFilter{Q: "zzz"}, ""},
		{"channel", pgstore.HistoryFilter{Channel: routing.Voice}, "f,d,a"},
		{"direction", pgstore.HistoryFilter{Direction: pgstore.Outbound}, "d"},
		{"status", pgstore.HistoryFilter{Status: pgstore.InteractionEnded}, "b"},
		{"status abandoned", pgstore.HistoryFilter{Status: pgstore.InteractionAbandoned}, "c"},
		{"campaign", pgstore.HistoryFilter{CampaignID: x.renewals.ID}, "d,a"},
		{"queue", pgstore.HistoryFilter{QueueID: x.sales.ID}, "c,a"},
		{"disposition code", pgstore.HistoryFilter{DispositionCodeID: x.sale.Codes[0].ID}, "a"},
		{"another disposition code", pgstore.HistoryFilter{DispositionCodeID: x.sale.Codes[1].ID}, ""},
		{"disposition class", pgstore.HistoryFilter{DispositionClassID: x.sale.ID}, "a"},
		// Held now, held before a transfer, or joined a conference; an offer
		// alone is not holding it.
		{"agent Ana", pgstore.HistoryFilter{AgentID: ana}, "f,d,a"},
		{"agent Bo", pgstore.HistoryFilter{AgentID: bo}, "f,d,b"},
		{"agent in capitals", pgstore.HistoryFilter{AgentID: strings.ToUpper(ana)}, "f,d,a"},
		{"agent with nothing", pgstore.HistoryFilter{AgentID: uuid.NewString()}, ""},
		// An agent's own history adds what they were offered.
		{"visible to Ana", pgstore.HistoryFilter{VisibleTo: ana}, "f,d,b,a"},
		{"visible to Bo", pgstore.HistoryFilter{VisibleTo: bo}, "f,d,b"},
		{"from inclusive, to exclusive", pgstore.HistoryFilter{From: x.c.CreatedAt, To: x.e.CreatedAt}, "d,c"},
		{"from only", pgstore.HistoryFilter{From: x.e.CreatedAt}, "f,e"},
		{"to only", pgstore.HistoryFilter{To: x.b.CreatedAt.Add(time.Microsecond)}, "b,a"},
		{"empty range", pgstore.HistoryFilter{From: x.c.CreatedAt, To: x.c.CreatedAt}, ""},
		{"range in another zone", pgstore.HistoryFilter{From: x.b.CreatedAt.In(time.FixedZone("CET", 3600)), To: x.c.CreatedAt.In(time.FixedZone("X", -5*3600))}, "b"},
		{"combined", pgstore.HistoryFilter{Channel: routing.Voice, AgentID: ana, Direction: pgstore.Inbound}, "f,a"},
		{"search within an agent's history", pgstore.HistoryFilter{Q: "ana", VisibleTo: bo}, ""},
		{"search and campaign", pgstore.HistoryFilter{Q: "5678", CampaignID: x.renewals.ID, Status: pgstore.InteractionConnected}, "d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := store.SearchHistory(ctx, x.tid, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.ids(page.Items); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if page.NextCursor != "" {
				t.Errorf("one page holds it all, yet nextCursor %q", page.NextCursor)
			}
		})
	}

	// The other tenant sees only its own.
	page, err := store.SearchHistory(ctx, x.other, pgstore.HistoryFilter{Q: "ana"})
	if err != nil || x.ids(page.Items) != "theirs" {
		t.Errorf("other tenant: %q, %v", x.ids(page.Items), err)
	}
	if page, err := store.SearchHistory(ctx, "nope", pgstore.HistoryFilter{}); err != nil || page.Items == nil || len(page.Items) != 0 {
		t.Errorf("malformed tenant: %+v, %v", page, err)
	}

	// The rows are whole: the disposition and the participants come with them.
	page, err = store.SearchHistory(ctx, x.tid, pgstore.HistoryFilter{Q: x.a.ID})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("%+v, %v", page, err)
	}
	if a := page.Items[0]; a.Disposition == nil || a.Disposition.Code != "Renewed" || a.CampaignID != x.renewals.ID || a.Status != pgstore.InteractionDisposed {
		t.Errorf("a = %+v", a)
	}

	// What an agent's history lists is what InteractionDetail.Involves tells.
	for _, agent := range []string{ana, bo} {
		page, err := store.SearchHistory(ctx, x.tid, pgstore.HistoryFilter{VisibleTo: agent})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []pgstore.Interaction{x.a, x.b, x.c, x.d, x.e, x.f} {
			d, err := store.InteractionDetail(ctx, x.tid, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			listed := slices.ContainsFunc(page.Items, func(i pgstore.Interaction) bool { return i.ID == in.ID })
			if d.Involves(agent) != listed {
				t.Errorf("%s: Involves(%s) = %v, listed %v", x.ids([]pgstore.Interaction{in}), agent, d.Involves(agent), listed)
			}
		}
	}
}

// Pages follow each other without gaps or repeats, also across rows created at the
// same instant, and the last page has no cursor.
func TestSearchHistoryPages(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	t0 := time.Date(2026, 11, 3, 12, 0, 0, 123456000, time.UTC)
	for i := range 9 {
		// Three at a time share their creation time, to the microsecond.
		enqueue(t, newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, t0.Add(time.Duration(i/3)*time.Second)))
	}
	all, err := store.SearchHistory(ctx, tid, pgstore.HistoryFilter{Limit: 200})
	if err != nil || len(all.Items) != 9 || all.NextCursor != "" {
		t.Fatalf("all: %d items, cursor %q, %v", len(all.Items), all.NextCursor, err)
	}
	for i := 1; i < len(all.Items); i++ {
		p, c := all.Items[i-1], all.Items[i]
		if p.CreatedAt.Before(c.CreatedAt) || (p.CreatedAt.Equal(c.CreatedAt) && p.ID < c.ID) {
			t.Errorf("not newest first at %d: %v %s then %v %s", i, p.CreatedAt, p.ID, c.CreatedAt, c.ID)
		}
	}
	for _, limit := range []int{1, 2, 4, 9} {
		var got []pgstore.Interaction
		f := pgstore.HistoryFilter{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("limit %d: no end", limit)
			}
			page, err := store.SearchHistory(ctx, tid, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > limit || (page.NextCursor != "" && len(page.Items) != limit) {
				t.Fatalf("limit %d: %d items, cursor %q", limit, len(page.Items), page.NextCursor)
			}
			got = append(got, page.Items...)
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		if len(got) != len(all.Items) {
			t.Fatalf("limit %d: %d items over the pages, want %d", limit, len(got), len(all.Items))
		}
		for i := range got {
			if got[i].ID != all.Items[i].ID {
				t.Errorf("limit %d: item %d is %s, want %s", limit, i, got[i].ID, all.Items[i].ID)
			}
		}
	}
	// The default page is 50; a filter applies on every page.
	page, err := store.SearchHistory(ctx, tid, pgstore.HistoryFilter{Limit: 2, To: t0.Add(2 * time.Second)})
	if err != nil || len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("%d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	rest, err := store.SearchHistory(ctx, tid, pgstore.HistoryFilter{Limit: 200, To: t0.Add(2 * time.Second), Cursor: page.NextCursor})
	if err != nil || len(rest.Items) != 4 || rest.NextCursor != "" {
		t.Errorf("rest: %d items, cursor %q, %v", len(rest.Items), rest.NextCursor, err)
	}
}

// Bad filters are refused with the field at fault.
func TestSearchHistoryValidation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	now := time.Now()
	cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		field string
		f     pgstore.HistoryFilter
	}{
		{"q", pgstore.HistoryFilter{Q: strings.Repeat("é", 201)}},
		{"q", pgstore.HistoryFilter{Q: "a\x00b"}},
		{"q", pgstore.HistoryFilter{Q: "\xff"}},
		{"to", pgstore.HistoryFilter{From: now, To: now.Add(-time.Second)}},
		{"campaignId", pgstore.HistoryFilter{CampaignID: "renewals"}},
		{"queueId", pgstore.HistoryFilter{QueueID: "1"}},
		{"dispositionCodeId", pgstore.HistoryFilter{DispositionCodeID: "Renewed"}},
		{"dispositionClassId", pgstore.HistoryFilter{DispositionClassID: "Sale"}},
		{"agentId", pgstore.HistoryFilter{AgentID: "me"}},
		{"visibleTo", pgstore.HistoryFilter{VisibleTo: "ana"}},
		{"channel", pgstore.HistoryFilter{Channel: "whatsapp"}},
		{"status", pgstore.HistoryFilter{Status: "closed"}},
		{"direction", pgstore.HistoryFilter{Direction: "sideways"}},
		{"limit", pgstore.HistoryFilter{Limit: 201}},
		{"limit", pgstore.HistoryFilter{Limit: -1}},
		{"cursor", pgstore.HistoryFilter{Cursor: "not a cursor!"}},
		{"cursor", pgstore.HistoryFilter{Cursor: cursor("123_nope")}},
		{"cursor", pgstore.HistoryFilter{Cursor: cursor("soon_" + uuid.NewString())}},
		{"cursor", pgstore.HistoryFilter{Cursor: cursor(uuid.NewString())}},
	} {
		_, err := store.SearchHistory(ctx, tid, tc.f)
		wantInvalid(t, err, tc.field)
	}
	// The bounds themselves are fine.
	for _, f := range []pgstore.HistoryFilter{
		{Q: strings.Repeat("é", 200)}, {Limit: 200}, {Limit: 1}, {From: now, To: now}, {Q: "   "},
	} {
		if _, err := store.SearchHistory(ctx, tid, f); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
}

// The detail is the interaction with its timeline, notes, transcript and offers.
func TestInteractionDetail(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	x := newHistoryFixture(t)
	note, err := store.AddNote(ctx, pgstore.Note{ID: uuid.NewString(), TenantID: x.tid, InteractionID: x.b.ID, AuthorID: x.bo.ID,
		Body: "Wants the invoice by e-mail", CreatedAt: x.t0.Add(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	hello := appendMessage(t, inbound(x.tid, x.b.ID, "Hello, where is my order?"))
	reply := appendMessage(t, outbound(x.tid, x.b.ID, x.bo.ID, "Let me check"))

	d, err := store.InteractionDetail(ctx, x.tid, x.b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != x.b.ID || d.Status != pgstore.InteractionEnded || d.AgentID != x.bo.ID || d.Source != "whatsapp" {
		t.Errorf("interaction %+v", d.Interaction)
	}
	var types []string
	for _, e := range d.Timeline {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "interactionInitiated,interactionOffered,offerRejected,interactionOffered,interactionConnected,interactionEnded" {
		t.Errorf("timeline %s", got)
	}
	if len(d.Notes) != 1 || d.Notes[0].ID != note.ID || d.Notes[0].Body != note.Body {
		t.Errorf("notes %+v", d.Notes)
	}
	if len(d.Transcript) != 2 || d.Transcript[0].ID != hello.ID || d.Transcript[1].ID != reply.ID || d.TranscriptTruncated {
		t.Errorf("transcript %+v, truncated %v", d.Transcript, d.TranscriptTruncated)
	}
	if len(d.Offers) != 2 || d.Offers[0].AgentID != x.ana.ID || d.Offers[0].Outcome != pgstore.OfferRejected || d.Offers[1].AgentID != x.bo.ID {
		t.Errorf("offers %+v", d.Offers)
	}

	// The disposition is the interaction's; an interaction with nothing else has
	// empty lists, never nulls.
	a, err := store.InteractionDetail(ctx, x.tid, x.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Disposition == nil || a.Disposition.CodeID != x.sale.Codes[0].ID || a.Disposition.Class != "Sale" {
		t.Errorf("disposition %+v", a.Disposition)
	}
	e, err := store.InteractionDetail(ctx, x.tid, x.e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Notes == nil || e.Transcript == nil || e.Offers == nil || len(e.Timeline) != 1 || len(e.Notes)+len(e.Transcript)+len(e.Offers) != 0 {
		t.Errorf("queued interaction's detail %+v", e)
	}

	for _, tc := range []struct{ tenant, id string }{{x.other, x.b.ID}, {x.tid, x.theirs.ID}, {x.tid, uuid.NewString()}, {x.tid, "nope"}} {
		if _, err := store.InteractionDetail(ctx, tc.tenant, tc.id); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("detail of %s in %s: %v, want ErrNotFound", tc.id, tc.tenant, err)
		}
	}

	// Who is involved: held (now or before a transfer), offered, or in a conference.
	for _, tc := range []struct {
		in    pgstore.Interaction
		agent string
		want  bool
	}{
		{x.a, x.ana.ID, true}, {x.a, x.bo.ID, false},
		{x.b, x.ana.ID, true}, {x.b, x.bo.ID, true},
		{x.c, x.ana.ID, false},
		{x.d, x.ana.ID, true},
		{x.f, x.ana.ID, true}, {x.f, strings.ToUpper(x.bo.ID), true},
		{x.e, "", false},
	} {
		d, err := store.InteractionDetail(ctx, x.tid, tc.in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Involves(tc.agent); got != tc.want {
			t.Errorf("%s involves %s: %v, want %v", x.ids([]pgstore.Interaction{tc.in}), tc.agent, got, tc.want)
		}
	}
}

// A transcript longer than the detail carries is cut at MaxDetailTranscript, in order,
// and says so; one exactly that long is whole.
func TestInteractionDetailLongTranscript(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)
	fill := func(n int) string {
		in := enqueue(t, newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at))
		if _, err := pool.Exec(ctx, `
			INSERT INTO interaction_messages (tenant_id, interaction_id, id, seq, direction, sender_kind, sender_id, body, created_at)
			SELECT $1, $2, gen_random_uuid(), s, 'inbound', 'customer', '+385100', 'message ' || s, $3
			FROM generate_series(1, $4::int) s`, tid, in.ID, at, n); err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	for _, tc := range []struct {
		n         int
		truncated bool
	}{{pgstore.MaxDetailTranscript, false}, {pgstore.MaxDetailTranscript + 1, true}} {
		d, err := store.InteractionDetail(ctx, tid, fill(tc.n))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Transcript) != pgstore.MaxDetailTranscript || d.TranscriptTruncated != tc.truncated {
			t.Errorf("%d messages: %d in the detail, truncated %v", tc.n, len(d.Transcript), d.TranscriptTruncated)
		}
		for i, m := range d.Transcript {
			if m.Seq != int64(i+1) {
				t.Fatalf("%d messages: message %d has seq %d", tc.n, i, m.Seq)
			}
		}
	}
}
