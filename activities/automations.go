package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/singleflight"

	"switchboard/automation"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// Automations run the tenants' automation rules on their conversations' events.
//
// Event triggers: every event an activity publishes (Activities.publish) goes
// through Dispatch. The tenant's enabled rules (read at most every
// automationRulesTTL per worker) are matched against the event; a change an
// automation made never triggers the rule that made it. When some rule matches and
// its conditions hold, Dispatch starts one AutomationRun workflow for the event
// (AutomationRunWorkflowID: the interaction and the event's key, so a retried
// activity starts it once) with the matching rules from the first whose conditions
// hold, in list order; the workflow runs every action of one rule before the next,
// evaluating each rule's conditions again just before it. Each action is an activity
// whose result is recorded once per run and position, so a worker killed between
// two actions loses nothing and repeats nothing that completed.
//
// Time triggers: the same events arm, re-arm or cancel (automation.TimerEffect) the
// durable timer of each enabled time-based rule on the conversation — one workflow
// per rule and conversation, AutomationTimerWorkflowID, signalled with start. When a
// period ends the timer runs the rule once for that arming.
//
// Loops: the rules a change triggers run one level deeper than the run that made
// it; at automation.MaxChainDepth the chain stops and the log says so.
type Automations struct {
	Store *pgstore.Store
	// Temporal starts and signals the automation workflows and updates
	// interactions; nil uses the client of the worker running the activity.
	Temporal client.Client
	// AllowPrivate lets Call API actions reach loopback and private addresses
	// (the webhooks' setting).
	AllowPrivate bool
	// SMTPTimeout bounds one e-mail's delivery to the tenant's SMTP server; 0
	// means 20 seconds.
	SMTPTimeout time.Duration
	// Presence tells the assigned agent's status; nil takes agents as offline.
	Presence *presence.Store

	mu      sync.Mutex
	tenants map[string]tenantAutomations
	reads   singleflight.Group

	httpOnce sync.Once
	http     *http.Client
}

// automationRulesTTL is how long a worker keeps a tenant's enabled rules and survey
// settings: a new, changed or disabled rule takes effect for events published after
// this time (a run reads its rule again before acting).
const automationRulesTTL = 2 * time.Second

type tenantAutomations struct {
	rules  []pgstore.Automation
	survey pgstore.SurveySettings
	at     time.Time
}

// Names shared by the dispatch, the workflows and the API.
const (
	// AutomationRunWorkflow, AutomationTimerWorkflow, SurveyWorkflow and
	// SurveyFeedbackWorkflow are the workflows' types (workflows.AutomationRun…).
	AutomationRunWorkflow   = "AutomationRun"
	AutomationTimerWorkflow = "AutomationTimer"
	SurveyWorkflow          = "Survey"
	SurveyFeedbackWorkflow  = "SurveyFeedback"
	// AutomationTimerSignal arms, re-arms or cancels a period (TimerSignal).
	AutomationTimerSignal = "automation-timer"
	// AutomationUpdate is the interaction workflow's update an automation's
	// actions change the conversation through (AutomationChange).
	AutomationUpdate = "automation"
	// automationTaskQueue is Switchboard's task queue (workflows.TaskQueue).
	automationTaskQueue = "switchboard"
)

// AutomationTimerWorkflowID names the durable timer of a rule's time-based
// triggers on one conversation.
func AutomationTimerWorkflowID(ruleID, interactionID string) string {
	return "automation/" + ruleID + "/" + interactionID
}

// AutomationRunWorkflowID names the run of the rules an event triggered.
func AutomationRunWorkflowID(interactionID, eventKey string) string {
	sum := sha256.Sum256([]byte(eventKey))
	return "automation-run/" + interactionID + "/" + hex.EncodeToString(sum[:12])
}

// SurveyWorkflowID names the survey sent after a conversation became solved.
func SurveyWorkflowID(interactionID string, version int64) string {
	return fmt.Sprintf("survey/%s/%d", interactionID, version)
}

// SurveyFeedbackWorkflowID names the run that tells the rules a survey was answered.
func SurveyFeedbackWorkflowID(surveyID string) string { return "survey-feedback/" + surveyID }

// AutomationRunInput starts the run of the rules an event triggered.
type AutomationRunInput struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// EventKey is the event's key; with a rule it makes each rule's run once.
	EventKey  string           `json:"eventKey"`
	EventType string           `json:"eventType"`
	Event     automation.Event `json:"event"`
	// RuleIDs are the rules to run, in list order.
	RuleIDs []string `json:"ruleIds"`
	// Depth is how deep in a chain of rules this run is.
	Depth int `json:"depth"`
	// Data are the event's own placeholder values (the message, the survey).
	Data map[string]string `json:"data,omitempty"`
}

// TimerSignal arms, re-arms or cancels the period of one time-based trigger.
type TimerSignal struct {
	Trigger string            `json:"trigger"`
	Effect  automation.Effect `json:"effect"`
	// At is the change's time; Due is when the period it arms ends.
	At  time.Time `json:"at"`
	Due time.Time `json:"due,omitempty"`
	// Version is the interaction's read-model version of the change: a signal
	// older than one already applied for the trigger is ignored.
	Version int64 `json:"version"`
	// Depth is the chain depth of the change (0 when a person or the channel made it).
	Depth int `json:"depth"`
}

// ArmedTrigger is a running period of a time-based trigger.
type ArmedTrigger struct {
	Trigger string    `json:"trigger"`
	ArmedAt time.Time `json:"armedAt"`
	Due     time.Time `json:"due"`
	// Version is the interaction's version of the change that armed it: with the
	// trigger it keys the run, so a period fires at most once.
	Version int64 `json:"version"`
	Depth   int   `json:"depth"`
}

// Key is the run key of the arming on the interaction.
func (a ArmedTrigger) Key(interactionID string) string {
	return fmt.Sprintf("timer/%s/%s/%d", interactionID, a.Trigger, a.Version)
}

// AutomationTimerInput starts (or continues) a rule's timer on a conversation.
type AutomationTimerInput struct {
	TenantID      string `json:"tenantId"`
	RuleID        string `json:"ruleId"`
	InteractionID string `json:"interactionId"`
	// Armed and Seen carry the state across continue-as-new.
	Armed []ArmedTrigger   `json:"armed,omitempty"`
	Seen  map[string]int64 `json:"seen,omitempty"`
}

// SurveyInput starts the survey of a solved conversation.
type SurveyInput struct {
	TenantID      string        `json:"tenantId"`
	InteractionID string        `json:"interactionId"`
	SendKey       string        `json:"sendKey"`
	Delay         time.Duration `json:"delay"`
}

// SurveyFeedbackInput starts the run that publishes a completed survey answer.
type SurveyFeedbackInput struct {
	TenantID string `json:"tenantId"`
	SurveyID string `json:"surveyId"`
}

var automationTenantKey = temporal.NewSearchAttributeKeyKeyword(WebhookTenantAttribute)
var automationInteractionKey = temporal.NewSearchAttributeKeyKeyword("InteractionId")

func (au *Automations) client(ctx context.Context) client.Client {
	if au.Temporal != nil {
		return au.Temporal
	}
	return activity.GetClient(ctx)
}

// searchAttributes are set at the start of every automation workflow, so an
// engineer finds a conversation's runs by InteractionId in the Temporal UI.
func automationAttributes(tenantID, interactionID string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(automationTenantKey.ValueSet(tenantID), automationInteractionKey.ValueSet(interactionID))
}

// StartAutomationRun starts the run of an event's rules; a run already started for
// the event is success.
func StartAutomationRun(ctx context.Context, c client.Client, in AutomationRunInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: AutomationRunWorkflowID(in.InteractionID, in.EventKey), TaskQueue: automationTaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true, EnableEagerStart: true,
		TypedSearchAttributes: automationAttributes(in.TenantID, in.InteractionID),
	}, AutomationRunWorkflow, in)
	if err != nil && !IsAlreadyStarted(err) {
		return fmt.Errorf("start automation run of %s: %w", in.EventKey, err)
	}
	return nil
}

// SignalAutomationTimer arms or re-arms a rule's period on a conversation (starting
// its timer workflow when none runs), or cancels it (nothing when none runs).
func SignalAutomationTimer(ctx context.Context, c client.Client, tenantID, ruleID, interactionID string, sig TimerSignal) error {
	id := AutomationTimerWorkflowID(ruleID, interactionID)
	if sig.Effect == automation.Cancel {
		err := c.SignalWorkflow(ctx, id, "", AutomationTimerSignal, sig)
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	_, err := c.SignalWithStartWorkflow(ctx, id, AutomationTimerSignal, sig, client.StartWorkflowOptions{
		ID: id, TaskQueue: automationTaskQueue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: automationAttributes(tenantID, interactionID),
	}, AutomationTimerWorkflow, AutomationTimerInput{TenantID: tenantID, RuleID: ruleID, InteractionID: interactionID})
	return err
}

// rulesOf answers the tenant's enabled rules and survey settings, read at most
// every automationRulesTTL; concurrent misses of one tenant share one read.
func (au *Automations) rulesOf(ctx context.Context, tenantID string) (tenantAutomations, error) {
	au.mu.Lock()
	t, ok := au.tenants[tenantID]
	au.mu.Unlock()
	if ok && time.Since(t.at) < automationRulesTTL {
		return t, nil
	}
	v, err, _ := au.reads.Do(tenantID, func() (any, error) {
		at := time.Now()
		on := true
		rules, err := au.Store.ListAutomations(context.WithoutCancel(ctx), tenantID, pgstore.AutomationFilter{Enabled: &on})
		if err != nil {
			return nil, err
		}
		survey, err := au.Store.GetSurveySettings(context.WithoutCancel(ctx), tenantID)
		if err != nil {
			return nil, err
		}
		t := tenantAutomations{rules: rules, survey: survey, at: at}
		au.mu.Lock()
		if au.tenants == nil || len(au.tenants) > 10000 {
			au.tenants = map[string]tenantAutomations{}
		}
		au.tenants[tenantID] = t
		au.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return tenantAutomations{}, fmt.Errorf("automations of tenant %s: %w", tenantID, err)
	}
	return v.(tenantAutomations), nil
}

// classified is an event as the automations see it.
type classified struct {
	// event is what event triggers match (Type "" when none does).
	event automation.Event
	// change is what time triggers see; modifies: the change counts as a
	// modification of the conversation.
	change   automation.Change
	modifies bool
	// messageID is the event's message, whose writer and sub-channel matter.
	messageID string
}

// conversationStatus is the rules' name of a conversation status.
func conversationStatus(s pgstore.ConversationStatus) string {
	switch s {
	case pgstore.ConversationSnoozed:
		return automation.StatusPending
	case "":
		return ""
	}
	return string(s)
}

func detailString(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

// classify maps a published event to what triggers see.
func classify(typ string, e InteractionEvent) classified {
	d := e.Detail
	c := classified{change: automation.Change{Kind: automation.ChangeOther, Status: conversationStatus(e.ConversationStatus)}}
	switch typ {
	case events.ConversationStatusChanged:
		from := conversationStatus(pgstore.ConversationStatus(detailString(d, "from")))
		to := conversationStatus(pgstore.ConversationStatus(detailString(d, "to")))
		c.event = automation.Event{Type: automation.TriggerStatusChanged, StatusFrom: from, StatusTo: to}
		c.change = automation.Change{Kind: automation.ChangeStatus, StatusFrom: from, StatusTo: to, Status: to}
		c.modifies = true
	case events.MessageReceived:
		c.event = automation.Event{Type: automation.TriggerMessageReceived}
		c.change.Kind, c.modifies, c.messageID = automation.ChangeCustomerMessage, true, detailString(d, "messageId")
	case events.MessageSent:
		c.modifies, c.messageID = true, detailString(d, "messageId")
		if k := detailString(d, "senderKind"); k == "" || k == string(pgstore.SenderAgent) {
			c.event = automation.Event{Type: automation.TriggerAgentMessageSent}
			c.change.Kind = automation.ChangeAgentMessage
		}
	case events.NoteAdded:
		c.event, c.modifies = automation.Event{Type: automation.TriggerNoteCreated}, true
	case events.InteractionQueueChanged:
		c.event, c.modifies = automation.Event{Type: automation.TriggerQueueChanged}, true
	case events.InteractionTransferred:
		c.modifies = true
		if k := detailString(d, "kind"); k == "queue" || k == "campaign" {
			c.event = automation.Event{Type: automation.TriggerQueueChanged}
		}
	case events.CustomerUnlinkedFromInteraction:
		c.event, c.modifies = automation.Event{Type: automation.TriggerCustomerChanged}, true
	case events.CustomerLinkedToInteraction:
		c.modifies = true
		if detailString(d, "previousCustomerId") != "" {
			c.event = automation.Event{Type: automation.TriggerCustomerChanged}
		}
	case events.SurveyFeedbackReceived:
		c.event = automation.Event{Type: automation.TriggerSurveyFeedback, Score: detailString(d, "score")}
	case events.InteractionEnded:
		c.change = automation.Change{Kind: automation.ChangeEnded}
		c.modifies = true
	case events.ConversationTagsChanged:
		c.event, c.modifies = automation.Event{Type: automation.TriggerTagChanged}, true
	case events.ConversationFormChanged:
		c.event, c.modifies = automation.Event{Type: automation.TriggerFormChanged}, true
	case events.FormFieldUpdated:
		c.event, c.modifies = automation.Event{Type: automation.TriggerFormFieldUpdated}, true
	case events.InteractionHeld, events.InteractionResumed, events.InteractionConferred, events.ParticipantLeft,
		events.InteractionPriorityChanged, events.ConversationSubjectChanged, events.InteractionUnassigned:
		c.modifies = true
	}
	return c
}

// Dispatch runs the rules an event triggers and arms, re-arms or cancels the
// periods it affects (see Automations). A nil Automations does nothing.
func (au *Automations) Dispatch(ctx context.Context, ev events.Event, e InteractionEvent) error {
	if au == nil || e.InteractionID == "" {
		return nil
	}
	t, err := au.rulesOf(ctx, ev.TenantID)
	if err != nil {
		return err
	}
	if len(t.rules) == 0 && !t.survey.Enabled {
		return nil
	}
	c := classify(ev.Type, e)
	cause := e.Automation
	depth := 0
	if cause != nil {
		depth = cause.Depth + 1
	}
	var candidates []pgstore.Automation
	var timed []pgstore.Automation
	for _, r := range t.rules {
		if cause != nil && r.ID == cause.RuleID {
			continue // a rule's own change never triggers it again
		}
		if c.event.Type != "" && slices.ContainsFunc(r.Triggers, func(tr automation.Trigger) bool { return tr.Type == c.event.Type }) {
			candidates = append(candidates, r)
		}
		if c.modifies && r.HasTimeTrigger() {
			timed = append(timed, r)
		}
	}
	survey := t.survey.Enabled && c.event.Type == automation.TriggerStatusChanged && c.event.StatusTo == automation.StatusSolved
	var matching []pgstore.Automation
	var needs automation.Needs
	for _, r := range candidates {
		if r.Matches(c.event) {
			matching = append(matching, r)
			needs.Add(automation.NeedsOf(r.Conditions))
		}
	}
	// A message matters to the periods that count who wrote last, to the rules
	// watching for a change of channel, and to the rules it triggers.
	messageMatters := len(matching) > 0
	for _, r := range t.rules {
		for _, tr := range r.Triggers {
			switch tr.Type {
			case automation.TriggerCustomerNotReplied, automation.TriggerAgentNotReplied, automation.TriggerChannelChanged:
				messageMatters = true
			}
		}
	}
	if len(matching) == 0 && len(timed) == 0 && !survey && (c.messageID == "" || !messageMatters) {
		return nil
	}
	opts := pgstore.ContextOptions{Activity: needs.Activity, Customer: needs.Customer, Forms: needs.Forms}
	if messageMatters {
		opts.MessageID = c.messageID
	}
	cc, err := au.Store.ConversationContext(ctx, ev.TenantID, e.InteractionID, opts)
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil // not written yet: nothing about it to automate
	}
	if err != nil {
		return err
	}
	if cc.Interaction.Channel == routing.Voice {
		return nil // automations run on chat channels
	}
	if cc.Message != nil {
		c.change.Previous = cc.PreviousWriter
		if c.event.Type == automation.TriggerAgentMessageSent || c.event.Type == automation.TriggerMessageReceived {
			if ch := automation.ChannelOf(cc.MessageSubChannel); ch != "" && len(cc.PreviousSubChannels) > 0 && !slices.ContainsFunc(cc.PreviousSubChannels,
				func(s string) bool { return automation.ChannelOf(s) == ch }) {
				// The first message over another channel: a channel change too.
				if err := au.dispatchChannelChange(ctx, ev, cc, ch, depth, t.rules, cause); err != nil {
					return err
				}
			}
		}
	}
	c.change.Status = conversationStatus(cc.Interaction.ConversationStatus)
	if c.change.Kind == automation.ChangeStatus {
		c.change.Status = c.change.StatusTo
	}
	cl := au.client(ctx)
	if survey && cc.Interaction.Status.Active() {
		if err := au.startSurvey(ctx, cl, ev.TenantID, cc.Interaction.ID, e.Version, time.Duration(t.survey.DelaySeconds)*time.Second); err != nil {
			return err
		}
	}
	if err := au.armTimers(ctx, cl, ev, e, c, depth, timed); err != nil {
		return err
	}
	if len(matching) == 0 {
		return nil
	}
	return au.startRun(ctx, cl, ev, cc, c.event, matching, needs, depth, eventData(cc, e))
}

// eventData are the event's own placeholder values.
func eventData(cc pgstore.ConversationContext, e InteractionEvent) map[string]string {
	data := map[string]string{}
	if m := cc.Message; m != nil {
		data[automation.PlaceholderMessageContent] = m.Body
		data[automation.PlaceholderMessageFrom] = m.SenderID
	}
	if s := detailString(e.Detail, "score"); s != "" {
		data[automation.PlaceholderSurveyScore] = s
		data[automation.PlaceholderSurveyComment] = detailString(e.Detail, "comment")
	}
	return data
}

// startRun starts the run of the rules that match. It begins with the first whose
// conditions hold now: those before it would act on a conversation nothing changes
// before their turn. After it come the rules whose conditions hold, and those whose
// conditions look at what the actions of a rule before them may change (a tag it
// applies, the status it sets): the run evaluates each again at its turn. Too deep a
// chain is logged as stopped instead.
func (au *Automations) startRun(ctx context.Context, cl client.Client, ev events.Event, cc pgstore.ConversationContext,
	event automation.Event, matching []pgstore.Automation, needs automation.Needs, depth int, data map[string]string) error {
	if len(matching) == 0 || !automatable(cc.Interaction) {
		return nil
	}
	if depth > automation.MaxChainDepth {
		for _, r := range matching {
			if _, _, err := au.Store.BeginAutomationRun(ctx, pgstore.NewAutomationRun{TenantID: ev.TenantID, RuleID: r.ID, InteractionID: cc.Interaction.ID,
				Key: "event/" + ev.Key, Trigger: event.Type, Event: eventLog(ev, event), Depth: depth, Status: pgstore.RunLoopStopped,
				Detail: fmt.Sprintf("stopped: %d rules in a row triggered one another on this conversation (at most %d)", depth, automation.MaxChainDepth)}); err != nil && !errors.Is(err, pgstore.ErrNotFound) {
				return err
			}
		}
		return nil
	}
	facts, err := au.facts(ctx, cc, needs)
	if err != nil {
		return err
	}
	var ids, affected []string
	for _, r := range matching {
		holds, _ := automation.Evaluate(r.Conditions, facts)
		if !holds && (len(ids) == 0 || !automation.Uses(r.Conditions, affected)) {
			continue
		}
		ids = append(ids, r.ID)
		for _, a := range r.Actions {
			affected = append(affected, a.Affects()...)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return StartAutomationRun(ctx, cl, AutomationRunInput{TenantID: ev.TenantID, InteractionID: cc.Interaction.ID, EventKey: ev.Key,
		EventType: ev.Type, Event: event, RuleIDs: ids, Depth: depth, Data: data})
}

// dispatchChannelChange runs the rules a message over a new channel triggers.
func (au *Automations) dispatchChannelChange(ctx context.Context, ev events.Event, cc pgstore.ConversationContext, to string, depth int,
	rules []pgstore.Automation, cause *automation.Cause) error {
	from := ""
	for _, s := range cc.PreviousSubChannels {
		if ch := automation.ChannelOf(s); ch != "" {
			from = ch
		}
	}
	event := automation.Event{Type: automation.TriggerChannelChanged, ChannelFrom: from, ChannelTo: to}
	var matching []pgstore.Automation
	var needs automation.Needs
	for _, r := range rules {
		if (cause == nil || r.ID != cause.RuleID) && r.Matches(event) {
			matching = append(matching, r)
			needs.Add(automation.NeedsOf(r.Conditions))
		}
	}
	if len(matching) == 0 {
		return nil
	}
	full, err := au.Store.ConversationContext(ctx, ev.TenantID, cc.Interaction.ID, pgstore.ContextOptions{MessageID: cc.Message.ID,
		Activity: needs.Activity, Customer: needs.Customer, Forms: needs.Forms})
	if err != nil {
		return err
	}
	sub := ev
	sub.Key = ev.Key + "/channelChanged"
	return au.startRun(ctx, au.client(ctx), sub, full, event, matching, needs, depth, nil)
}

// automatable: rules run on conversations that are not over.
func automatable(ix pgstore.Interaction) bool {
	return ix.Status.Active() && ix.Channel != routing.Voice
}

func eventLog(ev events.Event, event automation.Event) map[string]any {
	out := map[string]any{"type": ev.Type, "key": ev.Key, "at": ev.At}
	if event.StatusTo != "" {
		out["statusFrom"], out["statusTo"] = event.StatusFrom, event.StatusTo
	}
	if event.ChannelTo != "" {
		out["channelFrom"], out["channelTo"] = event.ChannelFrom, event.ChannelTo
	}
	if event.Score != "" {
		out["score"] = event.Score
	}
	return out
}

// armTimers sends each time-based rule the effect of the change on its periods.
func (au *Automations) armTimers(ctx context.Context, cl client.Client, ev events.Event, e InteractionEvent, c classified, depth int,
	timed []pgstore.Automation) error {
	for _, r := range timed {
		for _, tr := range r.Triggers {
			if !automation.IsTimeTrigger(tr.Type) {
				continue
			}
			effect := automation.TimerEffect(tr.Type, c.change)
			if effect == automation.None {
				continue
			}
			sig := TimerSignal{Trigger: tr.Type, Effect: effect, At: ev.At, Version: e.Version, Depth: depth}
			if effect != automation.Cancel {
				sig.Due = automation.Due(ev.At, *tr.After)
			}
			if err := SignalAutomationTimer(ctx, cl, ev.TenantID, r.ID, e.InteractionID, sig); err != nil {
				return fmt.Errorf("automation %s on %s: %w", r.ID, e.InteractionID, err)
			}
		}
	}
	return nil
}

func (au *Automations) startSurvey(ctx context.Context, cl client.Client, tenantID, interactionID string, version int64, delay time.Duration) error {
	_, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: SurveyWorkflowID(interactionID, version), TaskQueue: automationTaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    automationAttributes(tenantID, interactionID),
	}, SurveyWorkflow, SurveyInput{TenantID: tenantID, InteractionID: interactionID, SendKey: fmt.Sprintf("solved/%s/%d", interactionID, version), Delay: delay})
	if err != nil && !IsAlreadyStarted(err) {
		return fmt.Errorf("start survey of %s: %w", interactionID, err)
	}
	return nil
}
