package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/channels"
)

// SenderKind says who wrote a message.
type SenderKind string

// The authors of messages: customers write in, the others write out.
const (
	SenderCustomer SenderKind = "customer"
	SenderAgent    SenderKind = "agent"
	SenderSystem   SenderKind = "system"
	SenderBot      SenderKind = "bot"
)

// Valid reports whether k is a known sender kind.
func (k SenderKind) Valid() bool {
	switch k {
	case SenderCustomer, SenderAgent, SenderSystem, SenderBot:
		return true
	}
	return false
}

// DeliveryStatus is where an outbound message is on its way to the customer.
type DeliveryStatus string

// The delivery statuses. A message moves forward only: pending, then sent, then
// delivered; it may fail from pending or sent. Delivered and failed are final.
const (
	// DeliveryPending: written, not yet taken by the channel.
	DeliveryPending DeliveryStatus = "pending"
	// DeliverySent: the channel took it.
	DeliverySent DeliveryStatus = "sent"
	// DeliveryDelivered: the channel reported it reached the customer.
	DeliveryDelivered DeliveryStatus = "delivered"
	// DeliveryFailed: the channel refused it, or reported it undeliverable.
	DeliveryFailed DeliveryStatus = "failed"
)

// Valid reports whether d is a known delivery status.
func (d DeliveryStatus) Valid() bool {
	switch d {
	case DeliveryPending, DeliverySent, DeliveryDelivered, DeliveryFailed:
		return true
	}
	return false
}

// Final reports whether nothing comes after d.
func (d DeliveryStatus) Final() bool { return d == DeliveryDelivered || d == DeliveryFailed }

func (d DeliveryStatus) rank() int {
	switch d {
	case DeliverySent:
		return 1
	case DeliveryDelivered, DeliveryFailed:
		return 2
	}
	return 0
}

// Message is one message of an interaction's transcript.
type Message struct {
	ID            string `json:"id"`
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// Seq orders the interaction's messages, from 1, without gaps.
	Seq        int64      `json:"seq"`
	Direction  Direction  `json:"direction"`
	SenderKind SenderKind `json:"senderKind"`
	// SenderID is the agent's user ID, the bot's name, the customer's address…
	SenderID    string                `json:"senderId,omitempty"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments"`
	// The delivery of an outbound message.
	ChannelSenderID   string         `json:"channelSenderId,omitempty"`
	DeliveryStatus    DeliveryStatus `json:"deliveryStatus,omitempty"`
	ProviderMessageID string         `json:"providerMessageId,omitempty"`
	DeliveryError     string         `json:"deliveryError,omitempty"`
	DeliveryUpdatedAt *time.Time     `json:"deliveryUpdatedAt,omitempty"`
	CreatedAt         time.Time      `json:"createdAt"`
}

// NewMessage is a message to add to an interaction's transcript.
type NewMessage struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// ID is chosen by the caller and makes the write idempotent.
	ID          string                `json:"id"`
	Direction   Direction             `json:"direction"`
	SenderKind  SenderKind            `json:"senderKind"`
	SenderID    string                `json:"senderId,omitempty"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments,omitempty"`
	// CreatedAt is when the message was written or received; zero means now.
	CreatedAt time.Time `json:"createdAt"`
}

// Bounds of a message.
const (
	// MaxMessageBody is the longest body, in characters.
	MaxMessageBody    = 10000
	maxAttachments    = 20
	maxAttachmentURL  = 2000
	maxAttachmentText = 255
	maxSenderID       = 320
	maxDeliveryError  = 1000
	maxProviderID     = 255
)

// Bounds of a page of a transcript.
const (
	DefaultTranscriptLimit = 100
	MaxTranscriptLimit     = 500
)

// Validate checks the message.
func (m *NewMessage) Validate() error {
	switch {
	case !isUUID(m.TenantID):
		return invalid("tenantId", "must be a tenant ID")
	case !isUUID(m.InteractionID):
		return invalid("interactionId", "must be an interaction ID")
	case !isUUID(m.ID):
		return invalid("id", "must be a message ID (a UUID)")
	case !m.Direction.Valid():
		return invalid("direction", "must be inbound or outbound")
	case !m.SenderKind.Valid():
		return invalid("senderKind", "must be customer, agent, system or bot")
	case (m.Direction == Inbound) != (m.SenderKind == SenderCustomer):
		return invalid("senderKind", "customers write inbound messages; agents, bots and the system outbound ones")
	case m.SenderKind == SenderAgent && !isUUID(m.SenderID):
		return invalid("senderId", "must be the agent's user ID")
	case utf8.RuneCountInString(m.SenderID) > maxSenderID || hasControl(m.SenderID) || !utf8.ValidString(m.SenderID):
		return invalid("senderId", "must be at most %d characters, without control characters", maxSenderID)
	case !utf8.ValidString(m.Body) || strings.ContainsRune(m.Body, 0):
		return invalid("body", "must be UTF-8 text without NUL characters")
	case utf8.RuneCountInString(m.Body) > MaxMessageBody:
		return invalid("body", "must be at most %d characters", MaxMessageBody)
	case strings.TrimSpace(m.Body) == "" && len(m.Attachments) == 0:
		return invalid("body", "a message needs a body or attachments")
	case len(m.Attachments) > maxAttachments:
		return invalid("attachments", "at most %d attachments", maxAttachments)
	}
	for i, a := range m.Attachments {
		if err := validAttachment(a); err != nil {
			var v *ValidationError
			if errors.As(err, &v) {
				v.Field = fmt.Sprintf("attachments[%d].%s", i, v.Field)
			}
			return err
		}
	}
	return nil
}

func validAttachment(a channels.Attachment) error {
	u, err := url.Parse(a.URL)
	switch {
	case a.URL == "" || len(a.URL) > maxAttachmentURL || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return invalid("url", "must be an http or https URL of at most %d characters where the file is kept", maxAttachmentURL)
	case utf8.RuneCountInString(a.Name) > maxAttachmentText || hasControl(a.Name) || !utf8.ValidString(a.Name):
		return invalid("name", "must be at most %d characters, without control characters", maxAttachmentText)
	case a.Size < 0:
		return invalid("size", "must not be negative")
	}
	if a.ContentType != "" {
		if _, _, err := mime.ParseMediaType(a.ContentType); err != nil || len(a.ContentType) > maxAttachmentText || !strings.Contains(a.ContentType, "/") {
			return invalid("contentType", "must be a media type such as image/jpeg")
		}
	}
	return nil
}

const messageColumns = `id, tenant_id, interaction_id, seq, direction, sender_kind, coalesce(sender_id, ''), body, attachments,
	coalesce(channel_sender_id::text, ''), coalesce(delivery_status, ''), coalesce(provider_message_id, ''),
	coalesce(delivery_error, ''), delivery_updated_at, created_at`

func scanMessage(row pgx.Row) (Message, error) {
	var (
		m   Message
		raw []byte
	)
	if err := row.Scan(&m.ID, &m.TenantID, &m.InteractionID, &m.Seq, &m.Direction, &m.SenderKind, &m.SenderID, &m.Body, &raw,
		&m.ChannelSenderID, &m.DeliveryStatus, &m.ProviderMessageID, &m.DeliveryError, &m.DeliveryUpdatedAt, &m.CreatedAt); err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m.Attachments); err != nil {
		return m, fmt.Errorf("message %s attachments: %w", m.ID, err)
	}
	if m.Attachments == nil {
		m.Attachments = []channels.Attachment{}
	}
	return m, nil
}

// ErrMessageIDTaken is AppendMessage's answer for an ID already used by a
// different message.
var ErrMessageIDTaken = fmt.Errorf("the message ID is already used by another message: %w", ErrConflict)

// AppendMessage adds a message at the end of its interaction's transcript, numbered
// after the last one; an outbound message starts pending. It is idempotent: a message
// whose ID is already stored is not added again, and the stored one is returned
// (with its delivery so far), so that a retry knows what the first try did. The same
// ID with another interaction, direction, author or body is ErrMessageIDTaken.
// Appends to one interaction are serialized, so concurrent writers never take the
// same number and leave no gaps.
func (s *Store) AppendMessage(ctx context.Context, in NewMessage) (Message, error) {
	if err := in.Validate(); err != nil {
		return Message{}, err
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = time.Now()
	}
	attachments, err := json.Marshal(nonNilAttachments(in.Attachments))
	if err != nil {
		return Message{}, err
	}
	var status any
	if in.Direction == Outbound {
		status = DeliveryPending
	}
	var out Message
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// One writer per interaction at a time: the next number is read after the
		// previous writer committed, and a retry racing its first try sees its row.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 6))`,
			in.TenantID, in.InteractionID); err != nil {
			return err
		}
		var err error
		out, err = scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM interaction_messages WHERE tenant_id = $1 AND id = $2`,
			in.TenantID, in.ID))
		if err == nil {
			if out.InteractionID != in.InteractionID || out.Direction != in.Direction || out.SenderKind != in.SenderKind || out.Body != in.Body {
				return ErrMessageIDTaken
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = scanMessage(tx.QueryRow(ctx, `
			INSERT INTO interaction_messages (tenant_id, interaction_id, id, seq, direction, sender_kind, sender_id, body,
				attachments, delivery_status, delivery_updated_at, created_at)
			SELECT $1, $2, $3, coalesce(max(seq), 0) + 1, $4, $5, $6, $7, $8, $9::text,
				CASE WHEN $9::text IS NULL THEN NULL ELSE now() END, $10
			FROM interaction_messages WHERE tenant_id = $1 AND interaction_id = $2
			RETURNING `+messageColumns,
			in.TenantID, in.InteractionID, in.ID, in.Direction, in.SenderKind, nullText(in.SenderID), in.Body, attachments,
			status, in.CreatedAt))
		if err != nil {
			// The same ID written meanwhile for another interaction (which the lock
			// above does not cover).
			if err := translate(err, "message "+in.ID); errors.Is(err, ErrConflict) {
				return ErrMessageIDTaken
			}
			return translate(err, "tenant")
		}
		return nil
	})
	return out, err
}

func nonNilAttachments(a []channels.Attachment) []channels.Attachment {
	if a == nil {
		return []channels.Attachment{}
	}
	return a
}

// DeliveryUpdate is news of an outbound message's delivery.
type DeliveryUpdate struct {
	TenantID  string         `json:"tenantId"`
	MessageID string         `json:"messageId"`
	Status    DeliveryStatus `json:"status"`
	// ProviderMessageID is the channel's own ID of the message, once it gave one.
	ProviderMessageID string `json:"providerMessageId,omitempty"`
	// Error says why it failed, or, with pending, why the last attempt did not go
	// through.
	Error string `json:"error,omitempty"`
	// ChannelSenderID is the sender it went through.
	ChannelSenderID string `json:"channelSenderId,omitempty"`
	// At is when it happened; zero means now.
	At time.Time `json:"at"`
}

// Validate checks the update and bounds its error text.
func (u *DeliveryUpdate) Validate() error {
	switch {
	case !isUUID(u.TenantID):
		return invalid("tenantId", "must be a tenant ID")
	case !isUUID(u.MessageID):
		return invalid("messageId", "must be a message ID")
	case !u.Status.Valid():
		return invalid("status", "must be pending, sent, delivered or failed")
	case len(u.ProviderMessageID) > maxProviderID || hasControl(u.ProviderMessageID) || !utf8.ValidString(u.ProviderMessageID):
		return invalid("providerMessageId", "must be at most %d bytes of text", maxProviderID)
	case u.ChannelSenderID != "" && !isUUID(u.ChannelSenderID):
		return invalid("channelSenderId", "must be a sender ID")
	}
	u.Error = strings.ReplaceAll(strings.ToValidUTF8(strings.TrimSpace(u.Error), "�"), "\x00", "")
	if utf8.RuneCountInString(u.Error) > maxDeliveryError {
		u.Error = string([]rune(u.Error)[:maxDeliveryError-1]) + "…"
	}
	return nil
}

// MarkMessageDelivery records news of an outbound message's delivery and returns the
// message. Delivery moves forward only (pending → sent → delivered, or failed), so
// late or repeated news changes nothing: the stored message is returned as it is.
// Pending with an error notes why the last attempt did not go through. An inbound
// message answers a ValidationError; an unknown one ErrNotFound.
func (s *Store) MarkMessageDelivery(ctx context.Context, u DeliveryUpdate) (Message, error) {
	if err := u.Validate(); err != nil {
		return Message{}, err
	}
	if u.At.IsZero() {
		u.At = time.Now()
	}
	var out Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM interaction_messages WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			u.TenantID, u.MessageID))
		if err != nil {
			return translate(err, "message")
		}
		out = cur
		if cur.Direction != Outbound {
			return invalid("messageId", "is an inbound message; only outbound messages are delivered")
		}
		switch {
		case u.Status.rank() > cur.DeliveryStatus.rank():
		case u.Status == cur.DeliveryStatus && !u.Status.Final():
			// Pending again notes the last attempt's error; sent again may bring
			// the provider's ID a first answer lacked.
		default:
			return nil
		}
		errText := u.Error
		if u.Status == DeliverySent || u.Status == DeliveryDelivered {
			errText = ""
		}
		out, err = scanMessage(tx.QueryRow(ctx, `
			UPDATE interaction_messages SET delivery_status = $3, provider_message_id = coalesce($4, provider_message_id),
			       delivery_error = $5, channel_sender_id = coalesce($6::uuid, channel_sender_id), delivery_updated_at = $7,
			       updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+messageColumns,
			u.TenantID, u.MessageID, u.Status, nullText(u.ProviderMessageID), nullText(errText), nullUUID(u.ChannelSenderID), u.At))
		return err
	})
	return out, err
}

// Messages returns an interaction's transcript in order: up to limit messages (0:
// 100, at most 500) after the one numbered after (0: from the start).
func (s *Store) Messages(ctx context.Context, tenantID, interactionID string, after int64, limit int) ([]Message, error) {
	if limit == 0 {
		limit = DefaultTranscriptLimit
	}
	switch {
	case limit < 1 || limit > MaxTranscriptLimit:
		return nil, invalid("limit", "must be between 1 and %d", MaxTranscriptLimit)
	case after < 0:
		return nil, invalid("after", "must be the seq of a message, 0 or more")
	case !isUUID(tenantID) || !isUUID(interactionID):
		return []Message{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+messageColumns+` FROM interaction_messages
		WHERE tenant_id = $1 AND interaction_id = $2 AND seq > $3
		ORDER BY seq LIMIT $4`, tenantID, interactionID, after, limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) { return scanMessage(r) })
	if out == nil {
		out = []Message{}
	}
	return out, err
}
