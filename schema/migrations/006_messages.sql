-- Messages of digital interactions and the tenants' channel senders.
--
-- interaction_messages is the transcript: every message a customer sent or an agent,
-- bot or the system sent them, in the order the interaction saw them (seq, from 1 per
-- interaction, without gaps). The caller chooses each message's ID, so a retried
-- write finds its first row instead of adding another. Attachments are references to
-- files kept in storage, never the bytes. Outbound messages carry their delivery:
-- pending until the channel took them, then sent, delivered or failed. There is no
-- foreign key to interactions: a message may be written before the interaction's
-- first read-model write, and the transcript outlives nothing it needs.
--
-- channel_senders are a tenant's business addresses per sub-channel (the WhatsApp
-- number, the SMS sender, the support mailbox…) and the adapter that sends from
-- each: a signed HTTP webhook to the tenant's gateway, or the test adapter.

CREATE TABLE channel_senders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sub_channel     text NOT NULL CHECK (sub_channel IN ('whatsapp', 'sms', 'mms', 'rcs', 'telegram', 'viber',
                        'messenger', 'instagram', 'line', 'web_chat', 'email')),
    -- The address as the admin wrote it, and the form it is compared in (the digits
    -- of a phone number, otherwise lower case).
    address         text NOT NULL CHECK (length(address) BETWEEN 1 AND 320),
    address_key     text NOT NULL CHECK (length(address_key) BETWEEN 1 AND 320),
    name            text CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('webhook', 'test')),
    webhook_url     text CHECK (length(webhook_url) BETWEEN 1 AND 2000),
    -- Signs webhook bodies; shown once, at creation or rotation, then only its hint.
    signing_secret  text NOT NULL CHECK (length(signing_secret) BETWEEN 16 AND 200),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK ((kind = 'webhook') = (webhook_url IS NOT NULL))
);
CREATE UNIQUE INDEX channel_senders_address ON channel_senders (tenant_id, sub_channel, address_key);
CREATE INDEX channel_senders_tenant_created ON channel_senders (tenant_id, created_at, id);

CREATE TABLE interaction_messages (
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    interaction_id       uuid NOT NULL,
    id                   uuid NOT NULL,
    seq                  bigint NOT NULL CHECK (seq >= 1),
    direction            text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender_kind          text NOT NULL CHECK (sender_kind IN ('customer', 'agent', 'system', 'bot')),
    -- The agent's user ID, the bot's name, the customer's address…
    sender_id            text CHECK (length(sender_id) BETWEEN 1 AND 320),
    body                 text NOT NULL DEFAULT '' CHECK (char_length(body) <= 10000),
    -- [{url, name, contentType, size}], by reference.
    attachments          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(attachments) = 'array'),
    -- The channel sender an outbound message went through; kept after the sender is
    -- deleted, like a deleted queue's ID in an interaction's history.
    channel_sender_id    uuid,
    delivery_status      text CHECK (delivery_status IN ('pending', 'sent', 'delivered', 'failed')),
    provider_message_id  text CHECK (length(provider_message_id) BETWEEN 1 AND 255),
    delivery_error       text CHECK (length(delivery_error) BETWEEN 1 AND 1000),
    delivery_updated_at  timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, interaction_id, seq),
    -- Customers write in; agents, bots and the system write out.
    CHECK ((direction = 'inbound') = (sender_kind = 'customer')),
    -- Only outbound messages are delivered.
    CHECK ((direction = 'outbound') = (delivery_status IS NOT NULL)),
    CHECK (body <> '' OR attachments <> '[]'::jsonb)
);
-- Outbound messages still waiting for their channel, for operators.
CREATE INDEX interaction_messages_pending ON interaction_messages (tenant_id, created_at)
    WHERE delivery_status = 'pending';

---- create above / drop below ----

DROP TABLE interaction_messages;
DROP TABLE channel_senders;
