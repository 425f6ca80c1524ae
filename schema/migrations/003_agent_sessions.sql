-- Agent sessions for reporting, written by the agent-session workflow through an
-- idempotent activity: one row per session and one row per event of its history
-- (login, status change, voice sub-state change, logout). Retried writes land on the
-- same keys and change nothing.

CREATE TABLE agent_sessions (
    tenant_id      uuid NOT NULL,
    agent_id       uuid NOT NULL,
    -- The presence session ID: the login time in Unix milliseconds, growing per agent.
    session        bigint NOT NULL CHECK (session > 0),
    workflow_id    text NOT NULL,
    campaign       text,
    login_at       timestamptz NOT NULL,
    logout_at      timestamptz,
    logout_reason  text CHECK (logout_reason IN ('agent', 'forced', 'heartbeat_lapsed', 'replaced', 'logged_out', 'presence_lost')),
    -- The status after the last recorded event.
    status_name    text NOT NULL,
    status_group   text NOT NULL CHECK (status_group IN ('available', 'busy', 'away', 'unavailable')),
    -- timesheet.Totals as of the last recorded event (final once logout_at is set).
    totals         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(totals) = 'object'),
    -- The newest event written; an older event retried late never rolls the row back.
    last_seq       bigint NOT NULL CHECK (last_seq >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id, session),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((logout_at IS NULL) = (logout_reason IS NULL))
);
CREATE INDEX agent_sessions_tenant_login ON agent_sessions (tenant_id, login_at DESC);

CREATE TABLE agent_status_events (
    tenant_id     uuid NOT NULL,
    agent_id      uuid NOT NULL,
    session       bigint NOT NULL,
    -- Numbered by the workflow from 1 within the session: the idempotency key.
    seq           bigint NOT NULL CHECK (seq >= 1),
    kind          text NOT NULL CHECK (kind IN ('login', 'status', 'voice', 'logout')),
    -- When it happened by the presence clock, not when it was written.
    at            timestamptz NOT NULL,
    -- The status from this event on (Offline for a logout).
    status_id     text,
    status_name   text NOT NULL,
    status_group  text NOT NULL CHECK (status_group IN ('available', 'busy', 'away', 'unavailable')),
    break_reason  boolean NOT NULL DEFAULT false,
    voice_state   text NOT NULL DEFAULT '' CHECK (voice_state IN ('', 'ringing', 'in_call', 'wrapping')),
    campaign      text,
    logout_reason text,
    -- Who made the change: the agent, a supervisor, or NULL for the system (lapse, reconciliation).
    actor_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id, session, seq),
    FOREIGN KEY (tenant_id, agent_id, session) REFERENCES agent_sessions (tenant_id, agent_id, session) ON DELETE CASCADE
);
CREATE INDEX agent_status_events_tenant_at ON agent_status_events (tenant_id, at);

---- create above / drop below ----

DROP TABLE agent_status_events;
DROP TABLE agent_sessions;
