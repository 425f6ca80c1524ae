-- Media: the SIP credentials of agents' phones and the phone numbers calls come in on.

-- An agent's SIP extension: the user part their phone registers and authenticates
-- with (RFC 3261 digest), unique in the tenant. The password is never stored: only
-- HA1 = H(extension ":" realm ":" password) for each digest algorithm the registrar
-- offers (RFC 8760: SHA-256, and MD5 for older phones), computed in the realm written
-- beside them — the tenant's slug. A realm that no longer matches the tenant's needs
-- the password set again.
CREATE TABLE sip_credentials (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    extension   text NOT NULL CHECK (extension ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'),
    realm       text NOT NULL CHECK (length(realm) BETWEEN 1 AND 100),
    ha1_md5     text NOT NULL CHECK (ha1_md5 ~ '^[0-9a-f]{32}$'),
    ha1_sha256  text NOT NULL CHECK (ha1_sha256 ~ '^[0-9a-f]{64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- The registrar's lookup; extensions are compared without regard to case.
CREATE UNIQUE INDEX sip_credentials_extension ON sip_credentials (tenant_id, lower(extension));

-- The numbers calls come in on: an INVITE to one of them belongs to its tenant and
-- creates an inbound voice interaction there (with the number's campaign, if any),
-- routed by the tenant's routes like any other (a route on "to" picks its queue).
-- A number belongs to one tenant of the installation. number_key is its digits, the
-- form an INVITE's Request-URI is matched in.
CREATE TABLE voice_numbers (
    number_key  text COLLATE "C" PRIMARY KEY CHECK (number_key ~ '^[0-9]{3,15}$'),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number      text NOT NULL CHECK (number ~ '^\+?[0-9]{3,15}$'),
    name        text CHECK (length(name) BETWEEN 1 AND 200),
    campaign_id uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE SET NULL (campaign_id)
);
CREATE INDEX voice_numbers_tenant ON voice_numbers (tenant_id, created_at, number_key);

---- create above / drop below ----

DROP TABLE voice_numbers;
DROP TABLE sip_credentials;
