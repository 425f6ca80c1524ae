-- Webhooks: a tenant's CRMs receive interactions' lifecycle events over HTTP. An
-- endpoint is a URL subscribed to some event types; every event of a subscribed type
-- becomes one delivery per endpoint, which is POSTed, signed with the endpoint's
-- secret, and retried with backoff by its own workflow (`webhook-delivery/<id>`) until
-- the endpoint answers 2xx or the retries run out. The deliveries are the endpoint's
-- log: status, attempts, the last answer. A delivery's ID is the same on every
-- attempt and every re-send, so receivers de-duplicate by it.

CREATE TABLE webhook_endpoints (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- An absolute http(s) URL; where it may point (loopback and private networks) is
    -- decided when a delivery connects, by the worker's configuration.
    url          text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000 AND url ~* '^https?://'),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- The lifecycle event types delivered (the realtime feed's names), at least one.
    event_types  text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    -- The HMAC-SHA256 key deliveries are signed with. Signing needs it, so it is
    -- stored as it is; the API answers it only when it is made (creation, rotation).
    secret       text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
    -- A disabled endpoint gets no new deliveries, and its pending ones fail.
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX webhook_endpoints_tenant_created ON webhook_endpoints (tenant_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    -- The event's idempotency key (events.Event.Key) and type: the publisher of a
    -- retried activity uses the same key, which lands on the same delivery.
    event_key        text NOT NULL CHECK (length(event_key) BETWEEN 1 AND 500),
    event_type       text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    -- The interaction the event is about; NULL for a test ping. No foreign key: the
    -- interaction's row may be written after its first event.
    interaction_id   uuid,
    occurred_at      timestamptz NOT NULL,
    -- The event's payload, sent as the body's "data".
    data             jsonb NOT NULL DEFAULT 'null',
    -- pending until the endpoint answered 2xx (delivered) or the retries ran out
    -- (failed); a re-send makes a finished delivery pending again.
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    -- Every POST made for this delivery, re-sends included.
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- The last attempt: when, the HTTP status it got (NULL when no answer came) and,
    -- when it failed, why.
    last_attempt_at  timestamptz,
    last_status_code integer CHECK (last_status_code BETWEEN 100 AND 599),
    last_error       text CHECK (length(last_error) <= 2000),
    delivered_at     timestamptz,
    -- The last re-send, if any.
    resent_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_event UNIQUE (endpoint_id, event_key),
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
-- The log of an endpoint, newest first, whole or by status.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_log_status ON webhook_deliveries (endpoint_id, status, created_at DESC, id DESC);

---- create above / drop below ----

DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
