package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/api"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/routing"
	"switchboard/telemetry"
)

// historyAPI is the API over a database of its own, with a tenant in Zagreb whose
// history holds:
//
//	a  voice, Sales, Renewals; Ana held it; disposed Sale/Renewed      "Ana Kovač" +385 91 234 5678, created 00:30 local on 2 Nov
//	b  WhatsApp; offered to Ana, who rejected it; Bo held it; ended     "Marko Horvat" +385 98 111 2222, with a transcript and a note
//	c  e-mail, Sales; abandoned                                        "Marija Perić"
//	d  voice outbound, Renewals; Bo holds it, Ana joined (conference)  "Ivo Ivić" 01 234 5678
//	e  live chat; queued                                               "Petra Novak"
//
// created in that order, and another tenant with an "Ana Kovač" of its own.
type historyAPI struct {
	h                              http.Handler
	store                          *pgstore.Store
	admin, ana, bo, sup, integ     string // API keys
	theirAdmin                     string
	anaID, boID                    string
	sales, renewals, sale, renewed string
	a, b, c, d, e, theirs          string
}

func newHistoryAPI(t *testing.T) *historyAPI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, drop, err := pgtest.Migrated(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	store := pgstore.New(pool)
	x := &historyAPI{store: store,
		h: api.New(api.Config{Store: store, Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}).Handler()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tenant := func(zone string) pgstore.CreatedTenant {
		slug := "h-" + pgtest.RandomHex(6)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: zone,
			Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
		must(err)
		return ct
	}
	ours, theirs := tenant("Europe/Zagreb"), tenant("America/New_York")
	tid := ours.Tenant.ID
	x.admin, x.theirAdmin = ours.Key.Secret, theirs.Key.Secret
	user := func(role pgstore.Role) (string, string) {
		u, err := store.CreateUser(ctx, tid, pgstore.Actor{}, pgstore.NewUser{Email: pgtest.RandomHex(4) + "@example.com", Name: string(role), Role: role})
		must(err)
		k, err := store.CreateAPIKey(ctx, tid, pgstore.Actor{}, pgstore.NewAPIKey{UserID: u.ID, Name: "desk"})
		must(err)
		return u.ID, k.Secret
	}
	x.anaID, x.ana = user(pgstore.RoleAgent)
	x.boID, x.bo = user(pgstore.RoleAgent)
	_, x.sup = user(pgstore.RoleSupervisor)
	_, x.integ = user(pgstore.RoleIntegration)
	q, err := store.CreateQueue(ctx, tid, pgstore.Actor{}, pgstore.NewQueue{Name: "Sales", AgentIDs: []string{x.anaID, x.boID}})
	must(err)
	x.sales = q.ID
	defaultQ, err := store.DefaultQueueID(ctx, tid)
	must(err)
	camp, err := store.CreateCampaign(ctx, tid, pgstore.Actor{}, pgstore.NewCampaign{Name: "Renewals"})
	must(err)
	x.renewals = camp.ID
	tree, err := store.SetDispositions(ctx, tid, pgstore.Actor{}, camp.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Sale", Codes: []pgstore.DispositionCode{{Name: "Renewed", Default: true}, {Name: "Lost"}}}}})
	must(err)
	x.sale, x.renewed = tree.Classes[0].ID, tree.Classes[0].Codes[0].ID

	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ptr := func(t time.Time) *time.Time { return &t }
	add := func(tenantID, queue string, created time.Time, ch routing.Channel, name, phone string, mod func(*pgstore.Interaction)) pgstore.Interaction {
		id := uuid.NewString()
		in := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: ch, Direction: pgstore.Inbound,
			From: phone, CustomerPhone: phone, Customer: phone, CustomerName: name, QueueID: queue, Priority: routing.PriorityNormal,
			InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: created}, CreatedAt: created}
		if mod != nil {
			mod(&in)
		}
		_, err := store.EnqueueInteraction(ctx, in)
		must(err)
		return in
	}
	write := func(in pgstore.Interaction, st pgstore.InteractionState, offer *pgstore.Offer, resp *pgstore.OfferResponse, ev string, at time.Time) {
		t.Helper()
		st.QueuedAt = in.QueuedAt
		_, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st, Offer: offer,
			Response: resp, Events: []pgstore.TimelineEvent{{Type: ev, At: at}}})
		must(err)
	}
	offer := func(attempt int, agent string, ch routing.Channel, at time.Time) *pgstore.Offer {
		return &pgstore.Offer{Attempt: attempt, AgentID: agent, Channel: ch, OfferedAt: at, RingUntil: at.Add(20 * time.Second)}
	}

	a := add(tid, x.sales, time.Date(2026, 11, 1, 23, 30, 0, 0, time.UTC), routing.Voice, "Ana Kovač", "+385 91 234 5678",
		func(in *pgstore.Interaction) { in.CampaignID = camp.ID })
	at := a.CreatedAt
	write(a, pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: x.anaID, Offers: 1, OfferedAt: ptr(at), Version: 1},
		offer(1, x.anaID, routing.Voice, at), nil, "interactionOffered", at)
	held := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.anaID, Offers: 1, OfferedAt: ptr(at), ConnectedAt: ptr(at.Add(time.Second)), Version: 2}
	write(a, held, nil, &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: at.Add(time.Second)}, "interactionConnected", at.Add(time.Second))
	held.Status, held.EndedAt, held.Outcome, held.Version = pgstore.InteractionEnded, ptr(at.Add(time.Minute)), pgstore.OutcomeCompleted, 3
	write(a, held, nil, nil, "interactionEnded", at.Add(time.Minute))
	held.Status, held.DisposedAt, held.DisposedBy, held.Version = pgstore.InteractionDisposed, ptr(at.Add(2*time.Minute)), x.anaID, 4
	held.Disposition = &pgstore.AppliedDisposition{ClassID: x.sale, Class: "Sale", CodeID: x.renewed, Code: "Renewed"}
	write(a, held, nil, nil, "interactionDisposed", at.Add(2*time.Minute))

	b := add(tid, defaultQ, day, routing.LiveMessaging, "Marko Horvat", "+385 98 111 2222", func(in *pgstore.Interaction) { in.Source = "whatsapp" })
	write(b, pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: x.anaID, Offers: 1, OfferedAt: ptr(day), Version: 1},
		offer(1, x.anaID, routing.LiveMessaging, day), nil, "interactionOffered", day)
	write(b, pgstore.InteractionState{Status: pgstore.InteractionQueued, ExcludedAgents: []string{x.anaID}, Offers: 1, Version: 2},
		nil, &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferRejected, RespondedAt: day.Add(2 * time.Second)}, "offerRejected", day.Add(2*time.Second))
	write(b, pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: x.boID, ExcludedAgents: []string{x.anaID}, Offers: 2,
		OfferedAt: ptr(day.Add(3 * time.Second)), Version: 3}, offer(2, x.boID, routing.LiveMessaging, day.Add(3*time.Second)), nil, "interactionOffered", day.Add(3*time.Second))
	held = pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.boID, ExcludedAgents: []string{x.anaID}, Offers: 2,
		OfferedAt: ptr(day.Add(3 * time.Second)), ConnectedAt: ptr(day.Add(5 * time.Second)), Version: 4}
	write(b, held, nil, &pgstore.OfferResponse{Attempt: 2, Outcome: pgstore.OfferAccepted, RespondedAt: day.Add(5 * time.Second)}, "interactionConnected", day.Add(5*time.Second))
	held.Status, held.EndedAt, held.Outcome, held.Version = pgstore.InteractionEnded, ptr(day.Add(time.Minute)), pgstore.OutcomeCompleted, 5
	write(b, held, nil, nil, "interactionEnded", day.Add(time.Minute))
	for _, m := range []pgstore.NewMessage{
		{Direction: pgstore.Inbound, SenderKind: pgstore.SenderCustomer, SenderID: "+385 98 111 2222", Body: "Where is my order?"},
		{Direction: pgstore.Outbound, SenderKind: pgstore.SenderAgent, SenderID: x.boID, Body: "It left the warehouse today"},
	} {
		m.TenantID, m.InteractionID, m.ID = tid, b.ID, uuid.NewString()
		_, err := store.AppendMessage(ctx, m)
		must(err)
	}
	_, err = store.AddNote(ctx, pgstore.Note{ID: uuid.NewString(), TenantID: tid, InteractionID: b.ID, AuthorID: x.boID,
		Body: "Sent the tracking link", CreatedAt: day.Add(time.Minute)})
	must(err)

	c := add(tid, x.sales, day.Add(10*time.Minute), routing.Email, "Marija Perić", "", func(in *pgstore.Interaction) { in.From = "mp@example.com" })
	write(c, pgstore.InteractionState{Status: pgstore.InteractionAbandoned, EndedAt: ptr(c.CreatedAt.Add(time.Minute)), Outcome: pgstore.OutcomeAbandoned, Version: 1},
		nil, nil, "interactionAbandoned", c.CreatedAt.Add(time.Minute))

	d := add(tid, defaultQ, day.Add(20*time.Minute), routing.Voice, "Ivo Ivić", "01 234 5678", func(in *pgstore.Interaction) {
		in.Direction, in.CampaignID = pgstore.Outbound, camp.ID
	})
	at = d.CreatedAt
	write(d, pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: x.boID, Offers: 1, OfferedAt: ptr(at), Version: 1},
		offer(1, x.boID, routing.Voice, at), nil, "interactionOffered", at)
	held = pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: x.boID, Offers: 1, OfferedAt: ptr(at), ConnectedAt: ptr(at.Add(time.Second)), Version: 2}
	write(d, held, nil, &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: at.Add(time.Second)}, "interactionConnected", at.Add(time.Second))
	held.Participants, held.Version = []pgstore.Participant{{Kind: pgstore.ParticipantAgent, UserID: x.anaID, AddedBy: x.boID, JoinedAt: at.Add(time.Minute)}}, 3
	write(d, held, nil, nil, "participantAdded", at.Add(time.Minute))

	e := add(tid, defaultQ, day.Add(30*time.Minute), routing.LiveChat, "Petra Novak", "", nil)

	theirQ, err := store.DefaultQueueID(ctx, theirs.Tenant.ID)
	must(err)
	their := add(theirs.Tenant.ID, theirQ, day, routing.Voice, "Ana Kovač", "+385 91 234 5678", nil)
	x.a, x.b, x.c, x.d, x.e, x.theirs = a.ID, b.ID, c.ID, d.ID, e.ID, their.ID
	return x
}

func (x *historyAPI) get(t *testing.T, key, path string, params url.Values) *httptest.ResponseRecorder {
	t.Helper()
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	return do(t, x.h, http.MethodGet, path, http.Header{"Authorization": {"Bearer " + key}})
}

// search answers the fixture letters of a history page, and its cursor.
func (x *historyAPI) search(t *testing.T, key string, params url.Values) (string, string) {
	t.Helper()
	rec := x.get(t, key, "/v1/history", params)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/history?%s: %d %s", params.Encode(), rec.Code, rec.Body)
	}
	var page struct {
		Items      []pgstore.Interaction `json:"items"`
		NextCursor *string               `json:"nextCursor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if page.Items == nil {
		t.Errorf("items is not a list: %s", rec.Body)
	}
	if page.NextCursor != nil && *page.NextCursor == "" {
		t.Error("an empty nextCursor is sent; it should be left out")
	}
	names := map[string]string{x.a: "a", x.b: "b", x.c: "c", x.d: "d", x.e: "e", x.theirs: "theirs"}
	var out []string
	for _, in := range page.Items {
		out = append(out, names[in.ID])
	}
	cursor := ""
	if page.NextCursor != nil {
		cursor = *page.NextCursor
	}
	return strings.Join(out, ","), cursor
}

// detail reads GET /v1/history/{id} as the caller and answers the record, and the
// top-level keys of the body.
func (x *historyAPI) detail(t *testing.T, key, id string) (pgstore.InteractionDetail, map[string]json.RawMessage) {
	t.Helper()
	rec := x.get(t, key, "/v1/history/"+id, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/history/%s: %d %s", id, rec.Code, rec.Body)
	}
	var d pgstore.InteractionDetail
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	return d, keys
}

func TestHistoryAPI(t *testing.T) {
	x := newHistoryAPI(t)
	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}

	t.Run("filters and search", func(t *testing.T) {
		for _, tc := range []struct {
			params url.Values
			want   string
		}{
			{nil, "e,d,c,b,a"},
			{v("q", "ana"), "a"},
			{v("q", "MARKO"), "b"},
			{v("q", "+385 91"), "a"},
			{v("q", "234-5678"), "d,a"},
			{v("q", x.b), "b"},
			{v("q", x.theirs), ""},
			{v("channel", "voice"), "d,a"},
			{v("direction", "outbound"), "d"},
			{v("status", "ended"), "b"},
			{v("status", "disposed"), "a"},
			{v("status", "on_hold"), ""},
			{v("campaignId", x.renewals), "d,a"},
			{v("queueId", x.sales), "c,a"},
			{v("dispositionCodeId", x.renewed), "a"},
			{v("dispositionClassId", x.sale), "a"},
			{v("agentId", x.anaID), "d,a"},
			{v("agentId", x.boID), "d,b"},
			{v("agentId", "me"), ""},
			// A date is midnight in the tenant's time zone (Zagreb, UTC+1): a was
			// created at 00:30 there on 2 November, still 1 November in UTC.
			{v("from", "2026-11-02"), "e,d,c,b,a"},
			{v("to", "2026-11-02"), ""},
			{v("from", "2026-11-02", "to", "2026-11-03"), "e,d,c,b,a"},
			{v("to", "2026-11-02T00:00:00Z"), "a"},
			{v("from", "2026-11-02T09:05:00Z", "to", "2026-11-02T10:25:00+01:00"), "d,c"},
			{v("channel", "voice", "agentId", x.anaID, "direction", "inbound"), "a"},
			{v("q", "  Kovač ", "status", "disposed", "limit", "200"), "a"},
		} {
			if got, cursor := x.search(t, x.admin, tc.params); got != tc.want || cursor != "" {
				t.Errorf("?%s: %q (cursor %q), want %q", tc.params.Encode(), got, cursor, tc.want)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, tc := range []struct {
			params url.Values
			pages  []string
		}{
			{v("limit", "2"), []string{"e,d", "c,b", "a"}},
			{v("limit", "5"), []string{"e,d,c,b,a"}},
			{v("limit", "1", "channel", "voice"), []string{"d", "a"}},
		} {
			params := tc.params
			for i, want := range tc.pages {
				got, cursor := x.search(t, x.admin, params)
				if got != want {
					t.Fatalf("?%s page %d: %q, want %q", tc.params.Encode(), i, got, want)
				}
				if last := i == len(tc.pages)-1; last != (cursor == "") {
					t.Fatalf("?%s page %d: cursor %q", tc.params.Encode(), i, cursor)
				}
				params = url.Values{}
				for k, vs := range tc.params {
					params[k] = vs
				}
				params.Set("cursor", cursor)
			}
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, tc := range []struct {
			params url.Values
			status int
			field  string
		}{
			{v("limit", "abc"), http.StatusBadRequest, "limit"},
			{v("limit", "201"), http.StatusBadRequest, "limit"},
			{v("limit", "-1"), http.StatusBadRequest, "limit"},
			{v("cursor", "zzz"), http.StatusBadRequest, "cursor"},
			{v("from", "yesterday"), http.StatusBadRequest, "from"},
			{v("to", "2026-13-01"), http.StatusBadRequest, "to"},
			{v("from", "2026-11-03", "to", "2026-11-02"), http.StatusBadRequest, "to"},
			{v("campaignId", "Renewals"), http.StatusBadRequest, "campaignId"},
			{v("queueId", "1"), http.StatusBadRequest, "queueId"},
			{v("dispositionCodeId", "Renewed"), http.StatusBadRequest, "dispositionCodeId"},
			{v("dispositionClassId", "Sale"), http.StatusBadRequest, "dispositionClassId"},
			{v("agentId", "ana"), http.StatusBadRequest, "agentId"},
			{v("channel", "whatsapp"), http.StatusBadRequest, "channel"},
			{v("status", "closed"), http.StatusBadRequest, "status"},
			{v("direction", "up"), http.StatusBadRequest, "direction"},
			{v("q", strings.Repeat("x", 201)), http.StatusBadRequest, "q"},
			{v("status", "ended", "status", "abandoned"), http.StatusBadRequest, "status"},
			{v("after", x.a), http.StatusUnprocessableEntity, "after"},
		} {
			rec := x.get(t, x.admin, "/v1/history", tc.params)
			code := "malformed_request"
			if tc.status == http.StatusUnprocessableEntity {
				code = "invalid_field"
			}
			if body := wantError(t, rec, tc.status, code); body.Error.Field != tc.field {
				t.Errorf("?%s: field %q, want %q", tc.params.Encode(), body.Error.Field, tc.field)
			}
		}
	})

	t.Run("agents see their own history", func(t *testing.T) {
		for _, tc := range []struct {
			key    string
			params url.Values
			want   string
		}{
			{x.ana, nil, "d,b,a"}, // took part in d, was offered b, held a
			{x.bo, nil, "d,b"},
			{x.ana, v("agentId", "me"), "d,b,a"},
			{x.ana, v("agentId", strings.ToUpper(x.anaID)), "d,b,a"},
			{x.ana, v("status", "ended"), "b"},
			{x.ana, v("q", x.c), ""},
			{x.bo, v("q", "ana"), ""},
		} {
			if got, _ := x.search(t, tc.key, tc.params); got != tc.want {
				t.Errorf("?%s: %q, want %q", tc.params.Encode(), got, tc.want)
			}
		}
		wantError(t, x.get(t, x.ana, "/v1/history", v("agentId", x.boID)), http.StatusForbidden, "forbidden")

		missing := wantError(t, x.get(t, x.ana, "/v1/history/"+uuid.NewString(), nil), http.StatusNotFound, "not_found")
		for _, tc := range []struct{ key, id string }{{x.ana, x.c}, {x.ana, x.e}, {x.bo, x.a}, {x.ana, x.theirs}} {
			body := wantError(t, x.get(t, tc.key, "/v1/history/"+tc.id, nil), http.StatusNotFound, "not_found")
			if body.Error.Message != missing.Error.Message {
				t.Errorf("someone else's interaction answers %q, a missing one %q", body.Error.Message, missing.Error.Message)
			}
		}

		d, keys := x.detail(t, x.ana, x.b)
		if _, ok := keys["offers"]; ok {
			t.Error("an agent got the offers log")
		}
		if d.ID != x.b || len(d.Timeline) != 6 || len(d.Notes) != 1 || len(d.Transcript) != 2 || d.Transcript[0].Body != "Where is my order?" {
			t.Errorf("b as Ana sees it: %+v", d)
		}
		if d, _ := x.detail(t, x.ana, x.d); len(d.Participants) != 1 || d.Participants[0].UserID != x.anaID {
			t.Errorf("d as Ana sees it: %+v", d.Participants)
		}
	})

	t.Run("supervisors and admins see the tenant", func(t *testing.T) {
		for _, key := range []string{x.sup, x.admin} {
			if got, _ := x.search(t, key, nil); got != "e,d,c,b,a" {
				t.Errorf("%q", got)
			}
			d, keys := x.detail(t, key, x.b)
			if _, ok := keys["offers"]; !ok || len(d.Offers) != 2 || d.Offers[0].AgentID != x.anaID || d.Offers[0].Outcome != pgstore.OfferRejected {
				t.Errorf("offers of b: %+v", d.Offers)
			}
			for _, k := range []string{"timeline", "notes", "transcript"} {
				if raw := string(keys[k]); !strings.HasPrefix(raw, "[") {
					t.Errorf("%s is %s, want a list", k, raw)
				}
			}
			a, _ := x.detail(t, key, x.a)
			if a.Disposition == nil || a.Disposition.CodeID != x.renewed || a.Disposition.Code != "Renewed" || a.Status != pgstore.InteractionDisposed {
				t.Errorf("a: %+v", a.Interaction)
			}
			if c, _ := x.detail(t, key, x.c); c.Status != pgstore.InteractionAbandoned || len(c.Timeline) != 2 {
				t.Errorf("c: %+v", c)
			}
		}
		if got, _ := x.search(t, x.sup, v("agentId", "me")); got != "" {
			t.Errorf("the supervisor's own: %q", got)
		}
		wantError(t, x.get(t, x.admin, "/v1/history/nope", nil), http.StatusNotFound, "not_found")
	})

	t.Run("another tenant sees none of it", func(t *testing.T) {
		if got, _ := x.search(t, x.theirAdmin, nil); got != "theirs" {
			t.Errorf("their history: %q", got)
		}
		if got, _ := x.search(t, x.theirAdmin, v("q", x.a)); got != "" {
			t.Errorf("searching our ID: %q", got)
		}
		for _, id := range []string{x.a, x.b} {
			wantError(t, x.get(t, x.theirAdmin, "/v1/history/"+id, nil), http.StatusNotFound, "not_found")
		}
		wantError(t, x.get(t, x.admin, "/v1/history/"+x.theirs, nil), http.StatusNotFound, "not_found")
	})

	t.Run("integrations are refused", func(t *testing.T) {
		wantError(t, x.get(t, x.integ, "/v1/history", nil), http.StatusForbidden, "forbidden")
		wantError(t, x.get(t, x.integ, "/v1/history/"+x.a, nil), http.StatusForbidden, "forbidden")
	})
}
