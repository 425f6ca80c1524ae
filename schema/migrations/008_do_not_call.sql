-- The tenant's do-not-call list (a suppression list: no outbound call is placed to a
-- number on it) and its internal phonebook (teams, desks and escalation lines that
-- agents transfer and conference calls to).
--
-- Numbers are stored as pgstore.NormalizePhone writes them: an optional leading plus
-- and 3 to 15 digits, no spaces or punctuation. Every lookup normalises the number it
-- is given the same way, so "+1 (555) 010-9999" and "+15550109999" are one number.

CREATE TABLE do_not_call (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The normalised number. The C collation lets a prefix search (LIKE '+3851%') use
    -- the primary key.
    phone       text COLLATE "C" NOT NULL CHECK (phone ~ '^\+?[0-9]{3,15}$'),
    -- Who listed it: an admin or supervisor, an integration user, or the agent whose
    -- disposition code blacklists the number; NULL once that user is deleted.
    added_by    uuid,
    -- How it was listed: manual (one number), upload (a CSV or TXT file) or
    -- disposition (a code with the blacklist flag).
    source      text NOT NULL CHECK (source IN ('manual', 'upload', 'disposition')),
    -- Why, as given (for a disposition: the interaction and the code).
    reason      text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The lookup before every outbound dial.
    PRIMARY KEY (tenant_id, phone),
    FOREIGN KEY (tenant_id, added_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (added_by)
);
-- The list, newest first, and its pages.
CREATE INDEX do_not_call_created ON do_not_call (tenant_id, created_at DESC, phone);
-- The list filtered by who added the numbers.
CREATE INDEX do_not_call_added_by ON do_not_call (tenant_id, added_by, created_at DESC, phone)
    WHERE added_by IS NOT NULL;

CREATE TABLE internal_contacts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The display name, unique in the tenant regardless of case.
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The number a transfer or a conference to the contact dials: normalised, in
    -- international form (E.164), as external transfers and conferences require.
    phone        text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{2,14}$'),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
-- Names are unique in the tenant, and the phonebook is listed by name.
CREATE UNIQUE INDEX internal_contacts_name ON internal_contacts (tenant_id, lower(name));

---- create above / drop below ----

DROP TABLE internal_contacts;
DROP TABLE do_not_call;
