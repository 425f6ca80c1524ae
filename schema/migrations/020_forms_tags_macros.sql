-- Agent productivity: conversation tags and macro tags, conversation forms (input
-- fields, forms with their items and triggers, the values entered on each
-- interaction), macros, and the sentiment of customers' messages.
--
-- Tags are a catalogue per tenant of two kinds: conversation tags, which interactions
-- carry by name (interactions.tags; routes, automations and reports test them), and
-- macro tags, which only group macros. Form values belong to the interaction and the
-- field, not to the form: a form only chooses which fields are shown, so a field
-- taken off a form (or another form chosen) keeps its value. The interaction workflow
-- writes tags, the form and its values with its own versioned writes, so a retried or
-- late write never rolls a newer one back.

CREATE TABLE tags (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('conversation', 'macro')),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text CHECK (char_length(description) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX tags_name ON tags (tenant_id, kind, lower(name));

-- Input fields: a tenant has at most 10,000 (checked under the tenant's row lock).
CREATE TABLE form_fields (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text CHECK (char_length(description) BETWEEN 1 AND 500),
    type        text NOT NULL CHECK (type IN ('text', 'multiline', 'checkbox', 'dropdown', 'integer', 'decimal',
                    'datetime', 'regex')),
    -- Dropdown: the selectable values, each a path of levels ("Clothing: Shirts").
    options     text[] NOT NULL DEFAULT '{}',
    -- Regex: the pattern a value must match as a whole.
    pattern     text CHECK (char_length(pattern) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK ((type = 'regex') = (pattern IS NOT NULL)),
    CHECK (type = 'dropdown' OR options = '{}')
);
CREATE UNIQUE INDEX form_fields_name ON form_fields (tenant_id, lower(name));

CREATE TABLE forms (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text CHECK (char_length(description) BETWEEN 1 AND 500),
    -- The form of conversations no form's trigger matches; one per tenant at most.
    is_default  boolean NOT NULL DEFAULT false,
    -- Triggers are tried in position order (1..n without gaps); the first form whose
    -- trigger (a routing.Condition tree) matches is chosen.
    position    integer NOT NULL CHECK (position >= 1),
    trigger     jsonb CHECK (jsonb_typeof(trigger) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CONSTRAINT forms_tenant_position UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE UNIQUE INDEX forms_name ON forms (tenant_id, lower(name));
CREATE UNIQUE INDEX forms_default ON forms (tenant_id) WHERE is_default;

-- The fields of a form in order. A field placed more than once is conditional in
-- every place (it is shown once, when any of its places' conditions holds).
CREATE TABLE form_items (
    tenant_id   uuid NOT NULL,
    form_id     uuid NOT NULL,
    ordinal     integer NOT NULL CHECK (ordinal >= 1),
    field_id    uuid NOT NULL,
    required    boolean NOT NULL DEFAULT false,
    -- Shown only when another field of the form, placed before, has one of these
    -- values: {"fieldId": …, "values": […]}.
    show_when   jsonb CHECK (jsonb_typeof(show_when) = 'object'),
    PRIMARY KEY (tenant_id, form_id, ordinal),
    FOREIGN KEY (tenant_id, form_id) REFERENCES forms (tenant_id, id) ON DELETE CASCADE,
    -- A field in use by a form is not deleted.
    CONSTRAINT form_items_field FOREIGN KEY (tenant_id, field_id) REFERENCES form_fields (tenant_id, id)
);
CREATE INDEX form_items_field ON form_items (tenant_id, field_id);

-- The values entered on an interaction, at most 500 fields per interaction. version
-- is the interaction's read-model version of the write that set the value.
CREATE TABLE interaction_form_values (
    tenant_id       uuid NOT NULL,
    interaction_id  uuid NOT NULL,
    field_id        uuid NOT NULL,
    value           jsonb NOT NULL,
    version         bigint NOT NULL CHECK (version >= 0),
    updated_by      uuid,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, interaction_id, field_id),
    FOREIGN KEY (tenant_id, interaction_id) REFERENCES interactions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, field_id) REFERENCES form_fields (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX interaction_form_values_field ON interaction_form_values (tenant_id, field_id);

ALTER TABLE interactions
    -- The form chosen for it (by the forms' triggers, else the default form, or by an
    -- agent or a macro); a deleted form leaves it without one.
    ADD COLUMN form_id            uuid,
    -- The topic, or an e-mail's subject.
    ADD COLUMN subject            text CHECK (char_length(subject) BETWEEN 1 AND 500),
    -- The weighted mean of the scores of the customer's messages (later messages
    -- weigh more), and how many were scored; the post-conversation tag once it ended.
    ADD COLUMN sentiment_score    double precision CHECK (sentiment_score BETWEEN -1 AND 1),
    ADD COLUMN sentiment_messages integer NOT NULL DEFAULT 0 CHECK (sentiment_messages >= 0),
    ADD COLUMN sentiment_tag      text CHECK (sentiment_tag IN ('not-applicable', 'overly-negative', 'negative',
                                      'neutral', 'positive', 'overly-positive')),
    ADD CONSTRAINT interactions_form FOREIGN KEY (tenant_id, form_id) REFERENCES forms (tenant_id, id)
        ON DELETE SET NULL (form_id);
CREATE INDEX interactions_tags ON interactions USING gin (tags);
CREATE INDEX interactions_form ON interactions (tenant_id, form_id) WHERE form_id IS NOT NULL;

-- Each customer message's score in [-1, +1], set when it is recorded.
ALTER TABLE interaction_messages ADD COLUMN sentiment real CHECK (sentiment BETWEEN -1 AND 1);

CREATE TABLE macros (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description   text CHECK (char_length(description) BETWEEN 1 AND 1000),
    -- active macros are offered to agents; inactive ones are kept but not applied.
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    -- all: every agent; queues: agents of the queues in macro_queues.
    availability  text NOT NULL CHECK (availability IN ('all', 'queues')),
    -- The ordered actions, validated by pgstore before they are stored.
    actions       jsonb NOT NULL CHECK (jsonb_typeof(actions) = 'array'),
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX macros_name ON macros (tenant_id, lower(name));
CREATE INDEX macros_created ON macros (tenant_id, created_at, id);

CREATE TABLE macro_queues (
    tenant_id uuid NOT NULL,
    macro_id  uuid NOT NULL,
    queue_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, macro_id, queue_id),
    FOREIGN KEY (tenant_id, macro_id) REFERENCES macros (tenant_id, id) ON DELETE CASCADE,
    -- A deleted queue leaves the macros it was named in.
    FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX macro_queues_queue ON macro_queues (tenant_id, queue_id);

CREATE TABLE macro_tags (
    tenant_id uuid NOT NULL,
    macro_id  uuid NOT NULL,
    tag_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, macro_id, tag_id),
    FOREIGN KEY (tenant_id, macro_id) REFERENCES macros (tenant_id, id) ON DELETE CASCADE,
    -- A deleted macro tag leaves the macros it grouped.
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX macro_tags_tag ON macro_tags (tenant_id, tag_id);

---- create above / drop below ----

DROP TABLE macro_tags;
DROP TABLE macro_queues;
DROP TABLE macros;
ALTER TABLE interaction_messages DROP COLUMN sentiment;
DROP INDEX interactions_form;
DROP INDEX interactions_tags;
ALTER TABLE interactions DROP CONSTRAINT interactions_form,
    DROP COLUMN sentiment_tag, DROP COLUMN sentiment_messages, DROP COLUMN sentiment_score,
    DROP COLUMN subject, DROP COLUMN form_id;
DROP TABLE interaction_form_values;
DROP TABLE form_items;
DROP TABLE forms;
DROP TABLE form_fields;
DROP TABLE tags;
