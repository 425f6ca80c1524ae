package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/events"
)

// slaMetric reads one metric of GET /v1/interactions/{id}/sla.
func slaMetric(t *testing.T, v map[string]any, metric string) map[string]any {
	t.Helper()
	for _, m := range v["metrics"].([]any) {
		if m := m.(map[string]any); m["metric"] == metric {
			return m
		}
	}
	t.Fatalf("no %s clock in %v", metric, v)
	return nil
}

// listedIDs lists the interaction IDs of a page of GET /v1/sla/conversations.
func listedIDs(v map[string]any) []string {
	var out []string
	for _, it := range v["items"].([]any) {
		out = append(out, it.(map[string]any)["interactionId"].(string))
	}
	return out
}

// TestSLAEndToEnd runs SLA clocks on a running stack with second-scale targets (the
// API takes targets in seconds): an SMS conversation whose first reply does not come
// within 2 s breaches on the clock's own timer; the breach reaches the holding
// agent's stream and a CRM's webhook, shows in the conversation's SLA and in the
// supervisors' breached list. A conversation answered in time is only at risk of
// its resolution. A queue change to a queue whose policy allows five minutes withdraws
// the breach (event, record, list); an edit of a policy recalculates the open
// conversations under it; Solved pauses the clocks; working hours given to the queue
// (closed for a holiday) put them on hold until the opening; the close stops them.
func TestSLAEndToEnd(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.args = append(s.args, "--webhook-allow-private", "true")
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rdb.Del(ctx, events.DefaultPrefix+":{"+tenant+"}:events")
		if keys, err := rdb.Keys(ctx, channels.DefaultTestPrefix+":{"+tenant+"}:*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"sms","address":"+385 1 600 0002","kind":"test"}`, 201)
	vip := s.call(t, "POST", "/v1/queues", adminKey, map[string]any{"name": "VIP", "agentIds": []string{anaID}}, 201)["id"].(string)
	rcv := newWebhookReceiver(t)
	hook := s.call(t, "POST", "/v1/webhooks", adminKey, map[string]any{"url": rcv.URL + "/sla",
		"eventTypes": []string{events.SLABreached, events.SLABreachWithdrawn}}, 201)
	rcv.setSecret(hook["secret"].(string))

	// Bad targets name their field; a minute's target may be given in seconds.
	sev := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "Default", "default": true, "counting": "always"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	smsOnly := map[string]any{"attr": "channel", "op": "is", "value": "live_messaging"}
	s.wantError(t, "POST", "/v1/sla-policies", adminKey, map[string]any{"name": "Both", "condition": smsOnly,
		"severities": []any{sev(map[string]any{"firstResponseMinutes": 1, "firstResponseSeconds": 5})}}, 422, "invalid_field", "severities[0].firstResponseSeconds")
	s.call(t, "POST", "/v1/sla-policies", adminKey, map[string]any{"name": "VIP", "condition": smsOnly,
		"queues":     map[string]any{"mode": "applied", "queueIds": []string{vip}},
		"severities": []any{sev(map[string]any{"firstResponseSeconds": 300, "resolutionMinutes": 30, "counting": "workingHours"})}}, 201)
	general := s.call(t, "POST", "/v1/sla-policies", adminKey, map[string]any{"name": "General", "condition": smsOnly,
		"severities": []any{sev(map[string]any{"firstResponseSeconds": 2, "resolutionSeconds": 600})}}, 201)

	ana := s.follow(t, anaKey, "", "")
	sup := s.follow(t, supKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)
	// chat starts an SMS conversation that Ana takes, and the customer's first
	// message, which starts its clock.
	chat := func(from string) (string, time.Time) {
		t.Helper()
		id := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "sms", "from": from, "to": "+385 1 600 0002"}, 201)["id"].(string)
		s.waitFor(t, "/v1/interactions/"+id, anaKey, "offered to Ana", func(v map[string]any) bool {
			return v["status"] == "offered" && v["offeredAgentId"] == anaID
		})
		s.call(t, "POST", "/v1/interactions/"+id+"/accept", anaKey, nil, 200)
		wrote := time.Now()
		s.call(t, "POST", "/v1/interactions/"+id+"/inbound-messages", crmKey, `{"body":"Hello?"}`, 202)
		return id, wrote
	}

	// The first conversation is not answered: its first response breaches 2 s later.
	late, wrote := chat("+385 91 000 0001")
	es := ana.eventsUntil(t, late, events.SLABreached)
	seen := time.Now()
	var b struct {
		Metric        string    `json:"metric"`
		Cycle         int       `json:"cycle"`
		BreachedAt    time.Time `json:"breachedAt"`
		PolicyName    string    `json:"policyName"`
		AgentID       string    `json:"agentId"`
		TargetSeconds float64   `json:"targetSeconds"`
	}
	decodeInto(t, es[len(es)-1].event.Data, &b)
	if b.Metric != "firstResponse" || b.Cycle != 1 || b.PolicyName != "General" || b.AgentID != anaID || b.TargetSeconds != 2 {
		t.Fatalf("breach event %+v", b)
	}
	if b.BreachedAt.Before(wrote.Add(2*time.Second)) || b.BreachedAt.After(seen) {
		t.Errorf("breached at %v: the message was written at %v and the event seen at %v", b.BreachedAt, wrote, seen)
	}
	t.Logf("first response due 2 s after the customer's message: the agent's stream told of the breach %v after its due instant",
		seen.Sub(b.BreachedAt).Round(time.Millisecond))
	sup.eventsUntil(t, late, events.SLABreached)
	path := "/v1/interactions/" + late + "/sla"
	v := s.call(t, "GET", path, anaKey, nil, 200)
	first := slaMetric(t, v, "firstResponse")
	if v["policy"].(map[string]any)["name"] != "General" || first["breached"] != true || first["state"] != "running" ||
		first["remainingSeconds"].(float64) >= 0 || v["breaches"].(float64) != 1 || len(v["breachRecords"].([]any)) != 1 {
		t.Fatalf("breached conversation's SLA %v", v)
	}
	if res := slaMetric(t, v, "resolution"); res["state"] != "running" || res["remainingSeconds"].(float64) > 598 {
		t.Errorf("resolution %v", res)
	}
	if got := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=breached", supKey, nil, 200)); !slices.Equal(got, []string{late}) {
		t.Errorf("breached list %v", got)
	}
	s.wantError(t, "GET", "/v1/sla/conversations?state=at-risk", supKey, nil, 422, "invalid_field", "within")
	s.wantError(t, "GET", "/v1/sla/conversations?state=breached", anaKey, nil, 403, "forbidden", "")

	// The second is answered in time: nothing breaches; its resolution is at risk
	// within the hour.
	onTime, _ := chat("+385 91 000 0002")
	s.call(t, "POST", "/v1/interactions/"+onTime+"/messages", anaKey, `{"body":"Hi, how can I help?"}`, 200)
	v = s.waitFor(t, "/v1/interactions/"+onTime+"/sla", anaKey, "first response met", func(v map[string]any) bool {
		return slaMetric(t, v, "firstResponse")["state"] == "met"
	})
	if slaMetric(t, v, "firstResponse")["breached"] != false {
		t.Errorf("answered in time but breached: %v", v)
	}
	risky := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=at-risk&within=1h", supKey, nil, 200))
	if !slices.Contains(risky, onTime) {
		t.Errorf("at risk within an hour: %v", risky)
	}
	if got := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=at-risk&within=1s", supKey, nil, 200)); slices.Contains(got, onTime) {
		t.Errorf("at risk within a second: %v", got)
	}

	// Moved to VIP, whose policy allows five minutes: the breach is withdrawn.
	s.call(t, "POST", "/v1/interactions/"+late+"/queue", supKey, map[string]any{"queueId": vip}, 200)
	ana.eventsUntil(t, late, events.SLABreachWithdrawn)
	v = s.waitFor(t, path, supKey, "under the VIP policy", func(v map[string]any) bool {
		return v["policy"].(map[string]any)["name"] == "VIP"
	})
	recs := v["breachRecords"].([]any)
	if slaMetric(t, v, "firstResponse")["breached"] != false || v["breaches"].(float64) != 0 || len(recs) != 1 || recs[0].(map[string]any)["withdrawnAt"] == nil {
		t.Errorf("after the move: %v", v)
	}
	if got := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=breached", supKey, nil, 200)); len(got) != 0 {
		t.Errorf("breached after the move: %v", got)
	}

	// The General policy's resolution target drops to a second: the recalculation
	// breaches the conversation still under it, at once; the one in VIP keeps its own.
	s.call(t, "PATCH", "/v1/sla-policies/"+general["id"].(string), adminKey, map[string]any{"severities": []any{sev(map[string]any{
		"id": general["severities"].([]any)[0].(map[string]any)["id"], "firstResponseSeconds": 2, "resolutionSeconds": 1})}}, 200)
	es = sup.eventsUntil(t, onTime, events.SLABreached)
	decodeInto(t, es[len(es)-1].event.Data, &b)
	if b.Metric != "resolution" {
		t.Errorf("recalculated breach %+v", b)
	}
	if got := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=breached", supKey, nil, 200)); !slices.Equal(got, []string{onTime}) {
		t.Errorf("breached after the edit: %v", got)
	}

	// Solved pauses the clocks of the conversation in VIP; the close stops them and
	// it leaves the lists.
	s.call(t, "PUT", "/v1/interactions/"+late+"/conversation-status", anaKey, `{"status":"solved"}`, 200)
	v = s.waitFor(t, path, anaKey, "paused", func(v map[string]any) bool {
		return slaMetric(t, v, "firstResponse")["state"] == "paused"
	})
	paused := slaMetric(t, v, "firstResponse")["elapsedSeconds"].(float64)
	time.Sleep(time.Second)
	if again := slaMetric(t, s.call(t, "GET", path, anaKey, nil, 200), "firstResponse")["elapsedSeconds"].(float64); again != paused {
		t.Errorf("a paused clock counted on: %v then %v", paused, again)
	}
	// Reopened, it counts on; then VIP gets working hours closed for a holiday
	// around today: the VIP severity counts working hours only, so the clocks are
	// on hold again, due only after the holiday.
	s.call(t, "PUT", "/v1/interactions/"+late+"/conversation-status", anaKey, `{"status":"open"}`, 200)
	s.waitFor(t, path, anaKey, "running again", func(v map[string]any) bool {
		return slaMetric(t, v, "firstResponse")["state"] == "running"
	})
	allDay := map[string]any{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		allDay[d] = map[string]any{"enabled": true, "ranges": []map[string]string{{"from": "00:00", "to": "24:00"}}}
	}
	today := time.Now().UTC()
	period := s.call(t, "POST", "/v1/working-hours", adminKey, map[string]any{"name": "VIP hours", "timeZone": "UTC", "days": allDay,
		"holidays": []any{map[string]string{"name": "Closed", "startDate": today.AddDate(0, 0, -1).Format(time.DateOnly),
			"endDate": today.AddDate(0, 0, 1).Format(time.DateOnly)}}}, 201)["id"].(string)
	s.call(t, "PUT", "/v1/queues/"+vip+"/working-hours", adminKey, map[string]any{"workingHoursId": period}, 200)
	v = s.waitFor(t, path, anaKey, "on hold outside working hours", func(v map[string]any) bool {
		return slaMetric(t, v, "firstResponse")["state"] == "paused"
	})
	opens := time.Date(today.Year(), today.Month(), today.Day()+2, 0, 0, 0, 0, time.UTC)
	if due, err := time.Parse(time.RFC3339Nano, slaMetric(t, v, "firstResponse")["dueAt"].(string)); err != nil || due.Before(opens) || due.After(opens.Add(5*time.Minute)) {
		t.Errorf("due %v (%v), want within five minutes of the opening %v", due, err, opens)
	}
	s.call(t, "PUT", "/v1/interactions/"+onTime+"/conversation-status", anaKey, `{"status":"closed"}`, 200)
	v = s.waitFor(t, "/v1/interactions/"+onTime+"/sla", supKey, "stopped", func(v map[string]any) bool { return v["open"] == false })
	if slaMetric(t, v, "resolution")["state"] != "stopped" {
		t.Errorf("closed conversation's SLA %v", v)
	}
	if got := listedIDs(s.call(t, "GET", "/v1/sla/conversations?state=breached", supKey, nil, 200)); len(got) != 0 {
		t.Errorf("breached after the close: %v", got)
	}

	// The CRM got each breach and the withdrawal, signed, once each.
	got := rcv.waitForDeliveries(t, 3)
	var types []string
	for _, hits := range got {
		types = append(types, hits[len(hits)-1].eventType)
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{events.SLABreachWithdrawn, events.SLABreached, events.SLABreached}) {
		t.Errorf("webhook deliveries %v", types)
	}
}

func decodeInto(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}
