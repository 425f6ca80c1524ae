-- Snooze: a digital conversation set aside until a time. Its conversation status is
-- snoozed and snoozed_until says when it opens again by itself (the interaction's
-- workflow holds the timer); a customer's message or an unsnooze opens it sooner.
-- The workflow writes both with the rest of the state at each change.

ALTER TABLE interactions DROP CONSTRAINT interactions_conversation_status_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_conversation_status_check
    CHECK (conversation_status IN ('open', 'waiting', 'snoozed', 'solved', 'closed'));
ALTER TABLE interactions
    -- When a snoozed conversation opens again (conversation status snoozed only).
    ADD COLUMN snoozed_until timestamptz,
    ADD CONSTRAINT interactions_snoozed
        CHECK ((conversation_status IS NOT DISTINCT FROM 'snoozed') = (snoozed_until IS NOT NULL));

---- create above / drop below ----

ALTER TABLE interactions DROP CONSTRAINT interactions_snoozed, DROP COLUMN snoozed_until;
-- A conversation snoozed when the schema goes back is open again.
UPDATE interactions SET conversation_status = 'open' WHERE conversation_status = 'snoozed';
ALTER TABLE interactions DROP CONSTRAINT interactions_conversation_status_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_conversation_status_check
    CHECK (conversation_status IN ('open', 'waiting', 'solved', 'closed'));
