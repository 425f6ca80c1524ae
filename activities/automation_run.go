package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/automation"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Error types of the automation activities.
const (
	// ErrTypeActionFailed: the action cannot be done and trying again will not
	// help; the run records it as failed and goes on with the next action.
	ErrTypeActionFailed = "AutomationActionFailed"
	// ErrTypeActionRetry: the action could not be done now (a server that did not
	// answer, a 5xx); it is retried a few times before it is recorded as failed.
	ErrTypeActionRetry = "AutomationActionRetry"
)

// RuleRunRequest begins one rule's run on a conversation.
type RuleRunRequest struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	RuleID        string `json:"ruleId"`
	// Key makes the run happen once per rule.
	Key     string         `json:"key"`
	Trigger string         `json:"trigger"`
	Event   map[string]any `json:"event,omitempty"`
	Depth   int            `json:"depth"`
	// TimeTrigger: a period ended; its trigger must still apply to the
	// conversation as it is now.
	TimeTrigger bool `json:"timeTrigger,omitempty"`
}

// RuleRunPlan is what a run does: its actions, unless it stopped.
type RuleRunPlan struct {
	RunID string `json:"runId,omitempty"`
	// Proceed: run the actions not done yet.
	Proceed bool                `json:"proceed"`
	Actions []automation.Action `json:"actions,omitempty"`
	// Done are the positions of actions already recorded (a resumed run).
	Done []int `json:"done,omitempty"`
	// Status and Detail say why a run that does not proceed stopped.
	Status string `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// BeginAutomationRun starts a rule's run: it reads the rule and the conversation as
// they are now, checks the rule still applies (enabled, still with that trigger, a
// conversation that is open, waiting or solved, the period's trigger still due) and
// its conditions, and records the run — once per rule and key, so a second begin
// answers the first run and the actions it recorded.
func (a *Activities) BeginAutomationRun(ctx context.Context, in RuleRunRequest) (RuleRunPlan, error) {
	au := a.Automations
	if au == nil {
		return RuleRunPlan{}, temporal.NewNonRetryableApplicationError("this worker runs no automations", ErrTypeActionFailed, nil)
	}
	rule, err := a.Store.GetAutomation(ctx, in.TenantID, in.RuleID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return RuleRunPlan{Status: pgstore.RunSkipped, Detail: "the automation was deleted"}, nil
	}
	if err != nil {
		return RuleRunPlan{}, err
	}
	status, detail := pgstore.RunRunning, ""
	needs := automation.NeedsOf(rule.Conditions)
	cc, err := a.Store.ConversationContext(ctx, in.TenantID, in.InteractionID, pgstore.ContextOptions{
		Activity: needs.Activity || in.TimeTrigger, Customer: needs.Customer, Forms: needs.Forms})
	if errors.Is(err, pgstore.ErrNotFound) {
		return RuleRunPlan{Status: pgstore.RunSkipped, Detail: "the conversation is gone"}, nil
	}
	if err != nil {
		return RuleRunPlan{}, err
	}
	conv := conversationStatus(cc.Interaction.ConversationStatus)
	switch {
	case !rule.Enabled:
		status, detail = pgstore.RunSkipped, "the automation was disabled"
	case !slices.ContainsFunc(rule.Triggers, func(t automation.Trigger) bool { return t.Type == in.Trigger }):
		status, detail = pgstore.RunSkipped, "the automation no longer has the "+in.Trigger+" trigger"
	case !automatable(cc.Interaction) || (conv != automation.StatusOpen && conv != automation.StatusWaiting && conv != automation.StatusSolved):
		status, detail = pgstore.RunSkipped, fmt.Sprintf("automations run on open, waiting and solved conversations; this one is %s", orWord(conv, string(cc.Interaction.Status)))
	case in.TimeTrigger && !automation.StillDue(in.Trigger, conv, cc.LastWriter):
		status, detail = pgstore.RunSkipped, "the conversation changed before the period ended"
	default:
		facts, err := au.facts(ctx, cc, needs)
		if err != nil {
			return RuleRunPlan{}, err
		}
		if ok, unmet := automation.Evaluate(rule.Conditions, facts); !ok {
			status, detail = pgstore.RunConditionsNotMet, fmt.Sprintf("condition group %d (%s) does not hold", unmet.Group+1, strings.Join(unmet.Attributes, " or "))
		}
	}
	run, _, err := a.Store.BeginAutomationRun(ctx, pgstore.NewAutomationRun{TenantID: in.TenantID, RuleID: in.RuleID, InteractionID: in.InteractionID,
		Key: in.Key, Trigger: in.Trigger, Event: in.Event, Depth: in.Depth, Status: status, Detail: detail})
	if errors.Is(err, pgstore.ErrNotFound) {
		return RuleRunPlan{Status: pgstore.RunSkipped, Detail: "the automation was deleted"}, nil
	}
	if err != nil {
		return RuleRunPlan{}, err
	}
	plan := RuleRunPlan{RunID: run.ID, Proceed: run.Status == pgstore.RunRunning, Status: run.Status, Detail: run.Detail}
	if plan.Proceed {
		plan.Actions = rule.Actions
		for _, r := range run.Actions {
			plan.Done = append(plan.Done, r.Position)
		}
	}
	return plan, nil
}

func orWord(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// FinishRunRequest ends a run.
type FinishRunRequest struct {
	TenantID string `json:"tenantId"`
	RunID    string `json:"runId"`
	Status   string `json:"status"`
}

// FinishAutomationRun records the end of a run whose actions are over.
func (a *Activities) FinishAutomationRun(ctx context.Context, in FinishRunRequest) error {
	return a.Store.FinishAutomationRun(ctx, in.TenantID, in.RunID, in.Status, "")
}

// ActionRequest runs one action of a run.
type ActionRequest struct {
	TenantID      string            `json:"tenantId"`
	InteractionID string            `json:"interactionId"`
	RuleID        string            `json:"ruleId"`
	RunID         string            `json:"runId"`
	Position      int               `json:"position"`
	Action        automation.Action `json:"action"`
	Depth         int               `json:"depth"`
	// Data are the event's own placeholder values.
	Data map[string]string `json:"data,omitempty"`
}

// key identifies the action of the run: the idempotency key of what it does.
func (in ActionRequest) key() string { return fmt.Sprintf("%s/%d", in.RunID, in.Position) }

// ActionOutcome is what an action did.
type ActionOutcome struct {
	Status string         `json:"status"`
	Detail map[string]any `json:"detail,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// actionFailure is an action that cannot be done: recorded as failed.
type actionFailure struct{ msg string }

func (e *actionFailure) Error() string { return e.msg }

func failed(format string, args ...any) error {
	return &actionFailure{msg: fmt.Sprintf(format, args...)}
}

// actionSkip is an action with nothing to do: recorded as skipped.
type actionSkip struct{ msg string }

func (e *actionSkip) Error() string { return e.msg }

// RunAutomationAction does one action of a run, once: a result already recorded for
// the run and position is answered as it is. An action that cannot be done is
// recorded as failed (or skipped when there was nothing to do) and answered, so the
// run goes on; one that could not be done now is an ErrTypeActionRetry error, which
// the workflow retries and, when the retries run out, records with
// FailAutomationAction.
func (a *Activities) RunAutomationAction(ctx context.Context, in ActionRequest) (ActionOutcome, error) {
	if done, ok, err := a.Store.AutomationAction(ctx, in.RunID, in.Position); err != nil {
		return ActionOutcome{}, err
	} else if ok {
		return ActionOutcome{Status: done.Status, Detail: done.Detail, Error: done.Error}, nil
	}
	if a.Automations == nil {
		return ActionOutcome{}, temporal.NewNonRetryableApplicationError("this worker runs no automations", ErrTypeActionFailed, nil)
	}
	detail, err := a.doAction(ctx, in)
	res := pgstore.AutomationActionResult{Position: in.Position, Type: in.Action.Type, Status: pgstore.ActionDone, Detail: detail}
	var fail *actionFailure
	var skip *actionSkip
	switch {
	case errors.As(err, &fail):
		res.Status, res.Error = pgstore.ActionFailed, fail.msg
	case errors.As(err, &skip):
		res.Status, res.Error = pgstore.ActionSkipped, skip.msg
	case err != nil:
		return ActionOutcome{}, err
	}
	rec, err := a.Store.RecordAutomationAction(ctx, in.RunID, res)
	if err != nil {
		return ActionOutcome{}, err
	}
	return ActionOutcome{Status: rec.Status, Detail: rec.Detail, Error: rec.Error}, nil
}

// ActionFailure records an action whose retries ran out.
type ActionFailure struct {
	RunID    string `json:"runId"`
	Position int    `json:"position"`
	Type     string `json:"type"`
	Error    string `json:"error"`
}

// FailAutomationAction records an action as failed with why (when nothing was
// recorded for it yet).
func (a *Activities) FailAutomationAction(ctx context.Context, in ActionFailure) (ActionOutcome, error) {
	rec, err := a.Store.RecordAutomationAction(ctx, in.RunID, pgstore.AutomationActionResult{Position: in.Position, Type: in.Type,
		Status: pgstore.ActionFailed, Error: in.Error})
	if err != nil {
		return ActionOutcome{}, err
	}
	return ActionOutcome{Status: rec.Status, Detail: rec.Detail, Error: rec.Error}, nil
}

// doAction does the action: its detail for the log, or why it failed.
func (a *Activities) doAction(ctx context.Context, in ActionRequest) (map[string]any, error) {
	au := a.Automations
	cc, err := a.Store.ConversationContext(ctx, in.TenantID, in.InteractionID, pgstore.FullContext())
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil, failed("the conversation is gone")
	}
	if err != nil {
		return nil, err
	}
	values := valuesOf(cc, in.Data)
	act := in.Action
	cause := automation.Cause{RuleID: in.RuleID, RunID: in.RunID, Depth: in.Depth}
	change := AutomationChange{TenantID: in.TenantID, Cause: cause}
	switch act.Type {
	case automation.ActionSendMessage:
		body := automation.Resolve(act.Message, values, automation.Plain)
		ch := automation.ChannelOf(cc.Interaction.Source)
		limit := automation.MessageLimit(ch)
		if n := utf8.RuneCountInString(body); n > limit {
			return map[string]any{"length": n, "limit": limit}, failed("not sent: the message is %d characters once its placeholders are resolved, and the %s channel takes at most %d",
				n, orWord(ch, "conversation's"), limit)
		}
		if strings.TrimSpace(body) == "" {
			return nil, failed("not sent: the message is empty once its placeholders are resolved")
		}
		change.Kind, change.MessageID, change.Body = ChangeMessage, uuid.NewSHA1(uuid.NameSpaceURL, []byte("automation-message/"+in.key())).String(), body
		return au.change(ctx, cc, in.key(), change, map[string]any{"messageId": change.MessageID, "channel": cc.Interaction.Source, "length": utf8.RuneCountInString(body)})
	case automation.ActionSetStatus:
		if cc.Interaction.ConversationStatus == pgstore.ConversationSolved {
			return map[string]any{"status": "solved"}, &actionSkip{msg: "the conversation is already solved"}
		}
		change.Kind, change.Status = ChangeStatus, pgstore.ConversationSolved
		return au.change(ctx, cc, in.key(), change, map[string]any{"status": "solved"})
	case automation.ActionClose:
		change.Kind = ChangeClose
		return au.change(ctx, cc, in.key(), change, map[string]any{"status": "closed"})
	case automation.ActionUnassignAgent:
		change.Kind = ChangeUnassign
		return au.change(ctx, cc, in.key(), change, map[string]any{"agentId": cc.Interaction.AgentID})
	case automation.ActionSetPriority:
		p, err := routing.ParsePriority(act.Priority)
		if err != nil {
			return nil, failed("%v", err)
		}
		if cc.Interaction.Priority == p {
			return map[string]any{"priority": act.Priority}, &actionSkip{msg: "the conversation already has this priority"}
		}
		change.Kind, change.Priority = ChangePriority, &p
		return au.change(ctx, cc, in.key(), change, map[string]any{"priority": act.Priority})
	case automation.ActionApplyTags, automation.ActionRemoveTags:
		change.Kind = ChangeTags
		if act.Type == automation.ActionApplyTags {
			// Tags are applied as the catalogue spells them; one deleted since the
			// rule was written is refused.
			names, err := a.Store.ResolveTags(ctx, in.TenantID, "tags", act.Tags)
			var invalid *pgstore.ValidationError
			if errors.As(err, &invalid) {
				return nil, failed("%s", invalid.Message)
			}
			if err != nil {
				return nil, err
			}
			change.AddTags = names
		} else {
			change.RemoveTags = act.Tags
		}
		// What the read model shows done already needs no change of the workflow.
		has := func(tag string) bool {
			return slices.ContainsFunc(cc.Interaction.Tags, func(t string) bool { return strings.EqualFold(t, tag) })
		}
		if !slices.ContainsFunc(change.AddTags, func(t string) bool { return !has(t) }) && !slices.ContainsFunc(change.RemoveTags, has) {
			return map[string]any{"tags": act.Tags}, &actionSkip{msg: "the conversation's tags were already so"}
		}
		return au.change(ctx, cc, in.key(), change, map[string]any{"tags": act.Tags})
	case automation.ActionPopulateForm:
		fields := map[string]string{}
		raw := map[string]json.RawMessage{}
		for _, f := range act.Fields {
			id := strings.ToLower(f.FieldID)
			fields[id] = automation.Resolve(f.Value, values, automation.Plain)
			b, err := json.Marshal(fields[id])
			if err != nil {
				return nil, failed("%v", err)
			}
			raw[id] = b
		}
		// A value its field does not take (a number field given text) fails the
		// action before anything is written.
		if err := a.Store.CheckFormValues(ctx, in.TenantID, raw); err != nil {
			var invalid *pgstore.ValidationError
			if errors.As(err, &invalid) {
				return map[string]any{"fields": fields}, failed("%s: %s", invalid.Field, invalid.Message)
			}
			return nil, err
		}
		change.Kind, change.FormValues = ChangeFormValues, raw
		return au.change(ctx, cc, in.key(), change, map[string]any{"fields": fields})
	case automation.ActionSendSurvey:
		res, err := a.sendSurvey(ctx, SurveyRequest{TenantID: in.TenantID, InteractionID: in.InteractionID, SendKey: "automation/" + in.key()})
		if err != nil {
			return nil, err
		}
		d := map[string]any{"surveyId": res.SurveyID, "status": res.Status}
		switch res.Status {
		case pgstore.SurveyFailed:
			return d, failed("the survey was not sent: %s", res.Reason)
		case SurveySkipped:
			return d, &actionSkip{msg: res.Reason}
		}
		return d, nil
	case automation.ActionCallAPI:
		return au.callAPI(ctx, in, automation.ResolveRequest(*act.Request, values))
	case automation.ActionEmailCustomer, automation.ActionEmailExternal, automation.ActionEmailTranscript, automation.ActionNotifyByEmail:
		return a.email(ctx, in, cc, values)
	}
	return nil, failed("unknown action %q", act.Type)
}

// Kinds of AutomationChange.
const (
	ChangeStatus     = "status"
	ChangeClose      = "close"
	ChangeMessage    = "message"
	ChangeUnassign   = "unassign"
	ChangePriority   = "priority"
	ChangeTags       = "tags"
	ChangeFormValues = "formValues"
)

// AutomationChange is an automation's change of a conversation, made by its
// workflow (AutomationUpdate) so it is ordered with every other change and carries
// its cause into the events it publishes.
type AutomationChange struct {
	TenantID string           `json:"tenantId"`
	Cause    automation.Cause `json:"cause"`
	Kind     string           `json:"kind"`
	// Status is what a status change sets (solved).
	Status pgstore.ConversationStatus `json:"status,omitempty"`
	// MessageID and Body are a message's to the customer.
	MessageID string            `json:"messageId,omitempty"`
	Body      string            `json:"body,omitempty"`
	Priority  *routing.Priority `json:"priority,omitempty"`
	AddTags   []string          `json:"addTags,omitempty"`
	// RemoveTags are removed, compared without case.
	RemoveTags []string `json:"removeTags,omitempty"`
	// FormValues are form field values by field ID, as the form-values update takes them.
	FormValues map[string]json.RawMessage `json:"formValues,omitempty"`
}

// AutomationChangeResult is what the change did: Note says why nothing changed.
type AutomationChangeResult struct {
	Changed bool   `json:"changed"`
	Note    string `json:"note,omitempty"`
}

// change makes the change through the interaction's workflow, once per key (the
// update's ID). A refusal fails the action with the workflow's reason.
func (au *Automations) change(ctx context.Context, cc pgstore.ConversationContext, key string, in AutomationChange, detail map[string]any) (map[string]any, error) {
	h, err := au.client(ctx).UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: cc.Interaction.WorkflowID, UpdateID: "automation/" + key, UpdateName: AutomationUpdate,
		Args: []any{in}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res AutomationChangeResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var notFound *serviceerror.NotFound
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &notFound):
		return detail, failed("the conversation is over")
	case errors.As(err, &app):
		return detail, failed("%s", app.Message())
	case err != nil:
		return nil, temporal.NewApplicationErrorWithCause("the conversation did not answer: "+err.Error(), ErrTypeActionRetry, err)
	}
	if !res.Changed && res.Note != "" {
		return detail, &actionSkip{msg: res.Note}
	}
	return detail, nil
}

// facts are what conditions see of the conversation now (of what needs asks for,
// the presence and the sender; the rest as cc has it).
func (au *Automations) facts(ctx context.Context, cc pgstore.ConversationContext, needs automation.Needs) (automation.Facts, error) {
	ix := cc.Interaction
	f := automation.Facts{
		QueueID: ix.QueueID, Direction: string(ix.Direction), Tags: ix.Tags, Status: conversationStatus(ix.ConversationStatus),
		EmailSubject: orWord(ix.Subject, ix.Metadata["subject"]), FormID: ix.FormID, AssigneeUpdatedAt: cc.AssigneeUpdatedAt, AgentID: ix.AgentID,
		MessageIsFirst: cc.Message != nil && cc.Message.Seq == 1, FormFields: cc.FormValues, Now: time.Now().UTC(),
	}
	for _, s := range cc.SubChannels {
		if ch := automation.ChannelOf(s); ch != "" && !slices.Contains(f.Channels, ch) {
			f.Channels = append(f.Channels, ch)
		}
	}
	for _, v := range []string{ix.Customer, ix.CustomerPhone, customerAddress(ix)} {
		if v != "" && !slices.Contains(f.CustomerContacts, v) {
			f.CustomerContacts = append(f.CustomerContacts, v)
		}
	}
	if c := cc.Customer; c != nil {
		f.CustomerContacts = append(f.CustomerContacts, c.Phones...)
		f.CustomerContacts = append(f.CustomerContacts, c.Emails...)
		f.PeopleTags = splitList(c.Attributes["tags"])
		f.PersonCountry = c.Attributes["country"]
		f.Company, f.CompanyAttributes = map[string]string{}, map[string]string{}
		for attr, key := range companyAttributes {
			if v, ok := c.Attributes[key]; ok {
				f.Company[attr] = v
			}
		}
		f.CompanyTags = splitList(c.Attributes["company_tags"])
		for k, v := range c.Attributes {
			if name, ok := strings.CutPrefix(k, "company_"); ok && name != "" {
				f.CompanyAttributes[name] = v
			}
		}
	}
	if ix.AgentID != "" && needs.AgentStatus {
		f.AgentStatus = automation.AgentOffline
		if au.Presence != nil {
			p, err := au.Presence.Get(ctx, ix.TenantID, ix.AgentID)
			if err != nil {
				return f, err
			}
			if p.LoggedIn {
				switch p.Status.Group {
				case routing.GroupAvailable:
					f.AgentStatus = automation.AgentActive
				case routing.GroupBusy:
					f.AgentStatus = automation.AgentBusy
				case routing.GroupAway:
					f.AgentStatus = automation.AgentAway
				}
			}
		}
	}
	if business := businessAddress(ix); business != "" && ix.Source != "" && needs.Sender {
		s, err := au.Store.SenderFor(ctx, ix.TenantID, ix.Source, business)
		switch {
		case err == nil:
			f.SenderID = s.ID
		case !errors.Is(err, pgstore.ErrNotFound):
			return f, err
		}
	}
	return f, nil
}

// companyAttributes maps the company conditions to the customer attributes they read.
var companyAttributes = map[string]string{
	automation.AttrCompany: "company", automation.AttrCompanySegment: "company_segment", automation.AttrCompanyCountry: "company_country",
	automation.AttrCompanyRegion: "company_region", automation.AttrCompanyAccountManager: "company_account_manager",
	automation.AttrCompanyStage: "company_stage", automation.AttrCompanyIndustry: "company_industry",
	automation.AttrCompanyVATNumber: "company_vat_number", automation.AttrCompanyNotes: "company_notes", automation.AttrCompanyDomains: "company_domains",
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// customerAddress is the customer's address on the conversation's channel.
func customerAddress(ix pgstore.Interaction) string {
	if ix.Direction == pgstore.Outbound {
		return ix.To
	}
	return ix.From
}

// businessAddress is the tenant's address the conversation goes through.
func businessAddress(ix pgstore.Interaction) string {
	if ix.Direction == pgstore.Outbound {
		return ix.From
	}
	return ix.To
}

// valuesOf are the placeholders' values of the conversation now, with the event's own.
func valuesOf(cc pgstore.ConversationContext, data map[string]string) automation.Values {
	ix := cc.Interaction
	v := automation.Values{
		automation.PlaceholderConversationID: ix.ID, automation.PlaceholderShortID: strconv.FormatInt(cc.ShortID, 10),
		automation.PlaceholderConversationStatus:  orWord(string(ix.ConversationStatus), string(ix.Status)),
		automation.PlaceholderConversationChannel: orWord(automation.ChannelOf(ix.Source), ix.Source), automation.PlaceholderConversationDirection: string(ix.Direction),
		automation.PlaceholderConversationPriority: ix.Priority.String(), automation.PlaceholderConversationQueueID: ix.QueueID,
		automation.PlaceholderConversationTags: strings.Join(ix.Tags, ", "), automation.PlaceholderConversationSubject: orWord(ix.Subject, ix.Metadata["subject"]),
		automation.PlaceholderConversationCreatedAt: ix.CreatedAt.UTC().Format(time.RFC3339),
		automation.PlaceholderCustomerName:          ix.CustomerName, automation.PlaceholderCustomerPhone: ix.CustomerPhone,
		automation.PlaceholderCustomerContact: orWord(ix.Customer, customerAddress(ix)),
		automation.PlaceholderAgentID:         ix.AgentID, automation.PlaceholderAgentName: cc.AgentName, automation.PlaceholderAgentEmail: cc.AgentEmail,
	}
	if ix.Source == "email" {
		v[automation.PlaceholderCustomerEmail] = customerAddress(ix)
	}
	if c := cc.Customer; c != nil {
		v[automation.PlaceholderCustomerID], v[automation.PlaceholderCustomerExternalID] = c.ID, c.ExternalID
		if c.Name != "" {
			v[automation.PlaceholderCustomerName] = c.Name
		}
		if len(c.Phones) > 0 {
			v[automation.PlaceholderCustomerPhone] = c.Phones[0]
		}
		if len(c.Emails) > 0 {
			v[automation.PlaceholderCustomerEmail] = c.Emails[0]
		}
		v[automation.PlaceholderCustomerCountry] = c.Attributes["country"]
		for k, val := range c.Attributes {
			v[automation.PlaceholderCustomerAttribute+k] = val
		}
	}
	for id, val := range cc.FormValues {
		v[automation.PlaceholderFormField+strings.ToLower(id)] = val
	}
	for k, val := range data {
		v[k] = val
	}
	return v
}
