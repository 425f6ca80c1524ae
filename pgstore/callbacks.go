package pgstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CallbackStatus is where a scheduled callback is in its life.
type CallbackStatus string

// Callback statuses. A callback is scheduled until it fires (a self-callback past its
// time stays scheduled while it waits for its agent), dialing while its outbound
// interaction starts, then completed; or cancelled (deleted) or failed before that.
const (
	CallbackScheduled CallbackStatus = "scheduled"
	CallbackDialing   CallbackStatus = "dialing"
	CallbackCompleted CallbackStatus = "completed"
	CallbackCancelled CallbackStatus = "cancelled"
	CallbackFailed    CallbackStatus = "failed"
)

// CallbackStatuses lists every status, in the order of a callback's life.
var CallbackStatuses = []CallbackStatus{CallbackScheduled, CallbackDialing, CallbackCompleted, CallbackCancelled, CallbackFailed}

// Valid reports whether s is a known status.
func (s CallbackStatus) Valid() bool {
	switch s {
	case CallbackScheduled, CallbackDialing, CallbackCompleted, CallbackCancelled, CallbackFailed:
		return true
	}
	return false
}

// Open reports whether the callback has yet to fire (scheduled, or dialing).
func (s CallbackStatus) Open() bool { return s == CallbackScheduled || s == CallbackDialing }

// Reasons a callback failed.
const (
	// CallbackReasonDoNotCall: the number is on the tenant's do-not-call list.
	CallbackReasonDoNotCall = "do_not_call"
	// CallbackReasonAgentGone: a self-callback's agent is no longer an active
	// agent of the tenant.
	CallbackReasonAgentGone = "agent_unavailable"
)

// CallbackEventType names an entry of a callback's history.
type CallbackEventType string

// Entries of a callback's history.
const (
	CallbackEventScheduled   CallbackEventType = "scheduled"
	CallbackEventRescheduled CallbackEventType = "rescheduled"
	CallbackEventDialing     CallbackEventType = "dialing"
	CallbackEventCompleted   CallbackEventType = "completed"
	CallbackEventCancelled   CallbackEventType = "cancelled"
	CallbackEventFailed      CallbackEventType = "failed"
)

func (t CallbackEventType) valid() bool {
	switch t {
	case CallbackEventScheduled, CallbackEventRescheduled, CallbackEventDialing, CallbackEventCompleted, CallbackEventCancelled, CallbackEventFailed:
		return true
	}
	return false
}

// Bounds of a callback's fields.
const (
	// MaxCallbackNotes bounds the notes, in characters.
	MaxCallbackNotes = 2000
	// MaxCallbackReason bounds a reschedule's or deletion's reason, in characters.
	MaxCallbackReason = 500
	// MaxCallbackAhead is how far ahead a callback may be scheduled.
	MaxCallbackAhead = 366 * 24 * time.Hour
	maxCallbackName  = 200
)

// Callback is a scheduled call back to a customer, as its workflow (`callback/<id>`)
// writes it.
type Callback struct {
	ID         string         `json:"id"`
	TenantID   string         `json:"tenantId"`
	WorkflowID string         `json:"workflowId"`
	Status     CallbackStatus `json:"status"`
	// DueAt is when it fires.
	DueAt time.Time `json:"dueAt"`
	// SelfCallback: it is offered to AgentID only; otherwise it is routed to
	// QueueID, or to the campaign's default queue when QueueID is empty.
	SelfCallback bool   `json:"selfCallback"`
	AgentID      string `json:"agentId,omitempty"`
	QueueID      string `json:"queueId,omitempty"`
	// CampaignID is the call's campaign; empty for the tenant's Default one.
	CampaignID string `json:"campaignId,omitempty"`
	// Phone is the number to call, normalised (NormalizePhone).
	Phone string `json:"phone"`
	// Customer names the customer as interactions do (the sticky-agent key).
	Customer     string `json:"customer,omitempty"`
	CustomerName string `json:"customerName,omitempty"`
	Notes        string `json:"notes"`
	// CreatedBy is who scheduled it.
	CreatedBy string `json:"createdBy,omitempty"`
	// SourceInteractionID is the interaction whose disposal scheduled it.
	SourceInteractionID string `json:"sourceInteractionId,omitempty"`
	// Generation counts its fires; InteractionID is the outbound interaction the
	// last one started, at FiredAt.
	Generation    int        `json:"generation"`
	InteractionID string     `json:"interactionId,omitempty"`
	FiredAt       *time.Time `json:"firedAt,omitempty"`
	Reschedules   int        `json:"reschedules"`
	// Reason is why it was cancelled or failed; ClosedBy who cancelled it.
	Reason    string     `json:"reason,omitempty"`
	ClosedBy  string     `json:"closedBy,omitempty"`
	ClosedAt  *time.Time `json:"closedAt,omitempty"`
	Version   int64      `json:"version"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// CallbackEvent is one entry of a callback's history, written with the version of
// the callback it describes.
type CallbackEvent struct {
	Version       int64             `json:"version"`
	Type          CallbackEventType `json:"type"`
	At            time.Time         `json:"at"`
	ActorID       string            `json:"actorId,omitempty"`
	PreviousDueAt *time.Time        `json:"previousDueAt,omitempty"`
	DueAt         time.Time         `json:"dueAt"`
	Reason        string            `json:"reason,omitempty"`
	InteractionID string            `json:"interactionId,omitempty"`
}

// ValidateCallbackNotes checks a callback's notes: at most MaxCallbackNotes
// characters, without control characters but newlines and tabs.
func ValidateCallbackNotes(field, notes string) error {
	return callbackText(field, notes, MaxCallbackNotes)
}

// ValidateCallbackReason checks the reason of a reschedule or a deletion; required
// says whether it may be empty.
func ValidateCallbackReason(field, reason string, required bool) error {
	if required && strings.TrimSpace(reason) == "" {
		return invalid(field, "is required: say why")
	}
	return callbackText(field, strings.TrimSpace(reason), MaxCallbackReason)
}

// callbackText checks a callback's free text: at most max characters, without
// control characters but newlines and tabs.
func callbackText(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max || !utf8.ValidString(v) ||
		strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
		return invalid(field, "must be at most %d characters, without control characters", max)
	}
	return nil
}

// ValidateCallbackDue checks when a callback is to fire, seen at now: not in the
// past, and at most MaxCallbackAhead ahead.
func ValidateCallbackDue(field string, due, now time.Time) error {
	switch {
	case due.IsZero():
		return invalid(field, "is required")
	case due.Before(now.Add(-time.Second)):
		return invalid(field, "must not be in the past (it is %s now)", now.UTC().Format(time.RFC3339))
	case due.After(now.Add(MaxCallbackAhead)):
		return invalid(field, "must be at most %d days ahead", int(MaxCallbackAhead/(24*time.Hour)))
	}
	return nil
}

// Validate checks a callback's state before it is written.
func (c *Callback) Validate() error {
	for _, id := range []struct{ field, v string }{
		{"tenantId", c.TenantID}, {"id", c.ID}, {"agentId", c.AgentID}, {"queueId", c.QueueID}, {"campaignId", c.CampaignID},
		{"createdBy", c.CreatedBy}, {"sourceInteractionId", c.SourceInteractionID}, {"interactionId", c.InteractionID}, {"closedBy", c.ClosedBy},
	} {
		if (id.v != "" || id.field == "tenantId" || id.field == "id") && !isUUID(id.v) {
			return invalid(id.field, "must be an ID")
		}
	}
	if p, err := NormalizePhone(c.Phone); err != nil || p != c.Phone {
		return invalid("phone", "must be a normalised phone number (NormalizePhone)")
	}
	switch {
	case c.WorkflowID == "":
		return invalid("workflowId", "is required")
	case !c.Status.Valid():
		return invalid("status", "must be scheduled, dialing, completed, cancelled or failed")
	case c.DueAt.IsZero() || c.CreatedAt.IsZero():
		return invalid("dueAt", "a callback needs its due and creation times")
	case c.SelfCallback && c.AgentID == "":
		return invalid("agentId", "a self-callback needs its agent")
	case (c.Status == CallbackDialing || c.Status == CallbackCompleted) && c.InteractionID == "":
		return invalid("interactionId", "a callback that fired names its interaction")
	case (c.Status == CallbackCancelled || c.Status == CallbackFailed) && strings.TrimSpace(c.Reason) == "":
		return invalid("reason", "a cancelled or failed callback says why")
	case c.Version < 1:
		return invalid("version", "must be at least 1")
	case c.Generation < 0 || c.Reschedules < 0:
		return invalid("generation", "counts cannot be negative")
	case utf8.RuneCountInString(c.CustomerName) > maxCallbackName:
		return invalid("customerName", "must be at most %d characters", maxCallbackName)
	}
	if err := ValidateCallbackNotes("notes", c.Notes); err != nil {
		return err
	}
	return ValidateCallbackReason("reason", c.Reason, false)
}

// RecordCallback writes a callback's state with its history entry, in one
// transaction. It is idempotent: the state is rewritten only by its own version or a
// newer one (a retried activity), and the entry is keyed by the version. It reports
// whether the state was written (false: a newer one is stored).
func (s *Store) RecordCallback(ctx context.Context, c Callback, e CallbackEvent) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	if !e.Type.valid() || e.Version != c.Version || e.At.IsZero() || e.DueAt.IsZero() {
		return false, invalid("event", "a callback's history entry has a known type, its time and the state's version")
	}
	if e.ActorID != "" && !isUUID(e.ActorID) {
		return false, invalid("event.actorId", "must be an ID")
	}
	if e.InteractionID != "" && !isUUID(e.InteractionID) {
		return false, invalid("event.interactionId", "must be an ID")
	}
	if err := ValidateCallbackReason("event.reason", e.Reason, false); err != nil {
		return false, err
	}
	var written bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO callbacks (tenant_id, id, workflow_id, status, due_at, self_callback, agent_id, queue_id, campaign_id,
				phone, customer, customer_name, notes, created_by, source_interaction_id, generation, interaction_id,
				fired_at, reschedules, reason, closed_by, closed_at, version, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
			ON CONFLICT (tenant_id, id) DO UPDATE SET status = EXCLUDED.status, due_at = EXCLUDED.due_at,
				agent_id = EXCLUDED.agent_id, queue_id = EXCLUDED.queue_id, phone = EXCLUDED.phone, notes = EXCLUDED.notes,
				generation = EXCLUDED.generation, interaction_id = EXCLUDED.interaction_id, fired_at = EXCLUDED.fired_at,
				reschedules = EXCLUDED.reschedules, reason = EXCLUDED.reason, closed_by = EXCLUDED.closed_by,
				closed_at = EXCLUDED.closed_at, version = EXCLUDED.version, updated_at = now()
			WHERE callbacks.version <= EXCLUDED.version`,
			c.TenantID, c.ID, c.WorkflowID, c.Status, c.DueAt, c.SelfCallback, nullUUID(c.AgentID), nullUUID(c.QueueID),
			nullUUID(c.CampaignID), c.Phone, nullText(c.Customer), nullText(c.CustomerName), c.Notes, nullUUID(c.CreatedBy),
			nullUUID(c.SourceInteractionID), c.Generation, nullUUID(c.InteractionID), c.FiredAt, c.Reschedules,
			nullText(strings.TrimSpace(c.Reason)), nullUUID(c.ClosedBy), c.ClosedAt, c.Version, c.CreatedAt)
		if err != nil {
			return translate(err, "callback "+c.ID)
		}
		written = tag.RowsAffected() == 1
		_, err = tx.Exec(ctx, `
			INSERT INTO callback_events (tenant_id, callback_id, version, type, at, actor_id, previous_due_at, due_at, reason, interaction_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id, callback_id, version) DO NOTHING`,
			c.TenantID, c.ID, e.Version, e.Type, e.At, nullUUID(e.ActorID), e.PreviousDueAt, e.DueAt,
			nullText(strings.TrimSpace(e.Reason)), nullUUID(e.InteractionID))
		return translate(err, "callback event")
	})
	return written, err
}

const callbackColumns = `c.id::text, c.tenant_id::text, c.workflow_id, c.status, c.due_at, c.self_callback,
	coalesce(c.agent_id::text, ''), coalesce(c.queue_id::text, ''), coalesce(c.campaign_id::text, ''), c.phone,
	coalesce(c.customer, ''), coalesce(c.customer_name, ''), c.notes, coalesce(c.created_by::text, ''),
	coalesce(c.source_interaction_id::text, ''), c.generation, coalesce(c.interaction_id::text, ''), c.fired_at,
	c.reschedules, coalesce(c.reason, ''), coalesce(c.closed_by::text, ''), c.closed_at, c.version, c.created_at, c.updated_at`

func scanCallback(row pgx.Row) (Callback, error) {
	var c Callback
	err := row.Scan(&c.ID, &c.TenantID, &c.WorkflowID, &c.Status, &c.DueAt, &c.SelfCallback, &c.AgentID, &c.QueueID,
		&c.CampaignID, &c.Phone, &c.Customer, &c.CustomerName, &c.Notes, &c.CreatedBy, &c.SourceInteractionID,
		&c.Generation, &c.InteractionID, &c.FiredAt, &c.Reschedules, &c.Reason, &c.ClosedBy, &c.ClosedAt, &c.Version,
		&c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// GetCallback returns one callback of the tenant.
func (s *Store) GetCallback(ctx context.Context, tenantID, id string) (Callback, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Callback{}, translate(pgx.ErrNoRows, "callback")
	}
	c, err := scanCallback(s.pool.QueryRow(ctx, `SELECT `+callbackColumns+` FROM callbacks c WHERE c.tenant_id = $1 AND c.id = $2`,
		tenantID, strings.ToLower(id)))
	return c, translate(err, "callback")
}

// CallbackHistory returns a callback's history, oldest first.
func (s *Store) CallbackHistory(ctx context.Context, tenantID, id string) ([]CallbackEvent, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return []CallbackEvent{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT version, type, at, coalesce(actor_id::text, ''), previous_due_at, due_at, coalesce(reason, ''),
		       coalesce(interaction_id::text, '')
		FROM callback_events WHERE tenant_id = $1 AND callback_id = $2 ORDER BY version`, tenantID, strings.ToLower(id))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallbackEvent, error) {
		var e CallbackEvent
		err := r.Scan(&e.Version, &e.Type, &e.At, &e.ActorID, &e.PreviousDueAt, &e.DueAt, &e.Reason, &e.InteractionID)
		return e, err
	})
}

// CallbackFilter selects a tenant's callbacks, by due time then ID. Every field is
// optional; those given must all match.
type CallbackFilter struct {
	// Owner keeps the callbacks of this user: waiting for them (their
	// self-callbacks) or scheduled by them.
	Owner      string
	CampaignID string
	// Statuses keeps these statuses; empty keeps the open ones (scheduled and
	// dialing), the list agents work from.
	Statuses []CallbackStatus
	// From and To bound the due time: From inclusive, To exclusive.
	From, To time.Time
	// Limit is the page size: 0 for 50, at most 200.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// CallbackPage is one page of a callback listing.
type CallbackPage struct {
	Items []Callback `json:"items"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Validate checks the filter and sets its defaults.
func (f *CallbackFilter) Validate() error {
	for _, id := range []struct{ field, v string }{{"agentId", f.Owner}, {"campaignId", f.CampaignID}} {
		if id.v != "" && !isUUID(id.v) {
			return invalid(id.field, "must be an ID")
		}
	}
	for _, st := range f.Statuses {
		if !st.Valid() {
			return invalid("status", "must be scheduled, dialing, completed, cancelled or failed (several separated by commas)")
		}
	}
	if len(f.Statuses) == 0 {
		f.Statuses = []CallbackStatus{CallbackScheduled, CallbackDialing}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return invalid("to", "must not be before from")
	}
	if f.Limit == 0 {
		f.Limit = defaultPageSize
	}
	if f.Limit < 1 || f.Limit > maxPageSize {
		return invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	if f.Cursor != "" {
		if _, _, err := decodeDueCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// dueCursor encodes the position after a callback of a page: its due time in
// microseconds (PostgreSQL's precision) and its ID.
func dueCursor(c Callback) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.DueAt.UnixMicro(), 10) + "_" + c.ID))
}

func decodeDueCursor(s string) (time.Time, string, error) {
	bad := invalid("cursor", "must be the nextCursor of a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	micros, id, ok := strings.Cut(string(raw), "_")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !isUUID(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// ListCallbacks answers a page of the tenant's callbacks matching f, soonest due
// first, with the cursor of the next page.
func (s *Store) ListCallbacks(ctx context.Context, tenantID string, f CallbackFilter) (CallbackPage, error) {
	if err := f.Validate(); err != nil {
		return CallbackPage{}, err
	}
	out := CallbackPage{Items: []Callback{}}
	if !isUUID(tenantID) {
		return out, nil
	}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	where := []string{"c.tenant_id = $1", "c.status = ANY(" + arg(statuses) + ")"}
	if f.Owner != "" {
		o := arg(strings.ToLower(f.Owner))
		where = append(where, fmt.Sprintf("(c.agent_id = %[1]s OR c.created_by = %[1]s)", o))
	}
	if f.CampaignID != "" {
		where = append(where, "c.campaign_id = "+arg(strings.ToLower(f.CampaignID)))
	}
	if !f.From.IsZero() {
		where = append(where, "c.due_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "c.due_at < "+arg(f.To))
	}
	if f.Cursor != "" {
		at, id, _ := decodeDueCursor(f.Cursor)
		where = append(where, fmt.Sprintf("(c.due_at, c.id) > (%s, %s::uuid)", arg(at), arg(id)))
	}
	// One row more than the page tells whether there is a next page.
	rows, err := s.pool.Query(ctx, `SELECT `+callbackColumns+` FROM callbacks c WHERE `+strings.Join(where, " AND ")+`
		ORDER BY c.due_at, c.id LIMIT `+arg(f.Limit+1), args...)
	if err != nil {
		return CallbackPage{}, fmt.Errorf("list callbacks: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Callback, error) { return scanCallback(r) })
	if err != nil {
		return CallbackPage{}, fmt.Errorf("list callbacks: %w", err)
	}
	if len(items) > f.Limit {
		items = items[:f.Limit]
		out.NextCursor = dueCursor(items[len(items)-1])
	}
	out.Items = items
	return out, nil
}

// CallbackFireID is the ID of the outbound interaction a callback's fire of that
// generation starts: derived from both, so a retried fire starts the same
// interaction, never a second one.
func CallbackFireID(callbackID string, generation int) string {
	return uuid.NewSHA1(uuid.MustParse(callbackID), fmt.Appendf(nil, "callback-fire/%d", generation)).String()
}

// WaitingSelfCallback is a self-callback past its time still waiting for its agent.
type WaitingSelfCallback struct {
	ID string `json:"id"`
	// NextFireID is the interaction its next fire starts (CallbackFireID).
	NextFireID string `json:"nextFireId"`
}

// WaitingSelfCallbacks lists up to limit of the agent's self-callbacks whose time
// has come (due at or before now) and that have not fired, the longest waiting first.
func (s *Store) WaitingSelfCallbacks(ctx context.Context, tenantID, agentID string, now time.Time, limit int) ([]WaitingSelfCallback, error) {
	if !isUUID(tenantID) || !isUUID(agentID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, generation FROM callbacks
		WHERE tenant_id = $1 AND agent_id = $2 AND self_callback AND status = 'scheduled' AND due_at <= $3
		ORDER BY due_at, id LIMIT $4`, tenantID, agentID, now, limit)
	if err != nil {
		return nil, err
	}
	var (
		out []WaitingSelfCallback
		id  string
		gen int
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &gen}, func() error {
		out = append(out, WaitingSelfCallback{ID: id, NextFireID: CallbackFireID(id, gen+1)})
		return nil
	})
	return out, err
}
