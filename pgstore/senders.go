package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/channels"
)

// ChannelSender is one of a tenant's business addresses on a messaging sub-channel —
// the WhatsApp number, the SMS sender, the support mailbox — and the adapter that
// sends its outbound messages. Its signing secret is shown once (at creation or
// when it is replaced), then only its hint.
type ChannelSender struct {
	ID         string        `json:"id"`
	TenantID   string        `json:"tenantId"`
	SubChannel string        `json:"subChannel"`
	Address    string        `json:"address"`
	Name       string        `json:"name,omitempty"`
	Kind       channels.Kind `json:"kind"`
	WebhookURL string        `json:"webhookUrl,omitempty"`
	SecretHint string        `json:"signingSecretHint"`
	Enabled    bool          `json:"enabled"`
	CreatedAt  time.Time     `json:"createdAt"`
	UpdatedAt  time.Time     `json:"updatedAt"`

	// secret is read only for sending (SenderFor) and never leaves the package but
	// through Config.
	secret string
}

// Config is what the channel adapters need to send from the sender.
func (s ChannelSender) Config() channels.Sender {
	return channels.Sender{ID: s.ID, TenantID: s.TenantID, SubChannel: s.SubChannel, Address: s.Address, Kind: s.Kind,
		WebhookURL: s.WebhookURL, Secret: s.secret}
}

// ChannelSenderSecret is a sender with its signing secret, answered once: when the
// sender is created and when its secret is replaced.
type ChannelSenderSecret struct {
	ChannelSender
	SigningSecret string `json:"signingSecret,omitempty"`
}

// NewChannelSender is a sender to create.
type NewChannelSender struct {
	SubChannel string        `json:"subChannel"`
	Address    string        `json:"address"`
	Name       string        `json:"name"`
	Kind       channels.Kind `json:"kind"`
	WebhookURL string        `json:"webhookUrl"`
	// SigningSecret is the secret to sign with; empty makes one.
	SigningSecret string `json:"signingSecret"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// Bounds of a sender's fields.
const (
	maxSenderAddress = 320
	maxSenderName    = 200
	maxWebhookURL    = 2000
	minSigningSecret = 16
	maxSigningSecret = 200
)

var senderPhone = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{1,30}$`)

// Validate checks the new sender and puts its sub-channel in canonical form.
func (n *NewChannelSender) Validate() error {
	sub, ok := channels.SubChannelOf(n.SubChannel)
	if !ok {
		return invalid("subChannel", "must be one of %s", strings.Join(channels.SubChannels(), ", "))
	}
	n.SubChannel = sub
	n.Address = strings.TrimSpace(n.Address)
	if err := validSenderAddress(sub, n.Address); err != nil {
		return err
	}
	n.Name = strings.TrimSpace(n.Name)
	if utf8.RuneCountInString(n.Name) > maxSenderName || hasControl(n.Name) {
		return invalid("name", "must be at most %d characters, without control characters", maxSenderName)
	}
	if !n.Kind.Valid() {
		return invalid("kind", "must be webhook or test")
	}
	n.WebhookURL = strings.TrimSpace(n.WebhookURL)
	switch {
	case n.Kind == channels.KindWebhook && n.WebhookURL == "":
		return invalid("webhookUrl", "is required for webhook senders")
	case n.Kind != channels.KindWebhook && n.WebhookURL != "":
		return invalid("webhookUrl", "only webhook senders have a URL")
	case n.WebhookURL != "":
		if len(n.WebhookURL) > maxWebhookURL {
			return invalid("webhookUrl", "must be at most %d characters", maxWebhookURL)
		}
		if err := channels.ValidateWebhookURL(n.WebhookURL); err != nil {
			return invalid("webhookUrl", "%v", err)
		}
	}
	if n.SigningSecret != "" {
		if err := validSigningSecret(n.SigningSecret); err != nil {
			return err
		}
	}
	return nil
}

func validSenderAddress(subChannel, address string) error {
	switch {
	case address == "" || utf8.RuneCountInString(address) > maxSenderAddress || hasControl(address):
		return invalid("address", "is required and at most %d characters, without control characters", maxSenderAddress)
	case channels.PhoneAddressed(subChannel) && !senderPhone.MatchString(address):
		return invalid("address", "must be a phone number such as +385 1 600 0000 on %s", subChannel)
	case subChannel == "email":
		if a, err := mail.ParseAddress(address); err != nil || a.Address != address {
			return invalid("address", "must be a plain e-mail address such as support@example.com")
		}
	}
	if channels.AddressKey(subChannel, address) == "" {
		return invalid("address", "must have letters or digits")
	}
	return nil
}

func validSigningSecret(s string) error {
	if len(s) < minSigningSecret || len(s) > maxSigningSecret || strings.ContainsFunc(s, func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r)
	}) {
		return invalid("signingSecret", "must be %d to %d printable ASCII characters without spaces", minSigningSecret, maxSigningSecret)
	}
	return nil
}

func hasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }

// newSigningSecret makes a secret of 256 random bits.
func newSigningSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "sbws_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// secretHint shows the end of a secret, enough to tell two apart.
func secretHint(secret string) string {
	if len(secret) < 8 {
		return "…"
	}
	return "…" + secret[len(secret)-4:]
}

// ChannelSenderUpdate changes some of a sender's fields.
type ChannelSenderUpdate struct {
	SubChannel *string          `json:"subChannel"`
	Address    *string          `json:"address"`
	Name       Nullable[string] `json:"name"`
	Kind       *channels.Kind   `json:"kind"`
	WebhookURL Nullable[string] `json:"webhookUrl"`
	Enabled    *bool            `json:"enabled"`
	// SigningSecret replaces the secret with this one; RotateSecret with a new one,
	// answered once.
	SigningSecret *string `json:"signingSecret"`
	RotateSecret  bool    `json:"rotateSecret"`
}

// Validate checks the fields that are set on their own; the sender they make is
// checked as a whole by UpdateSender.
func (u *ChannelSenderUpdate) Validate() error {
	if u.SubChannel == nil && u.Address == nil && !u.Name.Set && u.Kind == nil && !u.WebhookURL.Set && u.Enabled == nil &&
		u.SigningSecret == nil && !u.RotateSecret {
		return invalid("", "nothing to change: set subChannel, address, name, kind, webhookUrl, enabled, signingSecret or rotateSecret")
	}
	if u.SigningSecret != nil {
		if u.RotateSecret {
			return invalid("rotateSecret", "set either signingSecret or rotateSecret")
		}
		if err := validSigningSecret(*u.SigningSecret); err != nil {
			return err
		}
	}
	return nil
}

// ChannelSenderFilter selects a tenant's senders, in the order they were created.
type ChannelSenderFilter struct {
	SubChannel string
	Page
}

// Validate checks the filter.
func (f *ChannelSenderFilter) Validate() error {
	if f.SubChannel != "" {
		sub, ok := channels.SubChannelOf(f.SubChannel)
		if !ok {
			return invalid("subChannel", "must be one of %s", strings.Join(channels.SubChannels(), ", "))
		}
		f.SubChannel = sub
	}
	return f.Page.Validate()
}

const senderColumns = `id, tenant_id, sub_channel, address, coalesce(name, ''), kind, coalesce(webhook_url, ''),
	signing_secret, enabled, created_at, updated_at`

func scanSender(row pgx.Row) (ChannelSender, error) {
	var s ChannelSender
	err := row.Scan(&s.ID, &s.TenantID, &s.SubChannel, &s.Address, &s.Name, &s.Kind, &s.WebhookURL, &s.secret, &s.Enabled,
		&s.CreatedAt, &s.UpdatedAt)
	s.SecretHint = secretHint(s.secret)
	return s, err
}

// senderAudit is what the audit log keeps of a sender: never its secret.
func senderAudit(s ChannelSender) map[string]any {
	return map[string]any{"subChannel": s.SubChannel, "address": s.Address, "name": s.Name, "kind": s.Kind,
		"webhookUrl": s.WebhookURL, "enabled": s.Enabled, "signingSecretHint": s.SecretHint}
}

func senderConflict(err error, sub, address string) error {
	err = translate(err, "sender")
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("the tenant already has a %s sender with the address %q: %w", sub, address, ErrConflict)
	}
	return err
}

// CreateSender adds a sender; a (sub-channel, address) pair is unique in the tenant,
// addresses compared as channels.AddressKey does. The answer carries the signing
// secret, given or made, this once.
func (s *Store) CreateSender(ctx context.Context, tenantID string, actor Actor, in NewChannelSender) (ChannelSenderSecret, error) {
	if err := in.Validate(); err != nil {
		return ChannelSenderSecret{}, err
	}
	secret := in.SigningSecret
	if secret == "" {
		var err error
		if secret, err = newSigningSecret(); err != nil {
			return ChannelSenderSecret{}, err
		}
	}
	enabled := in.Enabled == nil || *in.Enabled
	var out ChannelSender
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanSender(tx.QueryRow(ctx, `
			INSERT INTO channel_senders (tenant_id, sub_channel, address, address_key, name, kind, webhook_url, signing_secret, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+senderColumns,
			tenantID, in.SubChannel, in.Address, channels.AddressKey(in.SubChannel, in.Address), nullText(in.Name), in.Kind,
			nullText(in.WebhookURL), secret, enabled))
		if err != nil {
			return senderConflict(err, in.SubChannel, in.Address)
		}
		return audit(ctx, tx, tenantID, actor, "channel_sender.created", "channel_sender", out.ID, senderAudit(out))
	})
	if err != nil {
		return ChannelSenderSecret{}, err
	}
	return ChannelSenderSecret{ChannelSender: out, SigningSecret: secret}, nil
}

// GetSender returns one sender of the tenant, without its secret.
func (s *Store) GetSender(ctx context.Context, tenantID, id string) (ChannelSender, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return ChannelSender{}, translate(pgx.ErrNoRows, "sender")
	}
	out, err := scanSender(s.pool.QueryRow(ctx, `SELECT `+senderColumns+` FROM channel_senders WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	out.secret = ""
	return out, translate(err, "sender")
}

// ListSenders lists the tenant's senders in the order they were created.
func (s *Store) ListSenders(ctx context.Context, tenantID string, f ChannelSenderFilter) ([]ChannelSender, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+senderColumns+` FROM channel_senders
		WHERE tenant_id = $1 AND ($2 = '' OR sub_channel = $2)
		  AND ($3::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM channel_senders WHERE tenant_id = $1 AND id = $3))
		ORDER BY created_at, id LIMIT $4`, tenantID, f.SubChannel, nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChannelSender, error) {
		s, err := scanSender(r)
		s.secret = ""
		return s, err
	})
	if out == nil {
		out = []ChannelSender{}
	}
	return out, err
}

// UpdateSender changes a sender. The sender that results is checked as a whole: a
// webhook sender needs a URL, and switching to the test adapter drops it. The answer
// carries the new signing secret when it was replaced.
func (s *Store) UpdateSender(ctx context.Context, tenantID string, actor Actor, id string, in ChannelSenderUpdate) (ChannelSenderSecret, error) {
	if err := in.Validate(); err != nil {
		return ChannelSenderSecret{}, err
	}
	if !isUUID(id) || !isUUID(tenantID) {
		return ChannelSenderSecret{}, translate(pgx.ErrNoRows, "sender")
	}
	var out ChannelSenderSecret
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanSender(tx.QueryRow(ctx, `SELECT `+senderColumns+` FROM channel_senders WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if err != nil {
			return translate(err, "sender")
		}
		next := NewChannelSender{SubChannel: cur.SubChannel, Address: cur.Address, Name: cur.Name, Kind: cur.Kind,
			WebhookURL: cur.WebhookURL, Enabled: &cur.Enabled}
		if in.SubChannel != nil {
			next.SubChannel = *in.SubChannel
		}
		if in.Address != nil {
			next.Address = *in.Address
		}
		if in.Name.Set {
			next.Name = ""
			if in.Name.Value != nil {
				next.Name = *in.Name.Value
			}
		}
		if in.Kind != nil {
			next.Kind = *in.Kind
			if next.Kind != channels.KindWebhook && !in.WebhookURL.Set {
				next.WebhookURL = ""
			}
		}
		if in.WebhookURL.Set {
			next.WebhookURL = ""
			if in.WebhookURL.Value != nil {
				next.WebhookURL = *in.WebhookURL.Value
			}
		}
		if in.Enabled != nil {
			next.Enabled = in.Enabled
		}
		if err := next.Validate(); err != nil {
			return err
		}
		secret := cur.secret
		switch {
		case in.SigningSecret != nil:
			secret, out.SigningSecret = *in.SigningSecret, *in.SigningSecret
		case in.RotateSecret:
			if secret, err = newSigningSecret(); err != nil {
				return err
			}
			out.SigningSecret = secret
		}
		out.ChannelSender, err = scanSender(tx.QueryRow(ctx, `
			UPDATE channel_senders SET sub_channel = $3, address = $4, address_key = $5, name = $6, kind = $7,
			       webhook_url = $8, signing_secret = $9, enabled = $10, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+senderColumns,
			tenantID, id, next.SubChannel, next.Address, channels.AddressKey(next.SubChannel, next.Address), nullText(next.Name),
			next.Kind, nullText(next.WebhookURL), secret, *next.Enabled))
		if err != nil {
			return senderConflict(err, next.SubChannel, next.Address)
		}
		details := senderAudit(out.ChannelSender)
		details["secretReplaced"] = out.SigningSecret != ""
		return audit(ctx, tx, tenantID, actor, "channel_sender.updated", "channel_sender", id, details)
	})
	if err != nil {
		return ChannelSenderSecret{}, err
	}
	out.secret = ""
	return out, nil
}

// DeleteSender removes a sender. Messages it sent keep its ID; messages to send from
// its address fail until another sender takes the address.
func (s *Store) DeleteSender(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) || !isUUID(tenantID) {
		return translate(pgx.ErrNoRows, "sender")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		gone, err := scanSender(tx.QueryRow(ctx, `DELETE FROM channel_senders WHERE tenant_id = $1 AND id = $2 RETURNING `+senderColumns, tenantID, id))
		if err != nil {
			return translate(err, "sender")
		}
		return audit(ctx, tx, tenantID, actor, "channel_sender.deleted", "channel_sender", id,
			map[string]any{"subChannel": gone.SubChannel, "address": gone.Address})
	})
}

// SenderFor finds the sender an outbound message of the tenant goes through: the one
// with that sub-channel (any accepted spelling) and address (compared as
// channels.AddressKey does), enabled or not — the caller tells the two apart. Without
// an address, the tenant's only enabled sender on the sub-channel serves. The
// answer carries the signing secret for the adapter (Config). No such sender is
// ErrNotFound.
func (s *Store) SenderFor(ctx context.Context, tenantID, subChannel, address string) (ChannelSender, error) {
	sub, ok := channels.SubChannelOf(subChannel)
	if !ok || !isUUID(tenantID) {
		return ChannelSender{}, fmt.Errorf("%q is not a messaging sub-channel: %w", subChannel, ErrNotFound)
	}
	key := channels.AddressKey(sub, address)
	if key != "" {
		out, err := scanSender(s.pool.QueryRow(ctx, `
			SELECT `+senderColumns+` FROM channel_senders WHERE tenant_id = $1 AND sub_channel = $2 AND address_key = $3`,
			tenantID, sub, key))
		if errors.Is(err, pgx.ErrNoRows) {
			return ChannelSender{}, fmt.Errorf("no %s sender has the address %q: %w", sub, address, ErrNotFound)
		}
		return out, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+senderColumns+` FROM channel_senders WHERE tenant_id = $1 AND sub_channel = $2 AND enabled
		ORDER BY created_at, id LIMIT 2`, tenantID, sub)
	if err != nil {
		return ChannelSender{}, err
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChannelSender, error) { return scanSender(r) })
	switch {
	case err != nil:
		return ChannelSender{}, err
	case len(found) == 0:
		return ChannelSender{}, fmt.Errorf("the tenant has no enabled %s sender: %w", sub, ErrNotFound)
	case len(found) > 1:
		return ChannelSender{}, fmt.Errorf("the tenant has several enabled %s senders and the interaction names no address to send from: %w", sub, ErrNotFound)
	}
	return found[0], nil
}
