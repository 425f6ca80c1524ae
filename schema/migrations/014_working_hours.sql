-- Working hours: periods (a time zone, hours per weekday, holidays by inclusive date
-- range, and what a customer who writes outside them gets), one period per queue,
-- and one period per tenant that new queues get. The calendar itself is the hours
-- package's; these tables only keep what it is given.
--
-- opening_waits are the interactions that arrived while their queue was closed and
-- wait for its opening: bulk assignment leaves them out until then, and the queue's
-- opening (its queue-hours workflow) releases them all at once and runs bulk
-- assignment for the queue's agents.

CREATE TABLE working_hours (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- An IANA time zone (hours.ValidTimeZone); the hours and the holidays are in it.
    time_zone            text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    -- hours.Week: {"monday": {"enabled": true, "ranges": [{"from": "08:00", "to": "16:00"}]}, …};
    -- a missing or switched-off day is not a working day. Validated by the hours
    -- package before it is stored.
    days                 jsonb NOT NULL CHECK (jsonb_typeof(days) = 'object'),
    -- Sent over the customer's channel to a new conversation that starts outside the
    -- hours; empty sends nothing.
    away_message         text NOT NULL DEFAULT '' CHECK (char_length(away_message) <= 2000),
    -- Such a conversation is closed once the away message went out, instead of
    -- waiting for the opening.
    close_outside_hours  boolean NOT NULL DEFAULT false,
    -- Queues created while this is set get this period.
    is_default           boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX working_hours_tenant_name ON working_hours (tenant_id, lower(name));
CREATE UNIQUE INDEX working_hours_tenant_default ON working_hours (tenant_id) WHERE is_default;
CREATE INDEX working_hours_tenant_created ON working_hours (tenant_id, created_at, id);

-- Holidays of a period: from 00:00 of start_date to 24:00 of end_date in the period's
-- time zone, both dates included.
CREATE TABLE working_hours_holidays (
    tenant_id    uuid NOT NULL,
    period_id    uuid NOT NULL,
    -- The order the admin listed them in.
    ordinal      integer NOT NULL CHECK (ordinal >= 0),
    name         text NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
    start_date   date NOT NULL,
    end_date     date NOT NULL,
    PRIMARY KEY (tenant_id, period_id, ordinal),
    FOREIGN KEY (tenant_id, period_id) REFERENCES working_hours (tenant_id, id) ON DELETE CASCADE,
    CHECK (end_date >= start_date)
);

-- The queue's period; NULL: the queue is always open. No cascade: a period that
-- queues use is not deleted under them. Checked at commit, so that deleting a whole
-- tenant (which cascades to both) is not refused.
ALTER TABLE queues ADD COLUMN working_hours_id uuid,
    ADD CONSTRAINT queues_working_hours FOREIGN KEY (tenant_id, working_hours_id)
        REFERENCES working_hours (tenant_id, id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX queues_working_hours ON queues (tenant_id, working_hours_id) WHERE working_hours_id IS NOT NULL;

CREATE TABLE opening_waits (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    interaction_id  uuid NOT NULL,
    -- The queue whose opening it waits for.
    queue_id        uuid NOT NULL,
    -- The opening the calendar gave when it arrived; NULL when none was ahead.
    opens_at        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id)
);
CREATE INDEX opening_waits_queue ON opening_waits (tenant_id, queue_id);

---- create above / drop below ----

DROP TABLE opening_waits;
DROP INDEX queues_working_hours;
ALTER TABLE queues DROP CONSTRAINT queues_working_hours, DROP COLUMN working_hours_id;
DROP TABLE working_hours_holidays;
DROP TABLE working_hours;
