-- The whole life of an interaction in the read model: hold, transfer, conference,
-- wrap-up and disposition, the conversation status of digital interactions, the linked
-- customer, notes, and a timeline of every change.
--
-- Statuses: queued → offered → connected ↔ on_hold → ended (the agent wraps it up) →
-- disposed; abandoned when the customer left before an agent took it. How it ended is
-- the outcome: completed, abandoned, and for outbound calls failed, busy, no_answer or
-- voicemail. The workflow writes the whole state at each change, numbered by version,
-- and the timeline row of that change in the same transaction, keyed by the version
-- and the event type, so a retried write adds nothing.

ALTER TABLE interactions DROP CONSTRAINT interactions_status_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_status_check
    CHECK (status IN ('queued', 'offered', 'connected', 'on_hold', 'ended', 'disposed', 'abandoned'));
ALTER TABLE interactions DROP CONSTRAINT interactions_check1;
ALTER TABLE interactions ADD CONSTRAINT interactions_agent_required
    CHECK (status NOT IN ('connected', 'on_hold', 'ended', 'disposed') OR agent_id IS NOT NULL);

ALTER TABLE interactions
    ADD COLUMN outcome               text CHECK (outcome IN ('completed', 'abandoned', 'failed', 'busy', 'no_answer', 'voicemail')),
    -- Custom metadata given at creation (string values).
    ADD COLUMN metadata              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    -- On hold since (status on_hold), how many holds and their total length so far.
    ADD COLUMN held_at               timestamptz,
    ADD COLUMN holds                 integer NOT NULL DEFAULT 0 CHECK (holds >= 0),
    ADD COLUMN hold_seconds          integer NOT NULL DEFAULT 0 CHECK (hold_seconds >= 0),
    -- Moved by a transfer at least once, and how many times.
    ADD COLUMN transferred           boolean NOT NULL DEFAULT false,
    ADD COLUMN transfers             integer NOT NULL DEFAULT 0 CHECK (transfers >= 0),
    -- Who else is on it (conference): [{kind, agentId, number, joinedAt, leftAt}].
    ADD COLUMN participants          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(participants) = 'array'),
    -- Digital conversations: open, waiting, solved or closed, and how often reopened.
    ADD COLUMN conversation_status   text CHECK (conversation_status IN ('open', 'waiting', 'solved', 'closed')),
    ADD COLUMN reopen_count          integer NOT NULL DEFAULT 0 CHECK (reopen_count >= 0),
    -- The customer record linked to it (Customer 360), by ID.
    ADD COLUMN customer_id           text CHECK (length(customer_id) BETWEEN 1 AND 200),
    -- Wrap-up: until when the agent may dispose before the campaign's default code is
    -- applied (NULL: waits for the agent).
    ADD COLUMN wrap_up_until         timestamptz,
    ADD COLUMN disposed_at           timestamptz,
    ADD COLUMN disposed_by           uuid,
    -- The disposition as chosen, by ID and by name (names survive a later edit of the
    -- campaign's codes); automatic when the wrap-up timeout applied the default code.
    ADD COLUMN disposition_class_id  uuid,
    ADD COLUMN disposition_class     text,
    ADD COLUMN disposition_code_id   uuid,
    ADD COLUMN disposition_code      text,
    ADD COLUMN disposition_auto      boolean NOT NULL DEFAULT false,
    ADD COLUMN disposition_notes     text CHECK (char_length(disposition_notes) <= 5000),
    ADD CONSTRAINT interactions_hold CHECK ((status = 'on_hold') = (held_at IS NOT NULL)),
    ADD CONSTRAINT interactions_disposed CHECK ((status = 'disposed') = (disposed_at IS NOT NULL));

DROP INDEX interactions_active;
CREATE INDEX interactions_active ON interactions (tenant_id, queue_id)
    WHERE status IN ('queued', 'offered', 'connected', 'on_hold');
DROP INDEX interactions_campaign_active;
CREATE INDEX interactions_campaign_active ON interactions (tenant_id, campaign_id)
    WHERE status IN ('queued', 'offered', 'connected', 'on_hold');
-- History search.
CREATE INDEX interactions_customer_phone ON interactions (tenant_id, customer_phone);
CREATE INDEX interactions_disposition ON interactions (tenant_id, disposition_code_id);

-- Notes typed during the interaction or at disposal. The caller chooses the ID, so a
-- retried write finds its row.
CREATE TABLE interaction_notes (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    interaction_id  uuid NOT NULL,
    id              uuid NOT NULL,
    author_id       uuid,
    body            text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 5000),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, interaction_id) REFERENCES interactions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX interaction_notes_interaction ON interaction_notes (tenant_id, interaction_id, created_at, id);

-- The timeline: one row per change, in version order.
CREATE TABLE interaction_events (
    tenant_id       uuid NOT NULL,
    interaction_id  uuid NOT NULL,
    version         bigint NOT NULL CHECK (version >= 0),
    type            text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    at              timestamptz NOT NULL,
    -- Who did it (a user), when a person did.
    actor_id        uuid,
    agent_id        uuid,
    status          text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    PRIMARY KEY (tenant_id, interaction_id, version, type),
    FOREIGN KEY (tenant_id, interaction_id) REFERENCES interactions (tenant_id, id) ON DELETE CASCADE
);
-- Agent self-monitoring and reports: an agent's events by time.
CREATE INDEX interaction_events_agent ON interaction_events (tenant_id, agent_id, at) WHERE agent_id IS NOT NULL;

---- create above / drop below ----

DROP TABLE interaction_events;
DROP TABLE interaction_notes;
DROP INDEX interactions_customer_phone;
DROP INDEX interactions_disposition;
DROP INDEX interactions_campaign_active;
CREATE INDEX interactions_campaign_active ON interactions (tenant_id, campaign_id)
    WHERE status IN ('queued', 'offered', 'connected');
DROP INDEX interactions_active;
CREATE INDEX interactions_active ON interactions (tenant_id, queue_id)
    WHERE status IN ('queued', 'offered', 'connected');
ALTER TABLE interactions DROP CONSTRAINT interactions_hold, DROP CONSTRAINT interactions_disposed,
    DROP COLUMN outcome, DROP COLUMN metadata, DROP COLUMN held_at, DROP COLUMN holds, DROP COLUMN hold_seconds,
    DROP COLUMN transferred, DROP COLUMN transfers, DROP COLUMN participants, DROP COLUMN conversation_status,
    DROP COLUMN reopen_count, DROP COLUMN customer_id, DROP COLUMN wrap_up_until, DROP COLUMN disposed_at,
    DROP COLUMN disposed_by, DROP COLUMN disposition_class_id, DROP COLUMN disposition_class,
    DROP COLUMN disposition_code_id, DROP COLUMN disposition_code, DROP COLUMN disposition_auto,
    DROP COLUMN disposition_notes;
ALTER TABLE interactions DROP CONSTRAINT interactions_agent_required;
ALTER TABLE interactions ADD CONSTRAINT interactions_check1 CHECK (status NOT IN ('connected', 'ended') OR agent_id IS NOT NULL);
ALTER TABLE interactions DROP CONSTRAINT interactions_status_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_status_check
    CHECK (status IN ('queued', 'offered', 'connected', 'ended', 'abandoned'));
