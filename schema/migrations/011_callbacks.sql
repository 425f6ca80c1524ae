-- Scheduled callbacks: a call back to a customer at a chosen time, scheduled when an
-- agent disposes an interaction with a callback code or through the API. Each callback
-- is a workflow (`callback/<id>`) with a durable timer, which owns it; these tables are
-- its read model, written only by the workflow's idempotent activities: a write carries
-- the workflow's version and never rolls a row back, and an event is keyed by the
-- version it came with, so a retried activity lands on the same rows.

CREATE TABLE callbacks (
    tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                    uuid NOT NULL,
    workflow_id           text NOT NULL,
    -- scheduled (waiting for its time, or past it and waiting for its agent),
    -- dialing (its outbound interaction is being started), completed (started),
    -- cancelled (deleted, with a reason) or failed (reason: do_not_call…).
    status                text NOT NULL CHECK (status IN ('scheduled', 'dialing', 'completed', 'cancelled', 'failed')),
    -- When it fires; a reschedule moves it.
    due_at                timestamptz NOT NULL,
    -- A self-callback is offered only to agent_id, once they are logged in, in an
    -- Available-group status and have room for a call; any other callback is routed
    -- to queue_id, or to its campaign's default queue when queue_id is NULL.
    self_callback         boolean NOT NULL,
    agent_id              uuid,
    queue_id              uuid,
    -- The campaign of the call (NULL: the tenant's Default campaign). Users, queues
    -- and campaigns may go while the callback is kept, so none has a foreign key:
    -- firing checks them.
    campaign_id           uuid,
    -- The number to call, normalised (pgstore.NormalizePhone): one of the
    -- customer's numbers or an alternate one.
    phone                 text NOT NULL CHECK (phone ~ '^\+?[0-9]{3,15}$'),
    -- The customer, as interactions name them for the sticky-agent rule.
    customer              text,
    customer_name         text CHECK (length(customer_name) <= 200),
    notes                 text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    -- Who scheduled it (an agent, a supervisor, an integration's user).
    created_by            uuid,
    -- The interaction it follows up: the one disposed with a callback code.
    source_interaction_id uuid,
    -- How often it fired; the interaction of each fire is derived from the callback
    -- and this number, so a retried fire starts the same interaction.
    generation            integer NOT NULL DEFAULT 0 CHECK (generation >= 0),
    -- The outbound interaction it started, and when.
    interaction_id        uuid,
    fired_at              timestamptz,
    reschedules           integer NOT NULL DEFAULT 0 CHECK (reschedules >= 0),
    -- Why it was cancelled (the deleting user's reason) or failed (do_not_call,
    -- agent_unavailable…), and who cancelled it.
    reason                text CHECK (length(reason) <= 500),
    closed_by             uuid,
    closed_at             timestamptz,
    -- The workflow's count of writes; an older write retried late changes nothing.
    version               bigint NOT NULL CHECK (version >= 1),
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (NOT self_callback OR agent_id IS NOT NULL),
    CHECK (status NOT IN ('dialing', 'completed') OR interaction_id IS NOT NULL),
    CHECK (status NOT IN ('cancelled', 'failed') OR reason IS NOT NULL)
);
-- The tenant's list by due time (supervisors), with its filters.
CREATE INDEX callbacks_due ON callbacks (tenant_id, due_at, id);
-- An agent's own list: the callbacks waiting for them and those they scheduled.
CREATE INDEX callbacks_agent ON callbacks (tenant_id, agent_id, due_at, id) WHERE agent_id IS NOT NULL;
CREATE INDEX callbacks_created_by ON callbacks (tenant_id, created_by, due_at, id) WHERE created_by IS NOT NULL;
-- The callback an interaction's disposal scheduled.
CREATE INDEX callbacks_source ON callbacks (tenant_id, source_interaction_id) WHERE source_interaction_id IS NOT NULL;

-- A callback's history: scheduled, each reschedule (from, to, reason, who), the
-- fire, and how it closed. One row per version of the callback.
CREATE TABLE callback_events (
    tenant_id       uuid NOT NULL,
    callback_id     uuid NOT NULL,
    version         bigint NOT NULL CHECK (version >= 1),
    type            text NOT NULL CHECK (type IN ('scheduled', 'rescheduled', 'dialing', 'completed', 'cancelled', 'failed')),
    at              timestamptz NOT NULL,
    actor_id        uuid,
    -- A reschedule's old and new time; the due time of the other events.
    previous_due_at timestamptz,
    due_at          timestamptz NOT NULL,
    reason          text CHECK (length(reason) <= 500),
    -- The interaction a fire started.
    interaction_id  uuid,
    PRIMARY KEY (tenant_id, callback_id, version),
    FOREIGN KEY (tenant_id, callback_id) REFERENCES callbacks (tenant_id, id) ON DELETE CASCADE
);

---- create above / drop below ----

DROP TABLE callback_events;
DROP TABLE callbacks;
