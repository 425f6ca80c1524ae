package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Bounds of a messaging waiting strategy. Announcements are at least a minute apart
// and never go on past one hour of waiting, so there are at most 60 of them; the
// maximum wait is at most an hour.
const (
	MinAnnouncementInterval = time.Minute
	// WaitingHorizon is how long a conversation hears the strategy at most: after
	// it, without a maximum wait, it stays open and hears nothing more.
	WaitingHorizon       = time.Hour
	MaxAnnouncements     = 60
	MaxWaitLimit         = time.Hour
	maxWaitingMessageLen = 4000
)

// WaitingStrategySettings is what a conversation waiting unassigned in its queue is
// sent: a welcome once when it is left unassigned, announcements at an interval, and a
// message at the maximum wait, which closes the conversation. At least one of the
// three is enabled. A disabled message may keep its text for later.
type WaitingStrategySettings struct {
	WelcomeEnabled bool   `json:"welcomeEnabled"`
	WelcomeMessage string `json:"welcomeMessage,omitempty"`

	AnnouncementEnabled bool   `json:"announcementEnabled"`
	AnnouncementMessage string `json:"announcementMessage,omitempty"`
	// AnnouncementIntervalMinutes is the time between the start of the wait (when
	// the welcome goes) and the first announcement, and between two: 1 to 60.
	AnnouncementIntervalMinutes int `json:"announcementIntervalMinutes,omitempty"`
	// AnnouncementCount is how many announcements are sent at most (1 to 60, and
	// count × interval at most 60 minutes); 0 is as many as fit in the hour.
	AnnouncementCount int `json:"announcementCount,omitempty"`

	MaxWaitEnabled bool   `json:"maxWaitEnabled"`
	MaxWaitMessage string `json:"maxWaitMessage,omitempty"`
	// MaxWaitMinutes is the wait after which the conversation is sent the message
	// and closed: 1 to 60.
	MaxWaitMinutes int `json:"maxWaitMinutes,omitempty"`
}

// WaitingStrategy is a sender's waiting strategy: a sender has at most one.
type WaitingStrategy struct {
	TenantID string `json:"tenantId"`
	SenderID string `json:"senderId"`
	WaitingStrategySettings
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks the settings and trims the messages.
func (w *WaitingStrategySettings) Validate() error {
	msgs := []struct {
		field   string
		enabled bool
		text    *string
	}{
		{"welcomeMessage", w.WelcomeEnabled, &w.WelcomeMessage},
		{"announcementMessage", w.AnnouncementEnabled, &w.AnnouncementMessage},
		{"maxWaitMessage", w.MaxWaitEnabled, &w.MaxWaitMessage},
	}
	for _, m := range msgs {
		*m.text = strings.TrimSpace(*m.text)
		switch {
		case m.enabled && *m.text == "":
			return invalid(m.field, "is required when the message is enabled")
		case utf8.RuneCountInString(*m.text) > maxWaitingMessageLen || !utf8.ValidString(*m.text):
			return invalid(m.field, "must be at most %d characters", maxWaitingMessageLen)
		}
	}
	if !w.WelcomeEnabled && !w.AnnouncementEnabled && !w.MaxWaitEnabled {
		return invalid("welcomeEnabled", "at least one message must be enabled: welcomeEnabled, announcementEnabled or maxWaitEnabled")
	}
	horizon := int(WaitingHorizon / time.Minute)
	switch {
	case w.AnnouncementEnabled && w.AnnouncementIntervalMinutes == 0:
		return invalid("announcementIntervalMinutes", "is required when announcements are enabled")
	case w.AnnouncementIntervalMinutes != 0 && (w.AnnouncementIntervalMinutes < int(MinAnnouncementInterval/time.Minute) || w.AnnouncementIntervalMinutes > horizon):
		return invalid("announcementIntervalMinutes", "must be between %d and %d minutes", int(MinAnnouncementInterval/time.Minute), horizon)
	case w.AnnouncementCount < 0 || w.AnnouncementCount > MaxAnnouncements:
		return invalid("announcementCount", "must be between 1 and %d (0 or absent: as many as fit in one hour)", MaxAnnouncements)
	case w.AnnouncementCount > 0 && w.AnnouncementIntervalMinutes == 0:
		return invalid("announcementIntervalMinutes", "is required with announcementCount")
	case w.AnnouncementCount*w.AnnouncementIntervalMinutes > horizon:
		return invalid("announcementCount", "announcements stop after one hour of waiting: %d every %d minutes would take %d minutes (at most %d fit)",
			w.AnnouncementCount, w.AnnouncementIntervalMinutes, w.AnnouncementCount*w.AnnouncementIntervalMinutes, horizon/w.AnnouncementIntervalMinutes)
	case w.MaxWaitEnabled && w.MaxWaitMinutes == 0:
		return invalid("maxWaitMinutes", "is required when the maximum wait is enabled")
	case w.MaxWaitMinutes < 0 || w.MaxWaitMinutes > int(MaxWaitLimit/time.Minute):
		return invalid("maxWaitMinutes", "must be between 1 and %d minutes", int(MaxWaitLimit/time.Minute))
	}
	return nil
}

const waitingColumns = `tenant_id, sender_id, welcome_enabled, coalesce(welcome_message, ''),
	announcement_enabled, coalesce(announcement_message, ''), coalesce(announcement_interval_minutes, 0),
	coalesce(announcement_count, 0), max_wait_enabled, coalesce(max_wait_message, ''), coalesce(max_wait_minutes, 0),
	created_at, updated_at`

func scanWaiting(row pgx.Row) (WaitingStrategy, error) {
	var w WaitingStrategy
	err := row.Scan(&w.TenantID, &w.SenderID, &w.WelcomeEnabled, &w.WelcomeMessage, &w.AnnouncementEnabled,
		&w.AnnouncementMessage, &w.AnnouncementIntervalMinutes, &w.AnnouncementCount, &w.MaxWaitEnabled,
		&w.MaxWaitMessage, &w.MaxWaitMinutes, &w.CreatedAt, &w.UpdatedAt)
	return w, err
}

func nullPositive(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

// PutWaitingStrategy sets the sender's waiting strategy, replacing the one it had.
// It applies to conversations created from then on.
func (s *Store) PutWaitingStrategy(ctx context.Context, tenantID string, actor Actor, senderID string, in WaitingStrategySettings) (WaitingStrategy, error) {
	if err := in.Validate(); err != nil {
		return WaitingStrategy{}, err
	}
	if !isUUID(senderID) || !isUUID(tenantID) {
		return WaitingStrategy{}, translate(pgx.ErrNoRows, "sender")
	}
	var out WaitingStrategy
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWaiting(tx.QueryRow(ctx, `
			INSERT INTO sender_waiting_strategies (tenant_id, sender_id, welcome_enabled, welcome_message,
			       announcement_enabled, announcement_message, announcement_interval_minutes, announcement_count,
			       max_wait_enabled, max_wait_message, max_wait_minutes)
			SELECT tenant_id, id, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM channel_senders WHERE tenant_id = $1 AND id = $2
			ON CONFLICT (tenant_id, sender_id) DO UPDATE SET welcome_enabled = EXCLUDED.welcome_enabled,
			       welcome_message = EXCLUDED.welcome_message, announcement_enabled = EXCLUDED.announcement_enabled,
			       announcement_message = EXCLUDED.announcement_message,
			       announcement_interval_minutes = EXCLUDED.announcement_interval_minutes,
			       announcement_count = EXCLUDED.announcement_count, max_wait_enabled = EXCLUDED.max_wait_enabled,
			       max_wait_message = EXCLUDED.max_wait_message, max_wait_minutes = EXCLUDED.max_wait_minutes,
			       updated_at = now()
			RETURNING `+waitingColumns,
			tenantID, senderID, in.WelcomeEnabled, nullText(in.WelcomeMessage), in.AnnouncementEnabled,
			nullText(in.AnnouncementMessage), nullPositive(in.AnnouncementIntervalMinutes), nullPositive(in.AnnouncementCount),
			in.MaxWaitEnabled, nullText(in.MaxWaitMessage), nullPositive(in.MaxWaitMinutes)))
		if err != nil {
			return translate(err, "sender")
		}
		return audit(ctx, tx, tenantID, actor, "waiting_strategy.set", "channel_sender", senderID, out.WaitingStrategySettings)
	})
	return out, err
}

// GetWaitingStrategy returns the sender's waiting strategy; ErrNotFound names what is
// missing, the sender or its strategy.
func (s *Store) GetWaitingStrategy(ctx context.Context, tenantID, senderID string) (WaitingStrategy, error) {
	if !isUUID(senderID) || !isUUID(tenantID) {
		return WaitingStrategy{}, translate(pgx.ErrNoRows, "sender")
	}
	out, err := scanWaiting(s.pool.QueryRow(ctx, `SELECT `+waitingColumns+` FROM sender_waiting_strategies
		WHERE tenant_id = $1 AND sender_id = $2`, tenantID, senderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return WaitingStrategy{}, s.missingWaiting(ctx, tenantID, senderID)
	}
	return out, err
}

// DeleteWaitingStrategy removes the sender's waiting strategy: conversations created
// from then on wait without messages.
func (s *Store) DeleteWaitingStrategy(ctx context.Context, tenantID string, actor Actor, senderID string) error {
	if !isUUID(senderID) || !isUUID(tenantID) {
		return translate(pgx.ErrNoRows, "sender")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sender_waiting_strategies WHERE tenant_id = $1 AND sender_id = $2`, tenantID, senderID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return audit(ctx, tx, tenantID, actor, "waiting_strategy.deleted", "channel_sender", senderID, nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return s.missingWaiting(ctx, tenantID, senderID)
	}
	return err
}

// missingWaiting tells a sender that does not exist from one without a strategy.
func (s *Store) missingWaiting(ctx context.Context, tenantID, senderID string) error {
	if _, err := s.GetSender(ctx, tenantID, senderID); err != nil {
		return err
	}
	return fmt.Errorf("the sender has no waiting strategy: %w", ErrNotFound)
}

// WaitingStrategyFor finds the waiting strategy of the sender a new inbound
// conversation reached: the sender of that sub-channel and business address (as
// SenderFor finds it). Nil when the sender is unknown, disabled, or has none.
func (s *Store) WaitingStrategyFor(ctx context.Context, tenantID, subChannel, address string) (*WaitingStrategySettings, error) {
	sender, err := s.SenderFor(ctx, tenantID, subChannel, address)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil || !sender.Enabled {
		return nil, err
	}
	w, err := s.GetWaitingStrategy(ctx, tenantID, sender.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &w.WaitingStrategySettings, nil
}
