-- Service-level agreement policies: which conversations a policy applies to (an
-- enabled policy within its validity period whose condition the conversation's facts
-- satisfy and whose queue scope covers its queue; the first in list order wins), and
-- its severities with their target times. The matching and the clocks are the sla
-- package's.

CREATE TABLE sla_policies (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 1..n without gaps, 1 the most important; writers hold the tenant's policy lock.
    position          integer NOT NULL CHECK (position >= 1),
    enabled           boolean NOT NULL DEFAULT true,
    -- The validity period: from inclusive, to exclusive; NULL is unbounded.
    valid_from        timestamptz,
    valid_to          timestamptz,
    -- A routing.Condition tree, validated by the sla package before it is stored.
    condition         jsonb NOT NULL CHECK (jsonb_typeof(condition) = 'object'),
    -- any: every queue; applied: only the queues in sla_policy_queues; ignored: all
    -- queues but those.
    queue_mode        text NOT NULL DEFAULT 'any' CHECK (queue_mode IN ('any', 'applied', 'ignored')),
    -- Automated replies do not count, and counting starts at the chatbot's handover.
    exclude_automated boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_to > valid_from),
    -- Deferrable so that one UPDATE can renumber the list: checked at the statement's end.
    CONSTRAINT sla_policies_tenant_position UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE UNIQUE INDEX sla_policies_name ON sla_policies (tenant_id, lower(name));

CREATE TABLE sla_policy_queues (
    tenant_id uuid NOT NULL,
    policy_id uuid NOT NULL,
    queue_id  uuid NOT NULL,
    -- Order the admin listed them in.
    ordinal   integer NOT NULL,
    PRIMARY KEY (tenant_id, policy_id, queue_id),
    FOREIGN KEY (tenant_id, policy_id) REFERENCES sla_policies (tenant_id, id) ON DELETE CASCADE,
    -- A deleted queue leaves the scopes that name it.
    CONSTRAINT sla_policy_queues_queue FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sla_policy_queues_queue ON sla_policy_queues (tenant_id, queue_id);

CREATE TABLE sla_severities (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid NOT NULL,
    policy_id              uuid NOT NULL,
    -- Order within the policy, 1..n.
    position               integer NOT NULL CHECK (position >= 1),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The severity a matching conversation starts with; one per policy.
    is_default             boolean NOT NULL,
    -- Targets in minutes; 0 means the metric is not tracked, and one is always set.
    first_response_minutes integer NOT NULL CHECK (first_response_minutes BETWEEN 0 AND 527040),
    next_reply_minutes     integer NOT NULL CHECK (next_reply_minutes BETWEEN 0 AND 527040),
    resolution_minutes     integer NOT NULL CHECK (resolution_minutes BETWEEN 0 AND 527040),
    -- always: around the clock; workingHours: only within the queue's working hours.
    counting               text NOT NULL CHECK (counting IN ('always', 'workingHours')),
    UNIQUE (tenant_id, id),
    CHECK (first_response_minutes + next_reply_minutes + resolution_minutes > 0),
    FOREIGN KEY (tenant_id, policy_id) REFERENCES sla_policies (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sla_severities_default ON sla_severities (policy_id) WHERE is_default;
CREATE UNIQUE INDEX sla_severities_name ON sla_severities (policy_id, lower(name));
CREATE INDEX sla_severities_policy ON sla_severities (tenant_id, policy_id, position);

---- create above / drop below ----

DROP TABLE sla_severities;
DROP TABLE sla_policy_queues;
DROP TABLE sla_policies;
