-- Waiting strategies of the messaging channels: what a conversation hears while it
-- waits unassigned in its queue, one strategy per channel sender (the business
-- address the customer wrote to). The interaction's workflow carries the strategy
-- from its creation and holds the timers.

CREATE TABLE sender_waiting_strategies (
    tenant_id                     uuid NOT NULL,
    -- The sender the strategy is for; it goes with the sender.
    sender_id                     uuid NOT NULL,
    -- Welcome message: sent once when the conversation enters the queue unassigned.
    welcome_enabled               boolean NOT NULL DEFAULT false,
    welcome_message               text CHECK (length(welcome_message) BETWEEN 1 AND 4000),
    -- Announcements: sent every interval (1 to 60 minutes) after the welcome, at most
    -- announcement_count of them (null: as many as fit), never past one hour of waiting.
    announcement_enabled          boolean NOT NULL DEFAULT false,
    announcement_message          text CHECK (length(announcement_message) BETWEEN 1 AND 4000),
    announcement_interval_minutes integer CHECK (announcement_interval_minutes BETWEEN 1 AND 60),
    announcement_count            integer CHECK (announcement_count BETWEEN 1 AND 60),
    -- Maximum wait (1 to 60 minutes): the message is sent and the conversation closed.
    max_wait_enabled              boolean NOT NULL DEFAULT false,
    max_wait_message              text CHECK (length(max_wait_message) BETWEEN 1 AND 4000),
    max_wait_minutes              integer CHECK (max_wait_minutes BETWEEN 1 AND 60),
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sender_id),
    FOREIGN KEY (tenant_id, sender_id) REFERENCES channel_senders (tenant_id, id) ON DELETE CASCADE,
    -- At least one message is enabled, and each enabled one is complete.
    CHECK (welcome_enabled OR announcement_enabled OR max_wait_enabled),
    CHECK (NOT welcome_enabled OR welcome_message IS NOT NULL),
    CHECK (NOT announcement_enabled OR (announcement_message IS NOT NULL AND announcement_interval_minutes IS NOT NULL)),
    CHECK (announcement_interval_minutes * coalesce(announcement_count, 1) <= 60),
    CHECK (NOT max_wait_enabled OR (max_wait_message IS NOT NULL AND max_wait_minutes IS NOT NULL))
);

---- create above / drop below ----

DROP TABLE sender_waiting_strategies;
