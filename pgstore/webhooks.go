package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/channels"
	"switchboard/events"
)

// WebhookEventTypes are the event types an endpoint may subscribe to: every
// interaction lifecycle event of the realtime feed. An agent's status changes are
// published by the API, not by an interaction, and are not delivered as webhooks.
var WebhookEventTypes = []string{
	events.InteractionInitiated, events.InteractionOffered, events.CallRinging, events.InteractionOfferClosed,
	events.InteractionConnected, events.InteractionDisconnected, events.InteractionTransferred,
	events.InteractionConferred, events.InteractionQueueChanged, events.InteractionDisposed, events.InteractionEnded,
	events.CustomerLinkedToInteraction, events.CustomerUnlinkedFromInteraction,
	events.ConsultationStarted, events.ConsultationConnected, events.ConsultationEnded,
	events.InteractionHeld, events.InteractionResumed, events.ParticipantLeft,
	events.MessageSent, events.MessageReceived, events.ConversationStatusChanged,
	events.SLABreached, events.SLABreachWithdrawn,
	events.NoteAdded, events.InteractionUnassigned, events.SurveyFeedbackReceived,
}

// WebhookPing is the event type of a test delivery (POST /v1/webhooks/{id}/ping):
// every endpoint receives it, whatever it subscribed to.
const WebhookPing = "ping"

// Bounds of an endpoint's fields.
const (
	maxWebhookDescription = 1000
	// maxWebhookError bounds a delivery's last error as stored.
	maxWebhookError = 2000
)

// WebhookEndpoint is a URL of a tenant that receives the lifecycle events it
// subscribed to, signed with its secret. The secret is answered once, when it is
// made (WebhookEndpointSecret); afterwards only its hint.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	TenantID    string   `json:"tenantId"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"eventTypes"`
	SecretHint  string   `json:"secretHint"`
	// Enabled endpoints get deliveries; a disabled one keeps its log.
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// WebhookEndpointSecret is an endpoint with its signing secret, answered when the
// endpoint is created and when its secret is rotated.
type WebhookEndpointSecret struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// WebhookTarget is what the fan-out needs of an enabled endpoint.
type WebhookTarget struct {
	EndpointID string
	EventTypes []string
}

// Subscribed reports whether the endpoint takes events of type typ.
func (t WebhookTarget) Subscribed(typ string) bool { return slices.Contains(t.EventTypes, typ) }

// NewWebhookEndpoint is an endpoint to create; it gets a new secret.
type NewWebhookEndpoint struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"eventTypes"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// Validate checks the new endpoint and puts its fields in canonical form.
func (n *NewWebhookEndpoint) Validate() error {
	if err := cleanWebhookURL(&n.URL); err != nil {
		return err
	}
	if err := cleanWebhookDescription(&n.Description); err != nil {
		return err
	}
	return cleanEventTypes(&n.EventTypes)
}

// WebhookEndpointUpdate changes the fields that are set.
type WebhookEndpointUpdate struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"eventTypes"`
	Enabled     *bool     `json:"enabled"`
}

// Validate checks the fields that are set.
func (u *WebhookEndpointUpdate) Validate() error {
	if u.URL == nil && u.Description == nil && u.EventTypes == nil && u.Enabled == nil {
		return invalid("", "nothing to change: set url, description, eventTypes or enabled")
	}
	if u.URL != nil {
		if err := cleanWebhookURL(u.URL); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := cleanWebhookDescription(u.Description); err != nil {
			return err
		}
	}
	if u.EventTypes != nil {
		return cleanEventTypes(u.EventTypes)
	}
	return nil
}

func cleanWebhookURL(u *string) error {
	*u = strings.TrimSpace(*u)
	if *u == "" {
		return invalid("url", "is required: the http or https URL that receives the events")
	}
	if len(*u) > maxWebhookURL {
		return invalid("url", "must be at most %d characters", maxWebhookURL)
	}
	if err := channels.ValidateWebhookURL(*u); err != nil {
		return invalid("url", "%v", err)
	}
	if p, err := url.Parse(*u); err == nil && p.User != nil {
		return invalid("url", "must not carry credentials: receivers authenticate deliveries by their signature")
	}
	return nil
}

func cleanWebhookDescription(d *string) error {
	*d = strings.TrimSpace(*d)
	if utf8.RuneCountInString(*d) > maxWebhookDescription || hasControl(*d) {
		return invalid("description", "must be at most %d characters, without control characters", maxWebhookDescription)
	}
	return nil
}

// cleanEventTypes requires at least one known type and drops repeats, keeping the
// order given.
func cleanEventTypes(types *[]string) error {
	if len(*types) == 0 {
		return invalid("eventTypes", "name at least one event type: %s", strings.Join(WebhookEventTypes, ", "))
	}
	var out []string
	for _, t := range *types {
		t = strings.TrimSpace(t)
		if !slices.Contains(WebhookEventTypes, t) {
			shown := "that event type"
			if utf8.RuneCountInString(t) <= 100 {
				shown = fmt.Sprintf("%q", t)
			}
			return invalid("eventTypes", "%s is not a webhook event type: use %s", shown, strings.Join(WebhookEventTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	*types = out
	return nil
}

// newWebhookSecret makes a secret of 256 random bits.
func newWebhookSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

const webhookEndpointColumns = `id, tenant_id, url, description, event_types, secret, enabled, created_at, updated_at`

// scanWebhookEndpoint reads an endpoint and its secret.
func scanWebhookEndpoint(row pgx.Row) (WebhookEndpointSecret, error) {
	var e WebhookEndpointSecret
	err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Description, &e.EventTypes, &e.Secret, &e.Enabled, &e.CreatedAt, &e.UpdatedAt)
	e.SecretHint = secretHint(e.Secret)
	return e, err
}

// webhookAudit is what the audit log keeps of an endpoint: never its secret.
func webhookAudit(e WebhookEndpoint) map[string]any {
	return map[string]any{"url": e.URL, "description": e.Description, "eventTypes": e.EventTypes, "enabled": e.Enabled,
		"secretHint": e.SecretHint}
}

// CreateWebhookEndpoint adds an endpoint with a new secret, answered this once.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, tenantID string, actor Actor, in NewWebhookEndpoint) (WebhookEndpointSecret, error) {
	if err := in.Validate(); err != nil {
		return WebhookEndpointSecret{}, err
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return WebhookEndpointSecret{}, err
	}
	enabled := in.Enabled == nil || *in.Enabled
	var out WebhookEndpointSecret
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhookEndpoint(tx.QueryRow(ctx, `
			INSERT INTO webhook_endpoints (tenant_id, url, description, event_types, secret, enabled)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+webhookEndpointColumns,
			tenantID, in.URL, in.Description, in.EventTypes, secret, enabled))
		if err != nil {
			return translate(err, "webhook endpoint")
		}
		return audit(ctx, tx, tenantID, actor, "webhook.created", "webhook", out.ID, webhookAudit(out.WebhookEndpoint))
	})
	return out, err
}

// GetWebhookEndpoint returns one endpoint of the tenant, without its secret.
func (s *Store) GetWebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return WebhookEndpoint{}, translate(pgx.ErrNoRows, "webhook endpoint")
	}
	e, err := scanWebhookEndpoint(s.pool.QueryRow(ctx, `SELECT `+webhookEndpointColumns+`
		FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return e.WebhookEndpoint, translate(err, "webhook endpoint")
}

// ListWebhookEndpoints lists the tenant's endpoints in the order they were created,
// without their secrets.
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenantID string, p Page) ([]WebhookEndpoint, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE tenant_id = $1
		  AND ($2::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2))
		ORDER BY created_at, id LIMIT $3`, tenantID, nullUUID(p.After), p.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookEndpoint, error) {
		e, err := scanWebhookEndpoint(r)
		return e.WebhookEndpoint, err
	})
}

// UpdateWebhookEndpoint changes an endpoint. Deliveries already made keep going to
// the endpoint as it is when each attempt is made.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, tenantID string, actor Actor, id string, in WebhookEndpointUpdate) (WebhookEndpoint, error) {
	if err := in.Validate(); err != nil {
		return WebhookEndpoint{}, err
	}
	if !isUUID(id) || !isUUID(tenantID) {
		return WebhookEndpoint{}, translate(pgx.ErrNoRows, "webhook endpoint")
	}
	var types any
	if in.EventTypes != nil {
		types = *in.EventTypes
	}
	var out WebhookEndpointSecret
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhookEndpoint(tx.QueryRow(ctx, `
			UPDATE webhook_endpoints SET url = coalesce($3, url), description = coalesce($4, description),
			       event_types = coalesce($5, event_types), enabled = coalesce($6, enabled), updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+webhookEndpointColumns,
			tenantID, id, in.URL, in.Description, types, in.Enabled))
		if err != nil {
			return translate(err, "webhook endpoint")
		}
		return audit(ctx, tx, tenantID, actor, "webhook.updated", "webhook", id, webhookAudit(out.WebhookEndpoint))
	})
	return out.WebhookEndpoint, err
}

// DeleteWebhookEndpoint removes an endpoint with its delivery log; its pending
// deliveries end at their next attempt.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) || !isUUID(tenantID) {
		return translate(pgx.ErrNoRows, "webhook endpoint")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var target string
		err := tx.QueryRow(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 RETURNING url`, tenantID, id).Scan(&target)
		if err != nil {
			return translate(err, "webhook endpoint")
		}
		return audit(ctx, tx, tenantID, actor, "webhook.deleted", "webhook", id, map[string]any{"url": target})
	})
}

// RotateWebhookSecret gives an endpoint a new secret, answered this once. Every
// attempt from now on is signed with it, the retries of earlier deliveries too.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenantID string, actor Actor, id string) (WebhookEndpointSecret, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return WebhookEndpointSecret{}, translate(pgx.ErrNoRows, "webhook endpoint")
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return WebhookEndpointSecret{}, err
	}
	var out WebhookEndpointSecret
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhookEndpoint(tx.QueryRow(ctx, `
			UPDATE webhook_endpoints SET secret = $3, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+webhookEndpointColumns, tenantID, id, secret))
		if err != nil {
			return translate(err, "webhook endpoint")
		}
		return audit(ctx, tx, tenantID, actor, "webhook.secret_rotated", "webhook", id, map[string]any{"secretHint": out.SecretHint})
	})
	return out, err
}

// WebhookTargets lists the tenant's enabled endpoints for the fan-out of its events.
func (s *Store) WebhookTargets(ctx context.Context, tenantID string) ([]WebhookTarget, error) {
	if !isUUID(tenantID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text, event_types FROM webhook_endpoints WHERE tenant_id = $1 AND enabled ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookTarget, error) {
		var t WebhookTarget
		return t, r.Scan(&t.EndpointID, &t.EventTypes)
	})
}

// Statuses of a delivery.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// WebhookEvent is an event to deliver.
type WebhookEvent struct {
	// Key is the event's idempotency key: one delivery per endpoint and key.
	Key           string
	Type          string
	InteractionID string
	At            time.Time
	Data          json.RawMessage
}

// WebhookDelivery is one event for one endpoint, and the log of its attempts. Its ID
// is the same on every attempt and re-send.
type WebhookDelivery struct {
	ID            string          `json:"id"`
	TenantID      string          `json:"tenantId"`
	EndpointID    string          `json:"endpointId"`
	EventKey      string          `json:"eventKey"`
	EventType     string          `json:"eventType"`
	InteractionID string          `json:"interactionId,omitempty"`
	OccurredAt    time.Time       `json:"occurredAt"`
	Data          json.RawMessage `json:"data"`
	// Status is pending until the endpoint answered 2xx (delivered) or the retries
	// ran out (failed).
	Status string `json:"status"`
	// Attempts counts every POST made for the delivery, re-sends included.
	Attempts       int        `json:"attempts"`
	LastAttemptAt  *time.Time `json:"lastAttemptAt"`
	LastStatusCode *int       `json:"lastStatusCode"`
	LastError      *string    `json:"lastError"`
	DeliveredAt    *time.Time `json:"deliveredAt"`
	ResentAt       *time.Time `json:"resentAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// WebhookDeliveryRef is a delivery as the fan-out made or found it.
type WebhookDeliveryRef struct {
	ID         string
	EndpointID string
	Status     string
}

// CreateWebhookDeliveries makes one delivery of the event for each of the endpoints
// that is still an enabled endpoint of the tenant, once: a delivery already made for
// an endpoint and the event's key is answered as it is (the same ID), so a retried
// publisher lands on the same deliveries.
func (s *Store) CreateWebhookDeliveries(ctx context.Context, tenantID string, endpointIDs []string, e WebhookEvent) ([]WebhookDeliveryRef, error) {
	if len(endpointIDs) == 0 {
		return nil, nil
	}
	if e.Key == "" || e.Type == "" || e.At.IsZero() {
		return nil, fmt.Errorf("webhook delivery of %q: an event needs a key, a type and a time", e.Key)
	}
	data := []byte(e.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	// The second SELECT reads the table as it was before the INSERT, so it answers
	// exactly the deliveries made earlier; a concurrent publisher's delivery, which
	// neither part sees, is that publisher's to start.
	rows, err := s.pool.Query(ctx, `
		WITH made AS (
			INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_key, event_type, interaction_id, occurred_at, data)
			SELECT e.tenant_id, e.id, $3, $4, $5, $6, $7 FROM webhook_endpoints e
			WHERE e.tenant_id = $1 AND e.id = ANY($2::uuid[]) AND e.enabled
			ON CONFLICT (endpoint_id, event_key) DO NOTHING
			RETURNING id, endpoint_id, status)
		SELECT id::text, endpoint_id::text, status FROM made
		UNION ALL
		SELECT id::text, endpoint_id::text, status FROM webhook_deliveries
		WHERE tenant_id = $1 AND endpoint_id = ANY($2::uuid[]) AND event_key = $3`,
		tenantID, endpointIDs, e.Key, e.Type, nullUUID(e.InteractionID), e.At, data)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries of %s: %w", e.Key, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDeliveryRef, error) {
		var d WebhookDeliveryRef
		return d, r.Scan(&d.ID, &d.EndpointID, &d.Status)
	})
}

const webhookDeliveryColumns = `d.id, d.tenant_id, d.endpoint_id, d.event_key, d.event_type, coalesce(d.interaction_id::text, ''),
	d.occurred_at, d.data, d.status, d.attempts, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at,
	d.resent_at, d.created_at, d.updated_at`

func scanWebhookDelivery(row pgx.Row, extra ...any) (WebhookDelivery, error) {
	var d WebhookDelivery
	var data []byte
	dest := append([]any{&d.ID, &d.TenantID, &d.EndpointID, &d.EventKey, &d.EventType, &d.InteractionID, &d.OccurredAt, &data,
		&d.Status, &d.Attempts, &d.LastAttemptAt, &d.LastStatusCode, &d.LastError, &d.DeliveredAt, &d.ResentAt,
		&d.CreatedAt, &d.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	d.Data = data
	return d, err
}

// GetWebhookDelivery returns one delivery of an endpoint of the tenant.
func (s *Store) GetWebhookDelivery(ctx context.Context, tenantID, endpointID, id string) (WebhookDelivery, error) {
	if !isUUID(id) || !isUUID(endpointID) || !isUUID(tenantID) {
		return WebhookDelivery{}, translate(pgx.ErrNoRows, "webhook delivery")
	}
	d, err := scanWebhookDelivery(s.pool.QueryRow(ctx, `SELECT `+webhookDeliveryColumns+`
		FROM webhook_deliveries d WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.id = $3`, tenantID, endpointID, id))
	return d, translate(err, "webhook delivery")
}

// WebhookDeliveryFilter selects an endpoint's deliveries, newest first.
type WebhookDeliveryFilter struct {
	// Status is pending, delivered or failed; empty for all.
	Status string
	Page
}

// Validate checks the filter.
func (f *WebhookDeliveryFilter) Validate() error {
	switch f.Status {
	case "", WebhookPending, WebhookDelivered, WebhookFailed:
	default:
		return invalid("status", "must be pending, delivered or failed")
	}
	return f.Page.Validate()
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first; ErrNotFound
// when the tenant has no such endpoint.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID, endpointID string, f WebhookDeliveryFilter) ([]WebhookDelivery, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.GetWebhookEndpoint(ctx, tenantID, endpointID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries d
		WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND ($3 = '' OR d.status = $3)
		  AND ($4::uuid IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries WHERE endpoint_id = $2 AND id = $4))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $5`, tenantID, endpointID, f.Status, nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDelivery, error) { return scanWebhookDelivery(r) })
}

// WebhookSend is a delivery with where and how to send it, as its endpoint is now.
type WebhookSend struct {
	Delivery WebhookDelivery
	URL      string
	Secret   string
	Enabled  bool
}

// WebhookSendOf reads a delivery for an attempt; ErrNotFound when the delivery or its
// endpoint was deleted.
func (s *Store) WebhookSendOf(ctx context.Context, tenantID, id string) (WebhookSend, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return WebhookSend{}, translate(pgx.ErrNoRows, "webhook delivery")
	}
	var out WebhookSend
	var err error
	out.Delivery, err = scanWebhookDelivery(s.pool.QueryRow(ctx, `
		SELECT `+webhookDeliveryColumns+`, e.url, e.secret, e.enabled
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
		WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, id), &out.URL, &out.Secret, &out.Enabled)
	return out, translate(err, "webhook delivery")
}

// WebhookAttempt is the outcome of one POST of a delivery.
type WebhookAttempt struct {
	At time.Time
	// StatusCode is the endpoint's answer; 0 when none came.
	StatusCode int
	// Delivered: the endpoint answered 2xx.
	Delivered bool
	// Error says why the attempt failed.
	Error string
}

// RecordWebhookAttempt adds an attempt to a delivery's log; a delivered attempt
// makes the delivery delivered. A delivery that is gone is not an error: its
// endpoint was deleted.
func (s *Store) RecordWebhookAttempt(ctx context.Context, tenantID, id string, a WebhookAttempt) error {
	if !isUUID(id) || !isUUID(tenantID) {
		return nil
	}
	status, deliveredAt, lastErr := WebhookPending, (*time.Time)(nil), nullText(truncate(a.Error, maxWebhookError))
	if a.Delivered {
		status, deliveredAt, lastErr = WebhookDelivered, &a.At, nil
	}
	var code any
	if a.StatusCode != 0 {
		code = a.StatusCode
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $3, last_status_code = $4, last_error = $5,
		       status = $6, delivered_at = $7, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, a.At, code, lastErr, status, deliveredAt)
	if err != nil {
		return fmt.Errorf("record attempt of webhook delivery %s: %w", id, err)
	}
	return nil
}

// FailWebhookDelivery marks a pending delivery failed, for good until it is re-sent;
// reason, when given, replaces the last attempt's error (a delivery that ended without
// an attempt says why).
func (s *Store) FailWebhookDelivery(ctx context.Context, tenantID, id, reason string) error {
	if !isUUID(id) || !isUUID(tenantID) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce($3, last_error), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'pending'`, tenantID, id, nullText(truncate(reason, maxWebhookError)))
	if err != nil {
		return fmt.Errorf("fail webhook delivery %s: %w", id, err)
	}
	return nil
}

// ReopenWebhookDelivery makes a delivery pending again for a re-send. It answers
// whether the delivery still exists.
func (s *Store) ReopenWebhookDelivery(ctx context.Context, tenantID, id string, at time.Time) (bool, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET status = 'pending', delivered_at = NULL, resent_at = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, at)
	if err != nil {
		return false, fmt.Errorf("re-send webhook delivery %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// truncate cuts s to at most n bytes of valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-len("…")], "") + "…"
}
