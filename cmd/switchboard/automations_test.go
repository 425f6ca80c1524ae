package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"switchboard/channels"
)

// csatReceiver is the local receiver of the Call API action: it records every call.
type csatReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
	keys  []string
	body  []string
}

func newCSATReceiver(t *testing.T) *csatReceiver {
	r := &csatReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.paths = append(r.paths, req.URL.Path)
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		r.body = append(r.body, string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// callsFor answers the calls made about one conversation (its short ID in the path).
func (r *csatReceiver) callsFor(shortID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, p := range r.paths {
		if p == "/csat/"+shortID {
			out = append(out, r.body[i])
		}
	}
	return out
}

// historyOf lists a run's history events, for a failure's message.
func historyOf(t *testing.T, s *testStack, workflowID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := s.temporalClient().GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return b.String() + err.Error()
		}
		fmt.Fprintf(&b, "%s %s\n", ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventType())
	}
	return b.String()
}

// TestAutomationsEndToEnd runs the automations on a running stack: an admin creates
// "solved for 10 s → send survey" and "survey not happy → Call API to a local
// receiver and tag"; a conversation is solved; the survey goes out, the customer's
// answer arrives, the receiver gets exactly one call, the tag is applied, and each
// rule's log shows every step. Then again with the worker stopped, as a crash would,
// while the period runs and again between the survey and its answer: nothing is lost
// and nothing done twice. Bad rules get the documented 4xx; two rules triggering each
// other stop at the chain cap, recorded as such.
func TestAutomationsEndToEnd(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.args = append(s.args, "--no-worker")
	s.start()
	defer s.stop()
	wk := s.startWorker(t, "--webhook-allow-private", "true")
	defer func() { wk.stop(t) }()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	sender := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-site","kind":"test"}`, 201)["id"].(string)
	s.call(t, "POST", "/v1/tags", adminKey, `{"name":"unhappy"}`, 201)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	defer rdb.Close()
	testChannel := channels.NewTestAdapter(rdb, channels.DefaultTestPrefix)
	rcv := newCSATReceiver(t)
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	t.Run("bad rules get the documented error", func(t *testing.T) {
		rule := func(triggers, actions string) string {
			return `{"name":"Bad","triggers":` + triggers + `,"actions":` + actions + `}`
		}
		note := `[{"type":"noteCreated"}]`
		for _, c := range []struct {
			name, body, field string
		}{
			{"close not last", rule(note, `[{"type":"closeConversation"},{"type":"sendSurvey"}]`), "actions[0].type"},
			{"91-day timer", rule(`[{"type":"solvedFor","after":{"days":91}}]`, `[{"type":"sendSurvey"}]`), "triggers[0].after"},
			{"5-second timer", rule(`[{"type":"solvedFor","after":{"seconds":5}}]`, `[{"type":"sendSurvey"}]`), "triggers[0].after"},
			{"unknown field", `{"name":"Bad","triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendSurvey"}],"colour":"red"}`, "colour"},
			{"unknown attribute", `{"name":"Bad","triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"shoeSize","operator":"is","values":["9"]}]}],"actions":[{"type":"sendSurvey"}]}`,
				"conditions[0].anyOf[0].attribute"},
		} {
			s.wantError(t, "POST", "/v1/automations", adminKey, c.body, 422, "invalid_field", c.field)
		}
		if items := s.call(t, "GET", "/v1/automations", adminKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("refused rules were kept: %v", items)
		}
	})

	csatField := s.call(t, "POST", "/v1/forms/fields", adminKey, `{"name":"CSAT","type":"text"}`, 201)["id"].(string)
	survey := s.call(t, "POST", "/v1/automations", adminKey, `{"name":"Survey after solved",
		"triggers":[{"type":"solvedFor","after":{"seconds":10}}],"actions":[{"type":"sendSurvey"}]}`, 201)["id"].(string)
	unhappy := s.call(t, "POST", "/v1/automations", adminKey, map[string]any{"name": "Unhappy customers",
		"triggers": []any{map[string]any{"type": "surveyFeedbackReceived", "scores": []string{"notHappy"}}},
		"actions": []any{
			map[string]any{"type": "callApi", "request": map[string]any{"method": "POST", "url": rcv.srv.URL + "/csat/{{conversation.shortId}}", "contentType": "json",
				"body": `{"conversation":"{{conversation.id}}","score":"{{survey.score}}","customer":"{{customer.contact}}"}`}},
			map[string]any{"type": "applyTags", "tags": []string{"unhappy"}},
			map[string]any{"type": "populateFormFields", "fields": []any{map[string]any{"fieldId": csatField, "value": "{{survey.score}} (#{{conversation.shortId}})"}}}}}, 201)["id"].(string)

	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)
	// chat creates a web chat from the visitor and has Ana accept it.
	chat := func(from string) (id, short string) {
		t.Helper()
		id = s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "web_chat", "from": from, "to": "acme-site", "content": "Hello"}, 201)["id"].(string)
		s.waitFor(t, "/v1/interactions/"+id, anaKey, "offered to Ana", func(v map[string]any) bool {
			return v["status"] == "offered" && v["offeredAgentId"] == anaID
		})
		s.call(t, "POST", "/v1/interactions/"+id+"/accept", anaKey, nil, 200)
		var shortID int64
		if err := pool.QueryRow(context.Background(), `SELECT short_id FROM interactions WHERE id = $1`, id).Scan(&shortID); err != nil {
			t.Fatal(err)
		}
		return id, fmt.Sprint(shortID)
	}
	// surveyOf waits for the conversation's survey to go out.
	surveyOf := func(id string, within time.Duration) map[string]any {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			items := s.call(t, "GET", "/v1/interactions/"+id+"/surveys", adminKey, nil, 200)["items"].([]any)
			if len(items) > 0 && items[0].(map[string]any)["status"] == "sent" {
				return items[0].(map[string]any)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no survey sent for %s: %v\n%s", id, items, historyOf(t, s, "automation/"+survey+"/"+id))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// settled waits for the receiver's call and the tag, then checks nothing more comes.
	settled := func(id, short string) {
		t.Helper()
		s.waitFor(t, "/v1/interactions/"+id, adminKey, "tagged unhappy", func(v map[string]any) bool {
			tags, _ := v["tags"].([]any)
			return slices.Contains(tags, any("unhappy"))
		})
		time.Sleep(2 * time.Second)
		calls := rcv.callsFor(short)
		if len(calls) != 1 || !strings.Contains(calls[0], `"conversation":"`+id+`"`) || !strings.Contains(calls[0], `"score":"notHappy"`) {
			t.Errorf("receiver calls about %s: %v", id, calls)
		}
	}
	// runsOf answers a rule's log on the conversation.
	runsOf := func(rule, id string) []any {
		return s.call(t, "GET", "/v1/automations/"+rule+"/runs?interactionId="+id, adminKey, nil, 200)["items"].([]any)
	}
	checkLog := func(id string) {
		t.Helper()
		runs := runsOf(survey, id)
		if len(runs) != 1 {
			t.Fatalf("survey rule log: %v", runs)
		}
		r := runs[0].(map[string]any)
		acts := r["actions"].([]any)
		if r["status"] != "completed" || r["trigger"] != "solvedFor" || len(acts) != 1 || acts[0].(map[string]any)["status"] != "done" ||
			acts[0].(map[string]any)["type"] != "sendSurvey" {
			t.Errorf("survey run %v", r)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			runs = runsOf(unhappy, id)
			if len(runs) == 1 && runs[0].(map[string]any)["status"] == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unhappy rule log: %v", runs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		r = runs[0].(map[string]any)
		acts = r["actions"].([]any)
		if r["trigger"] != "surveyFeedbackReceived" || len(acts) != 3 {
			t.Fatalf("unhappy run %v", r)
		}
		call, tag, field := acts[0].(map[string]any), acts[1].(map[string]any), acts[2].(map[string]any)
		if call["type"] != "callApi" || call["status"] != "done" || call["detail"].(map[string]any)["statusCode"] != float64(202) ||
			tag["type"] != "applyTags" || tag["status"] != "done" || field["type"] != "populateFormFields" || field["status"] != "done" {
			t.Errorf("unhappy actions %v", acts)
		}
		form := s.call(t, "GET", "/v1/interactions/"+id+"/form", adminKey, nil, 200)
		found := false
		for _, v := range form["values"].([]any) {
			v := v.(map[string]any)
			found = found || (v["fieldId"] == csatField && strings.HasPrefix(fmt.Sprint(v["value"]), "notHappy (#"))
		}
		if !found {
			t.Errorf("form values %v", form["values"])
		}
	}

	t.Run("solved, surveyed, answered, called once and tagged", func(t *testing.T) {
		id, short := chat("visitor-1")
		s.call(t, "PUT", "/v1/interactions/"+id+"/conversation-status", anaKey, `{"status":"solved"}`, 200)
		solved := time.Now()
		sv := surveyOf(id, 40*time.Second)
		sentAt, _ := time.Parse(time.RFC3339Nano, sv["sentAt"].(string))
		if d := sentAt.Sub(solved); d < 10*time.Second-time.Second || d > 25*time.Second {
			t.Errorf("survey went out %v after the solve, want about 10 s", d)
		}
		t.Logf("survey sent %v after the solve", sentAt.Sub(solved).Round(time.Millisecond))
		sent, err := testChannel.Sent(context.Background(), tenant, sender)
		if err != nil || !slices.ContainsFunc(sent, func(m channels.SentMessage) bool {
			return m.To == "visitor-1" && strings.HasPrefix(m.Body, "How did we do?")
		}) {
			t.Errorf("survey message over the chat: %v %v", sent, err)
		}
		// The timer is findable in the Temporal UI by the conversation.
		c := s.temporalClient()
		list, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default",
			Query: fmt.Sprintf("InteractionId = %q AND WorkflowType = 'AutomationTimer'", id)})
		if err != nil || len(list.Executions) != 1 || list.Executions[0].Execution.WorkflowId != "automation/"+survey+"/"+id {
			t.Errorf("timer by InteractionId: %v %v", list, err)
		}
		answered := s.call(t, "POST", "/v1/surveys/"+sv["id"].(string)+"/answer", crmKey, `{"score":"notHappy"}`, 200)
		if answered["score"] != "notHappy" || answered["completedAt"] == nil {
			t.Errorf("answer %v", answered)
		}
		settled(id, short)
		checkLog(id)
		// The same answer again is harmless: no second call.
		s.call(t, "POST", "/v1/surveys/"+sv["id"].(string)+"/answer", crmKey, `{"score":"notHappy"}`, 200)
		time.Sleep(time.Second)
		if n := len(rcv.callsFor(short)); n != 1 {
			t.Errorf("%d calls after the answer was repeated", n)
		}
		report := s.call(t, "GET", "/v1/surveys/report", adminKey, nil, 200)
		if tot := report["totals"].(map[string]any); tot["sent"] != float64(1) || tot["notHappy"] != float64(1) || tot["csat"] != float64(0) {
			t.Errorf("report totals %v", tot)
		}
	})

	t.Run("the worker stopped while the period runs and before the answer", func(t *testing.T) {
		id, short := chat("visitor-2")
		s.call(t, "PUT", "/v1/interactions/"+id+"/conversation-status", anaKey, `{"status":"solved"}`, 200)
		solved := time.Now()
		wk.stop(t)
		t.Log("worker stopped with the period running")
		time.Sleep(12 * time.Second)
		if items := s.call(t, "GET", "/v1/interactions/"+id+"/surveys", adminKey, nil, 200)["items"].([]any); len(items) != 0 {
			t.Fatalf("a survey went out with no worker: %v", items)
		}
		wk = s.startWorker(t, "--webhook-allow-private", "true")
		sv := surveyOf(id, 40*time.Second)
		t.Logf("survey sent %v after the solve (the worker was down at its time)", time.Since(solved).Round(time.Millisecond))
		wk.stop(t)
		t.Log("worker stopped between the survey and its answer")
		s.call(t, "POST", "/v1/surveys/"+sv["id"].(string)+"/answer", crmKey, `{"score":"notHappy"}`, 200)
		time.Sleep(2 * time.Second)
		if n := len(rcv.callsFor(short)); n != 0 {
			t.Fatalf("%d calls with no worker", n)
		}
		wk = s.startWorker(t, "--webhook-allow-private", "true")
		settled(id, short)
		checkLog(id)
	})

	t.Run("two rules triggering each other stop at the chain cap", func(t *testing.T) {
		s.call(t, "POST", "/v1/tags", adminKey, `{"name":"ping"}`, 201)
		s.call(t, "POST", "/v1/tags", adminKey, `{"name":"start"}`, 201)
		add := s.call(t, "POST", "/v1/automations", adminKey, `{"name":"Add ping","triggers":[{"type":"tagChanged"}],
			"conditions":[{"anyOf":[{"attribute":"tag","operator":"isNotInList","values":["ping"]}]}],
			"actions":[{"type":"applyTags","tags":["ping"]}]}`, 201)["id"].(string)
		remove := s.call(t, "POST", "/v1/automations", adminKey, `{"name":"Remove ping","triggers":[{"type":"tagChanged"}],
			"conditions":[{"anyOf":[{"attribute":"tag","operator":"isInList","values":["ping"]}]}],
			"actions":[{"type":"removeTags","tags":["ping"]}]}`, 201)["id"].(string)
		id, _ := chat("visitor-3")
		s.call(t, "POST", "/v1/interactions/"+id+"/tags", anaKey, `{"add":["start"]}`, 200)
		deadline := time.Now().Add(60 * time.Second)
		for {
			var stopped []any
			for _, r := range append(runsOf(add, id), runsOf(remove, id)...) {
				if r.(map[string]any)["status"] == "loopStopped" {
					stopped = append(stopped, r)
				}
			}
			if len(stopped) > 0 {
				r := stopped[0].(map[string]any)
				if r["depth"].(float64) <= 10 || !strings.Contains(r["detail"].(string), "in a row") {
					t.Errorf("stopped run %v", r)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no chain was stopped: %d and %d runs", len(runsOf(add, id)), len(runsOf(remove, id)))
			}
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		before := len(runsOf(add, id)) + len(runsOf(remove, id))
		time.Sleep(2 * time.Second)
		if after := len(runsOf(add, id)) + len(runsOf(remove, id)); after != before || after > 40 {
			t.Errorf("runs went on after the cap: %d then %d", before, after)
		}
		s.call(t, "POST", "/v1/automations/"+add+"/disable", adminKey, nil, 200)
		s.call(t, "POST", "/v1/automations/"+remove+"/disable", adminKey, nil, 200)
	})
}
