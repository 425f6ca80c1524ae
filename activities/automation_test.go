package activities_test

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/automation"
	"switchboard/channels"
	"switchboard/pgstore"
	"switchboard/routing"
)

// automationFixture is a tenant with an open web chat of a known customer, and the
// activities to run automations on it.
type automationFixture struct {
	a        *activities.Activities
	tenantID string
	agentID  string
	chat     pgstore.Interaction
	customer pgstore.Customer
	// rule is the rule of the last run begun.
	rule string
}

func newAutomationFixture(t *testing.T) *automationFixture {
	t.Helper()
	ctx := testContext(t)
	f := &automationFixture{a: newActivities(t, time.Minute)}
	f.a.Automations = &activities.Automations{Store: store, AllowPrivate: true, Presence: f.a.Presence}
	f.tenantID, f.agentID = newAgent(t)
	c, err := store.CreateCustomer(ctx, f.tenantID, pgstore.Actor{}, pgstore.NewCustomer{Name: "Ana Horvat", Emails: []string{"ana@customer.test"},
		Attributes: map[string]string{"plan": "gold", "country": "HR", "company": "Acme", "bio": strings.Repeat("x", 990)}})
	if err != nil {
		t.Fatal(err)
	}
	f.customer = c
	now := time.Now().UTC()
	q, err := store.DefaultQueueID(ctx, f.tenantID)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	chat := pgstore.Interaction{ID: id, TenantID: f.tenantID, WorkflowID: "interaction/" + id, Channel: routing.LiveChat, Source: "web_chat",
		Direction: pgstore.Inbound, From: "visitor-7", To: "acme-site", Customer: "visitor-7", QueueID: q,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: now, Version: 1}, CreatedAt: now}
	if _, err := store.EnqueueInteraction(ctx, chat); err != nil {
		t.Fatal(err)
	}
	st := chat.InteractionState
	st.ConversationStatus, st.CustomerID, st.Version = pgstore.ConversationOpen, c.ID, 2
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: f.tenantID, InteractionID: chat.ID, State: st}); err != nil {
		t.Fatal(err)
	}
	f.chat, err = store.GetInteraction(ctx, f.tenantID, chat.ID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run creates a rule with the actions and begins its run on the chat.
func (f *automationFixture) run(t *testing.T, actions ...automation.Action) activities.RuleRunPlan {
	t.Helper()
	r, err := store.CreateAutomation(testContext(t), f.tenantID, pgstore.Actor{}, pgstore.NewAutomation{Name: "R " + uuid.NewString()[:8],
		Triggers: []automation.Trigger{{Type: automation.TriggerSurveyFeedback, Scores: []string{"happy", "notHappy"}}}, Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	f.rule = r.ID
	plan, err := f.a.BeginAutomationRun(testContext(t), activities.RuleRunRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, RuleID: r.ID,
		Key: "event/" + uuid.NewString(), Trigger: automation.TriggerSurveyFeedback})
	if err != nil || !plan.Proceed {
		t.Fatalf("begin: %+v %v", plan, err)
	}
	return plan
}

func (f *automationFixture) act(t *testing.T, plan activities.RuleRunPlan, i int, data map[string]string) (activities.ActionOutcome, error) {
	t.Helper()
	return f.a.RunAutomationAction(testContext(t), activities.ActionRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, RuleID: f.rule,
		RunID: plan.RunID, Position: i, Action: plan.Actions[i], Data: data})
}

// apiReceiver is a local Call API receiver recording every request.
type apiReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	body []string
	code int
}

func newAPIReceiver(t *testing.T) *apiReceiver {
	r := &apiReceiver{code: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, req)
		r.body = append(r.body, string(b))
		w.WriteHeader(r.code)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestCallAPIAction(t *testing.T) {
	t.Parallel()
	f := newAutomationFixture(t)
	rcv := newAPIReceiver(t)
	req := func(method, ct, body string, fields ...automation.Header) automation.Action {
		return automation.Action{Type: automation.ActionCallAPI, Request: &automation.Request{Method: method, URL: rcv.srv.URL + "/hook/{{conversation.shortId}}?plan={{customer.attributes.plan}}",
			ContentType: ct, Headers: []automation.Header{{Name: "Authorization", Value: "Bearer t0k"}, {Name: "X-Customer", Value: "{{customer.name}}"}},
			Body: body, Fields: fields}}
	}
	plan := f.run(t,
		req("POST", "json", `{"id":"{{conversation.id}}","name":"{{customer.name}}","score":"{{survey.score}}"}`),
		req("PUT", "urlencoded", "", automation.Header{Name: "who", Value: "{{customer.name}}"}, automation.Header{Name: "plan", Value: "{{customer.attributes.plan}}"}),
		req("PATCH", "formData", "", automation.Header{Name: "country", Value: "{{customer.country}}"}),
		req("POST", "xml", "<c>{{customer.name}}</c>"),
		req("DELETE", "json", ""),
	)
	for i := range plan.Actions {
		out, err := f.act(t, plan, i, map[string]string{automation.PlaceholderSurveyScore: "notHappy"})
		if err != nil || out.Status != pgstore.ActionDone || out.Detail["statusCode"] != float64(200) {
			t.Fatalf("action %d: %+v %v", i, out, err)
		}
	}
	// Done once: running an action again answers its result and sends nothing.
	if out, err := f.act(t, plan, 0, nil); err != nil || out.Status != pgstore.ActionDone {
		t.Fatalf("again: %+v %v", out, err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 5 {
		t.Fatalf("%d requests, want 5", len(rcv.got))
	}
	cc, _ := store.ConversationContext(testContext(t), f.tenantID, f.chat.ID, pgstore.FullContext())
	for i, r := range rcv.got {
		if r.URL.Path != "/hook/"+itoa(cc.ShortID) || r.URL.Query().Get("plan") != "gold" || r.Header.Get("Authorization") != "Bearer t0k" ||
			r.Header.Get("X-Customer") != "Ana Horvat" || r.Header.Get("Idempotency-Key") != plan.RunID+"/"+itoa(int64(i)) {
			t.Errorf("request %d: %s %s %v", i, r.Method, r.URL, r.Header)
		}
	}
	if rcv.body[0] != `{"id":"`+f.chat.ID+`","name":"Ana Horvat","score":"notHappy"}` || rcv.got[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("json body %q", rcv.body[0])
	}
	if rcv.body[1] != "plan=gold&who=Ana+Horvat" || rcv.got[1].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("urlencoded body %q", rcv.body[1])
	}
	_, params, _ := mime.ParseMediaType(rcv.got[2].Header.Get("Content-Type"))
	part, err := multipart.NewReader(strings.NewReader(rcv.body[2]), params["boundary"]).NextPart()
	if err != nil || part.FormName() != "country" {
		t.Errorf("form data %q: %v", rcv.body[2], err)
	} else if v, _ := io.ReadAll(part); string(v) != "HR" {
		t.Errorf("form value %q", v)
	}
	if rcv.body[3] != "<c>Ana Horvat</c>" || rcv.got[3].Header.Get("Content-Type") != "application/xml" {
		t.Errorf("xml body %q", rcv.body[3])
	}
	if rcv.got[4].Method != "DELETE" || rcv.body[4] != "" {
		t.Errorf("delete %s %q", rcv.got[4].Method, rcv.body[4])
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCallAPIActionFailures(t *testing.T) {
	t.Parallel()
	f := newAutomationFixture(t)
	rcv := newAPIReceiver(t)
	call := automation.Action{Type: automation.ActionCallAPI, Request: &automation.Request{Method: "POST", URL: rcv.srv.URL + "/x", ContentType: "text", Body: "hi"}}

	rcv.code = http.StatusNotFound
	plan := f.run(t, call, call)
	out, err := f.act(t, plan, 0, nil)
	if err != nil || out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "404") {
		t.Errorf("404: %+v %v", out, err)
	}
	// A 503 is retried: an error the workflow's retry policy sees, nothing recorded.
	rcv.code = http.StatusServiceUnavailable
	_, err = f.act(t, plan, 1, nil)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeActionRetry || app.NonRetryable() {
		t.Errorf("503: %v", err)
	}
	if _, ok, _ := store.AutomationAction(testContext(t), plan.RunID, 1); ok {
		t.Error("a retried attempt was recorded")
	}
	// Its retries spent, the failure is recorded once.
	if out, err := f.a.FailAutomationAction(testContext(t), activities.ActionFailure{RunID: plan.RunID, Position: 1, Type: "callApi", Error: app.Message()}); err != nil ||
		out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "503") {
		t.Errorf("fail: %+v %v", out, err)
	}

	// Private addresses are refused unless the installation allows them.
	f.a.Automations = &activities.Automations{Store: store}
	plan = f.run(t, call)
	out, err = f.act(t, plan, 0, nil)
	if err != nil || out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE") {
		t.Errorf("private address: %+v %v", out, err)
	}
}

func TestEmailActions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newAutomationFixture(t)
	sink := newSMTPSink(t)
	for _, m := range []struct {
		kind pgstore.SenderKind
		body string
	}{{pgstore.SenderCustomer, "My order is late"}, {pgstore.SenderAgent, "Looking into it"}} {
		dir, sender := pgstore.Inbound, "visitor-7"
		if m.kind == pgstore.SenderAgent {
			dir, sender = pgstore.Outbound, f.agentID
		}
		if _, err := store.AppendMessage(ctx, pgstore.NewMessage{TenantID: f.tenantID, InteractionID: f.chat.ID, ID: uuid.NewString(), Direction: dir,
			SenderKind: m.kind, SenderID: sender, Body: m.body}); err != nil {
			t.Fatal(err)
		}
	}
	actions := []automation.Action{
		{Type: automation.ActionEmailExternal, To: []string{"boss@acme.test", "team@acme.test"}, Subject: "Unhappy {{customer.name}}", Content: "Plan: {{customer.attributes.plan}} – café"},
		{Type: automation.ActionNotifyByEmail, To: []string{"ops@acme.test"}, Subject: "Conversation #{{conversation.shortId}}"},
		{Type: automation.ActionEmailTranscript, Subject: "Your conversation"},
		{Type: automation.ActionEmailCustomer, Subject: "Hi", Content: "Hello"},
	}
	// No SMTP settings: the e-mail is not sent, and the log says why.
	plan := f.run(t, actions[0])
	if out, err := f.act(t, plan, 0, nil); err != nil || out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "SMTP settings") {
		t.Errorf("without settings: %+v %v", out, err)
	}
	if _, err := store.PutSMTPSettings(ctx, f.tenantID, pgstore.Actor{}, pgstore.SMTPSettings{Host: "127.0.0.1", Port: sink.port(), Security: "none",
		FromAddress: "no-reply@acme.test", FromName: "Acme Support"}); err != nil {
		t.Fatal(err)
	}
	plan = f.run(t, actions...)
	want := []string{pgstore.ActionDone, pgstore.ActionDone, pgstore.ActionDone, pgstore.ActionFailed}
	for i := range actions {
		out, err := f.act(t, plan, i, nil)
		if err != nil || out.Status != want[i] {
			t.Errorf("action %d (%s): %+v %v", i, actions[i].Type, out, err)
		}
	}
	mail := sink.received()
	if len(mail) != 3 {
		t.Fatalf("%d e-mails: %+v", len(mail), mail)
	}
	if mail[0].From != "no-reply@acme.test" || strings.Join(mail[0].To, ",") != "boss@acme.test,team@acme.test" ||
		!strings.Contains(mail[0].Data, "Subject: Unhappy Ana Horvat") || !strings.Contains(mail[0].Data, "Plan: gold =E2=80=93 caf=C3=A9") ||
		!strings.Contains(mail[0].Data, `From: "Acme Support" <no-reply@acme.test>`) || !strings.Contains(mail[0].Data, "Message-ID: <automation."+plan.RunID+".0@acme.test>") {
		t.Errorf("external e-mail %+v", mail[0])
	}
	if mail[1].To[0] != "ops@acme.test" || !strings.Contains(mail[1].Data, "Customer: Ana Horvat") || !strings.Contains(mail[1].Data, f.chat.ID) {
		t.Errorf("notification %+v", mail[1])
	}
	if mail[2].To[0] != "ana@customer.test" || !strings.Contains(mail[2].Data, "You: My order is late") || !strings.Contains(mail[2].Data, "Agent: Looking into it") {
		t.Errorf("transcript %+v", mail[2])
	}

	// A recipient refused for good fails the action; a server that is down is retried.
	sink.mu.Lock()
	sink.rejectRcpt = "ghost@acme.test"
	sink.mu.Unlock()
	plan = f.run(t, automation.Action{Type: automation.ActionEmailExternal, To: []string{"ghost@acme.test"}, Subject: "s", Content: "c"})
	if out, err := f.act(t, plan, 0, nil); err != nil || out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "550") {
		t.Errorf("refused recipient: %+v %v", out, err)
	}
	sink.l.Close()
	plan = f.run(t, automation.Action{Type: automation.ActionNotifyByEmail, To: []string{"ops@acme.test"}, Subject: "s"})
	var app *temporal.ApplicationError
	if _, err := f.act(t, plan, 0, nil); !errors.As(err, &app) || app.Type() != activities.ErrTypeActionRetry {
		t.Errorf("server down: %v", err)
	}
}

// A message longer than the channel takes once its placeholders are resolved is not
// sent, and the failure is recorded.
func TestSendMessageOverTheLimit(t *testing.T) {
	t.Parallel()
	f := newAutomationFixture(t)
	plan := f.run(t, automation.Action{Type: automation.ActionSendMessage, Message: "Dear {{customer.name}}: {{customer.attributes.bio}}"})
	out, err := f.act(t, plan, 0, nil)
	if err != nil || out.Status != pgstore.ActionFailed || !strings.Contains(out.Error, "1007 characters") || out.Detail["limit"] != float64(1000) {
		t.Errorf("over the limit: %+v %v", out, err)
	}
	msgs, _ := store.Messages(testContext(t), f.tenantID, f.chat.ID, 0, 10)
	if len(msgs) != 0 {
		t.Errorf("sent %d messages", len(msgs))
	}
}

func TestBeginAutomationRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newAutomationFixture(t)
	if _, err := store.CreateTag(ctx, f.tenantID, pgstore.Actor{}, pgstore.NewTag{Name: "VIP"}); err != nil {
		t.Fatal(err)
	}
	rule := func(enabled bool, conds ...automation.ConditionGroup) pgstore.Automation {
		r, err := store.CreateAutomation(ctx, f.tenantID, pgstore.Actor{}, pgstore.NewAutomation{Name: "B " + uuid.NewString()[:8], Enabled: &enabled,
			Triggers:   []automation.Trigger{{Type: automation.TriggerNoteCreated}, {Type: automation.TriggerSolvedFor, After: &automation.Duration{Minutes: 1}}},
			Conditions: conds, Actions: []automation.Action{{Type: automation.ActionSendSurvey}}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	begin := func(r pgstore.Automation, trigger string, timer bool) activities.RuleRunPlan {
		t.Helper()
		p, err := f.a.BeginAutomationRun(ctx, activities.RuleRunRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, RuleID: r.ID,
			Key: "k/" + trigger, Trigger: trigger, TimeTrigger: timer})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	g := func(c ...automation.Condition) automation.ConditionGroup { return automation.ConditionGroup{AnyOf: c} }
	c := func(attr, op string, v ...string) automation.Condition {
		return automation.Condition{Attribute: attr, Operator: op, Values: v}
	}

	match := rule(true, g(c("personCountry", "isInList", "HR")), g(c("company", "isInList", "acme"), c("tag", "isInList", "vip")),
		g(c("channel", "is", "chat")), g(c("agent", "is", "unassigned")), g(c("status", "isInList", "open")))
	p := begin(match, automation.TriggerNoteCreated, false)
	if !p.Proceed || len(p.Actions) != 1 || p.RunID == "" {
		t.Fatalf("matching rule: %+v", p)
	}
	if again := begin(match, automation.TriggerNoteCreated, false); again.RunID != p.RunID || !again.Proceed {
		t.Errorf("second begin: %+v", again)
	}
	miss := rule(true, g(c("personCountry", "isInList", "HR")), g(c("direction", "is", "outbound")))
	if p := begin(miss, automation.TriggerNoteCreated, false); p.Proceed || p.Status != pgstore.RunConditionsNotMet || !strings.Contains(p.Detail, "group 2 (direction)") {
		t.Errorf("conditions not met: %+v", p)
	}
	off := rule(false)
	if p := begin(off, automation.TriggerNoteCreated, false); p.Proceed || p.Status != pgstore.RunSkipped {
		t.Errorf("disabled: %+v", p)
	}
	// A period's end checks the trigger still applies: the chat is open, not solved.
	if p := begin(rule(true), automation.TriggerSolvedFor, true); p.Proceed || p.Status != pgstore.RunSkipped || !strings.Contains(p.Detail, "changed") {
		t.Errorf("stale period: %+v", p)
	}
	if p := begin(rule(true), automation.TriggerTagChanged, false); p.Proceed || !strings.Contains(p.Detail, "no longer has") {
		t.Errorf("unknown trigger: %+v", p)
	}
	runs, err := store.ListAutomationRuns(ctx, f.tenantID, miss.ID, pgstore.AutomationRunFilter{})
	if err != nil || len(runs) != 1 || runs[0].Status != pgstore.RunConditionsNotMet || runs[0].FinishedAt == nil {
		t.Errorf("log of the rule that did not match: %+v %v", runs, err)
	}
	// A closed conversation runs no rules.
	st := f.chat.InteractionState
	st.ConversationStatus, st.Version = pgstore.ConversationSolved, 3
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: f.tenantID, InteractionID: f.chat.ID, State: st}); err != nil {
		t.Fatal(err)
	}
	if p := begin(rule(true), automation.TriggerSolvedFor, true); !p.Proceed {
		t.Errorf("solved for: %+v", p)
	}
	at := time.Now()
	st.Status, st.EndedAt, st.Outcome, st.ConversationStatus, st.Version = pgstore.InteractionAbandoned, &at, pgstore.OutcomeAbandoned, pgstore.ConversationClosed, 4
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: f.tenantID, InteractionID: f.chat.ID, State: st}); err != nil {
		t.Fatal(err)
	}
	if p := begin(rule(true), automation.TriggerNoteCreated, false); p.Proceed || !strings.Contains(p.Detail, "closed") {
		t.Errorf("closed: %+v", p)
	}
}

func TestSendSurvey(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newAutomationFixture(t)
	ta := channels.NewTestAdapter(rdb, "switchboard_test_"+uuid.NewString()[:8])
	f.a.Channels = channels.NewRegistry(channels.Options{Test: ta, Timeout: 2 * time.Second})
	sender, err := store.CreateSender(ctx, f.tenantID, pgstore.Actor{}, pgstore.NewChannelSender{SubChannel: "web_chat", Address: "acme-site", Kind: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutSurveySettings(ctx, f.tenantID, pgstore.Actor{}, pgstore.SurveySettings{Question: "Happy?", FollowUpQuestion: "Why?",
		DelaySeconds: 1, MinIntervalSeconds: 3600, LinkBaseURL: "https://acme.test/survey"}); err != nil {
		t.Fatal(err)
	}
	// After a solve, an open conversation (reopened meanwhile) gets none.
	res, err := f.a.SendSurvey(ctx, activities.SurveyRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, SendKey: "solved/2", AfterSolve: true})
	if err != nil || res.Status != activities.SurveySkipped {
		t.Errorf("reopened: %+v %v", res, err)
	}
	res, err = f.a.SendSurvey(ctx, activities.SurveyRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, SendKey: "automation/x/0"})
	if err != nil || res.Status != pgstore.SurveySent {
		t.Fatalf("send: %+v %v", res, err)
	}
	again, err := f.a.SendSurvey(ctx, activities.SurveyRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, SendKey: "automation/x/0"})
	if err != nil || again.SurveyID != res.SurveyID || again.Status != pgstore.SurveySent {
		t.Errorf("repeated send: %+v %v", again, err)
	}
	sent, err := ta.Sent(ctx, f.tenantID, sender.ID)
	if err != nil || len(sent) != 1 {
		t.Fatalf("sent %d messages: %v", len(sent), err)
	}
	sv, _ := store.GetSurvey(ctx, f.tenantID, res.SurveyID)
	if body := sent[0].Body; !strings.HasPrefix(body, "Happy?\n\nWhy?\n\nhttps://acme.test/survey?token=") || !strings.Contains(body, sv.Token) || sent[0].To != "visitor-7" {
		t.Errorf("survey message %+v", sent[0])
	}
	if sv.CustomerKey != f.customer.ID || sv.Channel != "web_chat" || sv.Status != pgstore.SurveySent || sv.MessageID == "" {
		t.Errorf("survey %+v", sv)
	}
	// Another within the interval is skipped.
	res, err = f.a.SendSurvey(ctx, activities.SurveyRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, SendKey: "automation/y/0"})
	if err != nil || res.Status != activities.SurveySkipped || !strings.Contains(res.Reason, "too recently") {
		t.Errorf("within the interval: %+v %v", res, err)
	}
	// A sender that refuses marks the survey failed (not counted against the interval).
	if _, err := store.UpdateSender(ctx, f.tenantID, pgstore.Actor{}, sender.ID, pgstore.ChannelSenderUpdate{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutSurveySettings(ctx, f.tenantID, pgstore.Actor{}, pgstore.SurveySettings{Question: "Happy?", MinIntervalSeconds: 0}); err != nil {
		t.Fatal(err)
	}
	res, err = f.a.SendSurvey(ctx, activities.SurveyRequest{TenantID: f.tenantID, InteractionID: f.chat.ID, SendKey: "automation/z/0"})
	if err != nil || res.Status != pgstore.SurveyFailed || !strings.Contains(res.Reason, "disabled") {
		t.Errorf("refused: %+v %v", res, err)
	}
}

func ptr[T any](v T) *T { return &v }
