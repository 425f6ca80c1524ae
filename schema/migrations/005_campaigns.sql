-- Campaigns and their two-level disposition codes. An interaction belongs to a
-- campaign; once it ends, the agent wraps it up and disposes it with a class and a code
-- of that campaign, or the campaign's wrap-up timeout disposes it with the campaign's
-- default code. Every tenant has one Default campaign, which cannot be deleted. Every
-- reference stays inside the tenant and, for codes, inside the campaign: foreign keys
-- carry tenant_id and campaign_id.

CREATE TABLE campaigns (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                     text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description              text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- The Default campaign takes interactions that name no other campaign; it cannot
    -- be deleted or disabled.
    is_default               boolean NOT NULL DEFAULT false,
    enabled                  boolean NOT NULL DEFAULT true,
    -- How long an agent may wrap an interaction up before it is disposed with the
    -- default code; 0 waits for the agent.
    wrap_up_timeout_seconds  integer NOT NULL DEFAULT 60 CHECK (wrap_up_timeout_seconds BETWEEN 0 AND 3600),
    -- One of the campaign's own codes (campaigns_default_code, below); NULL only while
    -- the campaign has no codes (campaigns_default_code_required).
    default_code_id          uuid,
    -- Where the campaign's interactions wait when nothing else decides; deleting the
    -- queue clears it.
    default_queue_id         uuid,
    -- The number shown to customers on outbound calls (E.164).
    caller_id                text CHECK (caller_id ~ '^\+[1-9][0-9]{1,14}$'),
    recording_enabled        boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK (enabled OR NOT is_default),
    CONSTRAINT campaigns_default_queue FOREIGN KEY (tenant_id, default_queue_id) REFERENCES queues (tenant_id, id)
        ON DELETE SET NULL (default_queue_id)
);
CREATE UNIQUE INDEX campaigns_tenant_name ON campaigns (tenant_id, lower(name));
CREATE UNIQUE INDEX campaigns_tenant_default ON campaigns (tenant_id) WHERE is_default;
CREATE INDEX campaigns_tenant_created ON campaigns (tenant_id, created_at, id);
CREATE INDEX campaigns_default_queue ON campaigns (tenant_id, default_queue_id) WHERE default_queue_id IS NOT NULL;

-- The first level: the main category of an outcome.
CREATE TABLE disposition_classes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    campaign_id  uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- 1..n without gaps in the campaign; the whole tree is written at once under the
    -- campaign's row lock, so the uniqueness is checked at commit.
    position     integer NOT NULL CHECK (position >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, campaign_id, id),
    CONSTRAINT disposition_classes_position UNIQUE (campaign_id, position) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX disposition_classes_name ON disposition_classes (campaign_id, lower(name));

-- The second level: the outcome itself, with what choosing it does.
CREATE TABLE disposition_codes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    campaign_id  uuid NOT NULL,
    class_id     uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- 1..n without gaps in the class.
    position     integer NOT NULL CHECK (position >= 1),
    -- Choosing the code schedules a callback.
    callback     boolean NOT NULL DEFAULT false,
    -- Choosing the code adds the customer's number to the do-not-call list.
    blacklist    boolean NOT NULL DEFAULT false,
    -- The outcome counts as a success in reports.
    success      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, campaign_id, id),
    CONSTRAINT disposition_codes_position UNIQUE (class_id, position) DEFERRABLE INITIALLY DEFERRED,
    -- Calling a number back that was just put on the do-not-call list contradicts itself.
    CHECK (NOT (callback AND blacklist)),
    FOREIGN KEY (tenant_id, campaign_id, class_id) REFERENCES disposition_classes (tenant_id, campaign_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX disposition_codes_name ON disposition_codes (class_id, lower(name));
CREATE INDEX disposition_codes_campaign ON disposition_codes (tenant_id, campaign_id);

-- The default code is one of the campaign's own. Checked at commit, so that a new tree
-- and its new default are written in one transaction.
ALTER TABLE campaigns ADD CONSTRAINT campaigns_default_code
    FOREIGN KEY (tenant_id, id, default_code_id) REFERENCES disposition_codes (tenant_id, campaign_id, id)
    DEFERRABLE INITIALLY DEFERRED;

-- A campaign with codes always has a default one: checked at commit of every change to
-- a campaign's default or its codes.
CREATE FUNCTION campaigns_check_default_code() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t uuid;
    c uuid;
BEGIN
    IF TG_TABLE_NAME = 'campaigns' THEN
        t := NEW.tenant_id; c := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        t := OLD.tenant_id; c := OLD.campaign_id;
    ELSE
        t := NEW.tenant_id; c := NEW.campaign_id;
    END IF;
    IF EXISTS (
        SELECT 1 FROM campaigns k
        WHERE k.tenant_id = t AND k.id = c AND k.default_code_id IS NULL
          AND EXISTS (SELECT 1 FROM disposition_codes d WHERE d.tenant_id = k.tenant_id AND d.campaign_id = k.id)
    ) THEN
        RAISE EXCEPTION 'campaign % has disposition codes but no default code', c
            USING ERRCODE = 'check_violation', CONSTRAINT = 'campaigns_default_code_required';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER campaigns_default_code_required
    AFTER INSERT OR UPDATE OF default_code_id ON campaigns
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns_check_default_code();
CREATE CONSTRAINT TRIGGER disposition_codes_default_required
    AFTER INSERT OR UPDATE OF campaign_id OR DELETE ON disposition_codes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns_check_default_code();

-- The campaign an interaction belongs to. History keeps the ID of a campaign deleted
-- later, so there is no foreign key; deleting a campaign counts its active
-- interactions under the campaign's row lock.
ALTER TABLE interactions ADD COLUMN campaign_id uuid;
CREATE INDEX interactions_campaign_active ON interactions (tenant_id, campaign_id)
    WHERE status IN ('queued', 'offered', 'connected');

-- Existing tenants get what pgstore gives every new tenant: the Default campaign with
-- the class Closed and its codes Resolved (the default) and No action.
INSERT INTO campaigns (tenant_id, name, is_default) SELECT id, 'Default', true FROM tenants;
INSERT INTO disposition_classes (tenant_id, campaign_id, name, position)
SELECT tenant_id, id, 'Closed', 1 FROM campaigns WHERE is_default;
INSERT INTO disposition_codes (tenant_id, campaign_id, class_id, name, position, success)
SELECT k.tenant_id, k.campaign_id, k.id, v.name, v.position, v.success
FROM disposition_classes k CROSS JOIN (VALUES ('Resolved', 1, true), ('No action', 2, false)) AS v (name, position, success);
UPDATE campaigns c SET default_code_id = d.id FROM disposition_codes d
WHERE d.tenant_id = c.tenant_id AND d.campaign_id = c.id AND d.name = 'Resolved' AND c.is_default;

---- create above / drop below ----

DROP INDEX interactions_campaign_active;
ALTER TABLE interactions DROP COLUMN campaign_id;
DROP TABLE campaigns, disposition_classes, disposition_codes;
DROP FUNCTION campaigns_check_default_code();
