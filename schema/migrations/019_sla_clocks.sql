-- SLA clocks: the per-conversation clocks of the SLA policies (run by the SLA clock
-- workflow, a child of the interaction's), their read model, the breaches recorded
-- for reports, and the generation of each tenant's policy list that tells a clock
-- whether its policy is still the current one.

-- A severity's target may be given in seconds instead of minutes (one or the other).
ALTER TABLE sla_severities
    ADD COLUMN first_response_seconds integer NOT NULL DEFAULT 0 CHECK (first_response_seconds BETWEEN 0 AND 31622400),
    ADD COLUMN next_reply_seconds     integer NOT NULL DEFAULT 0 CHECK (next_reply_seconds BETWEEN 0 AND 31622400),
    ADD COLUMN resolution_seconds     integer NOT NULL DEFAULT 0 CHECK (resolution_seconds BETWEEN 0 AND 31622400),
    DROP CONSTRAINT sla_severities_check,
    ADD CONSTRAINT sla_severities_tracked CHECK (first_response_minutes + next_reply_minutes + resolution_minutes
        + first_response_seconds + next_reply_seconds + resolution_seconds > 0),
    ADD CONSTRAINT sla_severities_one_unit CHECK ((first_response_minutes = 0 OR first_response_seconds = 0)
        AND (next_reply_minutes = 0 OR next_reply_seconds = 0) AND (resolution_minutes = 0 OR resolution_seconds = 0));

-- Bumped in the transaction of every change of a tenant's policy list (create,
-- edit, reorder, delete); a clock matched under an older generation matches again.
CREATE TABLE sla_policy_generations (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    generation bigint NOT NULL CHECK (generation >= 1)
);

-- The read model of one conversation's clocks, written by the clock workflow.
CREATE TABLE sla_clocks (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- No foreign key: the clock may start before the interaction's row is written.
    interaction_id    uuid NOT NULL,
    queue_id          uuid NOT NULL,
    -- The matched policy and severity (NULL: no policy applies). No foreign keys: a
    -- deleted policy's clocks keep naming it until they are recalculated.
    policy_id         uuid,
    policy_name       text,
    severity_id       uuid,
    severity_name     text,
    counting          text CHECK (counting IN ('always', 'workingHours')),
    exclude_automated boolean NOT NULL DEFAULT false,
    -- The generation of the policy list the match was made under.
    generation        bigint NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL,
    -- Closed conversations' clocks are stopped and final.
    open              boolean NOT NULL,
    -- Set while a metric is past its target and not met yet: the earliest such
    -- breach.
    overdue_since     timestamptz,
    -- Standing breaches (withdrawn ones not counted).
    breaches          integer NOT NULL DEFAULT 0 CHECK (breaches >= 0),
    -- The earliest instant a counting metric that is not breached reaches its
    -- target, if nothing pauses it (working hours already accounted for).
    next_due_at       timestamptz,
    -- []sla.Clock as of evaluated_at (durations in nanoseconds).
    metrics           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(metrics) = 'array'),
    evaluated_at      timestamptz NOT NULL,
    -- The workflow's count of writes: an older write retried late changes nothing.
    seq               bigint NOT NULL CHECK (seq >= 1),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id)
);
CREATE INDEX sla_clocks_overdue ON sla_clocks (tenant_id, overdue_since, interaction_id) WHERE open AND overdue_since IS NOT NULL;
CREATE INDEX sla_clocks_due ON sla_clocks (tenant_id, next_due_at, interaction_id) WHERE open AND next_due_at IS NOT NULL;
CREATE INDEX sla_clocks_open ON sla_clocks (tenant_id, interaction_id) WHERE open;

-- Breaches, kept for reports: one row per metric and cycle (the n-th next-reply
-- exchange). A recalculation that finds a breach no longer holds withdraws it
-- (withdrawn_at); one that finds it again brings it back.
CREATE TABLE sla_breaches (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    interaction_id uuid NOT NULL,
    metric         text NOT NULL CHECK (metric IN ('firstResponse', 'nextReply', 'resolution')),
    cycle          integer NOT NULL CHECK (cycle >= 1),
    breached_at    timestamptz NOT NULL,
    target_seconds double precision NOT NULL CHECK (target_seconds > 0),
    queue_id       uuid NOT NULL,
    policy_id      uuid NOT NULL,
    policy_name    text NOT NULL,
    severity_id    uuid,
    severity_name  text NOT NULL,
    withdrawn_at   timestamptz,
    -- Bumped each time the breach is withdrawn or stands again; published is the
    -- version whose event went out, so a retried write publishes what is missing.
    version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    published      integer NOT NULL DEFAULT 0 CHECK (published >= 0),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id, metric, cycle)
);
CREATE INDEX sla_breaches_tenant_time ON sla_breaches (tenant_id, breached_at) WHERE withdrawn_at IS NULL;
CREATE INDEX sla_breaches_unpublished ON sla_breaches (tenant_id, interaction_id) WHERE published < version;

---- create above / drop below ----

DROP TABLE sla_breaches;
DROP TABLE sla_clocks;
DROP TABLE sla_policy_generations;
UPDATE sla_severities SET
    first_response_minutes = first_response_minutes + ceil(first_response_seconds / 60.0)::integer,
    next_reply_minutes = next_reply_minutes + ceil(next_reply_seconds / 60.0)::integer,
    resolution_minutes = resolution_minutes + ceil(resolution_seconds / 60.0)::integer;
ALTER TABLE sla_severities
    DROP CONSTRAINT sla_severities_one_unit,
    DROP CONSTRAINT sla_severities_tracked,
    DROP COLUMN first_response_seconds,
    DROP COLUMN next_reply_seconds,
    DROP COLUMN resolution_seconds,
    ADD CONSTRAINT sla_severities_check CHECK (first_response_minutes + next_reply_minutes + resolution_minutes > 0);
