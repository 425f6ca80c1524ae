package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"switchboard/api"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/telemetry"
	"switchboard/timesheet"
)

// monitorEnv is the API over a database of the test's own and the local Redis under
// a key prefix of its own (presence and the event feed), without Temporal.
type monitorEnv struct {
	t     *testing.T
	ctx   context.Context
	store *pgstore.Store
	ps    *presence.Store
	feed  *events.Feed
	h     http.Handler
}

func newMonitorEnv(t *testing.T) *monitorEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, drop, err := pgtest.Migrated(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is not reachable at 127.0.0.1:6379: %v", err)
	}
	prefix := "switchboard_test_" + pgtest.RandomHex(6)
	t.Cleanup(func() {
		if keys, err := rdb.Keys(context.Background(), prefix+":*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	ps, err := presence.New(rdb, presence.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := events.New(rdb, events.Options{Prefix: prefix, Block: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(pool)
	srv := api.New(api.Config{Store: store, Redis: rdb, Presence: ps, Events: feed,
		Logger: slog.New(slog.DiscardHandler), Registry: telemetry.NewRegistry()})
	return &monitorEnv{t: t, ctx: ctx, store: store, ps: ps, feed: feed, h: srv.Handler()}
}

// tenant creates a tenant and returns its ID with a supervisor's API key.
func (e *monitorEnv) tenant() (id, supKey string) {
	e.t.Helper()
	slug := "t-" + pgtest.RandomHex(6)
	ct, err := e.store.CreateTenant(e.ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		e.t.Fatal(err)
	}
	_, supKey = e.user(ct.Tenant.ID, "Sue", pgstore.RoleSupervisor)
	return ct.Tenant.ID, supKey
}

// user adds a user and returns their ID and an API key.
func (e *monitorEnv) user(tenant, name string, role pgstore.Role) (id, key string) {
	e.t.Helper()
	u, err := e.store.CreateUser(e.ctx, tenant, pgstore.Actor{}, pgstore.NewUser{
		Email: strings.ToLower(name) + "-" + pgtest.RandomHex(3) + "@x.test", Name: name, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := e.store.CreateAPIKey(e.ctx, tenant, pgstore.Actor{}, pgstore.NewAPIKey{UserID: u.ID, Name: "key"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, k.Secret
}

// interaction writes an interaction queued at at and then, unless st is queued, st
// as its next version (with the offer when st is offered).
func (e *monitorEnv) interaction(tenant, queue, campaign string, ch routing.Channel, source string, at time.Time, st pgstore.InteractionState) string {
	e.t.Helper()
	id := uuid.NewString()
	in := pgstore.Interaction{ID: id, TenantID: tenant, WorkflowID: "interaction/" + id, Channel: ch, Source: source,
		Direction: pgstore.Inbound, CustomerPhone: "+385100", Customer: "+385100", CustomerName: "Ivo", QueueID: queue,
		CampaignID: campaign, InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at}, CreatedAt: at}
	if _, err := e.store.EnqueueInteraction(e.ctx, in); err != nil {
		e.t.Fatal(err)
	}
	if st.Status == pgstore.InteractionQueued {
		return id
	}
	st.QueuedAt, st.Version = at, 1
	u := pgstore.InteractionUpdate{TenantID: tenant, InteractionID: id, State: st}
	if st.Status == pgstore.InteractionOffered {
		u.Offer = &pgstore.Offer{Attempt: 1, AgentID: st.OfferedAgentID, Channel: ch, OfferedAt: *st.OfferedAt, RingUntil: st.OfferedAt.Add(time.Minute)}
	}
	if _, err := e.store.RecordInteraction(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// login logs an agent in to presence in st, with campaign.
func (e *monitorEnv) login(tenant, agent string, st routing.Status, campaign string) {
	e.t.Helper()
	if _, err := e.ps.Login(e.ctx, tenant, agent, presence.LoginInput{Status: st, Campaign: campaign}); err != nil {
		e.t.Fatal(err)
	}
}

// hold gives the agent a held slot for the interaction in presence.
func (e *monitorEnv) hold(tenant, agent, interaction string, ch routing.Channel) {
	e.t.Helper()
	ok, err := e.ps.Reserve(e.ctx, tenant, agent, interaction, ch, 5, time.Minute)
	if err == nil && ok {
		ok, err = e.ps.Confirm(e.ctx, tenant, agent, interaction)
	}
	if err != nil || !ok {
		e.t.Fatalf("hold %s for %s: %v, %v", interaction, agent, ok, err)
	}
}

func (e *monitorEnv) get(key, target string) *httptest.ResponseRecorder {
	e.t.Helper()
	return do(e.t, e.h, http.MethodGet, target, http.Header{echo.HeaderAuthorization: {"Bearer " + key}})
}

// getJSON answers target's 200 body decoded into v.
func (e *monitorEnv) getJSON(key, target string, v any) {
	e.t.Helper()
	rec := e.get(key, target)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		e.t.Fatalf("GET %s: %v", target, err)
	}
}

type monitorCount struct {
	Total     int            `json:"total"`
	ByChannel map[string]int `json:"byChannel"`
	BySource  map[string]int `json:"bySource"`
}

type monitorAgentLine struct {
	AgentID           string           `json:"agentId"`
	LoggedIn          bool             `json:"loggedIn"`
	Status            timesheet.Status `json:"status"`
	StatusSince       *time.Time       `json:"statusSince"`
	Campaign          string           `json:"campaign"`
	AutoMode          bool             `json:"autoMode"`
	AvailableCapacity int              `json:"availableCapacity"`
	WorkloadPercent   int              `json:"workloadPercent"`
	InProgress        map[string]int   `json:"inProgress"`
	Ringing           int              `json:"ringing"`
	WrapUp            int              `json:"wrapUp"`
}

type monitorConnections struct {
	Connected    int `json:"connected"`
	NotConnected int `json:"notConnected"`
}

type monitorAutoMode struct {
	monitorConnections
	ByChannel map[string]monitorConnections `json:"byChannel"`
}

type monitorBody struct {
	At           time.Time               `json:"at"`
	Interactions map[string]monitorCount `json:"interactions"`
	AgentSummary struct {
		Total    int `json:"total"`
		LoggedIn int `json:"loggedIn"`
		Ready    int `json:"ready"`
		Busy     int `json:"busy"`
		OnBreak  int `json:"onBreak"`
		AutoMode struct {
			On  monitorAutoMode `json:"on"`
			Off monitorAutoMode `json:"off"`
		} `json:"autoMode"`
	} `json:"agentSummary"`
	Agents []monitorAgentLine `json:"agents"`
}

// totals is each state's total.
func (b monitorBody) totals() map[string]int {
	out := map[string]int{}
	for k, c := range b.Interactions {
		out[k] = c.Total
	}
	return out
}

func (b monitorBody) agentIDs() []string {
	var out []string
	for _, a := range b.Agents {
		out = append(out, a.AgentID)
	}
	return out
}

func equalInts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// centre is a tenant with a queue, a campaign, three agents and live interactions:
// Ana (Sales, logged in to Promo, Available) holds a chat, rings with a WhatsApp
// message and wraps a call up; Bo (logged in to no campaign, on Lunch, Auto Call off)
// has an e-mail on hold; Cy is logged out.
type centre struct {
	tenant, supKey, agentKey string
	sales, promo, def        string
	ana, bo, cy              string
}

func (e *monitorEnv) centre() centre {
	e.t.Helper()
	var c centre
	c.tenant, c.supKey = e.tenant()
	c.ana, c.agentKey = e.user(c.tenant, "Ana", pgstore.RoleAgent)
	c.bo, _ = e.user(c.tenant, "Bo", pgstore.RoleAgent)
	c.cy, _ = e.user(c.tenant, "Cy", pgstore.RoleAgent)
	q, err := e.store.CreateQueue(e.ctx, c.tenant, pgstore.Actor{}, pgstore.NewQueue{Name: "Sales", AgentIDs: []string{c.ana}})
	if err != nil {
		e.t.Fatal(err)
	}
	camp, err := e.store.CreateCampaign(e.ctx, c.tenant, pgstore.Actor{}, pgstore.NewCampaign{Name: "Promo"})
	if err != nil {
		e.t.Fatal(err)
	}
	if c.def, err = e.store.DefaultQueueID(e.ctx, c.tenant); err != nil {
		e.t.Fatal(err)
	}
	c.sales, c.promo = q.ID, camp.ID
	available := routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable}
	e.login(c.tenant, c.ana, available, c.promo)
	e.login(c.tenant, c.bo, available, "")

	at := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	e.interaction(c.tenant, c.sales, c.promo, routing.Voice, "", at, pgstore.InteractionState{Status: pgstore.InteractionQueued})
	e.interaction(c.tenant, c.def, "", routing.LiveChat, "web_chat", at, pgstore.InteractionState{Status: pgstore.InteractionQueued})
	e.interaction(c.tenant, c.sales, c.promo, routing.LiveMessaging, "whatsapp", at,
		pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: c.ana, Offers: 1, OfferedAt: &at})
	chat := e.interaction(c.tenant, c.sales, "", routing.LiveChat, "web_chat", at,
		pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: c.ana, ConnectedAt: &at})
	e.hold(c.tenant, c.ana, chat, routing.LiveChat)
	ended := at.Add(time.Minute)
	e.interaction(c.tenant, c.sales, c.promo, routing.Voice, "", at,
		pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: c.ana, ConnectedAt: &at, EndedAt: &ended})
	heldAt := at.Add(2 * time.Minute)
	mail := e.interaction(c.tenant, c.def, c.promo, routing.Email, "", at,
		pgstore.InteractionState{Status: pgstore.InteractionOnHold, AgentID: c.bo, ConnectedAt: &at, HeldAt: &heldAt})
	e.hold(c.tenant, c.bo, mail, routing.Email)
	if _, err := e.ps.SetStatus(e.ctx, c.tenant, c.bo, routing.Status{Name: "Lunch", Group: routing.GroupAway}); err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.ps.SetAutoCall(e.ctx, c.tenant, c.bo, false, presence.AutoCallAgentSet); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// The monitor of the whole tenant, of a queue, of a campaign and of both: interaction
// counts by state and channel, agents' aggregates and lines; another tenant's data is
// never counted and its IDs are not found; agents may not watch.
func TestMonitorSnapshot(t *testing.T) {
	e := newMonitorEnv(t)
	c := e.centre()
	other, otherSup := e.tenant()
	stranger, _ := e.user(other, "Ana", pgstore.RoleAgent)
	e.login(other, stranger, routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable}, "")
	otherQueue, err := e.store.DefaultQueueID(e.ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.interaction(other, otherQueue, "", routing.LiveChat, "web_chat", now,
		pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: stranger, ConnectedAt: &now})

	var all monitorBody
	e.getJSON(c.supKey, "/v1/monitor", &all)
	if want := map[string]int{"connected": 1, "queued": 2, "ringing": 1, "hold": 1, "hungUp": 1, "ivr": 0}; !equalInts(all.totals(), want) {
		t.Errorf("tenant totals %v, want %v", all.totals(), want)
	}
	for _, tc := range []struct {
		state     string
		byChannel map[string]int
		bySource  map[string]int
	}{
		{"connected", map[string]int{"live_chat": 1}, map[string]int{"web_chat": 1}},
		{"queued", map[string]int{"voice": 1, "live_chat": 1}, map[string]int{"voice": 1, "web_chat": 1}},
		{"ringing", map[string]int{"live_messaging": 1}, map[string]int{"whatsapp": 1}},
		{"hold", map[string]int{"email": 1}, map[string]int{"email": 1}},
		{"hungUp", map[string]int{"voice": 1}, map[string]int{"voice": 1}},
		{"ivr", map[string]int{}, map[string]int{}},
	} {
		got := all.Interactions[tc.state]
		if len(got.ByChannel) != 4 || !equalInts(got.ByChannel, tc.byChannel) || !equalInts(got.BySource, tc.bySource) {
			t.Errorf("%s: by channel %v, by source %v; want %v and %v", tc.state, got.ByChannel, got.BySource, tc.byChannel, tc.bySource)
		}
	}
	s := all.AgentSummary
	if s.Total != 3 || s.LoggedIn != 2 || s.Ready != 1 || s.Busy != 0 || s.OnBreak != 1 {
		t.Errorf("agent summary %+v, want 3 agents, 2 logged in, 1 ready, 1 on break", s)
	}
	on, off := s.AutoMode.On, s.AutoMode.Off
	if on.Connected != 1 || on.NotConnected != 0 || on.ByChannel["live_chat"].Connected != 1 || on.ByChannel["voice"].NotConnected != 1 ||
		off.Connected != 1 || off.NotConnected != 0 || off.ByChannel["email"].Connected != 1 || off.ByChannel["live_chat"].NotConnected != 1 {
		t.Errorf("auto mode matrix on %+v, off %+v", on, off)
	}
	if ids := all.agentIDs(); len(ids) != 3 || ids[0] != c.ana || ids[1] != c.bo || ids[2] != c.cy {
		t.Fatalf("agents %v, want Ana, Bo, Cy", ids)
	}
	ana, bo, cy := all.Agents[0], all.Agents[1], all.Agents[2]
	if !ana.LoggedIn || ana.Status.ID != "available" || ana.Campaign != c.promo || !ana.AutoMode || ana.InProgress["live_chat"] != 1 ||
		ana.Ringing != 1 || ana.WrapUp != 1 || ana.WorkloadPercent != 20 || ana.AvailableCapacity != 80 || ana.StatusSince == nil {
		t.Errorf("Ana %+v", ana)
	}
	if !bo.LoggedIn || bo.Status.Name != "Lunch" || !bo.Status.BreakReason || bo.Status.ID == "" || bo.AutoMode ||
		bo.InProgress["email"] != 1 || bo.WorkloadPercent != 10 || bo.AvailableCapacity != 90 {
		t.Errorf("Bo %+v", bo)
	}
	if cy.LoggedIn || cy.Status.Name != routing.StatusOffline || cy.AvailableCapacity != 0 || cy.AutoMode || cy.StatusSince != nil {
		t.Errorf("Cy %+v", cy)
	}
	if since := *ana.StatusSince; all.At.Sub(since) < 0 || all.At.Sub(since) > time.Minute {
		t.Errorf("Ana in her status since %v, snapshot at %v", since, all.At)
	}

	for _, tc := range []struct {
		name, query string
		totals      map[string]int
		agents      []string
	}{
		{"queue", "?queueId=" + c.sales, map[string]int{"connected": 1, "queued": 1, "ringing": 1, "hungUp": 1}, []string{c.ana}},
		{"campaign", "?campaignId=" + c.promo, map[string]int{"queued": 1, "ringing": 1, "hold": 1, "hungUp": 1}, []string{c.ana}},
		{"both", "?queueId=" + c.sales + "&campaignId=" + c.promo, map[string]int{"queued": 1, "ringing": 1, "hungUp": 1}, []string{c.ana}},
		{"default queue", "?queueId=" + c.def, map[string]int{"queued": 1, "hold": 1}, []string{c.ana, c.bo, c.cy}},
	} {
		var got monitorBody
		e.getJSON(c.supKey, "/v1/monitor"+tc.query, &got)
		if !equalInts(got.totals(), tc.totals) || strings.Join(got.agentIDs(), ",") != strings.Join(tc.agents, ",") {
			t.Errorf("%s: totals %v, agents %v; want %v, %v", tc.name, got.totals(), got.agentIDs(), tc.totals, tc.agents)
		}
		if tc.name == "campaign" && (got.AgentSummary.Total != 1 || got.AgentSummary.LoggedIn != 1) {
			t.Errorf("campaign agent summary %+v", got.AgentSummary)
		}
	}

	// Another tenant sees its own only, and this tenant's IDs are not found there.
	var theirs monitorBody
	e.getJSON(otherSup, "/v1/monitor", &theirs)
	if !equalInts(theirs.totals(), map[string]int{"connected": 1}) || len(theirs.Agents) != 1 || theirs.Agents[0].AgentID != stranger {
		t.Errorf("other tenant: totals %v, agents %v", theirs.totals(), theirs.agentIDs())
	}
	for _, target := range []string{"/v1/monitor?queueId=" + c.sales, "/v1/monitor?campaignId=" + c.promo,
		"/v1/monitor/agents/" + c.ana, "/v1/agents/" + c.ana + "/stats", "/v1/monitor/stream?queueId=" + c.sales} {
		wantError(t, e.get(otherSup, target), http.StatusNotFound, "not_found")
	}

	// Agents may not watch; malformed and unknown parameters are refused.
	for _, target := range []string{"/v1/monitor", "/v1/monitor/stream", "/v1/monitor/agents/" + c.bo, "/v1/agents/" + c.bo + "/stats"} {
		wantError(t, e.get(c.agentKey, target), http.StatusForbidden, "forbidden")
	}
	if b := wantError(t, e.get(c.supKey, "/v1/monitor?queueId=sales"), http.StatusBadRequest, "malformed_request"); b.Error.Field != "queueId" {
		t.Errorf("field %q, want queueId", b.Error.Field)
	}
	if b := wantError(t, e.get(c.supKey, "/v1/monitor?campaignId=1"), http.StatusBadRequest, "malformed_request"); b.Error.Field != "campaignId" {
		t.Errorf("field %q, want campaignId", b.Error.Field)
	}
	if b := wantError(t, e.get(c.supKey, "/v1/monitor?agentId="+c.ana), http.StatusUnprocessableEntity, "invalid_field"); b.Error.Field != "agentId" {
		t.Errorf("field %q, want agentId", b.Error.Field)
	}
}

// The drill-down of an agent: each interaction in hand with the customer, channel
// detail, queue, the agent's state in it and the time in that state.
func TestMonitorAgentDrillDown(t *testing.T) {
	e := newMonitorEnv(t)
	c := e.centre()
	var got struct {
		At    time.Time        `json:"at"`
		Agent monitorAgentLine `json:"agent"`
		// Interactions are decoded loosely: the test checks the fields it knows.
		Interactions []struct {
			ID             string `json:"interactionId"`
			Channel        string `json:"channel"`
			Source         string `json:"source"`
			Customer       string `json:"customer"`
			CustomerName   string `json:"customerName"`
			QueueID        string `json:"queueId"`
			QueueName      string `json:"queueName"`
			CampaignName   string `json:"campaignName"`
			Status         string `json:"status"`
			AgentState     string `json:"agentState"`
			ElapsedSeconds int64  `json:"elapsedSeconds"`
		} `json:"interactions"`
	}
	e.getJSON(c.supKey, "/v1/monitor/agents/"+c.ana, &got)
	if got.Agent.AgentID != c.ana || got.Agent.Ringing != 1 || got.Agent.InProgress["live_chat"] != 1 {
		t.Errorf("agent line %+v", got.Agent)
	}
	states := map[string]string{}
	for _, x := range got.Interactions {
		states[x.Channel+"/"+x.Source] = x.AgentState
		if x.Customer != "+385100" || x.CustomerName != "Ivo" || x.QueueName != "Sales" || x.QueueID != c.sales {
			t.Errorf("interaction %+v: want Ivo's, in Sales", x)
		}
		// Everything began ten minutes ago; the call ended a minute after.
		if x.ElapsedSeconds < 8*60 || x.ElapsedSeconds > 11*60 {
			t.Errorf("%s %s: %d s in its state, want about 9 or 10 minutes", x.Channel, x.AgentState, x.ElapsedSeconds)
		}
	}
	want := map[string]string{"live_messaging/whatsapp": "ringing", "live_chat/web_chat": "connected", "voice/": "wrap_up"}
	if len(states) != len(want) {
		t.Errorf("Ana's interactions %v, want %v", states, want)
	}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("Ana's interactions %v, want %v", states, want)
		}
	}

	var bo struct {
		Interactions []struct {
			Status       string `json:"status"`
			AgentState   string `json:"agentState"`
			QueueName    string `json:"queueName"`
			CampaignName string `json:"campaignName"`
		} `json:"interactions"`
	}
	e.getJSON(c.supKey, "/v1/monitor/agents/"+c.bo, &bo)
	if len(bo.Interactions) != 1 || bo.Interactions[0].AgentState != "hold" || bo.Interactions[0].QueueName != "Default" ||
		bo.Interactions[0].CampaignName != "Promo" {
		t.Errorf("Bo's interactions %+v", bo.Interactions)
	}
	for _, id := range []string{"ana", uuid.NewString()} {
		wantError(t, e.get(c.supKey, "/v1/monitor/agents/"+id), http.StatusNotFound, "not_found")
	}
}

// The agent's own figures and a supervisor's view of them: the default window is
// today (UTC), a given window is read exactly, and a bad one answers 400 naming the
// field.
func TestAgentStatsRoutes(t *testing.T) {
	e := newMonitorEnv(t)
	tenant, supKey := e.tenant()
	carla, carlaKey := e.user(tenant, "Carla", pgstore.RoleAgent)
	q, err := e.store.DefaultQueueID(e.ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	// Yesterday: one call offered at 10:00, answered at once, 90 s long; Carla was
	// logged in from 09:00 to 11:00 with a quarter of an hour's lunch.
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	ten, end := day.Add(10*time.Hour), day.Add(10*time.Hour+90*time.Second)
	call := e.interaction(tenant, q, "", routing.Voice, "", ten,
		pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: carla, Offers: 1, OfferedAt: &ten})
	for _, u := range []pgstore.InteractionUpdate{
		{TenantID: tenant, InteractionID: call, Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: ten},
			State: pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: carla, Offers: 1, QueuedAt: ten, OfferedAt: &ten, ConnectedAt: &ten, Version: 2}},
		{TenantID: tenant, InteractionID: call,
			State: pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: carla, Offers: 1, QueuedAt: ten, OfferedAt: &ten, ConnectedAt: &ten, EndedAt: &end, Version: 3}},
	} {
		if _, err := e.store.RecordInteraction(e.ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	login := day.Add(9 * time.Hour)
	available := timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	for i, s := range []struct {
		kind pgstore.SessionEventKind
		at   time.Duration
		st   timesheet.Status
	}{
		{pgstore.SessionLogin, 0, available},
		{pgstore.SessionStatus, 30 * time.Minute, timesheet.Status{Name: "Lunch", Group: routing.GroupAway, BreakReason: true}},
		{pgstore.SessionStatus, 45 * time.Minute, available},
		{pgstore.SessionLogout, 2 * time.Hour, timesheet.Status{ID: "offline", Name: "Offline", Group: routing.GroupUnavailable}},
	} {
		ev := pgstore.SessionEvent{TenantID: tenant, AgentID: carla, Session: login.UnixMilli(), Seq: int64(i + 1), Kind: s.kind,
			At: login.Add(s.at), WorkflowID: "agent/" + carla, LoginAt: login, Status: s.st, Totals: timesheet.NewTotals()}
		if s.kind == pgstore.SessionLogout {
			ev.LogoutReason = pgstore.LogoutByAgent
		}
		if _, err := e.store.RecordSessionEvent(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	type stats struct {
		From     time.Time                       `json:"from"`
		To       time.Time                       `json:"to"`
		Channels map[string]pgstore.ChannelStats `json:"channels"`
		Total    pgstore.ChannelStats            `json:"total"`
		Time     pgstore.TimeStats               `json:"time"`
		Hourly   []pgstore.HourStats             `json:"hourly"`
	}
	var today stats
	e.getJSON(carlaKey, "/v1/agents/me/stats", &today)
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	if !today.From.Equal(midnight) || !today.To.Equal(midnight.Add(24*time.Hour)) || len(today.Hourly) != 24 ||
		today.Total != (pgstore.ChannelStats{}) || today.Time.LoginMs != 0 || len(today.Channels) != 4 {
		t.Errorf("today: %+v", today)
	}

	date := day.Format(time.DateOnly)
	wantVoice := pgstore.ChannelStats{Offered: 1, Connected: 1, ConnectionRatePercent: 100, Handled: 1,
		AverageDurationMs: 90_000, LongestDurationMs: 90_000, ShortestDurationMs: 90_000}
	wantTime := pgstore.TimeStats{LoginMs: 7_200_000, IdleMs: 6_300_000, BreakMs: 900_000, BreakByReasonMs: map[string]int64{"Lunch": 900_000}}
	for _, tc := range []struct{ key, target string }{
		{carlaKey, "/v1/agents/me/stats?from=" + date},
		{supKey, "/v1/agents/" + carla + "/stats?from=" + date + "&to=" + midnight.Format(time.RFC3339)},
	} {
		var got stats
		e.getJSON(tc.key, tc.target, &got)
		if got.Channels["voice"] != wantVoice || got.Total != wantVoice || len(got.Hourly) != 24 ||
			got.Hourly[10].Offered != 1 || got.Hourly[10].Connected != 1 || got.Time.LoginMs != wantTime.LoginMs ||
			got.Time.IdleMs != wantTime.IdleMs || got.Time.BreakMs != wantTime.BreakMs || got.Time.BreakByReasonMs["Lunch"] != 900_000 {
			t.Errorf("GET %s: %+v", tc.target, got)
		}
	}

	for _, tc := range []struct{ query, field string }{
		{"?from=yesterday", "from"},
		{"?to=2025-13-01", "to"},
		{"?from=2025-01-02&to=2025-01-01", "to"},
		{"?from=2025-01-01&to=2025-01-01", "to"},
		{"?from=2025-01-01&to=2025-02-02", "to"},
	} {
		b := wantError(t, e.get(carlaKey, "/v1/agents/me/stats"+tc.query), http.StatusBadRequest, "malformed_request")
		if b.Error.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.query, b.Error.Field, tc.field)
		}
	}
	if rec := e.get(carlaKey, "/v1/agents/me/stats?from=2025-01-01&to=2025-02-01"); rec.Code != http.StatusOK {
		t.Errorf("a 31-day window: %d %s", rec.Code, rec.Body)
	}
	wantError(t, e.get(supKey, "/v1/agents/me/stats"), http.StatusForbidden, "forbidden")
	wantError(t, e.get(supKey, "/v1/agents/"+uuid.NewString()+"/stats"), http.StatusNotFound, "not_found")
}

// sseEvent is one event of a stream.
type sseEvent struct{ name, data string }

// readSSE sends the stream's events on the returned channel until it ends.
func readSSE(body *bufio.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		var ev sseEvent
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// The stream sends a snapshot at once and a fresh one after an event of the tenant.
func TestMonitorStream(t *testing.T) {
	e := newMonitorEnv(t)
	c := e.centre()
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(e.ctx)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/monitor/stream?queueId="+c.sales, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+c.supKey)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get(echo.HeaderContentType), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get(echo.HeaderContentType))
	}
	stream := readSSE(bufio.NewReader(res.Body))
	next := func() monitorBody {
		t.Helper()
		select {
		case ev, ok := <-stream:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.name != "monitor" {
				t.Fatalf("event %q, want monitor", ev.name)
			}
			var b monitorBody
			if err := json.Unmarshal([]byte(ev.data), &b); err != nil {
				t.Fatal(err)
			}
			return b
		case <-time.After(10 * time.Second):
			t.Fatal("no snapshot within 10 s")
		}
		return monitorBody{}
	}
	first := next()
	if first.Interactions["queued"].Total != 1 || len(first.Agents) != 1 {
		t.Fatalf("first snapshot: totals %v, agents %v", first.totals(), first.agentIDs())
	}

	// A new call waits in Sales; its event brings a snapshot that counts it.
	now := time.Now().UTC()
	id := e.interaction(c.tenant, c.sales, "", routing.Voice, "", now, pgstore.InteractionState{Status: pgstore.InteractionQueued})
	if _, err := e.feed.Publish(e.ctx, events.Event{Key: "interaction/" + id + "/0/" + events.InteractionInitiated,
		Type: events.InteractionInitiated, TenantID: c.tenant, At: now, InteractionID: id}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second := next()
	if second.Interactions["queued"].Total != 2 || second.Interactions["queued"].ByChannel["voice"] != 2 || !second.At.After(first.At) {
		t.Errorf("snapshot after the event: totals %v at %v", second.totals(), second.At)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the snapshot came %v after the event", took)
	}
	// Another tenant's event changes nothing here and sends nothing.
	other, _ := e.tenant()
	if _, err := e.feed.Publish(e.ctx, events.Event{Key: "x", Type: events.InteractionInitiated, TenantID: other, At: now}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-stream:
		t.Errorf("a snapshot after another tenant's event: %.80s", ev.data)
	case <-time.After(time.Second):
	}
}
