package pgstore_test

import (
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/timesheet"
)

// ixState writes the next version of an interaction's state, with its timeline entry
// when typ is set.
func ixState(t *testing.T, in pgstore.Interaction, st pgstore.InteractionState, typ string, at time.Time) {
	t.Helper()
	u := pgstore.InteractionUpdate{TenantID: in.TenantID, InteractionID: in.ID, State: st}
	if typ != "" {
		u.Events = []pgstore.TimelineEvent{{Type: typ, At: at}}
	}
	record(t, u)
}

// A tenant's live interactions counted by status, channel and source, for the whole
// tenant, one queue, one campaign and both; the agents of a queue with what they hold;
// an agent's interactions with when each entered its state; nothing of another tenant.
func TestMonitorCountsAgentsAndInteractions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	ana := newUserNamed(t, tid, pgstore.RoleAgent, "Ana")
	bo := newUserNamed(t, tid, pgstore.RoleAgent, "Bo")
	newUserNamed(t, tid, pgstore.RoleSupervisor, "Sue") // not an agent: never listed
	stranger := newUserNamed(t, other, pgstore.RoleAgent, "Ana")
	sales := newQueue(t, tid, "Sales", ana.ID)
	promo := newCampaign(t, tid, "Promo")
	def := defaultQueue(t, tid).ID
	chats := routing.Capacity{routing.LiveChat: 3}
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, ana.ID, pgstore.AgentUpdate{Capacity: &chats}); err != nil {
		t.Fatal(err)
	}

	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	sec := func(n int) time.Time { return at.Add(time.Duration(n) * time.Second) }
	ix := func(tenant, queue, campaign string, ch routing.Channel, source string) pgstore.Interaction {
		in := newInteraction(tenant, queue, ch, routing.PriorityNormal, at)
		in.CampaignID, in.Source = campaign, source
		return enqueue(t, in)
	}
	ix(tid, sales.ID, promo.ID, routing.Voice, "")
	ix(tid, def, "", routing.LiveChat, "web_chat")
	whatsapp := ix(tid, sales.ID, promo.ID, routing.LiveMessaging, "whatsapp")
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: whatsapp.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: bo.ID, Offers: 1, QueuedAt: at, OfferedAt: new(sec(5)), Version: 1},
		Offer: &pgstore.Offer{Attempt: 1, AgentID: bo.ID, Channel: routing.LiveMessaging, OfferedAt: sec(5), RingUntil: sec(25)}})
	// A chat answered, held and resumed: connected since the resumption.
	chat := ix(tid, sales.ID, "", routing.LiveChat, "web_chat")
	connect(t, chat, ana.ID, sec(10))
	held := pgstore.InteractionState{Status: pgstore.InteractionOnHold, AgentID: ana.ID, Offers: 1, QueuedAt: at,
		OfferedAt: new(sec(10)), ConnectedAt: new(sec(10)), HeldAt: new(sec(20)), Version: 3}
	ixState(t, chat, held, "interactionHeld", sec(20))
	resumed := held
	resumed.Status, resumed.HeldAt, resumed.Holds, resumed.HoldSeconds, resumed.Version = pgstore.InteractionConnected, nil, 1, 10, 4
	ixState(t, chat, resumed, "interactionResumed", sec(30))
	mail := ix(tid, def, promo.ID, routing.Email, "")
	connect(t, mail, bo.ID, sec(40))
	ixState(t, mail, pgstore.InteractionState{Status: pgstore.InteractionOnHold, AgentID: bo.ID, Offers: 1, QueuedAt: at,
		OfferedAt: new(sec(40)), ConnectedAt: new(sec(40)), HeldAt: new(sec(45)), Version: 3}, "interactionHeld", sec(45))
	wrap := ix(tid, sales.ID, promo.ID, routing.Voice, "")
	connect(t, wrap, ana.ID, sec(50))
	ixState(t, wrap, pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: ana.ID, Offers: 1, QueuedAt: at,
		OfferedAt: new(sec(50)), ConnectedAt: new(sec(50)), EndedAt: new(sec(60)), Version: 3}, "interactionEnded", sec(60))
	// Over: not live.
	done := ix(tid, sales.ID, promo.ID, routing.Voice, "")
	connect(t, done, ana.ID, sec(1))
	ixState(t, done, pgstore.InteractionState{Status: pgstore.InteractionDisposed, AgentID: ana.ID, Offers: 1, QueuedAt: at,
		ConnectedAt: new(sec(1)), EndedAt: new(sec(2)), DisposedAt: new(sec(3)), Version: 3}, "", time.Time{})
	gone := ix(tid, sales.ID, promo.ID, routing.Voice, "")
	ixState(t, gone, pgstore.InteractionState{Status: pgstore.InteractionAbandoned, QueuedAt: at, EndedAt: new(sec(4)), Version: 1}, "", time.Time{})
	// Another tenant's.
	theirs := ix(other, defaultQueue(t, other).ID, "", routing.LiveChat, "web_chat")
	connect(t, theirs, stranger.ID, sec(1))

	type key struct {
		st     pgstore.InteractionStatus
		ch     routing.Channel
		source string
	}
	counts := func(scope pgstore.MonitorScope, tenant string) map[key]int {
		t.Helper()
		cs, err := store.LiveCounts(ctx, tenant, scope)
		if err != nil {
			t.Fatal(err)
		}
		out := map[key]int{}
		for _, c := range cs {
			out[key{c.Status, c.Channel, c.Source}] += c.Count
		}
		return out
	}
	var (
		kQueuedCall = key{pgstore.InteractionQueued, routing.Voice, ""}
		kQueuedChat = key{pgstore.InteractionQueued, routing.LiveChat, "web_chat"}
		kRinging    = key{pgstore.InteractionOffered, routing.LiveMessaging, "whatsapp"}
		kConnected  = key{pgstore.InteractionConnected, routing.LiveChat, "web_chat"}
		kHold       = key{pgstore.InteractionOnHold, routing.Email, ""}
		kWrapUp     = key{pgstore.InteractionEnded, routing.Voice, ""}
	)
	for _, tc := range []struct {
		name  string
		scope pgstore.MonitorScope
		want  map[key]int
	}{
		{"tenant", pgstore.MonitorScope{}, map[key]int{kQueuedCall: 1, kQueuedChat: 1, kRinging: 1, kConnected: 1, kHold: 1, kWrapUp: 1}},
		{"queue", pgstore.MonitorScope{QueueID: sales.ID}, map[key]int{kQueuedCall: 1, kRinging: 1, kConnected: 1, kWrapUp: 1}},
		{"campaign", pgstore.MonitorScope{CampaignID: promo.ID}, map[key]int{kQueuedCall: 1, kRinging: 1, kHold: 1, kWrapUp: 1}},
		{"queue and campaign", pgstore.MonitorScope{QueueID: sales.ID, CampaignID: promo.ID}, map[key]int{kQueuedCall: 1, kRinging: 1, kWrapUp: 1}},
		{"default queue", pgstore.MonitorScope{QueueID: def}, map[key]int{kQueuedChat: 1, kHold: 1}},
	} {
		if got := counts(tc.scope, tid); !maps.Equal(got, tc.want) {
			t.Errorf("%s: counts %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := counts(pgstore.MonitorScope{}, other); !maps.Equal(got, map[key]int{kConnected: 1}) {
		t.Errorf("other tenant: counts %v", got)
	}
	if got := counts(pgstore.MonitorScope{QueueID: sales.ID}, other); len(got) != 0 {
		t.Errorf("another tenant's queue: counts %v", got)
	}
	_, err := store.LiveCounts(ctx, tid, pgstore.MonitorScope{QueueID: "sales"})
	wantInvalid(t, err, "queueId")

	// Agents: by name, with their effective capacity and what they hold anywhere.
	agents := func(f pgstore.MonitorAgentFilter, tenant string) []pgstore.MonitorAgent {
		t.Helper()
		as, err := store.MonitorAgents(ctx, tenant, f)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	all := agents(pgstore.MonitorAgentFilter{}, tid)
	if len(all) != 2 || all[0].ID != ana.ID || all[1].ID != bo.ID {
		t.Fatalf("agents %+v, want Ana and Bo", all)
	}
	wantAna := map[pgstore.InteractionStatus]routing.Occupancy{
		pgstore.InteractionConnected: {routing.LiveChat: 1}, pgstore.InteractionEnded: {routing.Voice: 1}}
	wantBo := map[pgstore.InteractionStatus]routing.Occupancy{
		pgstore.InteractionOffered: {routing.LiveMessaging: 1}, pgstore.InteractionOnHold: {routing.Email: 1}}
	if !reflect.DeepEqual(all[0].Interactions, wantAna) || !reflect.DeepEqual(all[1].Interactions, wantBo) {
		t.Errorf("interactions in hand: Ana %v, Bo %v; want %v and %v", all[0].Interactions, all[1].Interactions, wantAna, wantBo)
	}
	if all[0].Capacity[routing.LiveChat] != 3 || all[1].Capacity[routing.LiveChat] != routing.DefaultLiveChatCapacity || !all[0].Enabled {
		t.Errorf("capacities %v, %v", all[0].Capacity, all[1].Capacity)
	}
	if got := agents(pgstore.MonitorAgentFilter{QueueID: sales.ID}, tid); len(got) != 1 || got[0].ID != ana.ID {
		t.Errorf("Sales members %+v, want Ana", got)
	}
	if got := agents(pgstore.MonitorAgentFilter{QueueID: def}, tid); len(got) != 2 {
		t.Errorf("Default queue members %+v, want every agent", got)
	}
	if got := agents(pgstore.MonitorAgentFilter{AgentID: bo.ID}, tid); len(got) != 1 || got[0].ID != bo.ID || got[0].Count(pgstore.InteractionOnHold, routing.Email) != 1 {
		t.Errorf("Bo alone: %+v", got)
	}
	if got := agents(pgstore.MonitorAgentFilter{}, other); len(got) != 1 || got[0].ID != stranger.ID {
		t.Errorf("other tenant's agents %+v", got)
	}
	if got := agents(pgstore.MonitorAgentFilter{AgentID: ana.ID}, other); len(got) != 0 {
		t.Errorf("an agent read through another tenant: %+v", got)
	}

	// Drill-down: each interaction with the agent's state in it and since when.
	drill := func(tenant, agent string) map[string]pgstore.AgentInteraction {
		t.Helper()
		ixs, err := store.AgentInteractions(ctx, tenant, agent)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]pgstore.AgentInteraction{}
		for _, x := range ixs {
			out[x.ID] = x
		}
		return out
	}
	anas := drill(tid, ana.ID)
	if len(anas) != 2 {
		t.Fatalf("Ana's interactions %+v, want the chat and the call in wrap-up", anas)
	}
	if c := anas[chat.ID]; c.Status != pgstore.InteractionConnected || !c.Since.Equal(sec(30)) || c.QueueName != "Sales" ||
		c.Source != "web_chat" || c.CustomerPhone != "+385100" || c.ConnectedAt == nil || !c.ConnectedAt.Equal(sec(10)) {
		t.Errorf("the resumed chat: %+v, want connected since %v in Sales", c, sec(30))
	}
	if w := anas[wrap.ID]; w.Status != pgstore.InteractionEnded || !w.Since.Equal(sec(60)) || w.CampaignName != "Promo" {
		t.Errorf("the call in wrap-up: %+v, want ended since %v in Promo", w, sec(60))
	}
	bos := drill(tid, bo.ID)
	if w := bos[whatsapp.ID]; w.Status != pgstore.InteractionOffered || !w.Since.Equal(sec(5)) || w.Channel != routing.LiveMessaging || w.Source != "whatsapp" {
		t.Errorf("the ringing WhatsApp: %+v", w)
	}
	if m := bos[mail.ID]; m.Status != pgstore.InteractionOnHold || !m.Since.Equal(sec(45)) || m.QueueName != "Default" {
		t.Errorf("the e-mail on hold: %+v", m)
	}
	if got := drill(other, ana.ID); len(got) != 0 {
		t.Errorf("Ana's interactions through another tenant: %+v", got)
	}
}

// The self-monitoring figures of a fixed day: offers, acceptances and durations per
// channel, time from three sessions (one from the day before, one still open), an
// hourly trend, and the same figures clipped to one hour.
func TestAgentStats(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	carla := newUserNamed(t, tid, pgstore.RoleAgent, "Carla")
	q := defaultQueue(t, tid).ID
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}

	// offer writes one offer to Carla answered with outcome at answered; an accepted
	// one connects then, and ends at ended unless that is zero.
	offer := func(ch routing.Channel, offeredAt time.Time, outcome pgstore.OfferOutcome, answered, ended time.Time) {
		t.Helper()
		in := enqueue(t, newInteraction(tid, q, ch, routing.PriorityNormal, offeredAt.Add(-time.Minute)))
		queuedAt := in.QueuedAt
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID,
			State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: carla.ID, Offers: 1, QueuedAt: queuedAt, OfferedAt: &offeredAt, Version: 1},
			Offer: &pgstore.Offer{Attempt: 1, AgentID: carla.ID, Channel: ch, OfferedAt: offeredAt, RingUntil: offeredAt.Add(20 * time.Second)}})
		resp := &pgstore.OfferResponse{Attempt: 1, Outcome: outcome, RespondedAt: answered}
		if outcome != pgstore.OfferAccepted {
			record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, Response: resp,
				State: pgstore.InteractionState{Status: pgstore.InteractionQueued, ExcludedAgents: []string{carla.ID}, Offers: 1, QueuedAt: queuedAt, Version: 2}})
			return
		}
		st := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: carla.ID, Offers: 1, QueuedAt: queuedAt, OfferedAt: &offeredAt, ConnectedAt: &answered, Version: 2}
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, Response: resp, State: st})
		if !ended.IsZero() {
			st.Status, st.EndedAt, st.Version = pgstore.InteractionEnded, &ended, 3
			record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st})
		}
	}
	offer(routing.Voice, at(9, 10, 0), pgstore.OfferAccepted, at(9, 10, 5), at(9, 15, 5)) // 300 s
	offer(routing.Voice, at(9, 40, 0), pgstore.OfferRejected, at(9, 40, 3), time.Time{})
	offer(routing.Voice, at(10, 5, 0), pgstore.OfferAccepted, at(10, 5, 0), at(10, 7, 0))       // 120 s
	offer(routing.LiveChat, at(10, 20, 0), pgstore.OfferAccepted, at(10, 20, 0), at(10, 50, 0)) // 1800 s
	offer(routing.LiveChat, at(11, 0, 0), pgstore.OfferTimeout, at(11, 0, 20), time.Time{})
	offer(routing.Voice, at(-1, 59, 0), pgstore.OfferAccepted, at(-1, 59, 30), at(0, 1, 0)) // the day before
	offer(routing.Voice, at(12, 0, 0), pgstore.OfferAccepted, at(12, 0, 10), time.Time{})   // still connected
	// A call Carla dialled: never offered, but handled (30 s).
	dialled := newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at(13, 0, 0))
	dialled.Direction = pgstore.Outbound
	dialled.Status, dialled.AgentID, dialled.ConnectedAt = pgstore.InteractionConnected, carla.ID, new(at(13, 0, 0))
	dialled = enqueue(t, dialled)
	ended := dialled.InteractionState
	ended.Status, ended.EndedAt, ended.Version = pgstore.InteractionEnded, new(at(13, 0, 30)), 1
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: dialled.ID, State: ended})

	available := timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	busy := timesheet.Status{ID: "busy", Name: "Busy", Group: routing.GroupBusy}
	lunch := timesheet.Status{Name: "Lunch", Group: routing.GroupAway, BreakReason: true}
	training := timesheet.Status{Name: "Training", Group: routing.GroupAway, BreakReason: true}
	offline := timesheet.Status{ID: "offline", Name: "Offline", Group: routing.GroupUnavailable}
	type step struct {
		kind   pgstore.SessionEventKind
		at     time.Time
		status timesheet.Status
		voice  routing.VoiceState
	}
	session := func(steps ...step) {
		t.Helper()
		login := steps[0].at
		for i, s := range steps {
			e := pgstore.SessionEvent{TenantID: tid, AgentID: carla.ID, Session: login.UnixMilli(), Seq: int64(i + 1), Kind: s.kind,
				At: s.at, WorkflowID: "agent/" + carla.ID, LoginAt: login, Status: s.status, Voice: s.voice, Totals: timesheet.NewTotals()}
			if s.kind == pgstore.SessionLogout {
				e.LogoutReason = pgstore.LogoutByAgent
			}
			if _, err := store.RecordSessionEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	session(step{pgstore.SessionLogin, at(-14, 0, 0), available, ""}, step{pgstore.SessionLogout, at(-13, 0, 0), offline, ""}) // the day before only
	session(step{pgstore.SessionLogin, at(-1, 0, 0), available, ""}, step{pgstore.SessionLogout, at(0, 30, 0), offline, ""})   // 30 min today
	session(
		step{pgstore.SessionLogin, at(8, 0, 0), available, ""},
		step{pgstore.SessionVoice, at(9, 10, 5), available, routing.VoiceInCall},
		step{pgstore.SessionVoice, at(9, 15, 5), available, routing.VoiceWrapping},
		step{pgstore.SessionVoice, at(9, 15, 35), available, ""},
		step{pgstore.SessionStatus, at(9, 30, 0), lunch, ""},
		step{pgstore.SessionStatus, at(10, 0, 0), available, ""},
		step{pgstore.SessionStatus, at(10, 30, 0), training, ""},
		step{pgstore.SessionStatus, at(10, 45, 0), available, ""},
		step{pgstore.SessionLogout, at(11, 0, 0), offline, ""},
	)
	session(step{pgstore.SessionLogin, at(12, 0, 0), available, ""}, step{pgstore.SessionStatus, at(12, 30, 0), busy, ""}) // open

	stats := func(tenant string, from, to time.Time) pgstore.AgentStats {
		t.Helper()
		s, err := store.AgentStats(ctx, tenant, pgstore.StatsFilter{AgentID: carla.ID, From: from, To: to, Now: at(13, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := stats(tid, day, day.Add(24*time.Hour))
	wantChannels := map[routing.Channel]pgstore.ChannelStats{
		routing.Voice: {Offered: 4, Connected: 3, ConnectionRatePercent: 75, Handled: 3,
			AverageDurationMs: 150_000, LongestDurationMs: 300_000, ShortestDurationMs: 30_000},
		routing.LiveChat: {Offered: 2, Connected: 1, ConnectionRatePercent: 50, Handled: 1,
			AverageDurationMs: 1_800_000, LongestDurationMs: 1_800_000, ShortestDurationMs: 1_800_000},
		routing.LiveMessaging: {},
		routing.Email:         {},
	}
	if !maps.Equal(got.Channels, wantChannels) {
		t.Errorf("channels\n got %+v\nwant %+v", got.Channels, wantChannels)
	}
	wantTotal := pgstore.ChannelStats{Offered: 6, Connected: 4, ConnectionRatePercent: 66.7, Handled: 4,
		AverageDurationMs: 562_500, LongestDurationMs: 1_800_000, ShortestDurationMs: 30_000}
	if got.Total != wantTotal {
		t.Errorf("total %+v, want %+v", got.Total, wantTotal)
	}
	wantTime := pgstore.TimeStats{LoginMs: 16_200_000, TalkMs: 300_000, IdleMs: 11_370_000, BreakMs: 2_700_000,
		BreakByReasonMs: map[string]int64{"Lunch": 1_800_000, "Training": 900_000}}
	if !reflect.DeepEqual(got.Time, wantTime) {
		t.Errorf("time %+v, want %+v", got.Time, wantTime)
	}
	if len(got.Hourly) != 24 || !got.Hourly[0].Hour.Equal(day) || !got.Hourly[23].Hour.Equal(at(23, 0, 0)) {
		t.Fatalf("hourly has %d hours from %v", len(got.Hourly), got.Hourly[0].Hour)
	}
	wantHours := map[int]pgstore.HourStats{
		9:  {HourCount: pgstore.HourCount{Offered: 2, Connected: 1}, ByChannel: map[routing.Channel]pgstore.HourCount{routing.Voice: {Offered: 2, Connected: 1}}},
		10: {HourCount: pgstore.HourCount{Offered: 2, Connected: 2}, ByChannel: map[routing.Channel]pgstore.HourCount{routing.Voice: {Offered: 1, Connected: 1}, routing.LiveChat: {Offered: 1, Connected: 1}}},
		11: {HourCount: pgstore.HourCount{Offered: 1}, ByChannel: map[routing.Channel]pgstore.HourCount{routing.LiveChat: {Offered: 1}}},
		12: {HourCount: pgstore.HourCount{Offered: 1, Connected: 1}, ByChannel: map[routing.Channel]pgstore.HourCount{routing.Voice: {Offered: 1, Connected: 1}}},
	}
	for h, hs := range got.Hourly {
		w := wantHours[h]
		if hs.HourCount != w.HourCount || !maps.Equal(hs.ByChannel, w.ByChannel) {
			t.Errorf("hour %d: %+v, want %+v", h, hs, w)
		}
	}

	// One hour: what was offered in it, the call that connected in it, the time in it.
	hour := stats(tid, at(9, 0, 0), at(10, 0, 0))
	if v := hour.Channels[routing.Voice]; v.Offered != 2 || v.Connected != 1 || v.Handled != 1 || v.AverageDurationMs != 300_000 {
		t.Errorf("9:00-10:00 voice %+v", v)
	}
	wantTime = pgstore.TimeStats{LoginMs: 3_600_000, TalkMs: 300_000, IdleMs: 1_470_000, BreakMs: 1_800_000,
		BreakByReasonMs: map[string]int64{"Lunch": 1_800_000}}
	if !reflect.DeepEqual(hour.Time, wantTime) || len(hour.Hourly) != 1 {
		t.Errorf("9:00-10:00 time %+v (%d hours), want %+v", hour.Time, len(hour.Hourly), wantTime)
	}

	// Another tenant sees nothing of Carla.
	if none := stats(other, day, day.Add(24*time.Hour)); none.Total != (pgstore.ChannelStats{}) || none.Time.LoginMs != 0 {
		t.Errorf("through another tenant: %+v", none)
	}

	for _, tc := range []struct {
		name  string
		f     pgstore.StatsFilter
		field string
	}{
		{"to before from", pgstore.StatsFilter{AgentID: carla.ID, From: day, To: day.Add(-time.Hour), Now: day}, "to"},
		{"empty window", pgstore.StatsFilter{AgentID: carla.ID, From: day, To: day, Now: day}, "to"},
		{"too long", pgstore.StatsFilter{AgentID: carla.ID, From: day, To: day.Add(pgstore.MaxStatsRange + time.Hour), Now: day}, "to"},
		{"no from", pgstore.StatsFilter{AgentID: carla.ID, To: day, Now: day}, "from"},
		{"bad agent", pgstore.StatsFilter{AgentID: "carla", From: day, To: day.Add(time.Hour), Now: day}, "agentId"},
	} {
		_, err := store.AgentStats(ctx, tid, tc.f)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: %v, want a validation error on %s", tc.name, err, tc.field)
		}
	}
	if _, err := store.AgentStats(ctx, tid, pgstore.StatsFilter{AgentID: carla.ID, From: day, To: day.Add(pgstore.MaxStatsRange), Now: day}); err != nil {
		t.Errorf("a window of exactly %v: %v", pgstore.MaxStatsRange, err)
	}
}
