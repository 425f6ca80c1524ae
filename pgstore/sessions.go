package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/timesheet"
)

// SessionEventKind is what happened in an agent session.
type SessionEventKind string

// The kinds of session events.
const (
	SessionLogin  SessionEventKind = "login"
	SessionStatus SessionEventKind = "status"
	SessionVoice  SessionEventKind = "voice"
	SessionLogout SessionEventKind = "logout"
)

// Why a session ended.
const (
	// LogoutByAgent: the agent logged out.
	LogoutByAgent = "agent"
	// LogoutForced: a supervisor or admin logged the agent out.
	LogoutForced = "forced"
	// LogoutHeartbeatLapsed: the desktop stopped heart-beating; the session
	// ended when its heartbeat expired.
	LogoutHeartbeatLapsed = "heartbeat_lapsed"
	// LogoutReplaced: presence already holds a newer session of the agent.
	LogoutReplaced = "replaced"
	// LogoutUnrecorded: presence shows the session logged out, but the
	// logout itself never reached the session workflow.
	LogoutUnrecorded = "logged_out"
	// LogoutPresenceLost: presence no longer knows the session (Redis was
	// flushed); desktops log in again.
	LogoutPresenceLost = "presence_lost"
)

// KnownLogoutReason reports whether r is one of the Logout* constants.
func KnownLogoutReason(r string) bool {
	switch r {
	case LogoutByAgent, LogoutForced, LogoutHeartbeatLapsed, LogoutReplaced, LogoutUnrecorded, LogoutPresenceLost:
		return true
	}
	return false
}

// SessionEvent is one entry of an agent session's history together with the
// session's totals as of that entry. Seq numbers the entries of a session
// from 1; writing an entry again changes nothing.
type SessionEvent struct {
	TenantID   string           `json:"tenantId"`
	AgentID    string           `json:"agentId"`
	Session    int64            `json:"session"`
	Seq        int64            `json:"seq"`
	Kind       SessionEventKind `json:"kind"`
	At         time.Time        `json:"at"`
	WorkflowID string           `json:"workflowId"`
	LoginAt    time.Time        `json:"loginAt"`
	// Status is the status from this event on (Offline after a logout).
	Status timesheet.Status `json:"status"`
	// Voice is the voice sub-state from this event on.
	Voice    routing.VoiceState `json:"voice,omitempty"`
	Campaign string             `json:"campaign,omitempty"`
	// LogoutReason is set on the logout event (one of the Logout* constants).
	LogoutReason string `json:"logoutReason,omitempty"`
	// ActorID is the user who made the change; empty for the system.
	ActorID string           `json:"actorId,omitempty"`
	Totals  timesheet.Totals `json:"totals"`
}

// Validate checks the event before it is written.
func (e *SessionEvent) Validate() error {
	switch {
	case !isUUID(e.TenantID):
		return invalid("tenantId", "must be a tenant ID")
	case !isUUID(e.AgentID):
		return invalid("agentId", "must be an agent ID")
	case e.Session <= 0:
		return invalid("session", "must be positive")
	case e.Seq < 1:
		return invalid("seq", "must be 1 or more")
	case e.At.IsZero() || e.LoginAt.IsZero():
		return invalid("at", "event and login times are required")
	case strings.TrimSpace(e.WorkflowID) == "":
		return invalid("workflowId", "is required")
	case !e.Status.Group.Valid() || e.Status.Name == "":
		return invalid("status", "needs a name and a valid group")
	case !e.Voice.Valid():
		return invalid("voice", "unknown voice state %q", e.Voice)
	case e.ActorID != "" && !isUUID(e.ActorID):
		return invalid("actorId", "must be a user ID")
	}
	switch e.Kind {
	case SessionLogin, SessionStatus, SessionVoice:
		if e.LogoutReason != "" {
			return invalid("logoutReason", "only a logout has a reason")
		}
	case SessionLogout:
		if !KnownLogoutReason(e.LogoutReason) {
			return invalid("logoutReason", "unknown logout reason %q", e.LogoutReason)
		}
	default:
		return invalid("kind", "unknown event kind %q", e.Kind)
	}
	return nil
}

// AgentSession is one session as reporting reads it.
type AgentSession struct {
	TenantID     string              `json:"tenantId"`
	AgentID      string              `json:"agentId"`
	Session      int64               `json:"session"`
	WorkflowID   string              `json:"workflowId"`
	Campaign     string              `json:"campaign,omitempty"`
	LoginAt      time.Time           `json:"loginAt"`
	LogoutAt     *time.Time          `json:"logoutAt"`
	LogoutReason string              `json:"logoutReason,omitempty"`
	StatusName   string              `json:"statusName"`
	StatusGroup  routing.StatusGroup `json:"statusGroup"`
	Totals       timesheet.Totals    `json:"totals"`
	LastSeq      int64               `json:"lastSeq"`
}

// RecordSessionEvent writes one session event and brings the session's row up
// to it, in one transaction. It is idempotent: an event already written (same
// tenant, agent, session and seq) changes nothing and reports false, and an
// older event written late never rolls the session row back. An agent who no
// longer exists answers ErrNotFound.
func (s *Store) RecordSessionEvent(ctx context.Context, e SessionEvent) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, err
	}
	totals, err := json.Marshal(e.Totals.Clone())
	if err != nil {
		return false, err
	}
	var logoutAt *time.Time
	if e.Kind == SessionLogout {
		logoutAt = &e.At
	}
	var inserted bool
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO agent_sessions (tenant_id, agent_id, session, workflow_id, campaign, login_at, logout_at, logout_reason,
			                            status_name, status_group, totals, last_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (tenant_id, agent_id, session) DO UPDATE SET
				campaign = excluded.campaign, logout_at = excluded.logout_at, logout_reason = excluded.logout_reason,
				status_name = excluded.status_name, status_group = excluded.status_group,
				totals = excluded.totals, last_seq = excluded.last_seq, updated_at = now()
			WHERE agent_sessions.last_seq < excluded.last_seq`,
			e.TenantID, e.AgentID, e.Session, e.WorkflowID, nullText(e.Campaign), e.LoginAt, logoutAt, nullText(e.LogoutReason),
			e.Status.Name, e.Status.Group, totals, e.Seq)
		if err != nil {
			return translate(err, fmt.Sprintf("agent %s", e.AgentID))
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO agent_status_events (tenant_id, agent_id, session, seq, kind, at, status_id, status_name, status_group,
			                                 break_reason, voice_state, campaign, logout_reason, actor_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT DO NOTHING`,
			e.TenantID, e.AgentID, e.Session, e.Seq, e.Kind, e.At, nullText(e.Status.ID), e.Status.Name, e.Status.Group,
			e.Status.BreakReason, string(e.Voice), nullText(e.Campaign), nullText(e.LogoutReason), nullUUID(e.ActorID))
		if err != nil {
			return translate(err, fmt.Sprintf("session %d of agent %s", e.Session, e.AgentID))
		}
		inserted = tag.RowsAffected() == 1
		return nil
	})
	return inserted, err
}

// GetAgentSession returns one recorded session of an agent.
func (s *Store) GetAgentSession(ctx context.Context, tenantID, agentID string, session int64) (AgentSession, error) {
	if !isUUID(agentID) {
		return AgentSession{}, translate(pgx.ErrNoRows, "agent session")
	}
	var (
		a        AgentSession
		campaign *string
		reason   *string
		totals   []byte
	)
	err := s.pool.QueryRow(ctx, `
		SELECT tenant_id, agent_id, session, workflow_id, campaign, login_at, logout_at, logout_reason,
		       status_name, status_group, totals, last_seq
		FROM agent_sessions WHERE tenant_id = $1 AND agent_id = $2 AND session = $3`, tenantID, agentID, session).
		Scan(&a.TenantID, &a.AgentID, &a.Session, &a.WorkflowID, &campaign, &a.LoginAt, &a.LogoutAt, &reason,
			&a.StatusName, &a.StatusGroup, &totals, &a.LastSeq)
	if err != nil {
		return AgentSession{}, translate(err, "agent session")
	}
	if campaign != nil {
		a.Campaign = *campaign
	}
	if reason != nil {
		a.LogoutReason = *reason
	}
	if err := json.Unmarshal(totals, &a.Totals); err != nil {
		return AgentSession{}, fmt.Errorf("agent session totals: %w", err)
	}
	a.Totals = a.Totals.Clone()
	return a, nil
}

// AgentSessionEvents returns a session's history in order.
func (s *Store) AgentSessionEvents(ctx context.Context, tenantID, agentID string, session int64) ([]SessionEvent, error) {
	if !isUUID(agentID) {
		return nil, translate(pgx.ErrNoRows, "agent session")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT e.tenant_id, e.agent_id, e.session, e.seq, e.kind, e.at, s.workflow_id, s.login_at,
		       coalesce(e.status_id, ''), e.status_name, e.status_group, e.break_reason, e.voice_state,
		       coalesce(e.campaign, ''), coalesce(e.logout_reason, ''), coalesce(e.actor_id::text, '')
		FROM agent_status_events e
		JOIN agent_sessions s ON s.tenant_id = e.tenant_id AND s.agent_id = e.agent_id AND s.session = e.session
		WHERE e.tenant_id = $1 AND e.agent_id = $2 AND e.session = $3
		ORDER BY e.seq`, tenantID, agentID, session)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SessionEvent, error) {
		var e SessionEvent
		err := r.Scan(&e.TenantID, &e.AgentID, &e.Session, &e.Seq, &e.Kind, &e.At, &e.WorkflowID, &e.LoginAt,
			&e.Status.ID, &e.Status.Name, &e.Status.Group, &e.Status.BreakReason, &e.Voice,
			&e.Campaign, &e.LogoutReason, &e.ActorID)
		return e, err
	})
}
