package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/timesheet"
)

// Application error types of session writes that retrying cannot help.
const (
	// ErrTypeAgentGone: the agent no longer exists.
	ErrTypeAgentGone = "AgentGone"
	// ErrTypeInvalidSessionEvent: the event is refused as it is.
	ErrTypeInvalidSessionEvent = "InvalidSessionEvent"
)

// RecordAgentSessionEvent writes one event of an agent session's history and
// the session's totals to PostgreSQL. Retries are harmless: the event's
// (session, seq) key makes a repeated write a no-op.
func (a *Activities) RecordAgentSessionEvent(ctx context.Context, ev pgstore.SessionEvent) error {
	_, err := a.Store.RecordSessionEvent(ctx, ev)
	var invalid *pgstore.ValidationError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("agent %s no longer exists", ev.AgentID), ErrTypeAgentGone, err)
	case errors.As(err, &invalid):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSessionEvent, err)
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")):
		// Data and integrity errors come back the same on every attempt.
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSessionEvent, err)
	}
	return err
}

// PresenceCheck asks whether an agent's session is still live in presence.
type PresenceCheck struct {
	TenantID string `json:"tenantId"`
	AgentID  string `json:"agentId"`
	Session  int64  `json:"session"`
	// Status is the status the session workflow believes the agent is in.
	Status timesheet.Status `json:"status"`
}

// PresenceVerdict is what CheckAgentPresence found.
type PresenceVerdict struct {
	// Ended: the session is over, since EndedAt, for Reason (a
	// pgstore.Logout* constant).
	Ended   bool      `json:"ended"`
	EndedAt time.Time `json:"endedAt"`
	Reason  string    `json:"reason,omitempty"`
	// Status is set when presence shows the live session in another status
	// than the workflow believes (a change whose signal was lost); it has
	// been so since StatusAt.
	Status   *timesheet.Status `json:"status,omitempty"`
	StatusAt time.Time         `json:"statusAt"`
	// Voice is set when presence showed a call ringing or in progress with no
	// voice slot under it (the call's run was held up past its reservation, or
	// stopped): the agent was put back to idle.
	Voice *VoiceChange `json:"voice,omitempty"`
}

// CheckAgentPresence compares an agent session with presence. A session whose
// heartbeat lapsed is logged out in presence (LogoutExpired, which closes only
// that session) and reported ended at the moment it lapsed. A session that
// presence shows logged out, replaced by a newer login or no longer knows (a
// Redis flush) is reported ended too; a live one is checked for a status the
// workflow missed, and for a stale voice sub-state, which is cleared.
func (a *Activities) CheckAgentPresence(ctx context.Context, in PresenceCheck) (PresenceVerdict, error) {
	// A lapsed session may be closed by someone else between the read and
	// LogoutExpired; reading again settles it.
	for range 3 {
		p, err := a.Presence.Get(ctx, in.TenantID, in.AgentID)
		if err != nil {
			return PresenceVerdict{}, err
		}
		switch {
		case p.Session > in.Session:
			return PresenceVerdict{Ended: true, EndedAt: p.LoginAt, Reason: pgstore.LogoutReplaced}, nil
		case p.Session < in.Session:
			now, err := a.Presence.Now(ctx)
			if err != nil {
				return PresenceVerdict{}, err
			}
			return PresenceVerdict{Ended: true, EndedAt: now, Reason: pgstore.LogoutPresenceLost}, nil
		case p.Expired:
			ok, err := a.Presence.LogoutExpired(ctx, in.TenantID, in.AgentID, in.Session)
			if err != nil {
				return PresenceVerdict{}, err
			}
			if ok {
				return PresenceVerdict{Ended: true, EndedAt: p.ExpiresAt, Reason: pgstore.LogoutHeartbeatLapsed}, nil
			}
		case !p.LoggedIn:
			return PresenceVerdict{Ended: true, EndedAt: p.ChangedAt, Reason: pgstore.LogoutUnrecorded}, nil
		default:
			var out PresenceVerdict
			if out.Voice, err = a.staleVoice(ctx, in.TenantID, in.AgentID, p.Voice); err != nil {
				return PresenceVerdict{}, err
			}
			cur := timesheet.Status{Name: p.Status.Name, Group: p.Status.Group}
			if cur.Same(in.Status) {
				return out, nil
			}
			// The catalogue gives the ID and break flag presence does not keep;
			// a status deleted since is reported by name and group alone.
			if st, err := a.Store.FindStatus(ctx, in.TenantID, cur.Name); err == nil && st.Group == cur.Group {
				cur = st.Sheet()
			} else if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
				return PresenceVerdict{}, err
			}
			out.Status, out.StatusAt = &cur, p.ChangedAt
			return out, nil
		}
	}
	return PresenceVerdict{}, fmt.Errorf("agent %s session %d: presence kept changing while it was checked", in.AgentID, in.Session)
}
