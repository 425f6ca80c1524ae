package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Outcome is how an interaction ended.
type Outcome string

// The outcomes.
const (
	// OutcomeCompleted: it reached an agent and ended normally.
	OutcomeCompleted Outcome = "completed"
	// OutcomeAbandoned: the customer left before an agent took it.
	OutcomeAbandoned Outcome = "abandoned"
	// OutcomeFailed, OutcomeBusy, OutcomeNoAnswer and OutcomeVoicemail end outbound
	// calls that never reached the customer.
	OutcomeFailed    Outcome = "failed"
	OutcomeBusy      Outcome = "busy"
	OutcomeNoAnswer  Outcome = "no_answer"
	OutcomeVoicemail Outcome = "voicemail"
)

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeCompleted, OutcomeAbandoned, OutcomeFailed, OutcomeBusy, OutcomeNoAnswer, OutcomeVoicemail:
		return true
	}
	return false
}

// ConversationStatus is the status of a digital conversation.
type ConversationStatus string

// The conversation statuses.
const (
	ConversationOpen    ConversationStatus = "open"
	ConversationWaiting ConversationStatus = "waiting"
	// ConversationSnoozed is set aside until SnoozedUntil, when it opens again.
	ConversationSnoozed ConversationStatus = "snoozed"
	ConversationSolved  ConversationStatus = "solved"
	ConversationClosed  ConversationStatus = "closed"
)

// Valid reports whether c is a known conversation status.
func (c ConversationStatus) Valid() bool {
	switch c {
	case ConversationOpen, ConversationWaiting, ConversationSnoozed, ConversationSolved, ConversationClosed:
		return true
	}
	return false
}

// ParticipantKind is who joined an interaction besides its agent and customer.
type ParticipantKind string

// The participant kinds of a conference.
const (
	ParticipantAgent      ParticipantKind = "agent"
	ParticipantSupervisor ParticipantKind = "supervisor"
	ParticipantExternal   ParticipantKind = "external"
)

// Valid reports whether k is a known participant kind.
func (k ParticipantKind) Valid() bool {
	return k == ParticipantAgent || k == ParticipantSupervisor || k == ParticipantExternal
}

// Participant is someone added to an interaction (a conference): a user of the
// tenant, or an external number.
type Participant struct {
	Kind    ParticipantKind `json:"kind"`
	UserID  string          `json:"userId,omitempty"`
	Number  string          `json:"number,omitempty"`
	AddedBy string          `json:"addedBy,omitempty"`
	// Consultation: an agent consulted for a warm transfer.
	Consultation bool       `json:"consultation,omitempty"`
	JoinedAt     time.Time  `json:"joinedAt"`
	LeftAt       *time.Time `json:"leftAt,omitempty"`
}

// AppliedDisposition is the disposition an interaction was closed with.
type AppliedDisposition struct {
	ClassID string `json:"classId"`
	Class   string `json:"class"`
	CodeID  string `json:"codeId"`
	Code    string `json:"code"`
	// Auto: the campaign's wrap-up timeout applied its default code.
	Auto  bool   `json:"auto"`
	Notes string `json:"notes,omitempty"`
}

// TimelineEvent is one entry of an interaction's timeline, written with the state
// change it describes (keyed by that state's version and the type).
type TimelineEvent struct {
	Type    string         `json:"type"`
	At      time.Time      `json:"at"`
	ActorID string         `json:"actorId,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// TimelineEntry is a stored timeline event with the state it led to.
type TimelineEntry struct {
	Version int64             `json:"version"`
	Type    string            `json:"type"`
	At      time.Time         `json:"at"`
	ActorID string            `json:"actorId,omitempty"`
	AgentID string            `json:"agentId,omitempty"`
	Status  InteractionStatus `json:"status"`
	Data    map[string]any    `json:"data"`
}

// Note is a note on an interaction.
type Note struct {
	ID            string    `json:"id"`
	TenantID      string    `json:"-"`
	InteractionID string    `json:"interactionId"`
	AuthorID      string    `json:"authorId,omitempty"`
	Body          string    `json:"body"`
	CreatedAt     time.Time `json:"createdAt"`
}

// MaxNoteLength bounds a note, in characters.
const MaxNoteLength = 5000

// ValidateNoteBody checks a note's text.
func ValidateNoteBody(field, body string) error {
	switch n := utf8.RuneCountInString(body); {
	case strings.TrimSpace(body) == "":
		return invalid(field, "must not be empty")
	case n > MaxNoteLength:
		return invalid(field, "must be at most %d characters (got %d)", MaxNoteLength, n)
	}
	return nil
}

// AddNote writes a note once: a repeat with the same ID changes nothing and returns the
// stored note.
func (s *Store) AddNote(ctx context.Context, n Note) (Note, error) {
	switch {
	case !isUUID(n.TenantID) || !isUUID(n.InteractionID):
		return Note{}, translate(pgx.ErrNoRows, "interaction")
	case !isUUID(n.ID):
		return Note{}, invalid("id", "must be a note ID")
	case n.AuthorID != "" && !isUUID(n.AuthorID):
		return Note{}, invalid("authorId", "must be a user ID")
	case n.CreatedAt.IsZero():
		return Note{}, invalid("createdAt", "is required")
	}
	if err := ValidateNoteBody("body", n.Body); err != nil {
		return Note{}, err
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO interaction_notes (tenant_id, interaction_id, id, author_id, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		n.TenantID, n.InteractionID, n.ID, nullUUID(n.AuthorID), n.Body, n.CreatedAt)
	if err != nil {
		return Note{}, translate(err, "interaction "+n.InteractionID)
	}
	var out Note
	err = s.pool.QueryRow(ctx, `
		SELECT id::text, interaction_id::text, coalesce(author_id::text, ''), body, created_at
		FROM interaction_notes WHERE tenant_id = $1 AND id = $2`, n.TenantID, n.ID).
		Scan(&out.ID, &out.InteractionID, &out.AuthorID, &out.Body, &out.CreatedAt)
	out.TenantID = n.TenantID
	if err == nil && out.InteractionID != n.InteractionID {
		return Note{}, invalid("id", "is the ID of a note of another interaction")
	}
	return out, translate(err, "note")
}

// Notes lists the notes of an interaction, oldest first.
func (s *Store) Notes(ctx context.Context, tenantID, interactionID string) ([]Note, error) {
	out := []Note{}
	if !isUUID(tenantID) || !isUUID(interactionID) {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, interaction_id::text, coalesce(author_id::text, ''), body, created_at
		FROM interaction_notes WHERE tenant_id = $1 AND interaction_id = $2 ORDER BY created_at, id`, tenantID, interactionID)
	if err != nil {
		return nil, err
	}
	notes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Note, error) {
		n := Note{TenantID: tenantID}
		err := r.Scan(&n.ID, &n.InteractionID, &n.AuthorID, &n.Body, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return nil, err
	}
	return append(out, notes...), nil
}

// Timeline lists the timeline of an interaction in the order its changes happened.
func (s *Store) Timeline(ctx context.Context, tenantID, interactionID string) ([]TimelineEntry, error) {
	out := []TimelineEntry{}
	if !isUUID(tenantID) || !isUUID(interactionID) {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT version, type, at, coalesce(actor_id::text, ''), coalesce(agent_id::text, ''), status, data
		FROM interaction_events WHERE tenant_id = $1 AND interaction_id = $2 ORDER BY version, at, type`, tenantID, interactionID)
	if err != nil {
		return nil, err
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEntry, error) {
		var e TimelineEntry
		err := r.Scan(&e.Version, &e.Type, &e.At, &e.ActorID, &e.AgentID, &e.Status, &e.Data)
		return e, err
	})
	if err != nil {
		return nil, err
	}
	return append(out, entries...), nil
}

// validateEvents checks the timeline events of an update.
func validateEvents(evs []TimelineEvent) error {
	for i, e := range evs {
		switch {
		case strings.TrimSpace(e.Type) == "" || len(e.Type) > 100:
			return invalid(fmt.Sprintf("events[%d].type", i), "must be 1 to 100 characters")
		case e.At.IsZero():
			return invalid(fmt.Sprintf("events[%d].at", i), "is required")
		case e.ActorID != "" && !isUUID(e.ActorID):
			return invalid(fmt.Sprintf("events[%d].actorId", i), "must be a user ID")
		}
	}
	return nil
}

// writeEvents adds the timeline rows of a state change, once each.
func writeEvents(ctx context.Context, tx pgx.Tx, tenantID, interactionID string, st InteractionState, evs []TimelineEvent) error {
	agent := st.AgentID
	if agent == "" {
		agent = st.OfferedAgentID
	}
	for _, e := range evs {
		data := e.Data
		if data == nil {
			data = map[string]any{}
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO interaction_events (tenant_id, interaction_id, version, type, at, actor_id, agent_id, status, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			tenantID, interactionID, st.Version, e.Type, e.At, nullUUID(e.ActorID), nullUUID(agent), st.Status, raw); err != nil {
			return translate(err, "interaction "+interactionID)
		}
	}
	return nil
}

// lockCampaign reads the campaign an interaction is written with under a share lock,
// so it cannot be deleted meanwhile (DeleteCampaign counts the active interactions
// under its own lock); an unknown or deleted campaign falls back to the tenant's
// Default campaign, whose ID is returned.
func lockCampaign(ctx context.Context, tx pgx.Tx, tenantID, campaignID string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `
		SELECT id::text FROM campaigns WHERE tenant_id = $1 AND (id = $2 OR is_default)
		ORDER BY is_default LIMIT 1 FOR SHARE`, tenantID, nullUUID(campaignID)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil // a tenant from before campaigns existed
	}
	return id, err
}
