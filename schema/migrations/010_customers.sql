-- Customer 360: the tenant's customer records (contacts), notes on them, the journey
-- identifiers that link interactions to them, the tenant's customer settings, and the
-- journey backfills that link past interactions. An interaction names its customer in
-- interactions.customer_id (the customer's ID as text, written by the interaction
-- workflow, or by a backfill on interactions whose workflow is over).

CREATE TABLE customers (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    -- The customer's ID in the tenant's CRM; unique in the tenant when given.
    external_id  text CHECK (length(external_id) BETWEEN 1 AND 200),
    name         text NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
    -- Phone numbers as pgstore.NormalizePhone writes them, first the primary
    -- one. Several customers may share a number (a household, a switchboard), so a
    -- lookup by phone may answer several.
    phones       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(phones) <= 10),
    -- E-mail addresses in lower case, first the primary one.
    emails       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(emails) <= 10),
    -- Custom attributes: a map of names to string values, at most 50.
    attributes   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX customers_created ON customers (tenant_id, created_at DESC, id DESC);
-- Lookups by phone and e-mail (array containment); the tenant is filtered after.
CREATE INDEX customers_phones ON customers USING gin (phones);
CREATE INDEX customers_emails ON customers USING gin (emails);

-- Journey identifiers: values of interaction metadata keys (an account number, a CRM
-- contact ID) that name the customer. A value names one customer of the tenant, and a
-- customer has one value per key.
CREATE TABLE customer_identifiers (
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    key          text NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_-]{0,63}$'),
    value        text NOT NULL CHECK (char_length(value) BETWEEN 1 AND 1000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key, value),
    UNIQUE (tenant_id, customer_id, key),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

-- Notes written on a customer (not on one interaction), newest first.
CREATE TABLE customer_notes (
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    id           uuid NOT NULL,
    -- The user who wrote it (an agent during a call, a supervisor, an integration).
    author_id    uuid,
    body         text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 5000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_notes_customer ON customer_notes (tenant_id, customer_id, created_at DESC, id DESC);

-- The tenant's customer settings (no row: the defaults).
CREATE TABLE customer_settings (
    tenant_id                 uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- A new interaction that names no known customer creates one and is linked to it:
    -- an inbound one from a phone number nobody has, or one whose metadata carries
    -- journey identifiers nobody has.
    create_on_first_contact   boolean NOT NULL DEFAULT false,
    -- The interaction metadata keys that link interactions to the same customer, in
    -- the order they are tried.
    journey_identifiers       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(journey_identifiers) <= 10),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

-- Journey backfills: a run of the workflow `journey-backfill/<id>` linking the
-- interactions created before it started, oldest first, in batches. Each batch commits
-- its links with the progress below, so a run that restarts continues from the last
-- committed position.
CREATE TABLE journey_backfills (
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                   uuid NOT NULL,
    workflow_id          text NOT NULL,
    status               text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    -- The settings as they were at the start: later changes do not alter the run.
    identifiers          text[] NOT NULL,
    create_customers     boolean NOT NULL,
    -- It walks the interactions created before this time.
    cutoff               timestamptz NOT NULL,
    -- Interactions to walk (counted at the start), walked, linked to a customer, and
    -- customers created for them.
    total                bigint NOT NULL CHECK (total >= 0),
    processed            bigint NOT NULL DEFAULT 0 CHECK (processed >= 0),
    linked               bigint NOT NULL DEFAULT 0 CHECK (linked >= 0),
    customers_created    bigint NOT NULL DEFAULT 0 CHECK (customers_created >= 0),
    batches              integer NOT NULL DEFAULT 0 CHECK (batches >= 0),
    -- The last interaction walked (creation time, ID): the next batch starts after it.
    last_created_at      timestamptz,
    last_interaction_id  uuid,
    error                text,
    started_by           uuid,
    started_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    CHECK ((last_created_at IS NULL) = (last_interaction_id IS NULL)),
    CHECK ((status = 'running') = (completed_at IS NULL))
);
-- One running backfill per tenant.
CREATE UNIQUE INDEX journey_backfills_running ON journey_backfills (tenant_id) WHERE status = 'running';
CREATE INDEX journey_backfills_started ON journey_backfills (tenant_id, started_at DESC, id DESC);

-- A customer's past interactions, newest first.
CREATE INDEX interactions_customer_id ON interactions (tenant_id, customer_id, created_at DESC, id DESC)
    WHERE customer_id IS NOT NULL;

---- create above / drop below ----

DROP INDEX interactions_customer_id;
DROP TABLE journey_backfills;
DROP TABLE customer_settings;
DROP TABLE customer_notes;
DROP TABLE customer_identifiers;
DROP TABLE customers;
