package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/workflowservice/v1"

	"switchboard/dispatch"
	"switchboard/presence"
	"switchboard/routing"
)

// workerProc is `switchboard worker` run beside a dev stack started with --no-worker,
// so a test can stop it as a crash would and start another.
type workerProc struct {
	cancel context.CancelFunc
	done   chan error
}

func (s *testStack) startWorker(t testing.TB, extra ...string) *workerProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"worker", "--database-url", s.dbURL, "--redis-url", "redis://127.0.0.1:6379/15",
		"--temporal-address", s.temporal, "--metrics-addr", freeTCP(t, false), "--log-level", "error"}
	args = append(args, extra...)
	w := &workerProc{cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- run(ctx, args, func(string) string { return "" }, io.Discard) }()
	return w
}

func (w *workerProc) stop(t testing.TB) {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("worker did not stop within a minute")
	}
}

// httpClient serves the simulated desktops, which keep many requests in flight.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 200}, Timeout: 30 * time.Second}

// try is do without failing the test, for goroutines.
func (s *testStack) try(method, path, key string, body any) (response, error) {
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		raw = string(j)
	}
	req, err := http.NewRequest(method, s.httpURL+path, strings.NewReader(raw))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if raw != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}, err
}

// callCenter is a tenant configured through the API: queues, routes, skills and
// agents with mixed capacities, each agent with a key for their desktop.
type callCenter struct {
	s            *testStack
	adminKey     string
	crmKey       string // an integration's key: it reports inbound interactions
	tenant       string
	defaultQueue string
	queues       []string
	spanish      string
	agents       []*desktop
	pool         *pgxpool.Pool
	ps           *presence.Store
}

// desktop is one agent's simulated desktop.
type desktop struct {
	id, key  string
	capacity routing.Capacity
	queues   []string
	skills   []string
}

const (
	ccQueues = 5
	ccAgents = 50
	// ringTimeout is short so offers left ringing move on quickly.
	ringTimeout = 4 * time.Second
)

func newCallCenter(t *testing.T, s *testStack, adminKey string) *callCenter {
	cc := &callCenter{s: s, adminKey: adminKey, tenant: s.tenantOf(t, adminKey)}
	_, cc.crmKey = s.newUserKey(t, adminKey, "integration")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, fmt.Sprintf(`{"ringTimeoutSeconds":%d,"defaultCapacity":{"live_chat":2,"live_messaging":3}}`, int(ringTimeout.Seconds())), 200)
	// Ended interactions are disposed with the default code a second later.
	s.setWrapUpTimeout(t, adminKey, 1)
	cc.spanish = s.call(t, "POST", "/v1/skills", adminKey, `{"name":"Spanish"}`, 201)["id"].(string)
	qs := s.call(t, "GET", "/v1/queues", adminKey, nil, 200)["items"].([]any)
	cc.defaultQueue = qs[0].(map[string]any)["id"].(string)
	for k := range ccQueues {
		cc.queues = append(cc.queues, s.call(t, "POST", "/v1/queues", adminKey, map[string]any{"name": fmt.Sprintf("Q%d", k)}, 201)["id"].(string))
	}
	// A route per queue, on the tag q<k>; Q0 is urgent, Q1 high; Q4 needs Spanish.
	for k, q := range cc.queues {
		route := map[string]any{"name": fmt.Sprintf("to Q%d", k), "queueId": q,
			"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{fmt.Sprintf("q%d", k)}}}
		switch k {
		case 0:
			route["priority"] = "urgent"
		case 1:
			route["priority"] = "high"
		case 4:
			route["requiredSkills"] = []string{cc.spanish}
		}
		s.call(t, "POST", "/v1/routes", adminKey, route, 201)
	}
	// Fifty agents: each in one queue, every third in the next one too; mixed
	// chat and messaging capacities; every other one speaks Spanish.
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, ccAgents)
	for i := range ccAgents {
		wg.Go(func() {
			email := fmt.Sprintf("agent%02d-%s@load.test", i, randomName(""))
			r, err := s.try("POST", "/v1/users", adminKey, map[string]string{"email": email, "name": fmt.Sprintf("Agent %02d", i), "role": "agent"})
			if err != nil || r.status != 201 {
				errs <- fmt.Errorf("user %d: %v %d %s", i, err, r.status, r.body)
				return
			}
			var u struct{ ID string }
			_ = json.Unmarshal(r.body, &u)
			r, err = s.try("POST", "/v1/api-keys", adminKey, map[string]string{"userId": u.ID, "name": "desk"})
			if err != nil || r.status != 201 {
				errs <- fmt.Errorf("key %d: %v %d %s", i, err, r.status, r.body)
				return
			}
			var k struct{ Secret string }
			_ = json.Unmarshal(r.body, &k)
			d := &desktop{id: u.ID, key: k.Secret, queues: []string{cc.queues[i%ccQueues]}}
			if i%3 == 0 {
				d.queues = append(d.queues, cc.queues[(i+1)%ccQueues])
			}
			if i%2 == 0 {
				d.skills = []string{cc.spanish}
			}
			upd := map[string]any{"queueIds": d.queues, "skillIds": nonNil(d.skills),
				"capacity": map[string]int{"live_chat": i%3 + 1, "live_messaging": i%4 + 1}}
			r, err = s.try("PATCH", "/v1/agents/"+u.ID, adminKey, upd)
			if err != nil || r.status != 200 {
				errs <- fmt.Errorf("agent %d: %v %d %s", i, err, r.status, r.body)
				return
			}
			var a struct {
				EffectiveCapacity routing.Capacity `json:"effectiveCapacity"`
			}
			_ = json.Unmarshal(r.body, &a)
			d.capacity = a.EffectiveCapacity
			mu.Lock()
			cc.agents = append(cc.agents, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx := context.Background()
	var err error
	if cc.pool, err = pgxpool.New(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.pool.Close)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	t.Cleanup(func() { rdb.Close() })
	if cc.ps, err = presence.New(rdb, presence.Options{}); err != nil {
		t.Fatal(err)
	}
	return cc
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (cc *callCenter) newAuditor() *auditor {
	agents := map[string]auditedAgent{}
	for _, d := range cc.agents {
		agents[d.id] = auditedAgent{capacity: d.capacity, queues: d.queues, skills: d.skills}
	}
	return newAuditor(cc.ps, cc.pool, cc.tenant, cc.defaultQueue, ringTimeout+dispatch.ReservationMargin, agents)
}

// desks runs every agent's desktop until stopped: log in, heart-beat, look for
// offers, answer them — accept most, reject some, let some ring out, but always
// accept a second offer so nobody's interaction runs out of agents — and end
// accepted interactions after a short hold.
type desks struct {
	cc      *callCenter
	stopped atomic.Bool
	wg      sync.WaitGroup
	// counts of what the desktops did and were told.
	accepted, rejected, ignored, ended, refused, failed atomic.Int64
}

// choice is the desktop's decision for an offer, fixed by the interaction so that
// runs are comparable: 10% rejected, 10% left to ring out, on first offers only.
func choice(id string, attempt int) string {
	if attempt > 1 {
		return "accept"
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	switch h.Sum32() % 10 {
	case 0:
		return "reject"
	case 1:
		return "ignore"
	}
	return "accept"
}

func (cc *callCenter) startDesks(t *testing.T) *desks {
	ds := &desks{cc: cc}
	for _, d := range cc.agents {
		r := cc.s.do("POST", "/v1/agents/me/session", d.key, "")
		if r.status != 201 && r.status != 200 {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		ds.wg.Go(func() { ds.run(d) })
	}
	return ds
}

func (ds *desks) stop() {
	ds.stopped.Store(true)
	ds.wg.Wait()
}

func (ds *desks) run(d *desktop) {
	s := ds.cc.s
	seen := map[string]bool{}
	var holds sync.WaitGroup
	defer holds.Wait()
	holding := map[string]bool{}
	lastBeat, lastHeld := time.Now(), time.Now()
	for !ds.stopped.Load() {
		if time.Since(lastBeat) > 5*time.Second {
			if r, err := s.try("POST", "/v1/agents/me/heartbeat", d.key, nil); err == nil && r.status == 204 {
				lastBeat = time.Now()
			}
		}
		r, err := s.try("GET", "/v1/interactions?status=offered", d.key, nil)
		if err != nil || r.status != 200 {
			ds.failed.Add(1)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var page struct {
			Items []struct {
				ID     string `json:"id"`
				Offers int    `json:"offerCount"`
			} `json:"items"`
		}
		_ = json.Unmarshal(r.body, &page)
		// What the desktop holds without knowing (an accept whose answer was lost
		// while no worker ran) shows as connected: hold and end it too.
		if time.Since(lastHeld) > 2*time.Second {
			lastHeld = time.Now()
			if r, err := s.try("GET", "/v1/interactions?status=connected", d.key, nil); err == nil && r.status == 200 {
				var mine struct {
					Items []struct {
						ID string `json:"id"`
					} `json:"items"`
				}
				_ = json.Unmarshal(r.body, &mine)
				for _, it := range mine.Items {
					if !holding[it.ID] {
						holding[it.ID] = true
						holds.Go(func() { ds.hold(d, it.ID) })
					}
				}
			}
		}
		for _, it := range page.Items {
			key := fmt.Sprintf("%s/%d", it.ID, it.Offers)
			if seen[key] {
				continue
			}
			switch choice(it.ID, it.Offers) {
			case "ignore":
				seen[key] = true
				ds.ignored.Add(1)
			case "reject":
				r, err := s.try("POST", "/v1/interactions/"+it.ID+"/reject", d.key, `{"reason":"busy"}`)
				switch {
				case err == nil && r.status == 200:
					seen[key] = true
					ds.rejected.Add(1)
				case err == nil && r.status < 500:
					seen[key] = true
					ds.refused.Add(1)
				default:
					ds.failed.Add(1) // worker down: the next look tries again
				}
			default:
				r, err := s.try("POST", "/v1/interactions/"+it.ID+"/accept", d.key, nil)
				switch {
				case err == nil && r.status == 200:
					seen[key] = true
					ds.accepted.Add(1)
					holding[it.ID] = true
					holds.Go(func() { ds.hold(d, it.ID) })
				case err == nil && r.status < 500:
					seen[key] = true
					ds.refused.Add(1)
				default:
					ds.failed.Add(1)
				}
			}
		}
		time.Sleep(time.Duration(400+rand.IntN(200)) * time.Millisecond)
	}
}

// hold keeps the interaction a moment, then ends it (retrying while no worker
// answers).
func (ds *desks) hold(d *desktop, id string) {
	time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
	for {
		r, err := ds.cc.s.try("POST", "/v1/interactions/"+id+"/end", d.key, `{"reason":"done"}`)
		if err == nil && (r.status == 200 || r.status == 409) {
			ds.ended.Add(1)
			return
		}
		ds.failed.Add(1)
		time.Sleep(500 * time.Millisecond)
	}
}

// created is an interaction the test created, with the queue it should land in.
type created struct {
	id, queue string
}

// create reports n inbound interactions concurrently through the API, as the CRM,
// over voice, chat and WhatsApp, most tagged for one of the five queues, the rest
// for the Default queue.
func (cc *callCenter) create(t *testing.T, batch string, n int) []created {
	out := make([]created, n)
	var failed atomic.Int64
	parallel(n, 25, func(i int) {
		k := i % (ccQueues + 1)
		want := cc.defaultQueue
		var tags []string
		if k < ccQueues {
			want, tags = cc.queues[k], []string{fmt.Sprintf("q%d", k)}
		}
		channel := []string{"call", "web_chat", "whatsapp"}[i%3]
		body := map[string]any{"channel": channel, "from": fmt.Sprintf("+3851%06d", i), "to": "+38512345",
			"content": "hello", "tags": nonNil(tags), "requestId": batch + "-" + fmt.Sprint(i)}
		r, err := cc.s.try("POST", "/v1/interactions", cc.crmKey, body)
		if err != nil || r.status != 201 {
			failed.Add(1)
			t.Errorf("create %d: %v %d %s", i, err, r.status, r.body)
			return
		}
		var got struct {
			ID      string `json:"id"`
			QueueID string `json:"queueId"`
			Status  string `json:"status"`
		}
		_ = json.Unmarshal(r.body, &got)
		if got.QueueID != want || got.Status != "queued" {
			t.Errorf("interaction %d routed to %s (%s), want %s", i, got.QueueID, got.Status, want)
		}
		out[i] = created{id: got.ID, queue: want}
	})
	if failed.Load() > 0 {
		t.FailNow()
	}
	return out
}

// waitAllEnded waits until every interaction ended, and returns how long it took.
func (cc *callCenter) waitAllEnded(t *testing.T, ids []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var ended, queued, offered, connected int
		err := cc.pool.QueryRow(context.Background(), `
			SELECT count(*) FILTER (WHERE status IN ('ended', 'disposed')), count(*) FILTER (WHERE status = 'queued'),
			       count(*) FILTER (WHERE status = 'offered'), count(*) FILTER (WHERE status = 'connected')
			FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, cc.tenant, ids).Scan(&ended, &queued, &offered, &connected)
		if err != nil {
			t.Fatal(err)
		}
		if ended == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d ended; %d queued, %d offered, %d connected", limit, ended, len(ids), queued, offered, connected)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkSettled requires that nothing is left: no slot held or reserved, every
// interaction ended with an agent and disposed, and no interaction workflow of the
// tenant running.
func (cc *callCenter) checkSettled(t *testing.T, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if slots, err := cc.ps.Audit(ctx, cc.tenant); err != nil || len(slots) != 0 {
		t.Errorf("slots left after every interaction ended: %v, %v", slots, err)
	}
	// The workflows end once their wrap-up is disposed (a second after the end).
	c := cc.s.temporalClient()
	query := fmt.Sprintf("TenantId = %q AND WorkflowType = 'Interaction' AND ExecutionStatus = 'Running'", cc.tenant)
	for {
		res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: query})
		if err == nil && res.Count == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Errorf("interaction workflows still running: %v, %v", res, err)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	var bad int
	if err := cc.pool.QueryRow(ctx, `SELECT count(*) FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[])
		AND (status <> 'disposed' OR agent_id IS NULL OR connected_at IS NULL OR ended_at IS NULL OR disposed_at IS NULL)`, cc.tenant, ids).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("%d interactions not properly ended and disposed, %v", bad, err)
	}
}

func ids(cs []created) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// TestAssignmentUnderLoad drives automatic assignment end to end through the API on
// real PostgreSQL, Redis and Temporal: 50 agents across 5 queues with mixed
// capacities, 500 inbound interactions created concurrently, desktops that accept,
// reject or let offers ring out and end what they accepted, and an auditor checking
// the invariants throughout. Then again with the worker stopped and restarted in the
// middle: nothing lost, nothing stuck.
func TestAssignmentUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	s := newTestStack(t)
	// The load runs alone (not in parallel), with the pools of a small deployment.
	s.args = append(s.args, "--no-worker", "--database-url", s.dbURL+"&pool_max_conns=10", "--embedded-temporal-db-conns", "4")
	s.start()
	defer s.stop()
	wk := s.startWorker(t)
	defer func() { wk.stop(t) }()
	adminKey := keyPattern.FindString(s.out.String())
	cc := newCallCenter(t, s, adminKey)
	ds := cc.startDesks(t)
	defer ds.stop()

	const n = 500
	phase := func(t *testing.T, batch string, during func([]created, *auditor)) {
		au := cc.newAuditor()
		ctx, cancel := context.WithCancel(context.Background())
		var watching sync.WaitGroup
		watching.Go(func() { au.watch(ctx, 100*time.Millisecond) })
		began := time.Now()
		cs := cc.create(t, batch, n)
		t.Logf("%d interactions created in %v", n, time.Since(began).Round(time.Millisecond))
		if during != nil {
			during(cs, au)
		}
		cc.waitAllEnded(t, ids(cs), 3*time.Minute)
		t.Logf("all %d assigned and ended %v after the first was created", n, time.Since(began).Round(time.Millisecond))
		cancel()
		watching.Wait()
		au.report(t, 15*time.Second)
		offers := au.checkOffers(t, context.Background(), ids(cs))
		t.Logf("offer sequences: %v", offers)
		t.Logf("desktops so far: %d accepted, %d rejected, %d left ringing, %d ended, %d refused, %d failed requests",
			ds.accepted.Load(), ds.rejected.Load(), ds.ignored.Load(), ds.ended.Load(), ds.refused.Load(), ds.failed.Load())
		cc.checkSettled(t, ids(cs))
	}

	t.Run("steady", func(t *testing.T) {
		phase(t, "steady", nil)
		if *updateHistories {
			// A run that rang out on its first agent and went to the next.
			var id string
			if err := cc.pool.QueryRow(context.Background(), `
				SELECT interaction_id::text FROM interaction_offers WHERE tenant_id = $1 AND attempt = 1 AND outcome = 'timeout'
				ORDER BY offered_at LIMIT 1`, cc.tenant).Scan(&id); err != nil {
				t.Fatal(err)
			}
			recordHistory(t, s.temporalClient(), "interaction/"+id, "interaction_timeout_then_accept.json")
		}
		// A repeated requestId answers the first interaction, once.
		r := s.do("POST", "/v1/interactions", cc.crmKey, `{"channel":"call","from":"+385100000","requestId":"steady-7"}`)
		first := r.json(t)
		if r.status != 200 || first["status"] != "disposed" {
			t.Errorf("repeated requestId: %d %s", r.status, r.body)
		}
	})

	t.Run("worker restarted", func(t *testing.T) {
		phase(t, "restart", func(cs []created, au *auditor) {
			// Stop the worker once a third has ended, as a crash would, and start
			// another after a pause.
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				var ended int
				_ = cc.pool.QueryRow(context.Background(), `SELECT count(*) FROM interactions WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status = 'ended'`,
					cc.tenant, ids(cs)).Scan(&ended)
				if ended >= n/3 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			// Nothing is assigned while no worker runs: the stall check waits
			// until the new worker has caught up.
			au.paused.Store(true)
			t.Log("stopping the worker")
			wk.stop(t)
			time.Sleep(3 * time.Second)
			wk = s.startWorker(t)
			t.Log("worker started again")
			time.AfterFunc(15*time.Second, func() { au.paused.Store(false) })
		})
	})
	ds.stop()
	t.Logf("desktops: %d accepted, %d rejected, %d left ringing, %d ended, %d refused, %d failed requests",
		ds.accepted.Load(), ds.rejected.Load(), ds.ignored.Load(), ds.ended.Load(), ds.refused.Load(), ds.failed.Load())
	if ds.rejected.Load() == 0 || ds.ignored.Load() == 0 {
		t.Error("the desktops never rejected or let an offer ring out: the mix is not exercised")
	}
}

// waitFor polls GET path with key until match accepts the JSON answer.
func (s *testStack) waitFor(t *testing.T, path, key string, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.do("GET", path, key, "")
		if r.status == 200 {
			if v := r.json(t); match(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last answer %d %s", what, r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestInteractionsAPI drives the interaction API's rules on a running stack: bad
// input answered 4xx and never started, roles, only the offered agent answering an
// offer, bulk assignment when an agent becomes available, ending, tenant isolation,
// request IDs, and the run found in Temporal by its search attributes.
func TestInteractionsAPI(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", supKey, `{"ringTimeoutSeconds":30}`, 200)
	defaultQueue := s.call(t, "GET", "/v1/queues", supKey, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	c := s.temporalClient()

	t.Run("bad input changes nothing", func(t *testing.T) {
		cases := []struct {
			name, key, body string
			status          int
			code, field     string
		}{
			{"unknown channel", crmKey, `{"channel":"pigeon"}`, 422, "invalid_field", "channel"},
			{"no channel", crmKey, `{"from":"+385100"}`, 422, "invalid_field", "channel"},
			{"outbound without the customer", crmKey, `{"channel":"call","direction":"outbound"}`, 422, "invalid_field", "to"},
			{"unknown direction", crmKey, `{"channel":"call","direction":"sideways","to":"+38591"}`, 422, "invalid_field", "direction"},
			{"bad phone", crmKey, `{"channel":"call","customer":{"phone":"call me"}}`, 422, "invalid_field", "customer.phone"},
			{"empty tag", crmKey, `{"channel":"sms","tags":["vip",""]}`, 422, "invalid_field", "tags[1]"},
			{"bad attribute name", crmKey, `{"channel":"sms","customer":{"attributes":{"1st":"x"}}}`, 422, "invalid_field", "customer.attributes.1st"},
			{"unknown field", crmKey, `{"channel":"sms","mood":"angry"}`, 422, "invalid_field", "mood"},
			{"wrong type", crmKey, `{"channel":7}`, 400, "malformed_request", "channel"},
			{"not JSON", crmKey, `{"channel":`, 400, "malformed_request", ""},
			{"an agent creating", anaKey, `{"channel":"sms"}`, 403, "forbidden", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s.wantError(t, "POST", "/v1/interactions", c.key, c.body, c.status, c.code, c.field)
			})
		}
		if items := s.call(t, "GET", "/v1/interactions", supKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("refused requests created interactions: %v", items)
		}
		s.wantError(t, "GET", "/v1/interactions?status=lost", supKey, nil, 422, "invalid_field", "status")
		s.wantError(t, "GET", "/v1/interactions/not-an-id", supKey, nil, 404, "not_found", "")
		s.wantError(t, "POST", "/v1/interactions/00000000-0000-4000-8000-000000000000/end", supKey, nil, 404, "not_found", "")
	})

	var id string
	t.Run("offer, reject, bulk assignment, accept, end", func(t *testing.T) {
		s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
		s.call(t, "POST", "/v1/agents/me/session", boKey, `{"status":"lunch"}`, 201)
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"whatsapp","from":"+385 91 000 0001","content":"hello","customer":{"name":"Iva"}}`, 201)
		id = created["id"].(string)
		if created["status"] != "queued" || created["queueId"] != defaultQueue || created["channel"] != "live_messaging" ||
			created["source"] != "whatsapp" || created["customerPhone"] != "+385 91 000 0001" || created["workflowId"] != "interaction/"+id {
			t.Fatalf("created %v", created)
		}
		path := "/v1/interactions/" + id
		s.waitFor(t, path, anaKey, "offered to Ana", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == anaID })
		s.wantError(t, "GET", path, boKey, nil, 404, "not_found", "")
		s.wantError(t, "POST", path+"/accept", boKey, nil, 403, "not_your_offer", "")
		s.wantError(t, "POST", path+"/accept", supKey, nil, 403, "forbidden", "")
		s.wantError(t, "POST", path+"/end", anaKey, nil, 403, "not_your_interaction", "")
		s.wantError(t, "POST", path+"/reject", anaKey, `{"reason":"`+strings.Repeat("x", 501)+`"}`, 422, "invalid_field", "reason")
		if mine := s.call(t, "GET", "/v1/interactions?status=offered", anaKey, nil, 200)["items"].([]any); len(mine) != 1 {
			t.Errorf("Ana's offers %v", mine)
		}
		s.wantError(t, "GET", "/v1/interactions?agentId="+boID, anaKey, nil, 403, "forbidden", "")

		r := s.call(t, "POST", path+"/reject", anaKey, `{"reason":"not my language"}`, 200)
		if r["status"] != "queued" || len(r["excludedAgents"].([]any)) != 1 {
			t.Errorf("after the rejection %v", r)
		}
		// Nobody else is available: it waits. Bo coming back from lunch gets it.
		time.Sleep(500 * time.Millisecond)
		if v := s.call(t, "GET", path, supKey, nil, 200); v["status"] != "queued" {
			t.Errorf("with nobody available %v", v)
		}
		s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"available"}`, 200)
		s.waitFor(t, path, boKey, "offered to Bo", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == boID })
		s.wantError(t, "POST", path+"/accept", anaKey, nil, 403, "not_your_offer", "")
		acc := s.call(t, "POST", path+"/accept", boKey, nil, 200)
		if acc["status"] != "connected" || acc["agentId"] != boID {
			t.Errorf("accepted %v", acc)
		}
		s.call(t, "POST", path+"/accept", boKey, nil, 200) // a retried accept
		s.wantError(t, "POST", path+"/reject", boKey, nil, 409, "offer_not_open", "")
		s.wantError(t, "DELETE", "/v1/agents/me/session", boKey, nil, 409, "active_interactions", "")

		detail := s.waitFor(t, path, supKey, "connected in the read model", func(v map[string]any) bool { return v["status"] == "connected" })
		offers := detail["offers"].([]any)
		if len(offers) != 2 || offers[0].(map[string]any)["outcome"] != "rejected" || offers[0].(map[string]any)["reason"] != "not my language" ||
			offers[1].(map[string]any)["agentId"] != boID || offers[1].(map[string]any)["outcome"] != "accepted" {
			t.Errorf("offers %v", offers)
		}
		// An engineer finds the run by its search attributes. Status needs
		// backticks: the visibility query parser takes STATUS for a keyword.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		query := fmt.Sprintf("InteractionId = %q AND TenantId = %q AND AgentId = %q AND `Status` = 'connected' AND Channel = 'live_messaging'", id, tenant, boID)
		for {
			list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			if err == nil && len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowId == "interaction/"+id {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("run not found by %s: %v %v", query, list, err)
			}
			time.Sleep(200 * time.Millisecond)
		}

		ended := s.call(t, "POST", path+"/end", boKey, `{"reason":"solved"}`, 200)
		if ended["status"] != "ended" || ended["endReason"] != "solved" {
			t.Errorf("ended %v", ended)
		}
		s.wantError(t, "POST", path+"/end", supKey, nil, 409, "interaction_over", "")
		s.call(t, "DELETE", "/v1/agents/me/session", boKey, nil, 204)
		if *updateHistories {
			recordHistory(t, c, "interaction/"+id, "interaction_reject_then_accept.json")
		}
	})

	t.Run("abandoned while waiting", func(t *testing.T) {
		if r := s.do("POST", "/v1/agents/me/session", anaKey, `{"status":"busy"}`); r.status != 200 && r.status != 201 {
			t.Fatalf("login %d %s", r.status, r.body)
		}
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"call","from":"+385100200300"}`, 201)
		path := "/v1/interactions/" + created["id"].(string)
		s.waitFor(t, path, supKey, "queued in the read model", func(v map[string]any) bool {
			return v["version"] == 0.0 && v["offerCount"] == 0.0 && v["queuedAt"] != nil
		})
		time.Sleep(300 * time.Millisecond)
		r := s.call(t, "POST", path+"/end", crmKey, `{"reason":"caller hung up"}`, 200)
		if r["status"] != "abandoned" || r["agentId"] != nil {
			t.Errorf("abandoned %v", r)
		}
		if *updateHistories {
			recordHistory(t, c, created["workflowId"].(string), "interaction_abandoned.json")
		}
	})

	t.Run("request IDs and tenants", func(t *testing.T) {
		first := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"email","from":"iva@example.com","requestId":"crm-42"}`, 201)
		again := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"email","from":"iva@example.com","requestId":"crm-42"}`, 200)
		if again["id"] != first["id"] {
			t.Errorf("a repeated requestId made %v, first %v", again["id"], first["id"])
		}
		other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-ix", "name": "Other",
			"admin": map[string]string{"email": "boss@other-ix.test", "name": "Boss"}}, 201)
		otherKey := other["apiKey"].(map[string]any)["secret"].(string)
		s.tenantOf(t, otherKey)
		s.wantError(t, "GET", "/v1/interactions/"+id, otherKey, nil, 404, "not_found", "")
		s.wantError(t, "POST", "/v1/interactions/"+first["id"].(string)+"/end", otherKey, nil, 404, "not_found", "")
		if items := s.call(t, "GET", "/v1/interactions", otherKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("the other tenant lists %v", items)
		}
		// The same request ID in another tenant is another interaction.
		theirs := s.call(t, "POST", "/v1/interactions", otherKey, `{"channel":"email","from":"iva@example.com","requestId":"crm-42"}`, 201)
		if theirs["id"] == first["id"] {
			t.Error("two tenants' request IDs collided")
		}
		s.call(t, "POST", "/v1/interactions/"+first["id"].(string)+"/end", crmKey, nil, 200)
		s.call(t, "POST", "/v1/interactions/"+theirs["id"].(string)+"/end", otherKey, nil, 200)
	})
}

// setWrapUpTimeout sets the wrap-up timeout of the tenant's Default campaign, after
// which an ended interaction is disposed with the campaign's default code.
func (s *testStack) setWrapUpTimeout(t *testing.T, adminKey string, seconds int) {
	t.Helper()
	for _, c := range s.call(t, "GET", "/v1/campaigns", adminKey, nil, 200)["items"].([]any) {
		if c := c.(map[string]any); c["isDefault"] == true {
			s.call(t, "PATCH", "/v1/campaigns/"+c["id"].(string), adminKey, map[string]int{"wrapUpTimeoutSeconds": seconds}, 200)
			return
		}
	}
	t.Fatal("no Default campaign")
}
