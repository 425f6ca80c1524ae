package automation

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidationError names the field of a rule that is wrong and why, as a path from the
// rule ("triggers[0].after", "conditions[1].anyOf[0].operator", "actions[2]").
type ValidationError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Bounds of a rule.
const (
	MaxNameLength = 200
	MaxTriggers   = 20
	MaxGroups     = 20
	MaxGroupSize  = 20
	MaxActions    = 20
	MaxValues     = 100
	maxValue      = 500
	// MaxMessageLength bounds a message to the customer, placeholders resolved.
	MaxMessageLength = 1000
	maxSubject       = 500
	maxContent       = 10000
	maxRecipients    = 50
	maxTags          = 50
	maxTag           = 100
	maxHeaders       = 50
	maxHeaderValue   = 4000
	maxURL           = 2000
	maxBody          = 64 << 10
	maxFields        = 50
	// MinTimer and MaxTimer bound the period of a time-based trigger.
	MinTimer = 10 * time.Second
	MaxTimer = 90 * 24 * time.Hour
)

// MaxChainDepth bounds chained executions in one conversation: a rule run by the
// change of a rule run by the change of … stops at this depth, and the log says so.
const MaxChainDepth = 10

// Trigger types. The time-based ones wait for a period after the change that arms
// them; the others run at an event.
const (
	TriggerCustomerNotReplied = "customerNotReplied"
	TriggerAgentNotReplied    = "agentNotReplied"
	TriggerSolvedUnmodified   = "solvedUnmodified"
	TriggerSolvedFor          = "solvedFor"
	TriggerWaitingFor         = "waitingFor"

	TriggerStatusChanged    = "statusChanged"
	TriggerFormChanged      = "formChanged"
	TriggerQueueChanged     = "queueChanged"
	TriggerTagChanged       = "tagChanged"
	TriggerCustomerChanged  = "customerChanged"
	TriggerChannelChanged   = "channelChanged"
	TriggerNoteCreated      = "noteCreated"
	TriggerAgentMessageSent = "agentMessageSent"
	TriggerMessageReceived  = "messageReceived"
	TriggerSurveyFeedback   = "surveyFeedbackReceived"
	TriggerFormFieldUpdated = "formFieldUpdated"
)

// TimeTriggers are the time-based trigger types.
var TimeTriggers = []string{TriggerCustomerNotReplied, TriggerAgentNotReplied, TriggerSolvedUnmodified, TriggerSolvedFor, TriggerWaitingFor}

// EventTriggers are the event-based trigger types.
var EventTriggers = []string{TriggerStatusChanged, TriggerFormChanged, TriggerQueueChanged, TriggerTagChanged, TriggerCustomerChanged,
	TriggerChannelChanged, TriggerNoteCreated, TriggerAgentMessageSent, TriggerMessageReceived, TriggerSurveyFeedback, TriggerFormFieldUpdated}

// IsTimeTrigger reports whether typ is a time-based trigger type.
func IsTimeTrigger(typ string) bool { return slices.Contains(TimeTriggers, typ) }

// Conversation statuses a status-changed trigger waits for.
const (
	StatusOpen    = "open"
	StatusWaiting = "waiting"
	StatusSolved  = "solved"
	// StatusPending is a conversation set aside (snoozed) until a time.
	StatusPending = "pending"
)

// Survey scores.
const (
	ScoreHappy    = "happy"
	ScoreNotHappy = "notHappy"
)

// Channels as the channel condition and the channel-changed trigger name them.
const (
	ChannelAny          = "any"
	ChannelInternal     = "internal"
	ChannelMultichannel = "multichannel"
	ChannelChat         = "chat"
	ChannelEmail        = "email"
	ChannelMessenger    = "messenger"
	ChannelGoogle       = "google_business_messages"
	ChannelApple        = "apple_messages_for_business"
	ChannelTelegram     = "telegram"
	ChannelCalls        = "calls"
	ChannelViber        = "viber"
	ChannelLine         = "line"
	ChannelInstagram    = "instagram"
	ChannelSMS          = "sms"
	ChannelWhatsApp     = "whatsapp"
	ChannelRCS          = "rcs"
	ChannelKakaoTalk    = "kakaotalk"
)

// conversationChannels are the channels a conversation goes over.
var conversationChannels = []string{ChannelChat, ChannelEmail, ChannelMessenger, ChannelGoogle, ChannelApple, ChannelTelegram,
	ChannelCalls, ChannelViber, ChannelLine, ChannelInstagram, ChannelSMS, ChannelWhatsApp, ChannelRCS, ChannelKakaoTalk}

// ChannelOf names a sub-channel (as a sender or an interaction's source has it:
// web_chat, whatsapp, mms, voice…) the way rules do; "" for one rules do not know.
func ChannelOf(subChannel string) string {
	switch s := strings.ToLower(strings.TrimSpace(subChannel)); s {
	case "web_chat", "webchat", "live_chat", "chat":
		return ChannelChat
	case "mms", "sms":
		return ChannelSMS
	case "voice", "call", "calls":
		return ChannelCalls
	case "facebook_messenger", "messenger":
		return ChannelMessenger
	default:
		if slices.Contains(conversationChannels, s) {
			return s
		}
	}
	return ""
}

// Duration is the period of a time-based trigger, given as days, hours, minutes and
// seconds (each 0 unless set).
type Duration struct {
	Days    int `json:"days,omitempty"`
	Hours   int `json:"hours,omitempty"`
	Minutes int `json:"minutes,omitempty"`
	Seconds int `json:"seconds,omitempty"`
}

// Length is the period as a time.Duration.
func (d Duration) Length() time.Duration {
	return time.Duration(d.Days)*24*time.Hour + time.Duration(d.Hours)*time.Hour +
		time.Duration(d.Minutes)*time.Minute + time.Duration(d.Seconds)*time.Second
}

// Trigger is one way a rule starts.
type Trigger struct {
	Type string `json:"type"`
	// After is the period of a time-based trigger.
	After *Duration `json:"after,omitempty"`
	// To is the status a status-changed trigger waits for (open, waiting or
	// solved), or the channel a channel-changed trigger waits for (a channel or
	// any, the default).
	To string `json:"to,omitempty"`
	// From is the channel a channel-changed trigger starts from (a channel or any,
	// the default).
	From string `json:"from,omitempty"`
	// Scores are the survey scores a survey-feedback trigger waits for: happy,
	// notHappy or both.
	Scores []string `json:"scores,omitempty"`
}

// Condition is one statement about the conversation.
type Condition struct {
	Attribute string   `json:"attribute"`
	Operator  string   `json:"operator"`
	Values    []string `json:"values"`
	// Field names what the attribute is about: the form field of formField, the
	// custom company attribute of companyAttribute.
	Field string `json:"field,omitempty"`
	// ValueType is the type of a custom company attribute: text (the default),
	// decimal, wholeNumber, boolean or date.
	ValueType string `json:"valueType,omitempty"`
}

// ConditionGroup holds conditions of which any one must hold.
type ConditionGroup struct {
	AnyOf []Condition `json:"anyOf"`
}

// Header is a name and a value: a Call API request's header, or a field of its
// URL-encoded or form-data body.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Content types of a Call API request's body.
const (
	ContentRaw        = "raw"
	ContentJSON       = "json"
	ContentText       = "text"
	ContentXML        = "xml"
	ContentURLEncoded = "urlencoded"
	ContentFormData   = "formData"
)

// Request is what a Call API action sends.
type Request struct {
	// Method is GET, POST, PUT, PATCH or DELETE.
	Method string `json:"method"`
	URL    string `json:"url"`
	// ContentType is raw, json, text, xml, urlencoded or formData; raw sends
	// Body as it is, with the Content-Type a header gives.
	ContentType string   `json:"contentType,omitempty"`
	Headers     []Header `json:"headers,omitempty"`
	// Body is the body of a raw, json, text or xml request.
	Body string `json:"body,omitempty"`
	// Fields are the body of a urlencoded or formData request.
	Fields []Header `json:"fields,omitempty"`
}

// FieldValue sets a form field.
type FieldValue struct {
	FieldID string `json:"fieldId"`
	Value   string `json:"value"`
}

// Action types.
const (
	ActionSendMessage     = "sendMessage"
	ActionApplyTags       = "applyTags"
	ActionRemoveTags      = "removeTags"
	ActionEmailCustomer   = "emailCustomer"
	ActionEmailExternal   = "emailExternal"
	ActionEmailTranscript = "emailTranscript"
	ActionNotifyByEmail   = "notifyByEmail"
	ActionSetStatus       = "setStatus"
	ActionSetPriority     = "setPriority"
	ActionUnassignAgent   = "unassignAgent"
	ActionSendSurvey      = "sendSurvey"
	ActionClose           = "closeConversation"
	ActionCallAPI         = "callApi"
	ActionPopulateForm    = "populateFormFields"
)

// ActionTypes lists every action type.
var ActionTypes = []string{ActionSendMessage, ActionApplyTags, ActionRemoveTags, ActionEmailCustomer, ActionEmailExternal,
	ActionEmailTranscript, ActionNotifyByEmail, ActionSetStatus, ActionSetPriority, ActionUnassignAgent, ActionSendSurvey,
	ActionClose, ActionCallAPI, ActionPopulateForm}

// Action is one change a rule makes. Which fields it takes depends on its type.
type Action struct {
	Type string `json:"type"`
	// Message is what sendMessage sends (placeholders allowed).
	Message string `json:"message,omitempty"`
	// Tags are applied or removed.
	Tags []string `json:"tags,omitempty"`
	// To are the recipients of emailExternal and notifyByEmail.
	To []string `json:"to,omitempty"`
	// Subject and Content of an e-mail (placeholders allowed).
	Subject string `json:"subject,omitempty"`
	Content string `json:"content,omitempty"`
	// Status is what setStatus sets: solved.
	Status string `json:"status,omitempty"`
	// Priority is what setPriority sets: low, normal, high or urgent.
	Priority string `json:"priority,omitempty"`
	// Request is what callApi sends.
	Request *Request `json:"request,omitempty"`
	// Fields are what populateFormFields sets.
	Fields []FieldValue `json:"fields,omitempty"`
}

// Rule is an automation as authored: its triggers, conditions and actions.
type Rule struct {
	Triggers   []Trigger        `json:"triggers"`
	Conditions []ConditionGroup `json:"conditions"`
	Actions    []Action         `json:"actions"`
}

// HasTimeTrigger reports whether any trigger of the rule is time-based.
func (r Rule) HasTimeTrigger() bool {
	for _, t := range r.Triggers {
		if IsTimeTrigger(t.Type) {
			return true
		}
	}
	return false
}

// TimeTrigger answers the rule's time-based trigger of type typ.
func (r Rule) TimeTrigger(typ string) (Trigger, bool) {
	for _, t := range r.Triggers {
		if t.Type == typ {
			return t, true
		}
	}
	return Trigger{}, false
}

// ValidateName checks a rule's name and returns it trimmed.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLength {
		return name, invalid("name", "is required and at most %d characters", MaxNameLength)
	}
	return name, nil
}

// Validate checks the whole rule: unknown trigger types, attributes, operators,
// values, placeholders and actions are refused, as are a time-based period outside
// 10 seconds … 90 days, an attribute used twice and a close action that is not last.
// It normalises what it can (trims, fills defaults).
func (r *Rule) Validate() error {
	if len(r.Triggers) == 0 {
		return invalid("triggers", "a rule needs at least one trigger")
	}
	if len(r.Triggers) > MaxTriggers {
		return invalid("triggers", "at most %d triggers", MaxTriggers)
	}
	seen := map[string]int{}
	for i := range r.Triggers {
		f := fmt.Sprintf("triggers[%d]", i)
		t := &r.Triggers[i]
		if err := t.validate(f); err != nil {
			return err
		}
		key := t.Type + "|" + t.To + "|" + t.From
		if j, dup := seen[key]; dup && t.Type != TriggerSurveyFeedback {
			return invalid(f, "the same trigger as triggers[%d]", j)
		}
		seen[key] = i
	}
	if len(r.Conditions) > MaxGroups {
		return invalid("conditions", "at most %d condition groups", MaxGroups)
	}
	used := map[string]string{}
	for i := range r.Conditions {
		g := &r.Conditions[i]
		gf := fmt.Sprintf("conditions[%d].anyOf", i)
		if len(g.AnyOf) == 0 {
			return invalid(gf, "a condition group needs at least one condition")
		}
		if len(g.AnyOf) > MaxGroupSize {
			return invalid(gf, "at most %d conditions in a group", MaxGroupSize)
		}
		for j := range g.AnyOf {
			f := fmt.Sprintf("%s[%d]", gf, j)
			c := &g.AnyOf[j]
			if err := c.validate(f, r.Triggers); err != nil {
				return err
			}
			key := c.Attribute
			if c.Field != "" {
				key += "|" + c.Field
			}
			if prev, dup := used[key]; dup {
				return invalid(f+".attribute", "%s is already used by %s: an attribute is used once per rule", c.Attribute, prev)
			}
			used[key] = f
		}
	}
	if len(r.Actions) == 0 {
		return invalid("actions", "a rule needs at least one action")
	}
	if len(r.Actions) > MaxActions {
		return invalid("actions", "at most %d actions", MaxActions)
	}
	for i := range r.Actions {
		f := fmt.Sprintf("actions[%d]", i)
		a := &r.Actions[i]
		if a.Type == ActionClose && i != len(r.Actions)-1 {
			return invalid(f+".type", "closeConversation must be the last action: no action can follow it")
		}
		if err := a.validate(f, r.Triggers); err != nil {
			return err
		}
	}
	return nil
}

func (t *Trigger) validate(f string) error {
	t.Type = strings.TrimSpace(t.Type)
	if !IsTimeTrigger(t.Type) && !slices.Contains(EventTriggers, t.Type) {
		return invalid(f+".type", "unknown trigger %q (want one of %s)", t.Type, strings.Join(append(slices.Clone(TimeTriggers), EventTriggers...), ", "))
	}
	if IsTimeTrigger(t.Type) {
		if t.After == nil {
			return invalid(f+".after", "a time-based trigger needs its period: days, hours, minutes, seconds")
		}
		d := *t.After
		if d.Days < 0 || d.Hours < 0 || d.Minutes < 0 || d.Seconds < 0 {
			return invalid(f+".after", "days, hours, minutes and seconds cannot be negative")
		}
		if d.Days > 90 || d.Hours > 90*24 || d.Minutes > 90*24*60 || d.Seconds > 90*24*3600 {
			return invalid(f+".after", "the period is at most 90 days")
		}
		if l := d.Length(); l < MinTimer || l > MaxTimer {
			return invalid(f+".after", "the period must be from 10 seconds to 90 days; it is %s", l)
		}
	} else if t.After != nil {
		return invalid(f+".after", "only time-based triggers take a period")
	}
	switch t.Type {
	case TriggerStatusChanged:
		if t.To != StatusOpen && t.To != StatusWaiting && t.To != StatusSolved {
			return invalid(f+".to", "a status-changed trigger needs the status it waits for: open, waiting or solved")
		}
	case TriggerChannelChanged:
		for _, p := range []struct {
			name string
			v    *string
		}{{"from", &t.From}, {"to", &t.To}} {
			*p.v = strings.TrimSpace(*p.v)
			if *p.v == "" {
				*p.v = ChannelAny
			}
			if *p.v != ChannelAny && !slices.Contains(conversationChannels, *p.v) {
				return invalid(f+"."+p.name, "unknown channel %q (want any or one of %s)", *p.v, strings.Join(conversationChannels, ", "))
			}
		}
	default:
		if t.To != "" {
			return invalid(f+".to", "only status-changed and channel-changed triggers take to")
		}
		if t.From != "" {
			return invalid(f+".from", "only channel-changed triggers take from")
		}
	}
	if t.Type == TriggerSurveyFeedback {
		if len(t.Scores) == 0 {
			return invalid(f+".scores", "pick the scores it waits for: happy, notHappy or both")
		}
		for i, s := range t.Scores {
			if s != ScoreHappy && s != ScoreNotHappy {
				return invalid(fmt.Sprintf("%s.scores[%d]", f, i), "must be happy or notHappy")
			}
			if slices.Contains(t.Scores[:i], s) {
				return invalid(fmt.Sprintf("%s.scores[%d]", f, i), "%s is listed twice", s)
			}
		}
	} else if len(t.Scores) > 0 {
		return invalid(f+".scores", "only survey-feedback triggers take scores")
	}
	return nil
}

// Operators of conditions.
const (
	OpIsInList       = "isInList"
	OpIsNotInList    = "isNotInList"
	OpIs             = "is"
	OpIsNot          = "isNot"
	OpContainsAny    = "containsAny"
	OpDoesNotContain = "doesNotContain"
	OpGreaterThan    = "greaterThan"
)

// Condition attributes.
const (
	AttrQueue                     = "queue"
	AttrDirection                 = "direction"
	AttrTag                       = "tag"
	AttrChannel                   = "channel"
	AttrForm                      = "form"
	AttrStatus                    = "status"
	AttrEmailSubject              = "emailSubject"
	AttrMessage                   = "message"
	AttrHoursSinceAssigneeUpdated = "hoursSinceAssigneeUpdated"
	AttrAgent                     = "agent"
	AttrAgentStatus               = "agentStatus"
	AttrSender                    = "sender"
	AttrCustomerContact           = "customerContact"
	AttrPeopleTag                 = "peopleTag"
	AttrPersonCountry             = "personCountry"
	AttrCompany                   = "company"
	AttrCompanySegment            = "companySegment"
	AttrCompanyTag                = "companyTag"
	AttrCompanyCountry            = "companyCountry"
	AttrCompanyRegion             = "companyRegion"
	AttrCompanyAccountManager     = "companyAccountManager"
	AttrCompanyStage              = "companyStage"
	AttrCompanyIndustry           = "companyIndustry"
	AttrCompanyVATNumber          = "companyVatNumber"
	AttrCompanyNotes              = "companyNotes"
	AttrCompanyDomains            = "companyDomains"
	AttrCompanyAttribute          = "companyAttribute"
	AttrFormField                 = "formField"
)

// Values of the fixed-choice attributes.
const (
	ValueFirst      = "first"
	ValueAssigned   = "assigned"
	ValueUnassigned = "unassigned"
	AgentActive     = "active"
	AgentBusy       = "busy"
	AgentOffline    = "offline"
	AgentAway       = "away"
)

// Types of a custom company attribute.
const (
	TypeText        = "text"
	TypeDecimal     = "decimal"
	TypeWholeNumber = "wholeNumber"
	TypeBoolean     = "boolean"
	TypeDate        = "date"
)

// attribute describes what a condition attribute accepts.
type attribute struct {
	ops []string
	// choices, when set, are the only values accepted.
	choices []string
	// single: exactly one value.
	single bool
	// ids: the values are IDs (UUIDs) of the tenant's objects.
	ids bool
	// field: the condition names a Field.
	field bool
}

var (
	listOps    = []string{OpIsInList, OpIsNotInList}
	textOps    = []string{OpIs, OpIsNot, OpContainsAny}
	companyOps = map[string][]string{
		TypeText: textOps, TypeDecimal: {OpIs, OpIsNot}, TypeWholeNumber: {OpIs, OpIsNot}, TypeBoolean: {OpIs, OpIsNot}, TypeDate: {OpIs, OpIsNot},
	}
)

var attributes = map[string]attribute{
	AttrQueue:                     {ops: listOps, ids: true},
	AttrDirection:                 {ops: []string{OpIs}, choices: []string{"inbound", "outbound"}, single: true},
	AttrTag:                       {ops: listOps},
	AttrChannel:                   {ops: []string{OpIs, OpIsNot, OpIsInList, OpIsNotInList}, choices: append([]string{ChannelInternal, ChannelMultichannel}, conversationChannels...)},
	AttrForm:                      {ops: []string{OpIs, OpIsInList, OpIsNotInList}, ids: true},
	AttrStatus:                    {ops: listOps, choices: []string{StatusOpen, StatusWaiting, StatusSolved, StatusPending}},
	AttrEmailSubject:              {ops: []string{OpContainsAny, OpDoesNotContain}},
	AttrMessage:                   {ops: []string{OpIs}, choices: []string{ValueFirst}, single: true},
	AttrHoursSinceAssigneeUpdated: {ops: []string{OpGreaterThan}, choices: []string{"6", "12"}, single: true},
	AttrAgent:                     {ops: []string{OpIs}, choices: []string{ValueAssigned, ValueUnassigned}, single: true},
	AttrAgentStatus:               {ops: listOps, choices: []string{AgentActive, AgentBusy, AgentOffline, AgentAway}},
	AttrSender:                    {ops: listOps, ids: true},
	AttrCustomerContact:           {ops: listOps},
	AttrPeopleTag:                 {ops: listOps},
	AttrPersonCountry:             {ops: listOps},
	AttrCompany:                   {ops: listOps},
	AttrCompanySegment:            {ops: listOps},
	AttrCompanyTag:                {ops: listOps},
	AttrCompanyCountry:            {ops: textOps},
	AttrCompanyRegion:             {ops: textOps},
	AttrCompanyAccountManager:     {ops: textOps},
	AttrCompanyStage:              {ops: textOps},
	AttrCompanyIndustry:           {ops: textOps},
	AttrCompanyVATNumber:          {ops: textOps},
	AttrCompanyNotes:              {ops: textOps},
	AttrCompanyDomains:            {ops: textOps},
	AttrCompanyAttribute:          {field: true},
	AttrFormField:                 {ops: []string{OpIs, OpIsNot}, single: true, field: true},
}

// Attributes lists the condition attributes, sorted.
func Attributes() []string {
	out := make([]string, 0, len(attributes))
	for k := range attributes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// messageTriggers are the triggers a message's own facts (is it the first, its
// content, its sender) exist for.
var messageTriggers = []string{TriggerAgentMessageSent, TriggerMessageReceived}

func onlyTriggers(ts []Trigger, allowed []string) bool {
	for _, t := range ts {
		if !slices.Contains(allowed, t.Type) {
			return false
		}
	}
	return true
}

func (c *Condition) validate(f string, triggers []Trigger) error {
	c.Attribute, c.Operator, c.Field, c.ValueType = strings.TrimSpace(c.Attribute), strings.TrimSpace(c.Operator), strings.TrimSpace(c.Field), strings.TrimSpace(c.ValueType)
	a, ok := attributes[c.Attribute]
	if !ok {
		return invalid(f+".attribute", "unknown attribute %q (want one of %s)", c.Attribute, strings.Join(Attributes(), ", "))
	}
	ops := a.ops
	if c.Attribute == AttrCompanyAttribute {
		if c.ValueType == "" {
			c.ValueType = TypeText
		}
		var ok bool
		if ops, ok = companyOps[c.ValueType]; !ok {
			return invalid(f+".valueType", "unknown type %q (want text, decimal, wholeNumber, boolean or date)", c.ValueType)
		}
		if c.Operator == OpIs || c.Operator == OpIsNot {
			a.single = true
		}
	} else if c.ValueType != "" {
		return invalid(f+".valueType", "only companyAttribute takes a valueType")
	}
	if !slices.Contains(ops, c.Operator) {
		return invalid(f+".operator", "%s takes the operators %s, not %q", c.Attribute, strings.Join(ops, ", "), c.Operator)
	}
	if a.field {
		if c.Field == "" || len(c.Field) > maxValue {
			return invalid(f+".field", "%s needs the field it is about", c.Attribute)
		}
		if c.Attribute == AttrFormField && !isUUID(c.Field) {
			return invalid(f+".field", "must be the ID of a form field")
		}
	} else if c.Field != "" {
		return invalid(f+".field", "only formField and companyAttribute take a field")
	}
	if c.Attribute == AttrChannel && (c.Operator == OpIs || c.Operator == OpIsNot) {
		a.single = true
	}
	if c.Attribute == AttrForm && c.Operator == OpIs {
		a.single = true
	}
	if c.Attribute == AttrMessage && !onlyTriggers(triggers, messageTriggers) {
		return invalid(f+".attribute", "message is first works only with the agentMessageSent and messageReceived triggers")
	}
	switch {
	case len(c.Values) == 0:
		return invalid(f+".values", "at least one value is required")
	case a.single && len(c.Values) != 1:
		return invalid(f+".values", "%s %s takes exactly one value", c.Attribute, c.Operator)
	case len(c.Values) > MaxValues:
		return invalid(f+".values", "at most %d values", MaxValues)
	}
	for i := range c.Values {
		vf := fmt.Sprintf("%s.values[%d]", f, i)
		v := strings.TrimSpace(c.Values[i])
		c.Values[i] = v
		switch {
		case v == "" && !(c.Attribute == AttrFormField):
			return invalid(vf, "must not be empty")
		case utf8.RuneCountInString(v) > maxValue:
			return invalid(vf, "must be at most %d characters", maxValue)
		case a.choices != nil && !slices.Contains(a.choices, v):
			return invalid(vf, "unknown value %q for %s (want one of %s)", v, c.Attribute, strings.Join(a.choices, ", "))
		case a.ids && !isUUID(v):
			return invalid(vf, "must be the ID of a %s of this tenant", c.Attribute)
		case slices.Contains(c.Values[:i], v):
			return invalid(vf, "%q is listed twice", v)
		}
		if c.Attribute == AttrCompanyAttribute {
			if err := checkTyped(vf, c.ValueType, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkTyped(f, typ, v string) error {
	var err error
	switch typ {
	case TypeDecimal:
		_, err = strconv.ParseFloat(v, 64)
	case TypeWholeNumber:
		_, err = strconv.ParseInt(v, 10, 64)
	case TypeBoolean:
		_, err = strconv.ParseBool(v)
	case TypeDate:
		_, err = time.Parse(time.DateOnly, v)
	}
	if err != nil {
		return invalid(f, "%q is not a %s", v, typ)
	}
	return nil
}

// actionFields lists, per action type, the fields it takes.
var actionFields = map[string][]string{
	ActionSendMessage:     {"message"},
	ActionApplyTags:       {"tags"},
	ActionRemoveTags:      {"tags"},
	ActionEmailCustomer:   {"subject", "content"},
	ActionEmailExternal:   {"to", "subject", "content"},
	ActionEmailTranscript: {"subject"},
	ActionNotifyByEmail:   {"to", "subject", "content"},
	ActionSetStatus:       {"status"},
	ActionSetPriority:     {"priority"},
	ActionUnassignAgent:   {},
	ActionSendSurvey:      {},
	ActionClose:           {},
	ActionCallAPI:         {"request"},
	ActionPopulateForm:    {"fields"},
}

// set lists the fields of a that are set.
func (a *Action) set() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"message", a.Message != ""}, {"tags", a.Tags != nil}, {"to", a.To != nil}, {"subject", a.Subject != ""},
		{"content", a.Content != ""}, {"status", a.Status != ""}, {"priority", a.Priority != ""},
		{"request", a.Request != nil}, {"fields", a.Fields != nil}} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// Priorities an action sets.
var priorities = []string{"low", "normal", "high", "urgent"}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

var contentTypes = []string{ContentRaw, ContentJSON, ContentText, ContentXML, ContentURLEncoded, ContentFormData}

func (a *Action) validate(f string, triggers []Trigger) error {
	a.Type = strings.TrimSpace(a.Type)
	fields, ok := actionFields[a.Type]
	if !ok {
		return invalid(f+".type", "unknown action %q (want one of %s)", a.Type, strings.Join(ActionTypes, ", "))
	}
	for _, name := range a.set() {
		if !slices.Contains(fields, name) {
			return invalid(f+"."+name, "%s takes no %s", a.Type, name)
		}
	}
	text := func(name string, v *string, required bool, limit int) error {
		if required && strings.TrimSpace(*v) == "" {
			return invalid(f+"."+name, "is required")
		}
		if utf8.RuneCountInString(*v) > limit {
			return invalid(f+"."+name, "must be at most %d characters", limit)
		}
		return CheckPlaceholders(f+"."+name, *v, triggers)
	}
	switch a.Type {
	case ActionSendMessage:
		return text("message", &a.Message, true, MaxMessageLength)
	case ActionApplyTags, ActionRemoveTags:
		return checkTags(f+".tags", a.Tags)
	case ActionEmailCustomer:
		if err := text("subject", &a.Subject, true, maxSubject); err != nil {
			return err
		}
		return text("content", &a.Content, true, maxContent)
	case ActionEmailExternal, ActionNotifyByEmail:
		if err := checkRecipients(f+".to", a.To); err != nil {
			return err
		}
		if err := text("subject", &a.Subject, true, maxSubject); err != nil {
			return err
		}
		return text("content", &a.Content, a.Type == ActionEmailExternal, maxContent)
	case ActionEmailTranscript:
		return text("subject", &a.Subject, true, maxSubject)
	case ActionSetStatus:
		if a.Status != StatusSolved {
			return invalid(f+".status", "the status an automation sets is solved")
		}
	case ActionSetPriority:
		if !slices.Contains(priorities, a.Priority) {
			return invalid(f+".priority", "must be low, normal, high or urgent")
		}
	case ActionCallAPI:
		if a.Request == nil {
			return invalid(f+".request", "is required: method, url, contentType, headers, body")
		}
		return a.Request.validate(f+".request", triggers)
	case ActionPopulateForm:
		if len(a.Fields) == 0 {
			return invalid(f+".fields", "at least one field to populate")
		}
		if len(a.Fields) > maxFields {
			return invalid(f+".fields", "at most %d fields", maxFields)
		}
		for i := range a.Fields {
			ff := fmt.Sprintf("%s.fields[%d]", f, i)
			fv := &a.Fields[i]
			if !isUUID(fv.FieldID) {
				return invalid(ff+".fieldId", "must be the ID of a form field")
			}
			for j := range i {
				if strings.EqualFold(a.Fields[j].FieldID, fv.FieldID) {
					return invalid(ff+".fieldId", "the field is already set by fields[%d]", j)
				}
			}
			if utf8.RuneCountInString(fv.Value) > maxContent {
				return invalid(ff+".value", "must be at most %d characters", maxContent)
			}
			if err := CheckPlaceholders(ff+".value", fv.Value, triggers); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkTags(f string, tags []string) error {
	if len(tags) == 0 {
		return invalid(f, "at least one tag")
	}
	if len(tags) > maxTags {
		return invalid(f, "at most %d tags", maxTags)
	}
	for i := range tags {
		tags[i] = strings.TrimSpace(tags[i])
		tf := fmt.Sprintf("%s[%d]", f, i)
		if tags[i] == "" || utf8.RuneCountInString(tags[i]) > maxTag {
			return invalid(tf, "a tag is 1 to %d characters", maxTag)
		}
		for j := range i {
			if strings.EqualFold(tags[j], tags[i]) {
				return invalid(tf, "%q is listed twice", tags[i])
			}
		}
	}
	return nil
}

func checkRecipients(f string, to []string) error {
	if len(to) == 0 {
		return invalid(f, "at least one recipient")
	}
	if len(to) > maxRecipients {
		return invalid(f, "at most %d recipients", maxRecipients)
	}
	for i := range to {
		to[i] = strings.TrimSpace(to[i])
		a, err := mail.ParseAddress(to[i])
		if err != nil || a.Address != to[i] || len(to[i]) > 320 {
			return invalid(fmt.Sprintf("%s[%d]", f, i), "%q is not an e-mail address", to[i])
		}
	}
	return nil
}

func (r *Request) validate(f string, triggers []Trigger) error {
	r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
	if !slices.Contains(methods, r.Method) {
		return invalid(f+".method", "must be GET, POST, PUT, PATCH or DELETE")
	}
	r.URL = strings.TrimSpace(r.URL)
	if r.URL == "" || len(r.URL) > maxURL {
		return invalid(f+".url", "is required, at most %d characters", maxURL)
	}
	if err := CheckPlaceholders(f+".url", r.URL, triggers); err != nil {
		return err
	}
	// The URL as written, placeholders blanked, must be an absolute http(s) URL with
	// a host of its own (a placeholder may fill a path or query, not the host).
	u, err := url.Parse(Blank(r.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(hostOf(r.URL), "{{") {
		return invalid(f+".url", "must be an absolute http or https URL whose host is written out (placeholders may fill its path and query)")
	}
	if r.ContentType == "" {
		r.ContentType = ContentJSON
	}
	if !slices.Contains(contentTypes, r.ContentType) {
		return invalid(f+".contentType", "must be raw, json, text, xml, urlencoded or formData")
	}
	if len(r.Headers) > maxHeaders {
		return invalid(f+".headers", "at most %d headers", maxHeaders)
	}
	for i := range r.Headers {
		hf := fmt.Sprintf("%s.headers[%d]", f, i)
		h := &r.Headers[i]
		h.Name = strings.TrimSpace(h.Name)
		if !validHeaderName(h.Name) {
			return invalid(hf+".name", "%q is not a header name", h.Name)
		}
		if strings.EqualFold(h.Name, "Content-Length") || strings.EqualFold(h.Name, "Host") || strings.EqualFold(h.Name, "Transfer-Encoding") {
			return invalid(hf+".name", "%s is set by the request itself", h.Name)
		}
		if len(h.Value) > maxHeaderValue || strings.ContainsAny(h.Value, "\r\n") {
			return invalid(hf+".value", "a header value is one line of at most %d characters", maxHeaderValue)
		}
		if err := CheckPlaceholders(hf+".value", h.Value, triggers); err != nil {
			return err
		}
	}
	switch r.ContentType {
	case ContentURLEncoded, ContentFormData:
		if r.Body != "" {
			return invalid(f+".body", "a %s request sends fields, not a body", r.ContentType)
		}
		if len(r.Fields) > maxFields {
			return invalid(f+".fields", "at most %d fields", maxFields)
		}
		for i := range r.Fields {
			ff := fmt.Sprintf("%s.fields[%d]", f, i)
			if strings.TrimSpace(r.Fields[i].Name) == "" || len(r.Fields[i].Name) > maxValue {
				return invalid(ff+".name", "is required, at most %d characters", maxValue)
			}
			if len(r.Fields[i].Value) > maxContent {
				return invalid(ff+".value", "must be at most %d characters", maxContent)
			}
			if err := CheckPlaceholders(ff+".value", r.Fields[i].Value, triggers); err != nil {
				return err
			}
		}
	default:
		if len(r.Fields) > 0 {
			return invalid(f+".fields", "only urlencoded and formData requests send fields")
		}
		if len(r.Body) > maxBody {
			return invalid(f+".body", "must be at most %d bytes", maxBody)
		}
		if err := CheckPlaceholders(f+".body", r.Body, triggers); err != nil {
			return err
		}
	}
	if (r.Method == "GET" || r.Method == "DELETE") && (r.Body != "" || len(r.Fields) > 0) {
		return invalid(f+".body", "a %s request sends no body", r.Method)
	}
	return nil
}

// hostOf is the authority part of a URL as written.
func hostOf(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
