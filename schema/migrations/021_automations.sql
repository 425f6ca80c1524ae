-- Automations: rules admins author (triggers, conditions, ordered actions) in an
-- ordered list per tenant, the log of their runs with each action's result, the
-- tenant's outgoing e-mail (SMTP) settings, and CSAT surveys with their settings.
-- The rules' shape is the automation package's, validated before it is stored.

CREATE TABLE automation_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 1..n without gaps: the order rules run in for one event; writers hold the
    -- tenant's automation lock.
    position    integer NOT NULL CHECK (position >= 1),
    enabled     boolean NOT NULL DEFAULT true,
    triggers    jsonb NOT NULL CHECK (jsonb_typeof(triggers) = 'array'),
    conditions  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(conditions) = 'array'),
    actions     jsonb NOT NULL CHECK (jsonb_typeof(actions) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    -- Deferrable so that one UPDATE can renumber the list: checked at the statement's end.
    CONSTRAINT automation_rules_tenant_position UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE UNIQUE INDEX automation_rules_name ON automation_rules (tenant_id, lower(name));

-- One run of a rule on a conversation: started by an event or by a time-based
-- trigger's period ending. run_key makes a run happen once: the event's key, or the
-- arming of the period.
CREATE TABLE automation_runs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL,
    rule_id         uuid NOT NULL,
    interaction_id  uuid NOT NULL,
    run_key         text NOT NULL CHECK (length(run_key) BETWEEN 1 AND 500),
    trigger         text NOT NULL,
    event           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(event) = 'object'),
    -- How deep in a chain of rules triggering rules the run is (0: a person's or
    -- the channel's change, or a period ending).
    depth           integer NOT NULL CHECK (depth >= 0),
    -- running; completed (its actions ran, each with its own result);
    -- conditionsNotMet; loopStopped (the chain was too deep); skipped (the rule was
    -- disabled or the conversation closed meanwhile).
    status          text NOT NULL CHECK (status IN ('running', 'completed', 'conditionsNotMet', 'loopStopped', 'skipped')),
    detail          text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (tenant_id, rule_id, run_key),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES automation_rules (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX automation_runs_rule ON automation_runs (tenant_id, rule_id, started_at DESC, id DESC);
CREATE INDEX automation_runs_interaction ON automation_runs (tenant_id, interaction_id, started_at);

-- Each action of a run, once: a retried action finds its result here and does not
-- act again.
CREATE TABLE automation_run_actions (
    run_id      uuid NOT NULL REFERENCES automation_runs (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    type        text NOT NULL,
    -- done, failed (with the reason) or skipped (with the reason).
    status      text NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
    detail      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    error       text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, position)
);

-- A tenant's outgoing e-mail: the SMTP server the e-mail actions send through and
-- the no-reply address they send from.
CREATE TABLE tenant_smtp_settings (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    host          text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    port          integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    -- none (plain, for a relay on a trusted network), starttls or tls.
    security      text NOT NULL CHECK (security IN ('none', 'starttls', 'tls')),
    username      text,
    password      text,
    from_address  text NOT NULL CHECK (length(from_address) BETWEEN 3 AND 320),
    from_name     text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A tenant's CSAT survey: sent shortly after a conversation becomes solved (when
-- enabled) or by an automation's action, at most once per min_interval per customer.
CREATE TABLE survey_settings (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled              boolean NOT NULL DEFAULT false,
    question             text NOT NULL CHECK (length(question) BETWEEN 1 AND 1000),
    follow_up_question   text CHECK (length(follow_up_question) BETWEEN 1 AND 1000),
    -- How long after a conversation is solved its survey goes out.
    delay_seconds        integer NOT NULL CHECK (delay_seconds BETWEEN 0 AND 86400),
    -- No second survey to the same customer before this much time has passed.
    min_interval_seconds integer NOT NULL CHECK (min_interval_seconds BETWEEN 0 AND 31536000),
    -- Where the answer page lives: the survey's link is this URL with its token.
    link_base_url        text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE surveys (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL,
    interaction_id      uuid NOT NULL,
    -- Makes a send happen once: the solve it follows, or the automation action.
    send_key            text NOT NULL CHECK (length(send_key) BETWEEN 1 AND 500),
    -- Who was surveyed, for the minimum time between two surveys.
    customer_key        text NOT NULL,
    agent_id            uuid,
    queue_id            uuid,
    channel             text,
    -- The answer link's secret.
    token               text NOT NULL UNIQUE,
    question            text NOT NULL,
    follow_up_question  text,
    -- pending while its message is sent; sent once the channel took it; failed
    -- when it could not be sent (and then does not count against the interval).
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    error               text,
    message_id          uuid,
    sent_at             timestamptz NOT NULL DEFAULT now(),
    score               text CHECK (score IN ('happy', 'notHappy')),
    comment             text CHECK (length(comment) <= 2000),
    answered_at         timestamptz,
    -- When the answer was complete (the score, and the follow-up when asked): the
    -- survey-feedback trigger fires then.
    completed_at        timestamptz,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, send_key),
    FOREIGN KEY (tenant_id, interaction_id) REFERENCES interactions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX surveys_customer ON surveys (tenant_id, customer_key, sent_at DESC);
CREATE INDEX surveys_sent ON surveys (tenant_id, sent_at DESC, id DESC);
CREATE INDEX surveys_interaction ON surveys (tenant_id, interaction_id, sent_at);

-- The conversation's short ID: an incrementally growing number, shown instead of
-- the UUID and available to automations as the conversation.shortId placeholder.
ALTER TABLE interactions ADD COLUMN short_id bigint GENERATED BY DEFAULT AS IDENTITY;
CREATE UNIQUE INDEX interactions_short_id ON interactions (short_id);

---- create above / drop below ----

DROP INDEX interactions_short_id;
ALTER TABLE interactions DROP COLUMN short_id;
DROP TABLE surveys;
DROP TABLE survey_settings;
DROP TABLE tenant_smtp_settings;
DROP TABLE automation_run_actions;
DROP TABLE automation_runs;
DROP TABLE automation_rules;
