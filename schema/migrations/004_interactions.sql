-- Interactions as the ACD sees them: a read model of each interaction workflow
-- (`interaction/<id>`) and a log of every offer made to an agent. Both are written only
-- by the workflow's idempotent activities: a write carries the workflow's version
-- number and never rolls a row back, and an offer is keyed by its attempt number, so a
-- retried activity lands on the same row. The workflow is the authority; these tables
-- serve listings, bulk assignment, the sticky-agent lookup and reporting.

CREATE TABLE interactions (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    workflow_id       text NOT NULL,
    -- The capacity channel, and the sub-channel as received (whatsapp, sms, web_chat…).
    channel           text NOT NULL CHECK (channel IN ('voice', 'live_chat', 'live_messaging', 'email')),
    source            text,
    direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_address      text,
    to_address        text,
    customer_phone    text,
    -- Who the customer is for the sticky-agent rule: the phone number, else the
    -- address the interaction came from.
    customer          text,
    customer_name     text,
    tags              text[] NOT NULL DEFAULT '{}',
    -- The queue may be deleted once nothing active is in it, so history keeps its ID
    -- without a foreign key; DeleteQueue counts the active rows under the queue's lock.
    queue_id          uuid NOT NULL,
    route_id          uuid,
    -- routing.Priority: -1 low, 0 normal, 1 high, 2 urgent.
    priority          smallint NOT NULL CHECK (priority BETWEEN -1 AND 2),
    required_skills   uuid[] NOT NULL DEFAULT '{}',
    status            text NOT NULL CHECK (status IN ('queued', 'offered', 'connected', 'ended', 'abandoned')),
    -- The agent ringing now (status offered), and the agent who took it (connected on).
    offered_agent_id  uuid,
    agent_id          uuid,
    -- Agents who already had it (rejected, let it ring out) and are not offered it again.
    excluded_agents   uuid[] NOT NULL DEFAULT '{}',
    offers            integer NOT NULL DEFAULT 0 CHECK (offers >= 0),
    queued_at         timestamptz NOT NULL,
    offered_at        timestamptz,
    connected_at      timestamptz,
    ended_at          timestamptz,
    end_reason        text,
    -- The workflow's count of writes; an older write retried late changes nothing.
    version           bigint NOT NULL CHECK (version >= 0),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK ((status = 'offered') = (offered_agent_id IS NOT NULL)),
    CHECK (status NOT IN ('connected', 'ended') OR agent_id IS NOT NULL)
);
-- Bulk assignment: the waiting interactions of some queues, by priority then age.
CREATE INDEX interactions_waiting ON interactions (tenant_id, queue_id, channel, priority DESC, created_at, id)
    WHERE status = 'queued';
-- Queue deletion and monitoring: what is still active in a queue.
CREATE INDEX interactions_active ON interactions (tenant_id, queue_id)
    WHERE status IN ('queued', 'offered', 'connected');
-- The sticky agent: the customer's latest interaction that reached an agent.
CREATE INDEX interactions_customer ON interactions (tenant_id, customer, connected_at DESC)
    WHERE connected_at IS NOT NULL;
CREATE INDEX interactions_agent ON interactions (tenant_id, agent_id, status);
CREATE INDEX interactions_offered_agent ON interactions (tenant_id, offered_agent_id) WHERE status = 'offered';
CREATE INDEX interactions_created ON interactions (tenant_id, created_at DESC, id);

CREATE TABLE interaction_offers (
    tenant_id       uuid NOT NULL,
    interaction_id  uuid NOT NULL,
    -- Numbered by the workflow from 1: the idempotency key of the offer.
    attempt         integer NOT NULL CHECK (attempt >= 1),
    agent_id        uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('voice', 'live_chat', 'live_messaging', 'email')),
    -- When the slot was reserved and until when it rings (the ring timeout).
    offered_at      timestamptz NOT NULL,
    ring_until      timestamptz NOT NULL,
    -- accepted; rejected by the agent; timeout (no answer, or the reservation lapsed);
    -- released (withdrawn: the customer left or the interaction ended while ringing).
    outcome         text CHECK (outcome IN ('accepted', 'rejected', 'timeout', 'released')),
    responded_at    timestamptz,
    reason          text,
    -- The winner's line of the routing decision (routing.Score), for supervisors.
    score           jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id, attempt),
    FOREIGN KEY (tenant_id, interaction_id) REFERENCES interactions (tenant_id, id) ON DELETE CASCADE,
    CHECK ((outcome IS NULL) = (responded_at IS NULL))
);
CREATE INDEX interaction_offers_agent ON interaction_offers (tenant_id, agent_id, offered_at);

-- How long an offer rings before it goes to the next agent.
ALTER TABLE acd_settings ADD COLUMN ring_timeout_seconds integer NOT NULL DEFAULT 20
    CHECK (ring_timeout_seconds BETWEEN 2 AND 300);

---- create above / drop below ----

ALTER TABLE acd_settings DROP COLUMN ring_timeout_seconds;
DROP TABLE interaction_offers;
DROP TABLE interactions;
