package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
)

// Sizes of the automation benchmarks (make bench passes -automation-timers from
// AUTOMATION_TIMERS).
var (
	automationTimers      = flag.Int("automation-timers", 50000, "time-based automations BenchmarkAutomationTimers holds armed at once")
	automationWindow      = flag.Duration("automation-window", 5*time.Minute, "the window the armed automations fall due in, evenly spread")
	automationMaxWait     = flag.Duration("automation-max-wait", 15*time.Minute, "how long after the window's end BenchmarkAutomationTimers waits for periods that have not fired")
	automationConcurrency = flag.Int("automation-concurrency", 32, "armings or requests in flight at once")
	automationMessages    = flag.Int("automation-messages", 2000, "customer messages BenchmarkAutomationEvents sends in each phase")
	automationChats       = flag.Int("automation-chats", 50, "conversations BenchmarkAutomationEvents spreads its messages over")
	automationRules       = flag.Int("automation-rules", 100, "enabled rules of BenchmarkAutomationEvents' phases with rules")
)

// automationTenant makes a tenant with a web chat sender (the test adapter) and the
// survey without a minimum interval, and answers its ID, admin key and default queue.
func automationTenant(b *testing.B, st *benchEnv) (tenant, key, queue string) {
	slug := randomName("auto-")
	created := st.benchCall(b, "POST", "/v1/tenants", st.adminKey, map[string]any{"slug": slug, "name": "Automations bench",
		"admin": map[string]string{"email": "admin@" + slug + ".test", "name": "Admin"}}, 201)
	tenant = created["tenant"].(map[string]any)["id"].(string)
	key = created["apiKey"].(map[string]any)["secret"].(string)
	st.benchCall(b, "POST", "/v1/channel-senders", key, map[string]string{"subChannel": "web_chat", "address": "acme-site", "kind": "test"}, 201)
	st.benchCall(b, "PUT", "/v1/surveys/settings", key, map[string]any{"minIntervalSeconds": 0}, 200)
	queue = st.benchCall(b, "GET", "/v1/queues", key, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	return tenant, key, queue
}

// BenchmarkAutomationTimers holds -automation-timers time-based automations armed at
// once and times how late they fire. One rule ("in status waiting for 10 minutes →
// send the CSAT survey") is armed on as many waiting web chats of the read model, each
// through the real dispatch (activities.Automations.Dispatch of the chat's change to
// waiting, dated so that its period ends at its place in -automation-window): one
// durable timer workflow per rule and chat. When a period ends the rule runs: the run
// is begun (its conditions read from PostgreSQL), the survey is sent over the chat's
// channel (the test adapter) and the run finished. It prints how late the runs began
// and the surveys went out (from the period's end), p50/p99/max; how many never
// fired; how many fired twice. The due times are set after the first armings tell how
// long the rest will take. Run with -benchtime 1x (make bench).
func BenchmarkAutomationTimers(b *testing.B) {
	st := startForBench(b)
	n := *automationTimers
	if n <= 0 || *automationWindow <= 0 || *automationConcurrency <= 0 {
		b.Fatal("-automation-timers, -automation-window and -automation-concurrency must be positive")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	const period = 10 * time.Minute
	for range b.N {
		load := loadAverage()
		tenant, key, queue := automationTenant(b, st)
		st.benchCall(b, "POST", "/v1/automations", key, map[string]any{"name": "Waiting too long",
			"triggers": []any{map[string]any{"type": "waitingFor", "after": map[string]int{"minutes": int(period / time.Minute)}}},
			"actions":  []any{map[string]any{"type": "sendSurvey"}}}, 201)
		rows, err := pool.Query(ctx, `
			INSERT INTO interactions (tenant_id, id, workflow_id, channel, source, direction, from_address, to_address, customer,
				queue_id, priority, status, queued_at, version, created_at, conversation_status)
			SELECT $1, g.id, 'interaction/' || g.id, 'live_chat', 'web_chat', 'inbound', 'visitor-' || g.n, 'acme-site', 'visitor-' || g.n,
				$2, 0, 'queued', now(), 2, now(), 'waiting'
			FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, $3::int) AS n) g
			RETURNING id::text`, tenant, queue, n)
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil || len(ids) != n {
			b.Fatalf("%d chats written: %v", len(ids), err)
		}
		au := &activities.Automations{Store: pgstore.New(pool), Temporal: st.client}
		var failed atomic.Int64
		var firstErr atomic.Value
		arm := func(i int, due time.Time, version int64) {
			id := ids[i]
			ev := events.Event{Key: fmt.Sprintf("interaction/%s/%d/%s", id, version, events.ConversationStatusChanged), Type: events.ConversationStatusChanged,
				TenantID: tenant, At: due.Add(-period), InteractionID: id}
			e := activities.InteractionEvent{InteractionID: id, Status: pgstore.InteractionQueued, ConversationStatus: pgstore.ConversationWaiting,
				Detail: map[string]any{"from": "open", "to": "waiting"}, Version: version}
			for attempt := range 5 {
				err = au.Dispatch(ctx, ev, e)
				if err == nil {
					return
				}
				time.Sleep(time.Duration(attempt+1) * time.Second)
			}
			if failed.Add(1) == 1 {
				firstErr.Store(err.Error())
			}
		}
		// The first armings, far ahead, tell how long the rest take; they are armed
		// again (a later change) at their time.
		t0 := time.Now()
		pilot := min(n, max(50, min(500, n/50)))
		parallel(pilot, *automationConcurrency, func(i int) { arm(i, t0.Add(6*time.Hour), 2) })
		rate := float64(pilot) / time.Since(t0).Seconds()
		lead := time.Since(t0) + time.Duration(float64(n)/max(rate, 1)*1.5*float64(time.Second)) + 30*time.Second
		windowStart := t0.Add(lead)
		due := func(i int) time.Time {
			return windowStart.Add(time.Duration(int64(*automationWindow) * int64(i) / int64(n)))
		}
		b.Logf("automation timers: %d armed chats, the first %d at %.0f armings/s; the window of %v opens %v after the first arming; load average %s",
			n, pilot, rate, *automationWindow, lead.Round(time.Second), load)
		heap0, rss0 := processMemory()
		began := time.Now()
		parallel(n-pilot, *automationConcurrency, func(j int) { arm(pilot+j, due(pilot+j), 2) })
		parallel(pilot, *automationConcurrency, func(i int) { arm(i, due(i), 3) })
		took := time.Since(began)
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d armings failed, the first: %v", f, firstErr.Load())
		}
		if left := time.Until(windowStart); left < 5*time.Second {
			b.Fatalf("the armings took until %v before the window", left.Round(time.Second))
		}
		time.Sleep(5 * time.Second)
		heap1, rss1 := processMemory()
		b.Logf("automation timers: %d armed in %v (%.0f/s); while they wait: Go heap %s (before %s), RSS %s (before %s); %v until the window",
			n, took.Round(time.Second), float64(n)/took.Seconds(), mib(heap1), mib(heap0), mib(rss1), mib(rss0), time.Until(windowStart).Round(time.Second))
		b.ReportMetric(float64(n)/took.Seconds(), "armings/s")

		windowEnd := windowStart.Add(*automationWindow)
		time.Sleep(time.Until(windowEnd))
		deadline := windowEnd.Add(*automationMaxWait)
		var runLate, sentLate []time.Duration
		var twice int
		for {
			runLate, sentLate, twice, err = automationFirings(ctx, pool, tenant)
			if err != nil {
				b.Logf("automation timers: reading the firings: %v", err)
			} else if len(sentLate) == n || time.Now().After(deadline) {
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		loadAfter := loadAverage()
		report := func(name string, late []time.Duration) {
			if len(late) == 0 {
				b.Logf("automation timers: %s: none of %d", name, n)
				return
			}
			b.Logf("automation timers: %-22s lateness p50/p99/max %s ms; %d of %d, %.1f%% within 2s",
				name, lateness(late), len(late), n, 100*within(late, 2*time.Second))
		}
		report("runs began", runLate)
		report("surveys sent", sentLate)
		b.Logf("automation timers: %d never fired, %d fired twice; load average %s before, %s after", n-len(runLate), twice, load, loadAfter)
		if len(runLate) > 0 {
			percentiles(b, "run-late-", runLate)
		}
		if len(sentLate) > 0 {
			percentiles(b, "sent-late-", sentLate)
		}
		b.ReportMetric(float64(n-len(runLate)), "lost")
		b.ReportMetric(float64(twice), "fired-twice")
	}
}

// automationFirings reads the lateness of each period's run (its start, from its
// period's end) and of its survey, and how many chats had more than one run.
func automationFirings(ctx context.Context, pool *pgxpool.Pool, tenant string) (runLate, sentLate []time.Duration, twice int, err error) {
	rows, err := pool.Query(ctx, `
		SELECT r.started_at - (r.event->>'due')::timestamptz, s.sent_at - (r.event->>'due')::timestamptz,
			count(*) OVER (PARTITION BY r.interaction_id)
		FROM automation_runs r
		LEFT JOIN surveys s ON s.tenant_id = r.tenant_id AND s.interaction_id = r.interaction_id AND s.status = 'sent'
		WHERE r.tenant_id = $1`, tenant)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var run time.Duration
		var sent *time.Duration
		var runs int
		if err := rows.Scan(&run, &sent, &runs); err != nil {
			return nil, nil, 0, err
		}
		runLate = append(runLate, run)
		if sent != nil {
			sentLate = append(sentLate, *sent)
		}
		if runs > 1 {
			twice++
		}
	}
	return runLate, sentLate, twice, rows.Err()
}

// BenchmarkAutomationEvents times how many customer messages a second the stack
// takes to the end (received, kept in the transcript, the change recorded and its
// event published and dispatched) with no rules, with -automation-rules enabled rules
// that all look at every message but none acts (their conditions do not hold; some
// are time-based and arm a period at a conversation's first message), and with the
// same rules of which five act on every message (a run of five rules, each setting
// the priority through the conversation's workflow). Each phase is a fresh tenant: -automation-chats web chats an agent holds,
// -automation-messages messages sent at once over them. It prints the throughput of
// each phase and its ratio to the phase without rules.
func BenchmarkAutomationEvents(b *testing.B) {
	st := startForBench(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	m, chats, nRules := *automationMessages, *automationChats, *automationRules
	if m <= 0 || chats <= 0 || nRules < 10 {
		b.Fatal("-automation-messages and -automation-chats must be positive, -automation-rules at least 10")
	}
	for range b.N {
		var base float64
		for _, phase := range []struct {
			name   string
			rules  int
			acting int
		}{{"no rules", 0, 0}, {fmt.Sprintf("%d rules, none acting", nRules), nRules, 0}, {fmt.Sprintf("%d rules, 5 acting", nRules), nRules, 5}} {
			tenant, key, _ := automationTenant(b, st)
			st.benchCall(b, "POST", "/v1/tags", key, map[string]string{"name": "seen"}, 201)
			st.benchCall(b, "POST", "/v1/tags", key, map[string]string{"name": "never"}, 201)
			for i := range phase.rules {
				rule := map[string]any{"name": fmt.Sprintf("rule %d", i), "actions": []any{map[string]any{"type": "applyTags", "tags": []string{"seen"}}}}
				switch {
				case i < phase.acting:
					// It acts on every message: the first raises the priority; the next
					// ones find it raised.
					rule["actions"] = []any{map[string]any{"type": "setPriority", "priority": "high"}}
					rule["triggers"] = []any{map[string]any{"type": "messageReceived"}}
					rule["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "tag", "operator": "isNotInList", "values": []string{"never"}}}}}
				case i%10 == 1:
					rule["triggers"] = []any{map[string]any{"type": "agentNotReplied", "after": map[string]int{"hours": 1}}}
				case i%10 == 2:
					rule["triggers"] = []any{map[string]any{"type": "solvedFor", "after": map[string]int{"hours": 1}}}
				case i%10 == 3:
					rule["triggers"] = []any{map[string]any{"type": "noteCreated"}, map[string]any{"type": "statusChanged", "to": "solved"}}
				default:
					rule["triggers"] = []any{map[string]any{"type": "messageReceived"}, map[string]any{"type": "tagChanged"}}
					rule["conditions"] = []any{map[string]any{"anyOf": []any{map[string]any{"attribute": "tag", "operator": "isInList", "values": []string{"never"}},
						map[string]any{"attribute": "channel", "operator": "is", "values": []string{"whatsapp"}}}},
						map[string]any{"anyOf": []any{map[string]any{"attribute": "direction", "operator": "is", "values": []string{"inbound"}}}}}
				}
				st.benchCall(b, "POST", "/v1/automations", key, rule, 201)
			}
			agent := st.benchCall(b, "POST", "/v1/users", key, map[string]string{"email": "agent@" + randomName("a") + ".test", "name": "Agent", "role": "agent"}, 201)["id"].(string)
			agentKey := st.benchCall(b, "POST", "/v1/api-keys", key, map[string]string{"userId": agent, "name": "desk"}, 201)["secret"].(string)
			st.benchCall(b, "PATCH", "/v1/agents/"+agent, key, map[string]any{"capacity": map[string]int{"live_chat": 1000}}, 200)
			st.benchCall(b, "POST", "/v1/agents/me/session", agentKey, map[string]string{"status": "available"}, 201)
			ids := make([]string, chats)
			for i := range ids {
				ids[i] = st.benchCall(b, "POST", "/v1/interactions", agentKey, map[string]string{"channel": "web_chat", "direction": "outbound",
					"to": fmt.Sprintf("visitor-%d", i)}, 201)["id"].(string)
			}
			time.Sleep(3 * time.Second) // the rules' cache of every worker sees them
			var failed atomic.Int64
			sendLat := make([]time.Duration, m)
			began := time.Now()
			parallel(m, *automationConcurrency, func(i int) {
				t := time.Now()
				r, err := st.try("POST", "/v1/interactions/"+ids[i%chats]+"/inbound-messages", key, map[string]string{"from": "visitor", "body": fmt.Sprintf("message %d", i)})
				sendLat[i] = time.Since(t)
				if err != nil || r.status != 202 {
					failed.Add(1)
				}
			})
			sent := time.Since(began)
			var done int
			deadline := time.Now().Add(10 * time.Minute)
			for time.Now().Before(deadline) {
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM interaction_events WHERE tenant_id = $1 AND type = 'messageReceived'`, tenant).Scan(&done); err != nil {
					b.Fatal(err)
				}
				if done >= m {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			took := time.Since(began)
			var runs int
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM automation_runs WHERE tenant_id = $1`, tenant).Scan(&runs)
			rate := float64(done) / took.Seconds()
			if base == 0 {
				base = rate
			}
			slices.Sort(sendLat)
			b.Logf("automation events: %-22s %d messages over %d chats through in %v: %.0f messages/s (%.2f of no rules); requests answered in p50/p99 %v/%v, sent in %v; %d failed; %d rule runs",
				phase.name, done, chats, took.Round(time.Millisecond), rate, rate/base, quantile(sendLat, 0.5).Round(time.Millisecond),
				quantile(sendLat, 0.99).Round(time.Millisecond), sent.Round(time.Millisecond), failed.Load(), runs)
			b.ReportMetric(rate, fmt.Sprintf("msgs/s-%d-rules-%d-acting", phase.rules, phase.acting))
			if done < m {
				b.Fatalf("%s: only %d of %d messages went through", phase.name, done, m)
			}
		}
	}
}
