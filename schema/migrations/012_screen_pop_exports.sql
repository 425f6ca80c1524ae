-- Screen pop and interaction history exports.
--
-- A campaign names the CRM pages an agent's desktop opens: the screen pop when an
-- interaction of the campaign rings on or connects to the agent, and the knowledge
-- base page at login. Both are URL templates with {placeholder} fields (package
-- screenpop), checked when saved and resolved per interaction.
ALTER TABLE campaigns
    -- The "Incoming/Outgoing Call" page: opened with the interaction's context.
    ADD COLUMN screen_pop_url      text CHECK (length(screen_pop_url) BETWEEN 1 AND 2000),
    -- The knowledge base / landing page opened at login: the agent's context only.
    ADD COLUMN knowledge_base_url  text CHECK (length(knowledge_base_url) BETWEEN 1 AND 2000),
    -- The language the campaign serves its customers in (BCP 47, e.g. en-GB); the
    -- {locale} placeholder.
    ADD COLUMN locale              text CHECK (locale ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$');

-- Exports of the interaction history to CSV, produced by a workflow
-- (`export/<id>`): the filter is the history search's, kept as asked; an agent's
-- export is limited to their own history (filter.visibleTo). The file lives under
-- the data directory (file_name is relative to its exports folder), shared by the
-- API and the workers.
CREATE TABLE interaction_exports (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    -- Who asked: agents see only their own exports.
    requested_by   uuid NOT NULL,
    filter         jsonb NOT NULL CHECK (jsonb_typeof(filter) = 'object'),
    -- queued → running → completed or failed; completed → expired once the file
    -- is removed at expires_at.
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed', 'expired')),
    -- Data rows written (the header excluded), and the file's size.
    row_count      bigint NOT NULL DEFAULT 0 CHECK (row_count >= 0),
    size_bytes     bigint CHECK (size_bytes >= 0),
    file_name      text CHECK (length(file_name) BETWEEN 1 AND 300),
    -- Why it failed (status failed).
    error          text CHECK (length(error) <= 2000),
    -- Runs of the export's activity so far (a retry after a crash counts).
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    expires_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK (status NOT IN ('completed', 'expired') OR (file_name IS NOT NULL AND completed_at IS NOT NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL)
);
-- Listings, newest first: the tenant's, and one user's own.
CREATE INDEX interaction_exports_created ON interaction_exports (tenant_id, created_at DESC, id DESC);
CREATE INDEX interaction_exports_requester ON interaction_exports (tenant_id, requested_by, created_at DESC, id DESC);

---- create above / drop below ----

DROP TABLE interaction_exports;
ALTER TABLE campaigns DROP COLUMN screen_pop_url, DROP COLUMN knowledge_base_url, DROP COLUMN locale;
