package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// InteractionStatus is where an interaction is in its life, as the ACD sees it.
type InteractionStatus string

// The interaction statuses of the read model.
const (
	// InteractionQueued: waiting for an agent.
	InteractionQueued InteractionStatus = "queued"
	// InteractionOffered: ringing on one agent's desktop, whose slot is reserved.
	InteractionOffered InteractionStatus = "offered"
	// InteractionConnected: an agent accepted it and holds it.
	InteractionConnected InteractionStatus = "connected"
	// InteractionOnHold: its agent put it on hold; they still hold it.
	InteractionOnHold InteractionStatus = "on_hold"
	// InteractionEnded: it ended after reaching an agent, who wraps it up until
	// it is disposed (by them, or by the campaign's wrap-up timeout).
	InteractionEnded InteractionStatus = "ended"
	// InteractionDisposed: wrapped up and closed with a disposition.
	InteractionDisposed InteractionStatus = "disposed"
	// InteractionAbandoned: the customer left before an agent took it.
	InteractionAbandoned InteractionStatus = "abandoned"
)

// Valid reports whether s is a known status.
func (s InteractionStatus) Valid() bool {
	switch s {
	case InteractionQueued, InteractionOffered, InteractionConnected, InteractionOnHold, InteractionEnded,
		InteractionDisposed, InteractionAbandoned:
		return true
	}
	return false
}

// Active reports whether the interaction still occupies its queue (and so keeps the
// queue from being deleted).
func (s InteractionStatus) Active() bool {
	return s == InteractionQueued || s == InteractionOffered || s == InteractionConnected || s == InteractionOnHold
}

// Held reports whether an agent holds the interaction (connected or on hold).
func (s InteractionStatus) Held() bool { return s == InteractionConnected || s == InteractionOnHold }

// Final reports whether the interaction's life is over: disposed or abandoned.
func (s InteractionStatus) Final() bool { return s == InteractionDisposed || s == InteractionAbandoned }

// Direction says who started an interaction.
type Direction string

// The directions.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Inbound || d == Outbound }

// Interaction is one interaction as the read model keeps it.
type Interaction struct {
	ID         string          `json:"id"`
	TenantID   string          `json:"tenantId"`
	WorkflowID string          `json:"workflowId"`
	Channel    routing.Channel `json:"channel"`
	// Source is the sub-channel as received ("whatsapp", "web_chat"…).
	Source        string    `json:"source,omitempty"`
	Direction     Direction `json:"direction"`
	From          string    `json:"from,omitempty"`
	To            string    `json:"to,omitempty"`
	CustomerPhone string    `json:"customerPhone,omitempty"`
	// Customer identifies the customer for the sticky-agent rule: the phone
	// number, else the address the interaction came from.
	Customer       string           `json:"customer,omitempty"`
	CustomerName   string           `json:"customerName,omitempty"`
	Tags           []string         `json:"tags"`
	QueueID        string           `json:"queueId"`
	RouteID        string           `json:"routeId,omitempty"`
	Priority       routing.Priority `json:"priority"`
	RequiredSkills []string         `json:"requiredSkills"`
	// CampaignID is the campaign it belongs to: the Default campaign when none was
	// named (or the named one was deleted before the interaction was written).
	CampaignID string `json:"campaignId,omitempty"`
	// Metadata is the custom metadata given at creation.
	Metadata map[string]string `json:"metadata,omitempty"`
	// FormID is the conversation form chosen for it; Subject its topic or e-mail
	// subject. Both change by their own updates (ConversationChange).
	FormID  string `json:"formId,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Sentiment is the customer's sentiment as their messages were scored; the
	// read model's (the workflow does not keep it).
	Sentiment *Sentiment `json:"sentiment,omitempty"`
	InteractionState
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// InteractionState is the part of an interaction that changes as it moves through the
// ACD; the workflow writes all of it at each change, numbered by Version.
type InteractionState struct {
	Status InteractionStatus `json:"status"`
	// OfferedAgentID is the agent it rings on (status offered only).
	OfferedAgentID string `json:"offeredAgentId,omitempty"`
	// AgentID is the agent who accepted it.
	AgentID string `json:"agentId,omitempty"`
	// ExcludedAgents rejected it or let it ring out; they are not offered it again.
	ExcludedAgents []string `json:"excludedAgents"`
	// Offers counts the offers made so far; the last one's attempt number.
	Offers      int        `json:"offerCount"`
	QueuedAt    time.Time  `json:"queuedAt"`
	OfferedAt   *time.Time `json:"offeredAt,omitempty"`
	ConnectedAt *time.Time `json:"connectedAt,omitempty"`
	EndedAt     *time.Time `json:"endedAt,omitempty"`
	EndReason   string     `json:"endReason,omitempty"`
	// Outcome is how it ended, once it did.
	Outcome Outcome `json:"outcome,omitempty"`
	// HeldAt is when the current hold began (status on_hold); Holds and
	// HoldSeconds count the holds and their length, the current one excluded.
	HeldAt      *time.Time `json:"heldAt,omitempty"`
	Holds       int        `json:"holds"`
	HoldSeconds int        `json:"holdSeconds"`
	// Transferred: moved by a transfer at least once; Transfers counts them.
	Transferred bool `json:"transferred"`
	Transfers   int  `json:"transfers"`
	// Participants are the others added to it (a conference).
	Participants []Participant `json:"participants"`
	// ConversationStatus is the status of a digital conversation; ReopenCount
	// counts how often it was reopened.
	ConversationStatus ConversationStatus `json:"conversationStatus,omitempty"`
	ReopenCount        int                `json:"reopenCount"`
	// SnoozedUntil is when a snoozed conversation opens again (conversation
	// status snoozed only).
	SnoozedUntil *time.Time `json:"snoozedUntil,omitempty"`
	// CustomerID is the customer record linked to it.
	CustomerID string `json:"customerId,omitempty"`
	// WrapUpUntil is when the wrap-up ends with the campaign's default code (status
	// ended; nil when the campaign waits for the agent).
	WrapUpUntil *time.Time          `json:"wrapUpUntil,omitempty"`
	DisposedAt  *time.Time          `json:"disposedAt,omitempty"`
	DisposedBy  string              `json:"disposedBy,omitempty"`
	Disposition *AppliedDisposition `json:"disposition,omitempty"`
	// Version orders the workflow's writes; a write with a version not above the
	// stored one changes nothing.
	Version int64 `json:"version"`
}

// maxInteractionText bounds the free-text identity fields of an interaction.
const maxInteractionText = 320

// Validate checks a new interaction before it is first written.
func (in *Interaction) Validate() error {
	switch {
	case !isUUID(in.TenantID):
		return invalid("tenantId", "must be a tenant ID")
	case !isUUID(in.ID):
		return invalid("id", "must be an interaction ID")
	case strings.TrimSpace(in.WorkflowID) == "":
		return invalid("workflowId", "is required")
	case !in.Channel.Valid():
		return invalid("channel", "unknown channel %q", in.Channel)
	case !in.Direction.Valid():
		return invalid("direction", "must be inbound or outbound")
	case !isUUID(in.QueueID):
		return invalid("queueId", "must be a queue ID")
	case in.RouteID != "" && !isUUID(in.RouteID):
		return invalid("routeId", "must be a route ID")
	case !in.Priority.Valid():
		return invalid("priority", "unknown priority %d", int(in.Priority))
	case in.CreatedAt.IsZero():
		return invalid("createdAt", "is required")
	case in.CampaignID != "" && !isUUID(in.CampaignID):
		return invalid("campaignId", "must be a campaign ID")
	}
	for _, f := range []struct{ name, v string }{
		{"source", in.Source}, {"from", in.From}, {"to", in.To}, {"customerPhone", in.CustomerPhone},
		{"customer", in.Customer}, {"customerName", in.CustomerName},
	} {
		if len(f.v) > maxInteractionText {
			return invalid(f.name, "must be at most %d bytes", maxInteractionText)
		}
	}
	if err := checkIDs("requiredSkills", in.RequiredSkills); err != nil {
		return err
	}
	return in.InteractionState.Validate()
}

// Validate checks a state before it is written.
func (st *InteractionState) Validate() error {
	switch {
	case !st.Status.Valid():
		return invalid("status", "unknown status %q", st.Status)
	case (st.Status == InteractionOffered) != (st.OfferedAgentID != ""):
		return invalid("offeredAgentId", "is set exactly while the interaction is offered")
	case st.OfferedAgentID != "" && !isUUID(st.OfferedAgentID):
		return invalid("offeredAgentId", "must be an agent ID")
	case (st.Status.Held() || st.Status == InteractionEnded || st.Status == InteractionDisposed) && st.AgentID == "":
		return invalid("agentId", "is required once an agent took the interaction")
	case (st.Status == InteractionOnHold) != (st.HeldAt != nil):
		return invalid("heldAt", "is set exactly while the interaction is on hold")
	case (st.Status == InteractionDisposed) != (st.DisposedAt != nil):
		return invalid("disposedAt", "is set exactly once the interaction is disposed")
	case st.Outcome != "" && !st.Outcome.Valid():
		return invalid("outcome", "unknown outcome %q", st.Outcome)
	case st.ConversationStatus != "" && !st.ConversationStatus.Valid():
		return invalid("conversationStatus", "unknown status %q", st.ConversationStatus)
	case (st.ConversationStatus == ConversationSnoozed) != (st.SnoozedUntil != nil):
		return invalid("snoozedUntil", "is set exactly while the conversation is snoozed")
	case st.DisposedBy != "" && !isUUID(st.DisposedBy):
		return invalid("disposedBy", "must be a user ID")
	case st.Holds < 0 || st.HoldSeconds < 0 || st.Transfers < 0 || st.ReopenCount < 0:
		return invalid("holds", "counters must not be negative")
	case len(st.CustomerID) > 200:
		return invalid("customerId", "must be at most 200 bytes")
	case st.AgentID != "" && !isUUID(st.AgentID):
		return invalid("agentId", "must be an agent ID")
	case st.Offers < 0:
		return invalid("offerCount", "must not be negative")
	case st.Version < 0:
		return invalid("version", "must not be negative")
	case st.QueuedAt.IsZero():
		return invalid("queuedAt", "is required")
	}
	return checkIDs("excludedAgents", st.ExcludedAgents)
}

// OfferOutcome is how an offer ended.
type OfferOutcome string

// The outcomes of an offer.
const (
	OfferAccepted OfferOutcome = "accepted"
	OfferRejected OfferOutcome = "rejected"
	// OfferTimeout: the agent did not answer within the ring timeout, or the
	// reservation lapsed before the answer was processed.
	OfferTimeout OfferOutcome = "timeout"
	// OfferReleased: the offer was withdrawn (the interaction ended while ringing).
	OfferReleased OfferOutcome = "released"
)

// Valid reports whether o is a known outcome.
func (o OfferOutcome) Valid() bool {
	switch o {
	case OfferAccepted, OfferRejected, OfferTimeout, OfferReleased:
		return true
	}
	return false
}

// Offer is one offer of an interaction to an agent.
type Offer struct {
	InteractionID string          `json:"interactionId"`
	Attempt       int             `json:"attempt"`
	AgentID       string          `json:"agentId"`
	Channel       routing.Channel `json:"channel"`
	OfferedAt     time.Time       `json:"offeredAt"`
	RingUntil     time.Time       `json:"ringUntil"`
	Outcome       OfferOutcome    `json:"outcome,omitempty"`
	RespondedAt   *time.Time      `json:"respondedAt,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	// Score is the winner's line of the routing decision.
	Score *routing.Score `json:"score,omitempty"`
}

// OfferResponse ends an offer: the agent answered, it rang out, or it was withdrawn.
type OfferResponse struct {
	Attempt     int          `json:"attempt"`
	Outcome     OfferOutcome `json:"outcome"`
	RespondedAt time.Time    `json:"respondedAt"`
	Reason      string       `json:"reason,omitempty"`
}

// InteractionUpdate is one write of the interaction workflow: its new state, and the
// offer it made or the answer to an offer, all written in one transaction.
type InteractionUpdate struct {
	TenantID      string           `json:"tenantId"`
	InteractionID string           `json:"interactionId"`
	State         InteractionState `json:"state"`
	Offer         *Offer           `json:"offer,omitempty"`
	Response      *OfferResponse   `json:"response,omitempty"`
	// Events are the timeline entries of this change.
	Events []TimelineEvent `json:"events,omitempty"`
	// CampaignID moves the interaction to this campaign (a transfer); the campaign
	// must be the tenant's.
	CampaignID string `json:"campaignId,omitempty"`
	// Conversation sets the conversation's tags, priority, form or subject with
	// this change (see ConversationChange).
	Conversation *ConversationChange `json:"conversation,omitempty"`
}

// Validate checks the update.
func (u *InteractionUpdate) Validate() error {
	if !isUUID(u.TenantID) {
		return invalid("tenantId", "must be a tenant ID")
	}
	if !isUUID(u.InteractionID) {
		return invalid("interactionId", "must be an interaction ID")
	}
	if u.CampaignID != "" && !isUUID(u.CampaignID) {
		return invalid("campaignId", "must be a campaign ID")
	}
	if err := u.State.Validate(); err != nil {
		return err
	}
	if err := validateEvents(u.Events); err != nil {
		return err
	}
	if err := u.Conversation.Validate(); err != nil {
		return err
	}
	if o := u.Offer; o != nil {
		switch {
		case o.Attempt < 1:
			return invalid("offer.attempt", "must be 1 or more")
		case !isUUID(o.AgentID):
			return invalid("offer.agentId", "must be an agent ID")
		case !o.Channel.Valid():
			return invalid("offer.channel", "unknown channel %q", o.Channel)
		case o.OfferedAt.IsZero() || o.RingUntil.Before(o.OfferedAt):
			return invalid("offer.ringUntil", "must not be before offeredAt")
		}
	}
	if r := u.Response; r != nil {
		switch {
		case r.Attempt < 1:
			return invalid("response.attempt", "must be 1 or more")
		case !r.Outcome.Valid():
			return invalid("response.outcome", "unknown outcome %q", r.Outcome)
		case r.RespondedAt.IsZero():
			return invalid("response.respondedAt", "is required")
		}
	}
	return nil
}

const interactionColumns = `id, tenant_id, workflow_id, channel, coalesce(source, ''), direction, coalesce(from_address, ''),
	coalesce(to_address, ''), coalesce(customer_phone, ''), coalesce(customer, ''), coalesce(customer_name, ''), tags,
	queue_id, coalesce(route_id::text, ''), priority, required_skills::text[], status, coalesce(offered_agent_id::text, ''),
	coalesce(agent_id::text, ''), excluded_agents::text[], offers, queued_at, offered_at, connected_at, ended_at,
	coalesce(end_reason, ''), version, created_at, updated_at, coalesce(campaign_id::text, ''), metadata,
	coalesce(outcome, ''), held_at, holds, hold_seconds, transferred, transfers, participants,
	coalesce(conversation_status, ''), reopen_count, coalesce(customer_id, ''), wrap_up_until, disposed_at,
	coalesce(disposed_by::text, ''), disposition_code_id IS NOT NULL, coalesce(disposition_class_id::text, ''),
	coalesce(disposition_class, ''), coalesce(disposition_code_id::text, ''), coalesce(disposition_code, ''),
	disposition_auto, coalesce(disposition_notes, ''), snoozed_until, coalesce(form_id::text, ''),
	coalesce(subject, ''), sentiment_score, sentiment_messages, coalesce(sentiment_tag, '')`

func scanInteraction(row pgx.Row) (Interaction, error) {
	var (
		in       Interaction
		priority int16
		disposed bool
		d        AppliedDisposition
		score    *float64
		scored   int
		feeling  string
	)
	err := row.Scan(&in.ID, &in.TenantID, &in.WorkflowID, &in.Channel, &in.Source, &in.Direction, &in.From, &in.To,
		&in.CustomerPhone, &in.Customer, &in.CustomerName, &in.Tags, &in.QueueID, &in.RouteID, &priority, &in.RequiredSkills,
		&in.Status, &in.OfferedAgentID, &in.AgentID, &in.ExcludedAgents, &in.Offers, &in.QueuedAt, &in.OfferedAt,
		&in.ConnectedAt, &in.EndedAt, &in.EndReason, &in.Version, &in.CreatedAt, &in.UpdatedAt, &in.CampaignID,
		&in.Metadata, &in.Outcome, &in.HeldAt, &in.Holds, &in.HoldSeconds, &in.Transferred, &in.Transfers,
		&in.Participants, &in.ConversationStatus, &in.ReopenCount, &in.CustomerID, &in.WrapUpUntil, &in.DisposedAt,
		&in.DisposedBy, &disposed, &d.ClassID, &d.Class, &d.CodeID, &d.Code, &d.Auto, &d.Notes, &in.SnoozedUntil,
		&in.FormID, &in.Subject, &score, &scored, &feeling)
	in.Priority = routing.Priority(priority)
	in.Sentiment = sentimentOf(score, scored, feeling)
	if disposed {
		in.Disposition = &d
	}
	if len(in.Metadata) == 0 {
		in.Metadata = nil
	}
	return in, err
}

// EnqueueInteraction writes a new interaction, once: when it is already there, nothing
// changes and the stored queue is returned. The queue is read under a share lock, so
// it cannot be deleted between the check and the insert (DeleteQueue counts the
// active interactions under its own lock); when the queue is already gone, the
// interaction goes to the Default queue, whose ID is returned.
func (s *Store) EnqueueInteraction(ctx context.Context, in Interaction, then ...InteractionUpdate) (queueID string, err error) {
	if err := in.Validate(); err != nil {
		return "", err
	}
	for _, u := range then {
		if u.TenantID != in.TenantID || u.InteractionID != in.ID {
			return "", invalid("interactionId", "a change written with an interaction must be of it")
		}
		if err := u.Validate(); err != nil {
			return "", err
		}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := enqueue(ctx, tx, in, &queueID); err != nil {
			return err
		}
		for _, u := range then {
			if _, err := recordInteraction(ctx, tx, u, ""); err != nil {
				return err
			}
		}
		return nil
	})
	return queueID, err
}

// enqueue is EnqueueInteraction's first write, inside tx.
func enqueue(ctx context.Context, tx pgx.Tx, in Interaction, queueID *string) error {
	err := tx.QueryRow(ctx, `SELECT queue_id::text FROM interactions WHERE tenant_id = $1 AND id = $2`, in.TenantID, in.ID).Scan(queueID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	err = tx.QueryRow(ctx, `
		SELECT id::text FROM queues WHERE tenant_id = $1 AND (id = $2 OR is_default)
		ORDER BY is_default LIMIT 1 FOR SHARE`, in.TenantID, in.QueueID).Scan(queueID)
	if err != nil {
		return translate(err, "queue")
	}
	campaignID, err := lockCampaign(ctx, tx, in.TenantID, in.CampaignID)
	if err != nil {
		return err
	}
	metadata := in.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	st := in.InteractionState
	var d AppliedDisposition
	if st.Disposition != nil {
		d = *st.Disposition
	}
	participants := st.Participants
	if participants == nil {
		participants = []Participant{}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO interactions (tenant_id, id, workflow_id, channel, source, direction, from_address, to_address,
			customer_phone, customer, customer_name, tags, queue_id, route_id, priority, required_skills, status,
			offered_agent_id, agent_id, excluded_agents, offers, queued_at, offered_at, connected_at, ended_at,
			end_reason, version, created_at, campaign_id, metadata, held_at, disposed_at, outcome, holds, hold_seconds,
			transferred, transfers, participants, conversation_status, reopen_count, customer_id, wrap_up_until,
			disposed_by, disposition_class_id, disposition_class, disposition_code_id, disposition_code,
			disposition_auto, disposition_notes, snoozed_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
			$22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42,
			$43, $44, $45, $46, $47, $48, $49, $50)
		ON CONFLICT DO NOTHING`,
		in.TenantID, in.ID, in.WorkflowID, in.Channel, nullText(in.Source), in.Direction, nullText(in.From),
		nullText(in.To), nullText(in.CustomerPhone), nullText(in.Customer), nullText(in.CustomerName), nonNil(in.Tags),
		*queueID, nullUUID(in.RouteID), int16(in.Priority), nonNil(in.RequiredSkills), st.Status,
		nullUUID(st.OfferedAgentID), nullUUID(st.AgentID), nonNil(st.ExcludedAgents), st.Offers, st.QueuedAt,
		st.OfferedAt, st.ConnectedAt, st.EndedAt, nullText(st.EndReason), st.Version, in.CreatedAt,
		nullUUID(campaignID), metadata, st.HeldAt, st.DisposedAt, nullText(string(st.Outcome)), st.Holds,
		st.HoldSeconds, st.Transferred, st.Transfers, participants, nullText(string(st.ConversationStatus)),
		st.ReopenCount, nullText(st.CustomerID), st.WrapUpUntil, nullUUID(st.DisposedBy), nullUUID(d.ClassID),
		nullText(d.Class), nullUUID(d.CodeID), nullText(d.Code), d.Auto, nullText(d.Notes), st.SnoozedUntil)
	if err != nil {
		return translate(err, "interaction "+in.ID)
	}
	if tag.RowsAffected() == 0 {
		return nil // written meanwhile by a retry that raced this one
	}
	if err := enqueueConversation(ctx, tx, in); err != nil {
		return err
	}
	// The timeline's first entry.
	return writeEvents(ctx, tx, in.TenantID, in.ID, st, []TimelineEvent{{Type: "interactionInitiated", At: in.CreatedAt,
		Data: map[string]any{"channel": in.Channel, "direction": in.Direction, "queueId": *queueID, "campaignId": campaignID}}})
}

// RecordInteraction writes one change of an interaction: its state, unless a newer
// version is already stored, with the offer made or the answer to an offer. It is
// idempotent: a state is rewritten only by its own version (a retried activity), an
// offer is keyed by its attempt (a repeated write with another agent replaces it only
// while it has no outcome, i.e. when an earlier try of the offer never reached the
// workflow), and an answer is written once. It reports whether the state was written
// (false: a newer one is stored). An interaction never enqueued answers ErrNotFound.
func (s *Store) RecordInteraction(ctx context.Context, u InteractionUpdate) (bool, error) {
	if err := u.Validate(); err != nil {
		return false, err
	}
	var written bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if u.CampaignID != "" {
			id, err := lockCampaign(ctx, tx, u.TenantID, u.CampaignID)
			if err != nil {
				return err
			}
			if id != u.CampaignID {
				return invalid("campaignId", "no such campaign in this tenant")
			}
		}
		var err error
		written, err = recordInteraction(ctx, tx, u, "")
		return err
	})
	return written, err
}

// recordInteraction is RecordInteraction inside tx; a queueID moves the interaction
// to that queue with its state.
func recordInteraction(ctx context.Context, tx pgx.Tx, u InteractionUpdate, queueID string) (bool, error) {
	st := u.State
	var d AppliedDisposition
	if st.Disposition != nil {
		d = *st.Disposition
	}
	participants := st.Participants
	if participants == nil {
		participants = []Participant{}
	}
	tag, err := tx.Exec(ctx, `
		UPDATE interactions SET status = $3, offered_agent_id = $4, agent_id = $5, excluded_agents = $6, offers = $7,
			queued_at = $8, offered_at = $9, connected_at = $10, ended_at = $11, end_reason = $12, version = $13,
			queue_id = coalesce($14::uuid, queue_id), outcome = $15, held_at = $16, holds = $17, hold_seconds = $18,
			transferred = $19, transfers = $20, participants = $21, conversation_status = $22, reopen_count = $23,
			customer_id = $24, wrap_up_until = $25, disposed_at = $26, disposed_by = $27, disposition_class_id = $28,
			disposition_class = $29, disposition_code_id = $30, disposition_code = $31, disposition_auto = $32,
			disposition_notes = $33, campaign_id = coalesce($34::uuid, campaign_id), snoozed_until = $35, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND version <= $13`,
		u.TenantID, u.InteractionID, st.Status, nullUUID(st.OfferedAgentID), nullUUID(st.AgentID),
		nonNil(st.ExcludedAgents), st.Offers, st.QueuedAt, st.OfferedAt, st.ConnectedAt, st.EndedAt,
		nullText(st.EndReason), st.Version, nullUUID(queueID), nullText(string(st.Outcome)), st.HeldAt, st.Holds,
		st.HoldSeconds, st.Transferred, st.Transfers, participants, nullText(string(st.ConversationStatus)),
		st.ReopenCount, nullText(st.CustomerID), st.WrapUpUntil, st.DisposedAt, nullUUID(st.DisposedBy),
		nullUUID(d.ClassID), nullText(d.Class), nullUUID(d.CodeID), nullText(d.Code), d.Auto, nullText(d.Notes),
		nullUUID(u.CampaignID), st.SnoozedUntil)
	if err != nil {
		return false, translate(err, "interaction "+u.InteractionID)
	}
	written := tag.RowsAffected() == 1
	if written {
		if err := recordConversation(ctx, tx, u); err != nil {
			return false, err
		}
	}
	if !written {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM interactions WHERE tenant_id = $1 AND id = $2)`,
			u.TenantID, u.InteractionID).Scan(&exists); err != nil {
			return false, err
		}
		if !exists {
			return false, fmt.Errorf("interaction %s: %w", u.InteractionID, ErrNotFound)
		}
	}
	if o := u.Offer; o != nil {
		var score []byte
		if o.Score != nil {
			if score, err = json.Marshal(o.Score); err != nil {
				return false, err
			}
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO interaction_offers (tenant_id, interaction_id, attempt, agent_id, channel, offered_at, ring_until, score)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, interaction_id, attempt) DO UPDATE SET
				agent_id = excluded.agent_id, channel = excluded.channel, offered_at = excluded.offered_at,
				ring_until = excluded.ring_until, score = excluded.score, updated_at = now()
			WHERE interaction_offers.outcome IS NULL AND interaction_offers.agent_id <> excluded.agent_id`,
			u.TenantID, u.InteractionID, o.Attempt, o.AgentID, o.Channel, o.OfferedAt, o.RingUntil, score)
		if err != nil {
			return false, translate(err, fmt.Sprintf("offer %d of interaction %s", o.Attempt, u.InteractionID))
		}
	}
	if err := writeEvents(ctx, tx, u.TenantID, u.InteractionID, st, u.Events); err != nil {
		return false, err
	}
	if r := u.Response; r != nil {
		if _, err := tx.Exec(ctx, `
			UPDATE interaction_offers SET outcome = $4, responded_at = $5, reason = $6, updated_at = now()
			WHERE tenant_id = $1 AND interaction_id = $2 AND attempt = $3 AND outcome IS NULL`,
			u.TenantID, u.InteractionID, r.Attempt, r.Outcome, r.RespondedAt, nullText(r.Reason)); err != nil {
			return false, err
		}
	}
	return written, nil
}

// QueueChange moves an interaction to another queue of its tenant.
type QueueChange struct {
	QueueID string `json:"queueId"`
	// AgentID is the agent the interaction rings on or is held by; empty while it
	// is queued.
	AgentID string `json:"agentId,omitempty"`
	// Kept is the state written when there is no such agent or the agent is a member
	// of the new queue: they keep the interaction.
	Kept InteractionUpdate `json:"kept"`
	// Unassigned is the state written when the agent is not a member: the
	// interaction is queued again without them.
	Unassigned *InteractionUpdate `json:"unassigned,omitempty"`
}

// ErrUnknownQueue is MoveInteraction's answer for a queue the tenant does not have.
var ErrUnknownQueue = &ValidationError{Field: "queueId", Message: "no such queue"}

// MoveInteraction moves an interaction to another queue with the state that follows:
// Kept when the agent it rings on or is held by is a member of the queue (every agent
// is in the Default queue) or there is none, else Unassigned. It reports whether the
// agent stayed (member). The queue is read under a share lock, so it cannot be
// deleted between the check and the write (DeleteQueue counts the active
// interactions under its own lock); a queue the tenant does not have answers
// ErrUnknownQueue and writes nothing. Like RecordInteraction it is idempotent: both
// states carry the same version, and a state is rewritten only by its own version.
func (s *Store) MoveInteraction(ctx context.Context, c QueueChange) (member bool, err error) {
	if !isUUID(c.QueueID) {
		return false, ErrUnknownQueue
	}
	if c.AgentID != "" && !isUUID(c.AgentID) {
		return false, invalid("agentId", "must be an agent ID")
	}
	if c.AgentID != "" && c.Unassigned == nil {
		return false, invalid("unassigned", "is required with an agent")
	}
	for _, u := range []*InteractionUpdate{&c.Kept, c.Unassigned} {
		if u == nil {
			continue
		}
		if u.TenantID != c.Kept.TenantID || u.InteractionID != c.Kept.InteractionID {
			return false, invalid("unassigned", "must be of the same interaction")
		}
		if err := u.Validate(); err != nil {
			return false, err
		}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var isDefault bool
		err := tx.QueryRow(ctx, `SELECT is_default FROM queues WHERE tenant_id = $1 AND id = $2 FOR SHARE`,
			c.Kept.TenantID, c.QueueID).Scan(&isDefault)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUnknownQueue
		}
		if err != nil {
			return err
		}
		member = c.AgentID == "" || isDefault
		if !member {
			if err := tx.QueryRow(ctx, `
				SELECT EXISTS (SELECT 1 FROM queue_agents WHERE tenant_id = $1 AND queue_id = $2 AND user_id = $3)`,
				c.Kept.TenantID, c.QueueID, c.AgentID).Scan(&member); err != nil {
				return err
			}
		}
		u := c.Kept
		if !member {
			u = *c.Unassigned
		}
		_, err = recordInteraction(ctx, tx, u, c.QueueID)
		return err
	})
	return member, err
}

// AgentWrapUp returns the agent's effective wrap-up time after a call (their own, else
// the tenant default) and when their latest ended call other than except ended (zero
// when none did), so that a call can tell whether the agent is still wrapping up
// another one.
func (s *Store) AgentWrapUp(ctx context.Context, tenantID, agentID, except string) (wrapUp time.Duration, lastEnded time.Time, err error) {
	if !isUUID(tenantID) || !isUUID(agentID) {
		return 0, time.Time{}, translate(pgx.ErrNoRows, "agent")
	}
	var (
		seconds int
		ended   *time.Time
	)
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(s.wrap_up_seconds, a.wrap_up_seconds),
		       (SELECT max(i.ended_at) FROM interactions i
		        WHERE i.tenant_id = $1 AND i.agent_id = $2 AND i.status = 'ended' AND i.channel = 'voice'
		          AND ($3::uuid IS NULL OR i.id <> $3))
		FROM acd_settings a LEFT JOIN agent_settings s ON s.tenant_id = a.tenant_id AND s.user_id = $2
		WHERE a.tenant_id = $1`, tenantID, agentID, nullUUID(except)).Scan(&seconds, &ended)
	if err != nil {
		return 0, time.Time{}, translate(err, "ACD settings")
	}
	if ended != nil {
		lastEnded = *ended
	}
	return time.Duration(seconds) * time.Second, lastEnded, nil
}

// GetInteraction returns one interaction of the tenant.
func (s *Store) GetInteraction(ctx context.Context, tenantID, id string) (Interaction, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return Interaction{}, translate(pgx.ErrNoRows, "interaction")
	}
	in, err := scanInteraction(s.pool.QueryRow(ctx, `SELECT `+interactionColumns+` FROM interactions WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return in, translate(err, "interaction")
}

// InteractionFilter selects interactions of a listing, newest first.
type InteractionFilter struct {
	Status InteractionStatus
	// AgentID keeps the interactions offered to or taken by this agent.
	AgentID string
	QueueID string
	Page
}

// Validate checks the filter.
func (f *InteractionFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return invalid("status", "must be queued, offered, connected, on_hold, ended, disposed or abandoned")
	}
	if f.AgentID != "" && !isUUID(f.AgentID) {
		return invalid("agentId", "must be an agent ID")
	}
	if f.QueueID != "" && !isUUID(f.QueueID) {
		return invalid("queueId", "must be a queue ID")
	}
	return f.Page.Validate()
}

// ListInteractions lists a tenant's interactions, newest first.
func (s *Store) ListInteractions(ctx context.Context, tenantID string, f InteractionFilter) ([]Interaction, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+interactionColumns+` FROM interactions i
		WHERE tenant_id = $1
		  AND ($2 = '' OR status = $2)
		  AND ($3::uuid IS NULL OR agent_id = $3 OR offered_agent_id = $3)
		  AND ($4::uuid IS NULL OR queue_id = $4)
		  AND ($5::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM interactions WHERE tenant_id = $1 AND id = $5))
		ORDER BY created_at DESC, id DESC LIMIT $6`,
		tenantID, string(f.Status), nullUUID(f.AgentID), nullUUID(f.QueueID), nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Interaction, error) { return scanInteraction(r) })
	if out == nil {
		out = []Interaction{}
	}
	return out, err
}

// InteractionOffers lists the offers of an interaction in order.
func (s *Store) InteractionOffers(ctx context.Context, tenantID, id string) ([]Offer, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return nil, translate(pgx.ErrNoRows, "interaction")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT interaction_id, attempt, agent_id, channel, offered_at, ring_until, coalesce(outcome, ''), responded_at,
		       coalesce(reason, ''), score
		FROM interaction_offers WHERE tenant_id = $1 AND interaction_id = $2 ORDER BY attempt`, tenantID, id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Offer, error) {
		var (
			o     Offer
			score []byte
		)
		if err := r.Scan(&o.InteractionID, &o.Attempt, &o.AgentID, &o.Channel, &o.OfferedAt, &o.RingUntil, &o.Outcome,
			&o.RespondedAt, &o.Reason, &score); err != nil {
			return o, err
		}
		if score != nil {
			o.Score = &routing.Score{}
			if err := json.Unmarshal(score, o.Score); err != nil {
				return o, fmt.Errorf("offer score: %w", err)
			}
		}
		return o, nil
	})
	if out == nil {
		out = []Offer{}
	}
	return out, err
}

// LastContact returns the agent who last took an interaction of customer (other than
// except) and when, for the sticky-agent rule; ok is false when no agent ever did.
func (s *Store) LastContact(ctx context.Context, tenantID, customer, except string) (agentID string, at time.Time, ok bool, err error) {
	if customer == "" {
		return "", time.Time{}, false, nil
	}
	err = s.pool.QueryRow(ctx, `
		SELECT agent_id::text, connected_at FROM interactions
		WHERE tenant_id = $1 AND customer = $2 AND connected_at IS NOT NULL AND ($3::uuid IS NULL OR id <> $3)
		ORDER BY connected_at DESC LIMIT 1`, tenantID, customer, nullUUID(except)).Scan(&agentID, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	return agentID, at, true, nil
}

// AssignmentQueue is what assignment needs of an interaction's queue and tenant.
type AssignmentQueue struct {
	QueueID   string
	IsDefault bool
	// AutoAssign is the queue's switch; see Queue.AutoAssigns for calls.
	AutoAssign bool
	Sticky     routing.StickyWindow
	// DefaultCapacity is the tenant's configured default capacity.
	DefaultCapacity routing.Capacity
	RingTimeout     time.Duration
}

// AutoAssigns reports whether interactions on ch are assigned automatically.
func (q AssignmentQueue) AutoAssigns(ch routing.Channel) bool {
	return ch == routing.Voice || q.AutoAssign
}

// GetAssignmentQueue reads the queue's assignment settings with the tenant's ACD
// settings in one query.
func (s *Store) GetAssignmentQueue(ctx context.Context, tenantID, queueID string) (AssignmentQueue, error) {
	if !isUUID(tenantID) || !isUUID(queueID) {
		return AssignmentQueue{}, translate(pgx.ErrNoRows, "queue")
	}
	var (
		q    AssignmentQueue
		mode AssignmentMode
		raw  []byte
		ring int
	)
	err := s.pool.QueryRow(ctx, `
		SELECT q.id::text, q.is_default, q.auto_assign, q.assignment_mode, coalesce(q.sticky_window, ''),
		       a.default_capacity, a.ring_timeout_seconds
		FROM queues q JOIN acd_settings a ON a.tenant_id = q.tenant_id
		WHERE q.tenant_id = $1 AND q.id = $2`, tenantID, queueID).
		Scan(&q.QueueID, &q.IsDefault, &q.AutoAssign, &mode, &q.Sticky, &raw, &ring)
	if err != nil {
		return AssignmentQueue{}, translate(err, "queue")
	}
	if mode != AssignSticky {
		q.Sticky = routing.StickyOff
	}
	if q.DefaultCapacity, err = decodeCapacity(raw); err != nil {
		return AssignmentQueue{}, err
	}
	q.RingTimeout = time.Duration(ring) * time.Second
	return q, nil
}

// AssignmentAgents returns, as routing candidates without their live part, the
// enabled agents of the queue (every enabled agent for the Default queue) among
// agentIDs (all of them when agentIDs is nil): their skills and effective capacity.
// Queues lists the queue alone, which is all routing.Eligible looks at.
func (s *Store) AssignmentAgents(ctx context.Context, tenantID string, q AssignmentQueue, agentIDs []string) ([]routing.Candidate, error) {
	if agentIDs != nil && len(agentIDs) == 0 {
		return []routing.Candidate{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT u.id::text, coalesce(s.capacity, '{}'),
		       coalesce((SELECT array_agg(k.skill_id::text ORDER BY k.skill_id) FROM agent_skills k
		                 WHERE k.tenant_id = u.tenant_id AND k.user_id = u.id), '{}')
		FROM users u LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE u.tenant_id = $1 AND u.role = 'agent' AND NOT u.disabled AND coalesce(s.enabled, true)
		  AND ($2::uuid[] IS NULL OR u.id = ANY($2::uuid[]))
		  AND ($3 OR EXISTS (SELECT 1 FROM queue_agents qa WHERE qa.tenant_id = u.tenant_id AND qa.queue_id = $4 AND qa.user_id = u.id))
		ORDER BY u.id`, tenantID, agentIDs, q.IsDefault, q.QueueID)
	if err != nil {
		return nil, err
	}
	out := []routing.Candidate{}
	var (
		id     string
		raw    []byte
		skills []string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &raw, &skills}, func() error {
		override, err := decodeCapacity(raw)
		if err != nil {
			return err
		}
		capacity, err := routing.EffectiveCapacity(q.DefaultCapacity, override)
		if err != nil {
			return fmt.Errorf("agent %s: %w", id, err)
		}
		out = append(out, routing.Candidate{AgentID: id, Queues: []string{q.QueueID}, Skills: slices.Clone(skills), Capacity: capacity})
		return nil
	})
	return out, err
}

// WaitingFilter selects the waiting interactions an agent could be given.
type WaitingFilter struct {
	// AgentID is left out of interactions that excluded them.
	AgentID  string
	QueueIDs []string
	// Skills are the agent's: interactions requiring others are left out.
	Skills []string
	// Room is how many more interactions the agent takes per channel; at most that
	// many are returned per channel.
	Room routing.Occupancy
	// Except are left out: interactions already found taken by someone else.
	Except []string
}

// Waiting returns the queued interactions the filter's agent is eligible for, at most
// Room per channel, in bulk-assignment order (priority, then age). Interactions of
// queues that do not assign automatically are left out (calls always are), and so
// are those waiting for their queue's opening (opening_waits).
func (s *Store) Waiting(ctx context.Context, tenantID string, f WaitingFilter) ([]routing.Waiting, error) {
	var channels []string
	var room []int32
	for _, ch := range routing.Channels() {
		if n := f.Room[ch]; n > 0 {
			channels = append(channels, string(ch))
			room = append(room, int32(min(n, routing.MaxCapacity)))
		}
	}
	if len(channels) == 0 || len(f.QueueIDs) == 0 || !isUUID(f.AgentID) {
		return []routing.Waiting{}, nil
	}
	// One index walk per channel, stopping at the agent's room there, so the cost
	// follows the agent's capacity rather than the length of the queues.
	rows, err := s.pool.Query(ctx, `
		SELECT w.id, w.queue_id, w.channel, w.priority, w.created_at, w.required_skills
		FROM unnest($5::text[], $6::int[]) AS room (channel, n)
		CROSS JOIN LATERAL (
			SELECT i.id::text AS id, i.queue_id::text AS queue_id, i.channel, i.priority, i.created_at,
			       i.required_skills::text[] AS required_skills
			FROM interactions i JOIN queues q ON q.tenant_id = i.tenant_id AND q.id = i.queue_id
			WHERE i.tenant_id = $1 AND i.status = 'queued' AND i.queue_id = ANY($2::uuid[])
			  AND i.channel = room.channel
			  AND (q.auto_assign OR i.channel = 'voice')
			  AND i.required_skills <@ $3::uuid[]
			  AND NOT ($4::uuid = ANY(i.excluded_agents))
			  AND NOT (i.id = ANY($7::uuid[]))
			  AND NOT EXISTS (SELECT 1 FROM opening_waits o WHERE o.tenant_id = i.tenant_id AND o.interaction_id = i.id)
			ORDER BY i.priority DESC, i.created_at, i.id
			LIMIT room.n) w
		ORDER BY w.priority DESC, w.created_at, w.id`,
		tenantID, f.QueueIDs, nonNil(f.Skills), f.AgentID, channels, room, nonNil(f.Except))
	if err != nil {
		return nil, err
	}
	out := []routing.Waiting{}
	var (
		w        routing.Waiting
		priority int16
	)
	_, err = pgx.ForEachRow(rows, []any{&w.ID, &w.QueueID, &w.Channel, &priority, &w.CreatedAt, &w.RequiredSkills}, func() error {
		w.Priority = routing.Priority(priority)
		out = append(out, w)
		return nil
	})
	return out, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
