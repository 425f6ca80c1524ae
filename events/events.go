// Package events is Switchboard's realtime feed: lifecycle events of interactions and
// agents, published once per tenant into a Redis stream and followed by every API
// replica, so an agent's or supervisor's stream works whichever replica it reaches and
// a reconnecting client resumes from the last event it saw.
//
// Publishing is idempotent: every event carries a key chosen by its publisher (an
// interaction's ID and the read-model version of the state it reports, say), and a
// second publish of the same key — an activity retried after its answer was lost —
// returns the first one's ID without adding anything.
//
// A stream keeps the newest Options.MaxLen events of a tenant (about; Redis trims in
// whole nodes). A client that resumes from an event older than that is told so with a
// StreamReset event and reloads its state through the REST API.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event types. The interaction lifecycle names are those CRMs and desktops know.
const (
	InteractionInitiated            = "interactionInitiated"
	InteractionOffered              = "interactionOffered"
	CallRinging                     = "callRinging"
	InteractionOfferClosed          = "interactionOfferClosed"
	InteractionConnected            = "interactionConnected"
	InteractionDisconnected         = "interactionDisconnected"
	InteractionTransferred          = "interactionTransferred"
	InteractionConferred            = "interactionConferred"
	InteractionQueueChanged         = "interactionQueueChanged"
	InteractionDisposed             = "interactionDisposed"
	InteractionEnded                = "interactionEnded"
	CustomerLinkedToInteraction     = "customerLinkedToInteraction"
	CustomerUnlinkedFromInteraction = "customerUnlinkedFromInteraction"
	ConsultationStarted             = "consultationStarted"
	ConsultationConnected           = "consultationConnected"
	ConsultationEnded               = "consultationEnded"
	InteractionHeld                 = "interactionHeld"
	InteractionResumed              = "interactionResumed"
	ParticipantLeft                 = "participantLeft"
	MessageSent                     = "messageSent"
	MessageReceived                 = "messageReceived"
	ConversationStatusChanged       = "conversationStatusChanged"
	// InteractionUnassigned: an automation took the interaction from its agent; it
	// is queued again (data.detail.from).
	InteractionUnassigned = "interactionUnassigned"
	// NoteAdded: an agent (or a supervisor) added a note (data.detail.noteId).
	NoteAdded = "noteAdded"
	// SurveyFeedbackReceived: the customer answered the conversation's CSAT survey
	// (data.detail.surveyId, .score, .comment); it comes once the answer is
	// complete (the score, and the follow-up when one was asked).
	SurveyFeedbackReceived = "surveyFeedbackReceived"
	AgentStatusChanged     = "agentStatusChanged"
	// SLABreached: a metric of a conversation's SLA passed its target (data: the
	// breach record); SLABreachWithdrawn: a recalculation (another policy, queue or
	// target) found a recorded breach no longer holds.
	SLABreached        = "slaBreached"
	SLABreachWithdrawn = "slaBreachWithdrawn"
	// ShowCRM tells the desktop of the agent who now holds an interaction to open
	// its campaign's screen pop (data.screenPop.url).
	ShowCRM = "showCrm"
	// StreamReset tells a resuming client that events after its last one were
	// trimmed: it must reload its state. It is never stored.
	StreamReset = "streamReset"
)

// Event is one entry of a tenant's feed.
type Event struct {
	// ID is the stream entry ID Redis gave the event ("<ms>-<seq>"): increasing
	// within a tenant, and what a client resumes from.
	ID string `json:"id"`
	// Key identifies the event for idempotent publishing.
	Key      string    `json:"key"`
	Type     string    `json:"type"`
	TenantID string    `json:"tenantId"`
	At       time.Time `json:"at"`
	// InteractionID is the interaction the event is about, if any.
	InteractionID string `json:"interactionId,omitempty"`
	// Agents are the agents the event concerns (the offered agent, the agent who
	// holds the interaction, the agent whose status changed); an agent's stream
	// carries only events naming them. Supervisors, admins and integrations see
	// every event of their tenant.
	Agents []string `json:"agents,omitempty"`
	// Data is the event's payload: the interaction or presence as of the event.
	Data json.RawMessage `json:"data,omitempty"`
}

// ErrInvalid marks an event or a position that cannot be used as given.
var ErrInvalid = errors.New("events: invalid input")

// Validate checks what publishing needs.
func (e Event) Validate() error {
	switch {
	case e.TenantID == "" || strings.ContainsAny(e.TenantID, "{} "):
		return fmt.Errorf("%w: tenant ID %q", ErrInvalid, e.TenantID)
	case e.Key == "":
		return fmt.Errorf("%w: an event needs a key", ErrInvalid)
	case e.Type == "" || e.Type == StreamReset:
		return fmt.Errorf("%w: event type %q", ErrInvalid, e.Type)
	case e.At.IsZero():
		return fmt.Errorf("%w: event %s has no time", ErrInvalid, e.Key)
	case len(e.Data) > 0 && !json.Valid(e.Data):
		return fmt.Errorf("%w: event %s: data is not JSON", ErrInvalid, e.Key)
	}
	return nil
}

// Concerns reports whether the event names agent.
func (e Event) Concerns(agent string) bool { return slices.Contains(e.Agents, agent) }

// position is a stream entry ID, parsed for ordering.
type position struct{ ms, seq uint64 }

// parsePosition parses "<ms>-<seq>" (or "<ms>", as Redis accepts).
func parsePosition(id string) (position, error) {
	msPart, seqPart, hasSeq := strings.Cut(id, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("%w: event ID %q", ErrInvalid, id)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return position{}, fmt.Errorf("%w: event ID %q", ErrInvalid, id)
		}
	}
	return position{ms, seq}, nil
}

func (p position) after(q position) bool {
	return p.ms > q.ms || (p.ms == q.ms && p.seq > q.seq)
}

func (p position) String() string {
	return strconv.FormatUint(p.ms, 10) + "-" + strconv.FormatUint(p.seq, 10)
}

// CheckPosition reports whether id can be resumed from.
func CheckPosition(id string) error {
	_, err := parsePosition(id)
	return err
}
