package automation

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Facts are what conditions look at: the conversation as it is when a rule is about
// to run, with the customer, the agent and the event's message.
type Facts struct {
	QueueID string `json:"queueId,omitempty"`
	// Direction is inbound or outbound.
	Direction string   `json:"direction,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Channels are the channels the conversation went over (ChannelOf names).
	Channels []string `json:"channels,omitempty"`
	FormID   string   `json:"formId,omitempty"`
	// Status is open, waiting, solved or pending.
	Status       string `json:"status,omitempty"`
	EmailSubject string `json:"emailSubject,omitempty"`
	// MessageIsFirst: the event's message is the first of the conversation.
	MessageIsFirst bool `json:"messageIsFirst,omitempty"`
	// AssigneeUpdatedAt is when the assigned agent last changed the conversation.
	AssigneeUpdatedAt *time.Time `json:"assigneeUpdatedAt,omitempty"`
	AgentID           string     `json:"agentId,omitempty"`
	// AgentStatus is active, busy, away or offline.
	AgentStatus string `json:"agentStatus,omitempty"`
	// SenderID is the channel sender the conversation goes through.
	SenderID string `json:"senderId,omitempty"`
	// CustomerContacts are the customer's addresses (the conversation's, and the
	// linked customer record's phones and e-mails).
	CustomerContacts []string `json:"customerContacts,omitempty"`
	PeopleTags       []string `json:"peopleTags,omitempty"`
	PersonCountry    string   `json:"personCountry,omitempty"`
	// Company holds the customer's company attributes by condition attribute
	// (company, companySegment, companyCountry…); CompanyTags its tags.
	Company     map[string]string `json:"company,omitempty"`
	CompanyTags []string          `json:"companyTags,omitempty"`
	// CompanyAttributes are the company's custom attributes by name.
	CompanyAttributes map[string]string `json:"companyAttributes,omitempty"`
	// FormFields are the conversation's form values by field ID.
	FormFields map[string]string `json:"formFields,omitempty"`
	// Now is when the conditions are evaluated.
	Now time.Time `json:"now"`
}

// Unmet is the first condition group a conversation does not satisfy: its index and
// its attributes, for the log.
type Unmet struct {
	Group      int      `json:"group"`
	Attributes []string `json:"attributes"`
}

// Evaluate reports whether the facts satisfy every group (each through any of its
// conditions); when not, it says which group failed first.
func Evaluate(groups []ConditionGroup, f Facts) (bool, *Unmet) {
	for i, g := range groups {
		ok := false
		for _, c := range g.AnyOf {
			if c.Holds(f) {
				ok = true
				break
			}
		}
		if !ok {
			u := &Unmet{Group: i}
			for _, c := range g.AnyOf {
				u.Attributes = append(u.Attributes, c.Attribute)
			}
			return false, u
		}
	}
	return true, nil
}

// Holds reports whether the condition holds for the facts.
func (c Condition) Holds(f Facts) bool {
	switch c.Attribute {
	case AttrQueue:
		return inList(c.Operator, c.Values, []string{f.QueueID}, sameID)
	case AttrDirection:
		return f.Direction == c.Values[0]
	case AttrTag:
		return inList(c.Operator, c.Values, f.Tags, strings.EqualFold)
	case AttrChannel:
		return channelHolds(c, f.Channels)
	case AttrForm:
		op := c.Operator
		if op == OpIs {
			op = OpIsInList
		}
		return inList(op, c.Values, nonEmpty(f.FormID), sameID)
	case AttrStatus:
		return inList(c.Operator, c.Values, nonEmpty(f.Status), strings.EqualFold)
	case AttrEmailSubject:
		hit := containsAny(f.EmailSubject, c.Values)
		if c.Operator == OpDoesNotContain {
			return !hit
		}
		return hit
	case AttrMessage:
		return f.MessageIsFirst
	case AttrHoursSinceAssigneeUpdated:
		hours, _ := strconv.Atoi(c.Values[0])
		if f.AgentID == "" || f.AssigneeUpdatedAt == nil {
			return false
		}
		return f.Now.Sub(*f.AssigneeUpdatedAt) > time.Duration(hours)*time.Hour
	case AttrAgent:
		return (f.AgentID != "") == (c.Values[0] == ValueAssigned)
	case AttrAgentStatus:
		if f.AgentID == "" {
			return c.Operator == OpIsNotInList
		}
		return inList(c.Operator, c.Values, nonEmpty(f.AgentStatus), strings.EqualFold)
	case AttrSender:
		return inList(c.Operator, c.Values, nonEmpty(f.SenderID), sameID)
	case AttrCustomerContact:
		return inList(c.Operator, c.Values, f.CustomerContacts, sameContact)
	case AttrPeopleTag:
		return inList(c.Operator, c.Values, f.PeopleTags, strings.EqualFold)
	case AttrPersonCountry:
		return inList(c.Operator, c.Values, nonEmpty(f.PersonCountry), strings.EqualFold)
	case AttrCompanyTag:
		return inList(c.Operator, c.Values, f.CompanyTags, strings.EqualFold)
	case AttrCompany, AttrCompanySegment:
		return inList(c.Operator, c.Values, nonEmpty(f.Company[c.Attribute]), strings.EqualFold)
	case AttrCompanyCountry, AttrCompanyRegion, AttrCompanyAccountManager, AttrCompanyStage, AttrCompanyIndustry,
		AttrCompanyVATNumber, AttrCompanyNotes, AttrCompanyDomains:
		return textHolds(c.Operator, c.Values, f.Company[c.Attribute], TypeText)
	case AttrCompanyAttribute:
		v, _ := lookupFold(f.CompanyAttributes, c.Field)
		return textHolds(c.Operator, c.Values, v, c.ValueType)
	case AttrFormField:
		v, _ := lookupFold(f.FormFields, c.Field)
		same := strings.TrimSpace(v) == c.Values[0]
		if c.Operator == OpIsNot {
			return !same
		}
		return same
	}
	return false
}

// inList: isInList holds when any of have matches any value; isNotInList when none
// does.
func inList(op string, values, have []string, eq func(a, b string) bool) bool {
	hit := false
	for _, h := range have {
		for _, v := range values {
			if eq(h, v) {
				hit = true
			}
		}
	}
	if op == OpIsNotInList {
		return !hit
	}
	return hit
}

func channelHolds(c Condition, channels []string) bool {
	has := func(v string) bool {
		switch v {
		case ChannelMultichannel:
			return len(channels) >= 2
		case ChannelInternal:
			return false // conversations here are always with a customer
		}
		return slices.Contains(channels, v)
	}
	hit := false
	for _, v := range c.Values {
		hit = hit || has(v)
	}
	if c.Operator == OpIsNot || c.Operator == OpIsNotInList {
		return !hit
	}
	return hit
}

// textHolds compares one attribute value: is (any of the values, as its type
// compares), isNot (none of them), containsAny (text containing any of them).
func textHolds(op string, values []string, v, typ string) bool {
	v = strings.TrimSpace(v)
	switch op {
	case OpContainsAny:
		return containsAny(v, values)
	case OpIsNot:
		if v == "" {
			return true
		}
		return !slices.ContainsFunc(values, func(w string) bool { return typedEqual(typ, v, w) })
	}
	return v != "" && slices.ContainsFunc(values, func(w string) bool { return typedEqual(typ, v, w) })
}

func typedEqual(typ, a, b string) bool {
	switch typ {
	case TypeDecimal:
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(b, 64)
		return err1 == nil && err2 == nil && x == y
	case TypeWholeNumber:
		x, err1 := strconv.ParseInt(a, 10, 64)
		y, err2 := strconv.ParseInt(b, 10, 64)
		return err1 == nil && err2 == nil && x == y
	case TypeBoolean:
		x, err1 := strconv.ParseBool(a)
		y, err2 := strconv.ParseBool(b)
		return err1 == nil && err2 == nil && x == y
	case TypeDate:
		x, err1 := parseDate(a)
		y, err2 := parseDate(b)
		return err1 == nil && err2 == nil && x.Equal(y)
	}
	return strings.EqualFold(a, b)
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, err
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}

func containsAny(s string, subs []string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func sameID(a, b string) bool { return strings.EqualFold(a, b) }

// sameContact compares two customer addresses: phone numbers by their digits (when
// both look like numbers), anything else without case.
func sameContact(a, b string) bool {
	if digits(a) != "" && digits(a) == digits(b) && phoneLike(a) && phoneLike(b) {
		return true
	}
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

func phoneLike(s string) bool {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("+ -().", r) {
			return false
		}
	}
	return len(digits(s)) >= 3
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// Needs says which facts of a conversation conditions look at beyond the
// interaction itself, so that what none looks at is not read.
type Needs struct {
	// Activity: the channels it went over and when its agent last changed it.
	Activity bool
	// Message: the event's own message (is it the first).
	Message bool
	// AgentStatus: the assigned agent's presence.
	AgentStatus bool
	// Sender: the channel sender it goes through.
	Sender bool
	// Customer: the linked customer record.
	Customer bool
	// Forms: its form values.
	Forms bool
}

// Add makes n need what o needs too.
func (n *Needs) Add(o Needs) {
	n.Activity = n.Activity || o.Activity
	n.Message = n.Message || o.Message
	n.AgentStatus = n.AgentStatus || o.AgentStatus
	n.Sender = n.Sender || o.Sender
	n.Customer = n.Customer || o.Customer
	n.Forms = n.Forms || o.Forms
}

// NeedsOf answers what the conditions look at.
func NeedsOf(groups []ConditionGroup) Needs {
	var n Needs
	for _, g := range groups {
		for _, c := range g.AnyOf {
			switch c.Attribute {
			case AttrChannel, AttrHoursSinceAssigneeUpdated:
				n.Activity = true
			case AttrMessage:
				n.Message = true
			case AttrAgentStatus:
				n.AgentStatus = true
			case AttrSender:
				n.Sender = true
			case AttrCustomerContact, AttrPeopleTag, AttrPersonCountry, AttrCompany, AttrCompanySegment, AttrCompanyTag,
				AttrCompanyCountry, AttrCompanyRegion, AttrCompanyAccountManager, AttrCompanyStage, AttrCompanyIndustry,
				AttrCompanyVATNumber, AttrCompanyNotes, AttrCompanyDomains, AttrCompanyAttribute:
				n.Customer = true
			case AttrFormField:
				n.Forms = true
			}
		}
	}
	return n
}

// Everything needs every fact.
var Everything = Needs{Activity: true, Message: true, AgentStatus: true, Sender: true, Customer: true, Forms: true}

// Affects lists the condition attributes an action may change, directly or (a Call
// API to a system that updates the customer) through others: a rule later in the
// list whose conditions did not hold may hold after it.
func (a Action) Affects() []string {
	switch a.Type {
	case ActionApplyTags, ActionRemoveTags:
		return []string{AttrTag}
	case ActionSetStatus, ActionClose:
		return []string{AttrStatus}
	case ActionUnassignAgent:
		return []string{AttrAgent, AttrAgentStatus, AttrHoursSinceAssigneeUpdated}
	case ActionPopulateForm:
		return []string{AttrFormField}
	case ActionSendMessage:
		return []string{AttrChannel}
	case ActionCallAPI:
		return []string{AttrCustomerContact, AttrPeopleTag, AttrPersonCountry, AttrCompany, AttrCompanySegment, AttrCompanyTag,
			AttrCompanyCountry, AttrCompanyRegion, AttrCompanyAccountManager, AttrCompanyStage, AttrCompanyIndustry,
			AttrCompanyVATNumber, AttrCompanyNotes, AttrCompanyDomains, AttrCompanyAttribute}
	}
	return nil
}

// Uses reports whether any condition of the groups looks at one of attrs.
func Uses(groups []ConditionGroup, attrs []string) bool {
	for _, g := range groups {
		for _, c := range g.AnyOf {
			if slices.Contains(attrs, c.Attribute) {
				return true
			}
		}
	}
	return false
}
