-- Idempotency of the CRM voice APIs (manual dial, dispose, dispose and dial). A CRM
-- sends a requestId of its own with each call; the first call with an ID claims it here
-- and stores its answer, so a repeat (a retry after a timeout, a double click) gets the
-- same answer without doing anything again, also while the first is still running. The
-- body's hash tells a repeat from a reuse of the ID for another request.

CREATE TABLE crm_requests (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    request_id   text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 200),
    operation    text NOT NULL CHECK (operation IN ('manual_dial', 'dispose', 'dispose_and_dial')),
    -- SHA-256 of the operation and the request as the API understood it.
    body_hash    bytea NOT NULL CHECK (length(body_hash) = 32),
    -- The API key that made the first call.
    key_id       uuid,
    -- The answer: NULL while the first call runs.
    status_code  integer CHECK (status_code BETWEEN 200 AND 599),
    -- The answer body, byte for byte as the first call sent it.
    response     bytea,
    -- When the call running it claimed the ID (a repeat takes over a stale claim).
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, request_id),
    CHECK ((status_code IS NULL) = (response IS NULL)),
    CHECK ((status_code IS NULL) = (completed_at IS NULL))
);

---- create above / drop below ----

DROP TABLE crm_requests;
