-- Waiting strategies of voice: what a caller hears while waiting unassigned — a
-- greeting, hold music, periodic announcements with their queue position, and a
-- message just before the call is dropped at the maximum waiting time — and the
-- audio files they play. A strategy applies to the numbers and applications (web and
-- in-app calls) listed as its entry points, each of which has at most one strategy.
-- The schedule itself is the voicewait package's.

CREATE TABLE voice_audio (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The uploaded file as validated (voicewait.ParseWAV): its encoding, rate, channels.
    encoding      text NOT NULL CHECK (encoding IN ('pcm', 'alaw', 'ulaw')),
    sample_rate   integer NOT NULL CHECK (sample_rate BETWEEN 8000 AND 48000),
    channels      smallint NOT NULL CHECK (channels BETWEEN 1 AND 2),
    duration_ms   integer NOT NULL CHECK (duration_ms > 0),
    size_bytes    integer NOT NULL CHECK (size_bytes BETWEEN 1 AND 4194304),
    -- What the media worker plays: the file as 8 kHz mono 16-bit PCM WAV.
    telephone_wav bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX voice_audio_tenant_created ON voice_audio (tenant_id, created_at, id);

CREATE TABLE voice_waiting_strategies (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- How long the strategy runs before the call is dropped.
    max_wait_seconds integer NOT NULL CHECK (max_wait_seconds BETWEEN 10 AND 14400),
    -- voicewait.Part each (announcement: voicewait.Announcement, with its interval):
    -- {"enabled", "source": "file"|"tts", "audioId" | "text", "language", "voice",
    -- "speechRate"}. Validated by the store before they are written; an audio file a
    -- part names cannot be deleted while it is named.
    greeting         jsonb NOT NULL CHECK (jsonb_typeof(greeting) = 'object'),
    hold_music       jsonb NOT NULL CHECK (jsonb_typeof(hold_music) = 'object'),
    announcement     jsonb NOT NULL CHECK (jsonb_typeof(announcement) = 'object'),
    max_wait_message jsonb NOT NULL CHECK (jsonb_typeof(max_wait_message) = 'object'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX voice_waiting_strategies_name ON voice_waiting_strategies (tenant_id, lower(name));

CREATE TABLE voice_waiting_entry_points (
    tenant_id   uuid NOT NULL,
    -- A phone number the caller dialled, or an application of web and in-app calls.
    kind        text NOT NULL CHECK (kind IN ('number', 'application')),
    -- As the admin wrote it, and the form it is matched in (a number's digits).
    address     text NOT NULL CHECK (length(address) BETWEEN 1 AND 100),
    address_key text NOT NULL CHECK (length(address_key) BETWEEN 1 AND 100),
    strategy_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, kind, address_key),
    FOREIGN KEY (tenant_id, strategy_id) REFERENCES voice_waiting_strategies (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX voice_waiting_entry_points_strategy ON voice_waiting_entry_points (tenant_id, strategy_id);

---- create above / drop below ----

DROP TABLE voice_waiting_entry_points;
DROP TABLE voice_waiting_strategies;
DROP TABLE voice_audio;
