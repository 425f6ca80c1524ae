-- ACD configuration: skills, queues and their agents, agent settings, tenant defaults,
-- routes and custom agent statuses. Every row belongs to a tenant, and every reference
-- stays inside it: foreign keys carry tenant_id, like api_keys → users.

CREATE TABLE skills (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
-- Names are unique ignoring case: "Spanish" and "spanish" would be one skill to a person.
-- The index also serves the alphabetical listing.
CREATE UNIQUE INDEX skills_tenant_name ON skills (tenant_id, lower(name));

CREATE TABLE queues (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The Default queue takes every interaction no route matches and includes every
    -- agent without membership rows; it cannot be deleted.
    is_default       boolean NOT NULL DEFAULT false,
    -- Automatic assignment of chats, messaging and email; calls are always assigned
    -- automatically whatever this says.
    auto_assign      boolean NOT NULL DEFAULT true,
    assignment_mode  text NOT NULL DEFAULT 'any' CHECK (assignment_mode IN ('any', 'sticky')),
    sticky_window    text CHECK (sticky_window IN ('30d', '60d', '365d', 'ever')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK ((assignment_mode = 'sticky') = (sticky_window IS NOT NULL))
);
CREATE UNIQUE INDEX queues_tenant_name ON queues (tenant_id, lower(name));
CREATE UNIQUE INDEX queues_tenant_default ON queues (tenant_id) WHERE is_default;
CREATE INDEX queues_tenant_created ON queues (tenant_id, created_at, id);

-- Explicit memberships; the Default queue has none (everyone belongs to it).
CREATE TABLE queue_agents (
    tenant_id   uuid NOT NULL,
    queue_id    uuid NOT NULL,
    user_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, queue_id, user_id),
    FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX queue_agents_user ON queue_agents (tenant_id, user_id);

-- Settings of users with the agent role; a missing row means every default.
CREATE TABLE agent_settings (
    tenant_id        uuid NOT NULL,
    user_id          uuid NOT NULL,
    enabled          boolean NOT NULL DEFAULT true,
    title            text CHECK (length(title) BETWEEN 1 AND 100),
    phone            text CHECK (length(phone) BETWEEN 1 AND 32),
    extension        text CHECK (length(extension) BETWEEN 1 AND 16),
    -- Per-channel override (routing.Capacity); a missing channel inherits the tenant default.
    capacity         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(capacity) = 'object'),
    -- NULL inherits acd_settings.wrap_up_seconds.
    wrap_up_seconds  integer CHECK (wrap_up_seconds BETWEEN 0 AND 3600),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- An extension is dialled to reach one agent.
CREATE UNIQUE INDEX agent_settings_extension ON agent_settings (tenant_id, extension) WHERE extension IS NOT NULL;

CREATE TABLE agent_skills (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    skill_id    uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, skill_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_skills_skill ON agent_skills (tenant_id, skill_id);

-- One row per tenant: defaults that agents inherit and what counts towards capacity.
CREATE TABLE acd_settings (
    tenant_id         uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- Tenant default capacity per channel; a missing channel uses the system default.
    default_capacity  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(default_capacity) = 'object'),
    -- Open conversations always count; Waiting and Solved count unless excluded.
    count_waiting     boolean NOT NULL DEFAULT true,
    count_solved      boolean NOT NULL DEFAULT true,
    wrap_up_seconds   integer NOT NULL DEFAULT 30 CHECK (wrap_up_seconds BETWEEN 0 AND 3600),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 1..n without gaps; writers hold the tenant's route lock.
    position    integer NOT NULL CHECK (position >= 1),
    enabled     boolean NOT NULL DEFAULT true,
    -- A routing.Condition tree, validated by the routing package before it is stored.
    condition   jsonb NOT NULL CHECK (jsonb_typeof(condition) = 'object'),
    queue_id    uuid NOT NULL,
    priority    text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    -- Deferrable so that one UPDATE can renumber the list: checked at the statement's end.
    CONSTRAINT routes_tenant_position UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    -- No cascade: a queue that routes lead to is not deleted under them. Checked at
    -- commit, so that deleting a whole tenant (which cascades to both) is not refused.
    CONSTRAINT routes_queue FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX routes_tenant_queue ON routes (tenant_id, queue_id);

CREATE TABLE route_skills (
    tenant_id   uuid NOT NULL,
    route_id    uuid NOT NULL,
    skill_id    uuid NOT NULL,
    -- The order the supervisor listed the skills in.
    ordinal     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, route_id, skill_id),
    FOREIGN KEY (tenant_id, route_id) REFERENCES routes (tenant_id, id) ON DELETE CASCADE,
    -- No cascade: a skill that routes require is not deleted under them (checked at
    -- commit, like routes_queue).
    CONSTRAINT route_skills_skill FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX route_skills_skill ON route_skills (tenant_id, skill_id);

-- Tenant statuses beside the predefined Available, Busy, Away and Offline.
CREATE TABLE agent_statuses (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    status_group  text NOT NULL CHECK (status_group IN ('available', 'busy', 'away', 'unavailable')),
    -- Break reasons (Lunch, Training) are Away statuses reported as breaks.
    break_reason  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK (NOT break_reason OR status_group = 'away'),
    CHECK (lower(name) NOT IN ('available', 'busy', 'away', 'offline'))
);
CREATE UNIQUE INDEX agent_statuses_tenant_name ON agent_statuses (tenant_id, lower(name));
CREATE INDEX agent_statuses_tenant_created ON agent_statuses (tenant_id, created_at, id);

-- Existing tenants get what pgstore gives every new tenant.
INSERT INTO queues (tenant_id, name, is_default) SELECT id, 'Default', true FROM tenants;
INSERT INTO acd_settings (tenant_id) SELECT id FROM tenants;
INSERT INTO agent_statuses (tenant_id, name, status_group, break_reason)
SELECT t.id, b.name, 'away', true FROM tenants t CROSS JOIN (VALUES ('Lunch'), ('Training')) AS b (name);

---- create above / drop below ----

DROP TABLE agent_statuses;
DROP TABLE route_skills;
DROP TABLE routes;
DROP TABLE acd_settings;
DROP TABLE agent_skills;
DROP TABLE agent_settings;
DROP TABLE queue_agents;
DROP TABLE queues;
DROP TABLE skills;
