package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// Wrap-up bounds, in seconds: the time after a call the agent spends on notes.
const (
	DefaultWrapUpSeconds = 30
	MaxWrapUpSeconds     = 3600
)

// Ring timeout bounds, in seconds: how long an offer rings on an agent's desktop before
// it goes to the next agent. Twenty seconds is four or five rings of a phone.
const (
	DefaultRingTimeoutSeconds = 20
	MinRingTimeoutSeconds     = 2
	MaxRingTimeoutSeconds     = 300
)

// CountedStatuses says which conversation statuses occupy an agent's capacity. Open
// always does; Waiting and Solved do unless the tenant excludes them. Closed never does.
type CountedStatuses struct {
	Open    bool `json:"open"`
	Waiting bool `json:"waiting"`
	Solved  bool `json:"solved"`
}

// DefaultCountedStatuses counts everything but Closed, as a new tenant does.
func DefaultCountedStatuses() CountedStatuses {
	return CountedStatuses{Open: true, Waiting: true, Solved: true}
}

// Counts reports whether a conversation in status occupies capacity.
func (c CountedStatuses) Counts(status string) bool {
	switch status {
	case "open":
		return true
	case "waiting":
		return c.Waiting
	case "solved":
		return c.Solved
	}
	return false
}

// ACDSettings are a tenant's defaults for automatic assignment.
type ACDSettings struct {
	// DefaultCapacity is what the tenant configured per channel; a missing channel uses
	// the system default (routing.DefaultCapacity).
	DefaultCapacity routing.Capacity `json:"defaultCapacity"`
	// EffectiveCapacity is what an agent without an override gets.
	EffectiveCapacity routing.Capacity `json:"effectiveCapacity"`
	CountedStatuses   CountedStatuses  `json:"countedStatuses"`
	// WrapUpSeconds is the wrap-up time after a call for agents without an override.
	WrapUpSeconds int `json:"wrapUpSeconds"`
	// RingTimeoutSeconds is how long an offer rings before it goes to the next agent.
	RingTimeoutSeconds int       `json:"ringTimeoutSeconds"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// CountedStatusesUpdate changes the statuses that are set; Open may only be true.
type CountedStatusesUpdate struct {
	Open    *bool `json:"open"`
	Waiting *bool `json:"waiting"`
	Solved  *bool `json:"solved"`
}

// ACDSettingsUpdate changes the fields that are set. DefaultCapacity replaces the
// configured map: channels left out fall back to the system default.
type ACDSettingsUpdate struct {
	DefaultCapacity    *routing.Capacity      `json:"defaultCapacity"`
	CountedStatuses    *CountedStatusesUpdate `json:"countedStatuses"`
	WrapUpSeconds      *int                   `json:"wrapUpSeconds"`
	RingTimeoutSeconds *int                   `json:"ringTimeoutSeconds"`
}

// Validate checks the fields that are set with the routing package's capacity rules.
func (u *ACDSettingsUpdate) Validate() error {
	if u.DefaultCapacity != nil {
		if err := u.DefaultCapacity.Validate(); err != nil {
			return fromRouting("defaultCapacity", err)
		}
	}
	if c := u.CountedStatuses; c != nil {
		if c.Open != nil && !*c.Open {
			return invalid("countedStatuses.open", "open conversations always count towards capacity")
		}
		if c.Open == nil && c.Waiting == nil && c.Solved == nil {
			return invalid("countedStatuses", "set waiting or solved")
		}
	}
	if u.WrapUpSeconds != nil {
		if err := validWrapUp("wrapUpSeconds", *u.WrapUpSeconds); err != nil {
			return err
		}
	}
	if n := u.RingTimeoutSeconds; n != nil && (*n < MinRingTimeoutSeconds || *n > MaxRingTimeoutSeconds) {
		return invalid("ringTimeoutSeconds", "must be between %d and %d seconds", MinRingTimeoutSeconds, MaxRingTimeoutSeconds)
	}
	if u.DefaultCapacity == nil && u.CountedStatuses == nil && u.WrapUpSeconds == nil && u.RingTimeoutSeconds == nil {
		return invalid("", "nothing to change: set defaultCapacity, countedStatuses, wrapUpSeconds or ringTimeoutSeconds")
	}
	return nil
}

func validWrapUp(field string, n int) error {
	if n < 0 || n > MaxWrapUpSeconds {
		return invalid(field, "must be between 0 and %d seconds", MaxWrapUpSeconds)
	}
	return nil
}

func scanACDSettings(row pgx.Row) (ACDSettings, error) {
	var (
		s   ACDSettings
		raw []byte
	)
	err := row.Scan(&raw, &s.CountedStatuses.Waiting, &s.CountedStatuses.Solved, &s.WrapUpSeconds, &s.RingTimeoutSeconds, &s.UpdatedAt)
	if err != nil {
		return s, err
	}
	s.CountedStatuses.Open = true
	if s.DefaultCapacity, err = decodeCapacity(raw); err != nil {
		return s, err
	}
	if s.EffectiveCapacity, err = routing.EffectiveCapacity(s.DefaultCapacity, nil); err != nil {
		return s, fmt.Errorf("stored default capacity: %w", err)
	}
	return s, nil
}

func decodeCapacity(raw []byte) (routing.Capacity, error) {
	c := routing.Capacity{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("stored capacity: %w", err)
	}
	return c, nil
}

const acdSettingsColumns = `default_capacity, count_waiting, count_solved, wrap_up_seconds, ring_timeout_seconds, updated_at`

// GetACDSettings returns the tenant's ACD settings.
func (s *Store) GetACDSettings(ctx context.Context, tenantID string) (ACDSettings, error) {
	return getACDSettings(ctx, s.pool, tenantID)
}

func getACDSettings(ctx context.Context, q querier, tenantID string) (ACDSettings, error) {
	if !isUUID(tenantID) {
		return ACDSettings{}, translate(pgx.ErrNoRows, "ACD settings")
	}
	st, err := scanACDSettings(q.QueryRow(ctx, `SELECT `+acdSettingsColumns+` FROM acd_settings WHERE tenant_id = $1`, tenantID))
	return st, translate(err, "ACD settings")
}

// UpdateACDSettings changes the tenant's defaults.
func (s *Store) UpdateACDSettings(ctx context.Context, tenantID string, actor Actor, in ACDSettingsUpdate) (ACDSettings, error) {
	if err := in.Validate(); err != nil {
		return ACDSettings{}, err
	}
	var capacity []byte
	if in.DefaultCapacity != nil {
		var err error
		if capacity, err = json.Marshal(in.DefaultCapacity); err != nil {
			return ACDSettings{}, err
		}
	}
	var waiting, solved *bool
	if in.CountedStatuses != nil {
		waiting, solved = in.CountedStatuses.Waiting, in.CountedStatuses.Solved
	}
	var out ACDSettings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanACDSettings(tx.QueryRow(ctx, `
			UPDATE acd_settings SET default_capacity = coalesce($2, default_capacity),
			       count_waiting = coalesce($3, count_waiting), count_solved = coalesce($4, count_solved),
			       wrap_up_seconds = coalesce($5, wrap_up_seconds),
			       ring_timeout_seconds = coalesce($6, ring_timeout_seconds), updated_at = now()
			WHERE tenant_id = $1 RETURNING `+acdSettingsColumns, tenantID, capacity, waiting, solved, in.WrapUpSeconds, in.RingTimeoutSeconds))
		if err != nil {
			return translate(err, "ACD settings")
		}
		return audit(ctx, tx, tenantID, actor, "acd_settings.updated", "acd_settings", tenantID, in)
	})
	return out, err
}

// ResetACDSettings puts every ACD setting of the tenant back to the system default:
// default capacities, counted statuses, wrap-up time and ring timeout.
func (s *Store) ResetACDSettings(ctx context.Context, tenantID string, actor Actor) (ACDSettings, error) {
	var out ACDSettings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanACDSettings(tx.QueryRow(ctx, `
			UPDATE acd_settings SET default_capacity = DEFAULT, count_waiting = DEFAULT, count_solved = DEFAULT,
			       wrap_up_seconds = DEFAULT, ring_timeout_seconds = DEFAULT, updated_at = now()
			WHERE tenant_id = $1 RETURNING `+acdSettingsColumns, tenantID))
		if err != nil {
			return translate(err, "ACD settings")
		}
		return audit(ctx, tx, tenantID, actor, "acd_settings.reset", "acd_settings", tenantID, nil)
	})
	return out, err
}
