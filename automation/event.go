package automation

import (
	"slices"
	"time"
)

// Event is a change of a conversation as an event-based trigger sees it.
type Event struct {
	// Type is the trigger type the change is (statusChanged, messageReceived…).
	Type string `json:"type"`
	// StatusFrom and StatusTo are a status change's statuses (open, waiting,
	// solved, pending).
	StatusFrom string `json:"statusFrom,omitempty"`
	StatusTo   string `json:"statusTo,omitempty"`
	// ChannelFrom and ChannelTo are a channel change's channels.
	ChannelFrom string `json:"channelFrom,omitempty"`
	ChannelTo   string `json:"channelTo,omitempty"`
	// Score is a survey answer's score: happy or notHappy.
	Score string `json:"score,omitempty"`
}

// Matches reports whether the trigger fires for the event.
func (t Trigger) Matches(e Event) bool {
	if t.Type != e.Type || IsTimeTrigger(t.Type) {
		return false
	}
	switch t.Type {
	case TriggerStatusChanged:
		return e.StatusTo == t.To && e.StatusFrom != e.StatusTo
	case TriggerChannelChanged:
		return (t.From == ChannelAny || t.From == "" || t.From == e.ChannelFrom) && (t.To == ChannelAny || t.To == "" || t.To == e.ChannelTo)
	case TriggerSurveyFeedback:
		return slices.Contains(t.Scores, e.Score)
	}
	return true
}

// Matches reports whether any trigger of the rule fires for the event.
func (r Rule) Matches(e Event) bool {
	return slices.ContainsFunc(r.Triggers, func(t Trigger) bool { return t.Matches(e) })
}

// Cause says that a change was made by a rule's action: the rule, its run and how
// deep in a chain of rules the run was. A change a rule caused never triggers that
// rule again, and the rules it triggers run one level deeper.
type Cause struct {
	RuleID string `json:"ruleId"`
	RunID  string `json:"runId,omitempty"`
	Depth  int    `json:"depth"`
}

// Change is a change of a conversation as a time-based trigger sees it.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// StatusFrom and StatusTo are a status change's statuses.
	StatusFrom string `json:"statusFrom,omitempty"`
	StatusTo   string `json:"statusTo,omitempty"`
	// Status is the conversation's status after the change.
	Status string `json:"status,omitempty"`
	// Previous is who wrote the message before a message change, counting only
	// the customer's and agents' messages: customer, agent, or "" when it is the
	// first.
	Previous string `json:"previous,omitempty"`
}

// ChangeKind classifies a change for the time-based triggers.
type ChangeKind string

// Kinds of change.
const (
	ChangeStatus          ChangeKind = "status"
	ChangeAgentMessage    ChangeKind = "agentMessage"
	ChangeCustomerMessage ChangeKind = "customerMessage"
	// ChangeEnded: the conversation was closed (or ended otherwise).
	ChangeEnded ChangeKind = "ended"
	// ChangeOther is any other modification (a note, a tag, a queue…).
	ChangeOther ChangeKind = "other"
)

// Writers of messages, for Change.Previous.
const (
	WriterCustomer = "customer"
	WriterAgent    = "agent"
)

// Effect is what a change does to a time-based trigger of a rule.
type Effect string

// Effects.
const (
	// None leaves the trigger as it is.
	None Effect = ""
	// Arm starts the period now unless it already runs (an agent's second message
	// does not restart "customer has not replied").
	Arm Effect = "arm"
	// Rearm starts the period now, replacing a running one.
	Rearm Effect = "rearm"
	// Cancel stops a running period.
	Cancel Effect = "cancel"
)

// TimerEffect says what a change does to a time-based trigger of type typ.
//
//   - customerNotReplied runs from the first agent message after the customer's (or
//     the first message) and stops when the customer writes;
//   - agentNotReplied runs from the first customer message after an agent's and
//     stops when an agent writes;
//   - solvedFor runs from the change to solved and stops when the status changes
//     again;
//   - solvedUnmodified runs from the change to solved, starts again at every other
//     change while solved, and stops when the status changes;
//   - waitingFor runs from the change to waiting and stops when the status changes
//     again.
//
// Every one stops when the conversation ends. Messages written by automations,
// bots and the system are neither the customer's nor an agent's.
func TimerEffect(typ string, c Change) Effect {
	if c.Kind == ChangeEnded {
		return Cancel
	}
	switch typ {
	case TriggerCustomerNotReplied:
		switch {
		case c.Kind == ChangeAgentMessage && c.Previous != WriterAgent:
			return Arm
		case c.Kind == ChangeCustomerMessage && c.Previous == WriterAgent:
			return Cancel
		}
	case TriggerAgentNotReplied:
		switch {
		case c.Kind == ChangeCustomerMessage && c.Previous != WriterCustomer:
			return Arm
		case c.Kind == ChangeAgentMessage && c.Previous == WriterCustomer:
			return Cancel
		}
	case TriggerSolvedFor, TriggerWaitingFor:
		want := StatusSolved
		if typ == TriggerWaitingFor {
			want = StatusWaiting
		}
		if c.Kind == ChangeStatus && c.StatusFrom != c.StatusTo {
			switch {
			case c.StatusTo == want:
				return Rearm
			case c.StatusFrom == want:
				return Cancel
			}
		}
	case TriggerSolvedUnmodified:
		switch {
		case c.Kind == ChangeStatus && c.StatusFrom != c.StatusTo && c.StatusTo == StatusSolved:
			return Rearm
		case c.Kind == ChangeStatus && c.StatusFrom != c.StatusTo && c.StatusFrom == StatusSolved:
			return Cancel
		case c.Status == StatusSolved:
			return Rearm
		}
	}
	return None
}

// StillDue reports whether a time-based trigger of type typ that was armed still
// applies to the conversation as it is when its period ends: the safety check at
// firing, against a change whose cancel has not arrived.
func StillDue(typ string, status string, lastWriter string) bool {
	switch typ {
	case TriggerSolvedFor, TriggerSolvedUnmodified:
		return status == StatusSolved
	case TriggerWaitingFor:
		return status == StatusWaiting
	case TriggerCustomerNotReplied:
		return lastWriter == WriterAgent
	case TriggerAgentNotReplied:
		return lastWriter == WriterCustomer
	}
	return false
}

// Due is when a period armed at from ends.
func Due(from time.Time, d Duration) time.Time { return from.Add(d.Length()) }
