package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"switchboard/presence"
	"switchboard/routing"
	"switchboard/workflows"
)

// ownRedis gives the test a Redis database of its own among 1…14, so that it may
// flush it without touching the shared test database (15), `make run`'s (0) or
// anyone's keys: a claim key in database 0 keeps two tests from taking the same
// one, and only an empty database is taken. The database is emptied and the claim
// dropped when the test ends.
func ownRedis(t *testing.T) (url string, rdb *redis.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	claims := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { claims.Close() })
	for db := 1; db <= 14; db++ {
		claim := fmt.Sprintf("switchboard-test:redis-db:%d", db)
		ok, err := claims.SetNX(ctx, claim, randomName("claim-"), time.Hour).Result()
		if err != nil {
			t.Fatalf("claim a Redis database: %v", err)
		}
		if !ok {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: db})
		if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
			c.Close()
			claims.Del(ctx, claim)
			continue
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Logf("empty Redis database %d: %v", db, err)
			}
			c.Close()
			claims.Del(ctx, claim)
		})
		return fmt.Sprintf("redis://127.0.0.1:6379/%d", db), c
	}
	t.Fatal("no empty, unclaimed Redis database among 1…14")
	return "", nil
}

// presenceDesk is a test's handle on one agent.
type presenceDesk struct {
	id, key string
}

// acdEnv is a stack with its own Redis database, a tenant and its people.
type acdEnv struct {
	s                        *testStack
	rdb                      *redis.Client
	ps                       *presence.Store
	pool                     *pgxpool.Pool
	tc                       client.Client
	tenant                   string
	adminKey, supKey, crmKey string
	supID                    string
}

func newACDEnv(t *testing.T) *acdEnv {
	url, rdb := ownRedis(t)
	s := newTestStack(t)
	i := slices.Index(s.args, "--redis-url")
	s.args[i+1] = url
	s.start()
	t.Cleanup(s.stop)
	e := &acdEnv{s: s, rdb: rdb}
	e.adminKey = keyPattern.FindString(s.out.String())
	e.tenant = s.call(t, "GET", "/v1/me", e.adminKey, nil, 200)["tenant"].(map[string]any)["id"].(string)
	e.supID, e.supKey = s.newUserKey(t, e.adminKey, "supervisor")
	_, e.crmKey = s.newUserKey(t, e.adminKey, "integration")
	var err error
	if e.ps, err = presence.New(rdb, presence.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.pool, err = pgxpool.New(context.Background(), s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.tc = s.temporalClient()
	return e
}

func (e *acdEnv) agent(t *testing.T) presenceDesk {
	id, key := e.s.newUserKey(t, e.adminKey, "agent")
	return presenceDesk{id: id, key: key}
}

// create reports an inbound interaction from the CRM and returns its ID.
func (e *acdEnv) create(t *testing.T, channel string, tags ...string) string {
	t.Helper()
	body := map[string]any{"channel": channel, "from": "+3859" + fmt.Sprint(rand.IntN(1e7)), "content": "hello", "tags": nonNil(tags)}
	return e.s.call(t, "POST", "/v1/interactions", e.crmKey, body, 201)["id"].(string)
}

// offeredTo waits until the interaction rings on agent.
func (e *acdEnv) offeredTo(t *testing.T, id string, agent presenceDesk) {
	t.Helper()
	e.s.waitFor(t, "/v1/interactions/"+id, e.supKey, "offered to "+agent.id, func(v map[string]any) bool {
		return v["status"] == "offered" && v["offeredAgentId"] == agent.id
	})
}

// take waits for the offer to agent and accepts it.
func (e *acdEnv) take(t *testing.T, id string, agent presenceDesk) {
	t.Helper()
	e.offeredTo(t, id, agent)
	e.s.call(t, "POST", "/v1/interactions/"+id+"/accept", agent.key, nil, 200)
}

func (e *acdEnv) end(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		e.s.call(t, "POST", "/v1/interactions/"+id+"/end", e.crmKey, `{"reason":"done"}`, 200)
	}
}

// waiting waits until the interaction found nobody and waits for a wake-up: its run
// has started the safety recheck's timer. It returns when that happened.
func (e *acdEnv) waiting(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		it := e.tc.GetWorkflowHistory(ctx, "interaction/"+id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break
			}
			if a := ev.GetTimerStartedEventAttributes(); a != nil && a.GetStartToFireTimeout().AsDuration() == time.Minute {
				if v := e.s.call(t, "GET", "/v1/interactions/"+id, e.supKey, nil, 200); v["status"] != "queued" {
					t.Fatalf("waiting interaction %s is %v", id, v["status"])
				}
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("interaction %s never waited for an agent", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// historyOf lists a workflow's events, one a line, to explain a failure.
func (e *acdEnv) historyOf(workflowID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	it := e.tc.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			fmt.Fprintf(&b, "  (%v)\n", err)
			break
		}
		fmt.Fprintf(&b, "  %d %s %v\n", ev.GetEventId(), ev.GetEventType(), ev.GetAttributes())
	}
	return b.String()
}

// session reads an agent's presence as the agent sees it.
func (e *acdEnv) session(t *testing.T, a presenceDesk) map[string]any {
	t.Helper()
	return e.s.call(t, "GET", "/v1/agents/me/session", a.key, nil, 200)
}

// wantLoad checks the workload part of a presence answer.
func wantLoad(t *testing.T, what string, v map[string]any, live map[string]float64, percent float64, state string) {
	t.Helper()
	occ, _ := v["occupancy"].(map[string]any)
	for _, ch := range routing.Channels() {
		if got := occ[string(ch)]; got != live[string(ch)] {
			t.Errorf("%s: occupancy %v, want %v", what, occ, live)
			break
		}
	}
	if v["workloadPercent"] != percent || v["capacityState"] != state {
		t.Errorf("%s: workload %v%% %v, want %v%% %s", what, v["workloadPercent"], v["capacityState"], percent, state)
	}
}

// waitLoad polls the agent's presence until its workload is as wanted (an ended
// interaction frees its slot as its run gets to it), then checks it.
func (e *acdEnv) waitLoad(t *testing.T, what string, a presenceDesk, live map[string]float64, percent float64, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := e.session(t, a)
		if v["workloadPercent"] == percent && v["capacityState"] == state || time.Now().After(deadline) {
			wantLoad(t, what, v, live, percent, state)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAgentPresenceACD drives what agents and supervisors see of an agent's load and
// Auto Call mode, the wake-ups configuration changes give waiting interactions, and
// presence restored after Redis lost it — on a stack with a Redis database of its own,
// which the test flushes.
func TestAgentPresenceACD(t *testing.T) {
	t.Parallel()
	e := newACDEnv(t)
	s := e.s
	// Offers ring long enough for the test to look at them; the tenant's live chat
	// default is 1 (Bo and Cy have no override), Ana has her own capacities. Each
	// setting is made before anyone is offered anything under it: the worker keeps a
	// queue's agents and their settings for a moment (dispatch.Dispatcher.AgentsTTL),
	// while the wake-ups under test read them afresh.
	s.call(t, "PATCH", "/v1/acd-settings", e.supKey, `{"ringTimeoutSeconds":120,"defaultCapacity":{"live_chat":1}}`, 200)
	ana, bo, cy := e.agent(t), e.agent(t), e.agent(t)
	s.call(t, "PATCH", "/v1/agents/"+ana.id, e.supKey, `{"capacity":{"live_chat":2,"live_messaging":5,"email":0}}`, 200)

	t.Run("full capacity follows the load", func(t *testing.T) {
		in := s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		wantLoad(t, "at login", in, nil, 0, "under_capacity")
		if c := in["capacity"].(map[string]any); c["live_chat"] != 2.0 || c["live_messaging"] != 5.0 || c["email"] != 0.0 || c["voice"] != 1.0 {
			t.Errorf("capacity %v", c)
		}
		chat := e.create(t, "web_chat")
		e.offeredTo(t, chat, ana)
		// A ringing offer holds its slot, so it counts.
		wantLoad(t, "chat ringing", e.session(t, ana), map[string]float64{"live_chat": 1}, 50, "under_capacity")
		s.call(t, "POST", "/v1/interactions/"+chat+"/accept", ana.key, nil, 200)
		msg1 := e.create(t, "whatsapp")
		e.take(t, msg1, ana)
		wantLoad(t, "a chat and a message", e.session(t, ana), map[string]float64{"live_chat": 1, "live_messaging": 1}, 70, "under_capacity")

		// 50% + 2/5 = 90%: full, from the moment the offer rings.
		msg2 := e.create(t, "sms")
		e.offeredTo(t, msg2, ana)
		full := map[string]float64{"live_chat": 1, "live_messaging": 2}
		wantLoad(t, "second message ringing", e.session(t, ana), full, 90, "full_capacity")
		wantLoad(t, "the supervisor's view", s.call(t, "GET", "/v1/agents/"+ana.id+"/session", e.supKey, nil, 200), full, 90, "full_capacity")
		s.call(t, "POST", "/v1/interactions/"+msg2+"/accept", ana.key, nil, 200)
		wantLoad(t, "status change answer", s.call(t, "PUT", "/v1/agents/me/status", ana.key, `{"status":"busy"}`, 200), full, 90, "full_capacity")
		wantLoad(t, "supervisor's status change answer",
			s.call(t, "PUT", "/v1/agents/"+ana.id+"/status", e.supKey, `{"status":"available"}`, 200), full, 90, "full_capacity")

		// Releasing one clears it.
		e.end(t, msg1)
		e.waitLoad(t, "after one ended", ana, map[string]float64{"live_chat": 1, "live_messaging": 1}, 70, "under_capacity")
		e.end(t, chat, msg2)
		e.waitLoad(t, "all ended", ana, nil, 0, "under_capacity")
		s.call(t, "DELETE", "/v1/agents/me/session", ana.key, nil, 204)
	})

	t.Run("auto call", func(t *testing.T) {
		in := s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		if in["autoCall"] != true || in["autoCallCause"] != "login" || in["autoCallChangedAt"] != in["loginAt"] {
			t.Errorf("at login: %v %v %v (login %v)", in["autoCall"], in["autoCallCause"], in["autoCallChangedAt"], in["loginAt"])
		}
		off := s.call(t, "PUT", "/v1/agents/me/auto-call", ana.key, `{"enabled":false}`, 200)
		if off["autoCall"] != false || off["autoCallCause"] != "agent_set" || off["loggedIn"] != true || off["agentId"] != ana.id {
			t.Errorf("switched off: %v", off)
		}
		lunch := s.call(t, "PUT", "/v1/agents/me/status", ana.key, `{"status":"lunch"}`, 200)
		if lunch["autoCall"] != false || lunch["autoCallCause"] != "agent_set" {
			t.Errorf("after a status change: %v %v", lunch["autoCall"], lunch["autoCallCause"])
		}
		if v := s.call(t, "GET", "/v1/agents/"+ana.id+"/session", e.supKey, nil, 200); v["autoCall"] != false {
			t.Errorf("supervisor sees %v", v["autoCall"])
		}
		on := s.call(t, "PUT", "/v1/agents/"+ana.id+"/auto-call", e.supKey, `{"enabled":true}`, 200)
		if on["autoCall"] != true || on["autoCallCause"] != "supervisor_set" {
			t.Errorf("switched on by the supervisor: %v %v", on["autoCall"], on["autoCallCause"])
		}
		again := s.call(t, "PUT", "/v1/agents/"+ana.id+"/auto-call", e.supKey, `{"enabled":true}`, 200)
		if again["autoCallChangedAt"] != on["autoCallChangedAt"] || again["autoCallCause"] != "supervisor_set" {
			t.Errorf("repeating the mode changed it: %v", again)
		}

		s.wantError(t, "PUT", "/v1/agents/me/auto-call", ana.key, `{}`, 422, "invalid_field", "enabled")
		s.wantError(t, "PUT", "/v1/agents/me/auto-call", ana.key, `{"enabled":"yes"}`, 400, "malformed_request", "enabled")
		s.wantError(t, "PUT", "/v1/agents/me/auto-call", ana.key, `{"enabled":true,"mode":"x"}`, 422, "invalid_field", "mode")
		s.wantError(t, "PUT", "/v1/agents/"+bo.id+"/auto-call", ana.key, `{"enabled":true}`, 403, "forbidden", "")
		s.wantError(t, "PUT", "/v1/agents/me/auto-call", bo.key, `{"enabled":true}`, 409, "not_logged_in", "")
		s.wantError(t, "PUT", "/v1/agents/"+e.supID+"/auto-call", e.supKey, `{"enabled":true}`, 404, "not_found", "")
		s.wantError(t, "PUT", "/v1/agents/me/auto-call", e.supKey, `{"enabled":true}`, 403, "forbidden", "")

		// The session workflow keeps each change with its cause and who made it.
		session := int64(in["session"].(float64))
		var st workflows.AgentSessionState
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := e.tc.QueryWorkflow(context.Background(), workflows.AgentSessionWorkflowID(e.tenant, ana.id), "", workflows.AgentSessionQuery)
			if err == nil && v.Get(&st) == nil && st.Session == session && len(st.AutoCallHistory) == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("auto call history %+v (%v); the session workflow's history:\n%s", st.AutoCallHistory, err,
					e.historyOf(workflows.AgentSessionWorkflowID(e.tenant, ana.id)))
			}
			time.Sleep(100 * time.Millisecond)
		}
		want := []workflows.AutoCallEntry{
			{Enabled: true, Cause: presence.AutoCallLogin, ActorID: ana.id},
			{Enabled: false, Cause: presence.AutoCallAgentSet, ActorID: ana.id},
			{Enabled: true, Cause: presence.AutoCallSupervisorSet, ActorID: e.supID},
		}
		for i, h := range st.AutoCallHistory {
			if h.Enabled != want[i].Enabled || h.Cause != want[i].Cause || h.ActorID != want[i].ActorID {
				t.Errorf("history[%d] = %+v, want %+v", i, h, want[i])
			}
		}
		if at, _ := time.Parse(time.RFC3339Nano, on["autoCallChangedAt"].(string)); !st.AutoCallHistory[2].At.Equal(at) {
			t.Errorf("the workflow dates the change %v, presence %v", st.AutoCallHistory[2].At, at)
		}

		// A new session starts with it on again.
		s.call(t, "PUT", "/v1/agents/me/auto-call", ana.key, `{"enabled":false}`, 200)
		s.call(t, "DELETE", "/v1/agents/me/session", ana.key, nil, 204)
		if v := e.session(t, ana); v["autoCall"] != false || v["autoCallCause"] != nil {
			t.Errorf("logged out: %v %v", v["autoCall"], v["autoCallCause"])
		}
		next := s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		if next["autoCall"] != true || next["autoCallCause"] != "login" {
			t.Errorf("next session: %v %v", next["autoCall"], next["autoCallCause"])
		}
		s.call(t, "DELETE", "/v1/agents/me/session", ana.key, nil, 204)
	})

	// Each case leaves an interaction waiting for want alone, changes the
	// configuration, and requires the offer well within the interaction's one-minute
	// safety recheck (waitFor gives up after 30 s): the change woke it.
	t.Run("configuration changes offer waiting interactions at once", func(t *testing.T) {
		t.Run("agent capacity raised", func(t *testing.T) {
			s.call(t, "POST", "/v1/agents/me/session", cy.key, nil, 201)
			first := e.create(t, "web_chat")
			e.take(t, first, cy)
			second := e.create(t, "web_chat")
			e.waiting(t, second)
			s.call(t, "PATCH", "/v1/agents/"+cy.id, e.supKey, `{"capacity":{"live_chat":2}}`, 200)
			e.take(t, second, cy)
			e.end(t, first, second)
			e.waitLoad(t, "Cy after both ended", cy, nil, 0, "under_capacity")
			s.call(t, "DELETE", "/v1/agents/me/session", cy.key, nil, 204)
		})

		s.call(t, "POST", "/v1/agents/me/session", bo.key, nil, 201)
		t.Run("tenant default capacity raised", func(t *testing.T) {
			first := e.create(t, "web_chat")
			e.take(t, first, bo)
			second := e.create(t, "web_chat")
			e.waiting(t, second)
			s.call(t, "PATCH", "/v1/acd-settings", e.supKey, `{"defaultCapacity":{"live_chat":2}}`, 200)
			e.take(t, second, bo)
			e.end(t, first, second)
		})

		routeTo := func(t *testing.T, name, tag string, queue map[string]any) string {
			q := s.call(t, "POST", "/v1/queues", e.supKey, queue, 201)["id"].(string)
			s.call(t, "POST", "/v1/routes", e.supKey, map[string]any{"name": name, "queueId": q,
				"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{tag}}}, 201)
			return q
		}
		t.Run("agent added to the queue", func(t *testing.T) {
			sales := routeTo(t, "to Sales", "sales", map[string]any{"name": "Sales"})
			ix := e.create(t, "whatsapp", "sales")
			e.waiting(t, ix)
			s.call(t, "PUT", "/v1/queues/"+sales+"/agents", e.supKey, map[string]any{"agentIds": []string{bo.id}}, 200)
			e.take(t, ix, bo)
			e.end(t, ix)
		})
		t.Run("automatic assignment switched on", func(t *testing.T) {
			billing := routeTo(t, "to Billing", "billing", map[string]any{"name": "Billing", "autoAssign": false, "agentIds": []string{bo.id}})
			ix := e.create(t, "web_chat", "billing")
			e.waiting(t, ix)
			s.call(t, "PATCH", "/v1/queues/"+billing, e.supKey, `{"name":"Billing desk"}`, 200)
			if v := s.call(t, "GET", "/v1/interactions/"+ix, e.supKey, nil, 200); v["status"] != "queued" {
				t.Fatalf("offered while the queue assigns nothing: %v", v["status"])
			}
			s.call(t, "PATCH", "/v1/queues/"+billing, e.supKey, `{"autoAssign":true}`, 200)
			e.take(t, ix, bo)
			e.end(t, ix)
		})
		t.Run("agent enabled", func(t *testing.T) {
			// Bo is away while his record is disabled, so nothing can be offered to
			// him under the setting he had a moment ago.
			s.call(t, "PUT", "/v1/agents/me/status", bo.key, `{"status":"busy"}`, 200)
			s.call(t, "PATCH", "/v1/agents/"+bo.id, e.supKey, `{"enabled":false}`, 200)
			ix := e.create(t, "web_chat")
			e.waiting(t, ix)
			s.call(t, "PUT", "/v1/agents/me/status", bo.key, `{"status":"available"}`, 200)
			if v := s.call(t, "GET", "/v1/interactions/"+ix, e.supKey, nil, 200); v["status"] != "queued" {
				t.Fatalf("offered to a disabled agent: %v", v)
			}
			s.call(t, "PATCH", "/v1/agents/"+bo.id, e.supKey, `{"enabled":true}`, 200)
			e.take(t, ix, bo)
			e.end(t, ix)
		})
		s.call(t, "DELETE", "/v1/agents/me/session", bo.key, nil, 204)
	})

	t.Run("held slots come back after Redis is flushed", func(t *testing.T) {
		ctx := context.Background()
		s.call(t, "PATCH", "/v1/agents/"+ana.id, e.supKey, `{"capacity":{"live_chat":2,"live_messaging":5,"email":0}}`, 200)
		s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		one, two := e.create(t, "web_chat"), e.create(t, "web_chat")
		e.take(t, one, ana)
		e.take(t, two, ana)
		third := e.create(t, "web_chat")
		e.waiting(t, third)

		if err := e.rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// Nobody logs in: the worker notices and restores what Ana holds.
		wantHeld := func(what string, ids ...string) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				slots, err := e.ps.Audit(ctx, e.tenant)
				var got []string
				for _, sl := range slots {
					if sl.Agent == ana.id && sl.Held && sl.Channel == routing.LiveChat {
						got = append(got, sl.Interaction)
					}
				}
				slices.Sort(got)
				if err == nil && len(slots) == len(ids) && slices.Equal(got, sorted(ids)) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: presence holds %+v (%v), want %v held by Ana", what, slots, err, ids)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		wantHeld("restored by the worker", one, two)
		s.wantError(t, "POST", "/v1/agents/me/heartbeat", ana.key, nil, 409, "not_logged_in", "")

		// Ana logs in again: full, and the waiting chat is not offered to her.
		in := s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		wantLoad(t, "login after the flush", in, map[string]float64{"live_chat": 2}, 100, "full_capacity")
		if v := s.call(t, "GET", "/v1/interactions/"+third, e.supKey, nil, 200); v["status"] != "queued" {
			t.Fatalf("offered past capacity after the flush: %v", v)
		}
		wantHeld("after the login", one, two)
		e.end(t, one)
		e.take(t, third, ana)

		// Flushed again, and Ana logs in at once: the login itself makes sure what
		// she holds is back before her session opens.
		if err := e.rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		in = s.call(t, "POST", "/v1/agents/me/session", ana.key, nil, 201)
		wantLoad(t, "login right after the flush", in, map[string]float64{"live_chat": 2}, 100, "full_capacity")
		fourth := e.create(t, "web_chat")
		e.waiting(t, fourth)
		wantHeld("with another chat waiting", two, third)
		e.end(t, two)
		e.take(t, fourth, ana)
		e.end(t, third, fourth)
		wantHeld("all ended")
		s.call(t, "DELETE", "/v1/agents/me/session", ana.key, nil, 204)
	})

	t.Run("no agent over capacity across a flush while desktops work", func(t *testing.T) {
		e.flushUnderLoad(t)
	})
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// capacityWatch reads presence and the read model ten times a second and records
// every time one of its agents holds more than their capacity on a channel — in
// presence (held slots and live reservations, one atomic read) or in the read model
// (connected interactions) — or an interaction is with two agents at once.
type capacityWatch struct {
	e          *acdEnv
	capacity   map[string]routing.Capacity
	looks      atomic.Int64
	mu         sync.Mutex
	violations []string
}

func (w *capacityWatch) fail(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) < 20 {
		w.violations = append(w.violations, fmt.Sprintf(format, args...))
	}
}

func (w *capacityWatch) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.look(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *capacityWatch) look(ctx context.Context) {
	slots, err := w.e.ps.Audit(ctx, w.e.tenant)
	if err != nil {
		if ctx.Err() == nil {
			w.fail("presence audit: %v", err)
		}
		return
	}
	held := map[string]routing.Occupancy{}
	with := map[string]string{}
	for _, sl := range slots {
		if held[sl.Agent] == nil {
			held[sl.Agent] = routing.Occupancy{}
		}
		held[sl.Agent][sl.Channel]++
		if other, ok := with[sl.Interaction]; ok && other != sl.Agent {
			w.fail("presence: interaction %s with %s and %s at once", sl.Interaction, other, sl.Agent)
		}
		with[sl.Interaction] = sl.Agent
	}
	for agent, occ := range held {
		if w.capacity[agent] == nil {
			continue // not one of the test's desktops
		}
		for ch, n := range occ {
			if n > w.capacity[agent][ch] {
				w.fail("presence: agent %s has %d %s slots, capacity %d", agent, n, ch, w.capacity[agent][ch])
			}
		}
	}
	rows, err := w.e.pool.Query(ctx, `SELECT agent_id::text, channel, count(*) FROM interactions
		WHERE tenant_id = $1 AND status = 'connected' GROUP BY 1, 2`, w.e.tenant)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var (
			agent string
			ch    routing.Channel
			n     int
		)
		if rows.Scan(&agent, &ch, &n) == nil && w.capacity[agent] != nil && n > w.capacity[agent][ch] {
			w.fail("read model: agent %s has %d %s interactions connected, capacity %d", agent, n, ch, w.capacity[agent][ch])
		}
	}
	w.looks.Add(1)
}

// flushUnderLoad runs desktops that log in again whenever their session is gone,
// accept every offer and end it after a moment, while interactions keep arriving
// and Redis is flushed in the middle, with a capacityWatch throughout. No agent may
// ever hold more than their capacity, and everything must be assigned and end.
//
// An offer ringing at the flush loses its reservation (reservations are not
// rebuilt: they last one ring timeout); accepting it is refused and it goes to the
// next agent, so it never makes an agent hold more than their capacity.
func (e *acdEnv) flushUnderLoad(t *testing.T) {
	s := e.s
	// Agents of their own, created under the tenant's new defaults.
	s.call(t, "PATCH", "/v1/acd-settings", e.supKey, `{"ringTimeoutSeconds":10,"defaultCapacity":{"live_chat":2,"live_messaging":2}}`, 200)
	w := &capacityWatch{e: e, capacity: map[string]routing.Capacity{}}
	var agents []presenceDesk
	for range 5 {
		a := e.agent(t)
		agents = append(agents, a)
		w.capacity[a.id] = routing.Capacity{routing.Voice: 1, routing.LiveChat: 2, routing.LiveMessaging: 2, routing.Email: 10}
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	var watching sync.WaitGroup
	watching.Go(func() { w.run(wctx) })
	defer func() {
		stopWatch()
		watching.Wait()
	}()

	var (
		stopped                 atomic.Bool
		desks                   sync.WaitGroup
		logins, accepted, ended atomic.Int64
	)
	for _, a := range agents {
		desks.Go(func() {
			var holds sync.WaitGroup
			defer holds.Wait()
			seen := map[string]bool{}
			var lastBeat time.Time
			for !stopped.Load() {
				if time.Since(lastBeat) > time.Second {
					r, err := s.try("POST", "/v1/agents/me/heartbeat", a.key, nil)
					switch {
					case err == nil && r.status == 204:
						lastBeat = time.Now()
					case err == nil && (r.status == 409 || r.status == 410):
						// No session (never logged in, or Redis lost it): log in.
						if r, err := s.try("POST", "/v1/agents/me/session", a.key, nil); err == nil && (r.status == 201 || r.status == 200) {
							logins.Add(1)
							lastBeat = time.Now()
						}
					}
				}
				r, err := s.try("GET", "/v1/interactions?status=offered", a.key, nil)
				if err == nil && r.status == 200 {
					var page struct {
						Items []struct {
							ID     string `json:"id"`
							Offers int    `json:"offerCount"`
						} `json:"items"`
					}
					_ = json.Unmarshal(r.body, &page)
					for _, it := range page.Items {
						key := fmt.Sprintf("%s/%d", it.ID, it.Offers)
						if seen[key] {
							continue
						}
						r, err := s.try("POST", "/v1/interactions/"+it.ID+"/accept", a.key, nil)
						if err != nil || r.status >= 500 {
							continue
						}
						seen[key] = true
						if r.status != 200 {
							continue // refused: its reservation went with the flush
						}
						accepted.Add(1)
						holds.Go(func() {
							// Held long enough to outlast a flush and the login after it.
							time.Sleep(time.Duration(2000+rand.IntN(3000)) * time.Millisecond)
							for range 100 {
								r, err := s.try("POST", "/v1/interactions/"+it.ID+"/end", a.key, `{"reason":"done"}`)
								if err == nil && (r.status == 200 || r.status == 409) {
									ended.Add(1)
									return
								}
								time.Sleep(200 * time.Millisecond)
							}
						})
					}
				}
				time.Sleep(time.Duration(150+rand.IntN(100)) * time.Millisecond)
			}
		})
	}
	defer func() {
		stopped.Store(true)
		desks.Wait()
	}()

	const n = 60
	var (
		mu      sync.Mutex
		created []string
	)
	create := func(from, to int) {
		parallel(to-from, 4, func(i int) {
			channel := []string{"web_chat", "whatsapp"}[(from+i)%2]
			r, err := s.try("POST", "/v1/interactions", e.crmKey, map[string]any{"channel": channel, "from": fmt.Sprintf("+3852%06d", from+i), "content": "hi"})
			if err != nil || r.status != 201 {
				t.Errorf("create: %v %d %s", err, r.status, r.body)
				return
			}
			var v struct{ ID string }
			_ = json.Unmarshal(r.body, &v)
			mu.Lock()
			created = append(created, v.ID)
			mu.Unlock()
		})
	}
	create(0, 2*n/3)
	// Flush while the agents hold many (others wait or ring): each logs in again
	// still holding them.
	deadline := time.Now().Add(time.Minute)
	for {
		var connected int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM interactions WHERE tenant_id = $1 AND status = 'connected'`,
			e.tenant).Scan(&connected); err != nil {
			t.Fatal(err)
		}
		if connected >= 2*len(agents) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d held at once after a minute", connected)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := logins.Load()
	if err := e.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	create(2*n/3, n)

	mu.Lock()
	ids := slices.Clone(created)
	mu.Unlock()
	deadline = time.Now().Add(3 * time.Minute)
	for {
		var open int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status <> 'ended'`,
			e.tenant, ids).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d interactions not ended", open, len(ids))
		}
		time.Sleep(250 * time.Millisecond)
	}
	stopWatch()
	watching.Wait()
	t.Logf("desktops: %d logins after the flush, %d accepted, %d ended; %d looks", logins.Load()-before, accepted.Load(), ended.Load(), w.looks.Load())
	if logins.Load()-before < int64(len(agents)) {
		t.Errorf("only %d desktops logged in again after the flush", logins.Load()-before)
	}
	if w.looks.Load() < 10 {
		t.Errorf("capacity watched only %d times", w.looks.Load())
	}
	for _, v := range w.violations {
		t.Error(v)
	}
	if slots, err := e.ps.Audit(context.Background(), e.tenant); err != nil || len(slots) != 0 {
		t.Errorf("slots left after everything ended: %v, %v", slots, err)
	}
}
