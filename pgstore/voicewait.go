package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/channels"
	"switchboard/tts"
	"switchboard/voicewait"
)

// VoiceAudio is an uploaded audio file a voice waiting strategy may play.
type VoiceAudio struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Encoding   string    `json:"encoding"`
	SampleRate int       `json:"sampleRate"`
	Channels   int       `json:"channels"`
	DurationMS int       `json:"durationMs"`
	SizeBytes  int       `json:"sizeBytes"`
	CreatedAt  time.Time `json:"createdAt"`
}

// CreateVoiceAudio validates an uploaded WAV file (voicewait.ParseWAV: at most 4 MB,
// PCM or G.711) and keeps it in the form the media worker plays.
func (s *Store) CreateVoiceAudio(ctx context.Context, tenantID string, actor Actor, name string, file []byte) (VoiceAudio, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 || hasControl(name) {
		return VoiceAudio{}, invalid("name", "must be 1–200 characters, without control characters")
	}
	info, err := voicewait.ParseWAV(file)
	if err != nil {
		return VoiceAudio{}, invalid("file", "%v", err)
	}
	telephone, _, err := voicewait.ToTelephone(file)
	if err != nil {
		return VoiceAudio{}, invalid("file", "%v", err)
	}
	var out VoiceAudio
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO voice_audio (tenant_id, name, encoding, sample_rate, channels, duration_ms, size_bytes, telephone_wav)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING `+voiceAudioColumns,
			tenantID, name, info.Encoding, info.SampleRate, info.Channels, max(1, info.Duration.Milliseconds()), len(file), telephone).
			Scan(voiceAudioFields(&out)...)
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "voice_audio.created", "voice_audio", out.ID, out)
	})
	return out, err
}

const voiceAudioColumns = `id::text, name, encoding, sample_rate, channels, duration_ms, size_bytes, created_at`

func voiceAudioFields(a *VoiceAudio) []any {
	return []any{&a.ID, &a.Name, &a.Encoding, &a.SampleRate, &a.Channels, &a.DurationMS, &a.SizeBytes, &a.CreatedAt}
}

// ListVoiceAudio lists the tenant's audio files, oldest first.
func (s *Store) ListVoiceAudio(ctx context.Context, tenantID string) ([]VoiceAudio, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+voiceAudioColumns+` FROM voice_audio WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (VoiceAudio, error) {
		var a VoiceAudio
		return a, r.Scan(voiceAudioFields(&a)...)
	})
}

// GetVoiceAudio returns an audio file's description.
func (s *Store) GetVoiceAudio(ctx context.Context, tenantID, id string) (VoiceAudio, error) {
	var a VoiceAudio
	if !isUUID(id) {
		return a, translate(pgx.ErrNoRows, "audio")
	}
	err := s.pool.QueryRow(ctx, `SELECT `+voiceAudioColumns+` FROM voice_audio WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Scan(voiceAudioFields(&a)...)
	return a, translate(err, "audio")
}

// VoiceAudioWAV returns an audio file as the media worker plays it: 8 kHz mono 16-bit
// PCM WAV.
func (s *Store) VoiceAudioWAV(ctx context.Context, tenantID, id string) ([]byte, error) {
	if !isUUID(id) {
		return nil, translate(pgx.ErrNoRows, "audio")
	}
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT telephone_wav FROM voice_audio WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&b)
	return b, translate(err, "audio")
}

// DeleteVoiceAudio deletes an audio file no strategy plays (ErrConflict otherwise).
func (s *Store) DeleteVoiceAudio(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "audio")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM voice_audio WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&name); err != nil {
			return translate(err, "audio")
		}
		var user string
		err := tx.QueryRow(ctx, `
			SELECT name FROM voice_waiting_strategies WHERE tenant_id = $1
			AND $2 IN (greeting->>'audioId', hold_music->>'audioId', announcement->>'audioId', max_wait_message->>'audioId')
			ORDER BY name LIMIT 1`, tenantID, id).Scan(&user)
		if err == nil {
			return fmt.Errorf("audio %q is played by the waiting strategy %q: %w", name, user, ErrConflict)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voice_audio WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "voice_audio.deleted", "voice_audio", id, map[string]string{"name": name})
	})
}

// VoiceWaitingStrategy is what callers to some numbers and applications hear while
// they wait unassigned.
type VoiceWaitingStrategy struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	voicewait.Config
	// Numbers and Applications are the entry points the strategy applies to; each has
	// at most one strategy.
	Numbers      []string  `json:"numbers"`
	Applications []string  `json:"applications"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// NewVoiceWaitingStrategy is a strategy to create, or to replace one with.
type NewVoiceWaitingStrategy struct {
	Name string `json:"name"`
	voicewait.Config
	Numbers      []string `json:"numbers"`
	Applications []string `json:"applications"`
}

// Bounds of a voice waiting strategy.
const (
	minVoiceMaxWait     = 10
	maxVoiceMaxWait     = 4 * 3600
	minVoiceInterval    = 15
	maxVoiceInterval    = 3600
	maxVoiceEntryPoints = 100
)

var voiceApplication = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

// Validate checks the strategy and puts its parts and entry points in canonical form.
func (n *NewVoiceWaitingStrategy) Validate() error {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || utf8.RuneCountInString(n.Name) > 100 || hasControl(n.Name) {
		return invalid("name", "must be 1–100 characters, without control characters")
	}
	if n.MaxWaitSeconds < minVoiceMaxWait || n.MaxWaitSeconds > maxVoiceMaxWait {
		return invalid("maxWaitSeconds", "must be between %d and %d", minVoiceMaxWait, maxVoiceMaxWait)
	}
	for _, p := range []struct {
		field     string
		part      *voicewait.Part
		fileOnly  bool
		positions bool
	}{
		{"greeting", &n.Greeting, false, false},
		{"holdMusic", &n.HoldMusic, true, false},
		{"announcement", &n.Announcement.Part, false, true},
		{"maxWaitMessage", &n.MaxWaitMessage, false, false},
	} {
		if err := validPart(p.field, p.part, p.fileOnly, p.positions); err != nil {
			return err
		}
	}
	if n.Announcement.Enabled || n.Announcement.IntervalSeconds != 0 {
		if n.Announcement.IntervalSeconds < minVoiceInterval || n.Announcement.IntervalSeconds > maxVoiceInterval {
			return invalid("announcement.intervalSeconds", "must be between %d and %d", minVoiceInterval, maxVoiceInterval)
		}
	}
	if len(n.Numbers)+len(n.Applications) > maxVoiceEntryPoints {
		return invalid("numbers", "a strategy applies to at most %d numbers and applications", maxVoiceEntryPoints)
	}
	seen := map[string]bool{}
	for i, num := range n.Numbers {
		num = strings.TrimSpace(num)
		key := channels.AddressKey("sms", num)
		if !senderPhone.MatchString(num) || key == "" {
			return invalid(fmt.Sprintf("numbers[%d]", i), "must be a phone number such as +385 1 600 0000")
		}
		if seen["n"+key] {
			return invalid(fmt.Sprintf("numbers[%d]", i), "%s is listed twice", num)
		}
		seen["n"+key] = true
		n.Numbers[i] = num
	}
	for i, app := range n.Applications {
		app = strings.TrimSpace(app)
		if !voiceApplication.MatchString(app) {
			return invalid(fmt.Sprintf("applications[%d]", i), "must be 1–100 letters, digits, '.', '_', ':' or '-'")
		}
		if seen["a"+strings.ToLower(app)] {
			return invalid(fmt.Sprintf("applications[%d]", i), "%s is listed twice", app)
		}
		seen["a"+strings.ToLower(app)] = true
		n.Applications[i] = app
	}
	if n.Numbers == nil {
		n.Numbers = []string{}
	}
	if n.Applications == nil {
		n.Applications = []string{}
	}
	return nil
}

// validPart checks a part: an enabled part needs its audio; a part with a source must
// be complete even when it is off, so switching it on needs nothing else.
func validPart(field string, p *voicewait.Part, fileOnly, positions bool) error {
	switch {
	case p.Source == "" && !p.Enabled:
		*p = voicewait.Part{}
		return nil
	case p.Source == voicewait.SourceFile:
		if !isUUID(p.AudioID) {
			return invalid(field+".audioId", "must be the ID of an uploaded audio file")
		}
		if p.Text != "" || p.Language != "" || p.Voice != "" || p.SpeechRate != 0 {
			return invalid(field+".source", "a file part has no text, language, voice or speechRate")
		}
	case p.Source == voicewait.SourceTTS && !fileOnly:
		if p.AudioID != "" {
			return invalid(field+".audioId", "a text-to-speech part has no audio file")
		}
		r := tts.Request{Text: p.Text, Language: p.Language, Voice: p.Voice, Rate: p.SpeechRate}
		if err := r.Validate(); err != nil {
			var fe *tts.FieldError
			if errors.As(err, &fe) {
				return invalid(field+"."+fe.Field, "%s", fe.Message)
			}
			return err
		}
		p.Text, p.Language, p.Voice, p.SpeechRate = r.Text, r.Language, r.Voice, r.Rate
		if !positions && voicewait.HasPosition(p.Text) {
			return invalid(field+".text", "only the announcement may say the queue position")
		}
		if err := voicewait.CheckPlaceholders(p.Text, p.Language); err != nil {
			return invalid(field+".text", "%v", err)
		}
	case fileOnly:
		return invalid(field+".source", "must be file")
	default:
		return invalid(field+".source", "must be file or tts")
	}
	return nil
}

const voiceStrategyColumns = `s.id::text, s.name, s.max_wait_seconds, s.greeting, s.hold_music, s.announcement, s.max_wait_message,
	s.created_at, s.updated_at,
	coalesce((SELECT array_agg(e.address ORDER BY e.address) FROM voice_waiting_entry_points e
		WHERE e.tenant_id = s.tenant_id AND e.strategy_id = s.id AND e.kind = 'number'), '{}'),
	coalesce((SELECT array_agg(e.address ORDER BY e.address) FROM voice_waiting_entry_points e
		WHERE e.tenant_id = s.tenant_id AND e.strategy_id = s.id AND e.kind = 'application'), '{}')`

func scanVoiceStrategy(row pgx.Row) (VoiceWaitingStrategy, error) {
	var v VoiceWaitingStrategy
	var g, h, a, m []byte
	err := row.Scan(&v.ID, &v.Name, &v.MaxWaitSeconds, &g, &h, &a, &m, &v.CreatedAt, &v.UpdatedAt, &v.Numbers, &v.Applications)
	if err != nil {
		return v, err
	}
	for _, p := range []struct {
		b []byte
		v any
	}{{g, &v.Greeting}, {h, &v.HoldMusic}, {a, &v.Announcement}, {m, &v.MaxWaitMessage}} {
		if err := json.Unmarshal(p.b, p.v); err != nil {
			return v, fmt.Errorf("voice waiting strategy %s: %w", v.ID, err)
		}
	}
	return v, nil
}

// CreateVoiceWaitingStrategy creates a strategy; its name is unique in the tenant
// ignoring case, and each of its entry points may have no other strategy.
func (s *Store) CreateVoiceWaitingStrategy(ctx context.Context, tenantID string, actor Actor, in NewVoiceWaitingStrategy) (VoiceWaitingStrategy, error) {
	return s.writeVoiceStrategy(ctx, tenantID, actor, "", in)
}

// ReplaceVoiceWaitingStrategy replaces a strategy with in.
func (s *Store) ReplaceVoiceWaitingStrategy(ctx context.Context, tenantID string, actor Actor, id string, in NewVoiceWaitingStrategy) (VoiceWaitingStrategy, error) {
	if !isUUID(id) {
		return VoiceWaitingStrategy{}, translate(pgx.ErrNoRows, "voice waiting strategy")
	}
	return s.writeVoiceStrategy(ctx, tenantID, actor, id, in)
}

func (s *Store) writeVoiceStrategy(ctx context.Context, tenantID string, actor Actor, id string, in NewVoiceWaitingStrategy) (VoiceWaitingStrategy, error) {
	if err := in.Validate(); err != nil {
		return VoiceWaitingStrategy{}, err
	}
	var out VoiceWaitingStrategy
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, p := range []struct {
			field string
			part  voicewait.Part
		}{{"greeting", in.Greeting}, {"holdMusic", in.HoldMusic}, {"announcement", in.Announcement.Part}, {"maxWaitMessage", in.MaxWaitMessage}} {
			if p.part.Source != voicewait.SourceFile {
				continue
			}
			// The key share lock keeps the file from being deleted before this commits.
			var ok bool
			err := tx.QueryRow(ctx, `SELECT true FROM voice_audio WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE`,
				tenantID, p.part.AudioID).Scan(&ok)
			if errors.Is(err, pgx.ErrNoRows) {
				return invalid(p.field+".audioId", "no uploaded audio file has this ID")
			}
			if err != nil {
				return err
			}
		}
		g, _ := json.Marshal(in.Greeting)
		h, _ := json.Marshal(in.HoldMusic)
		a, _ := json.Marshal(in.Announcement)
		m, _ := json.Marshal(in.MaxWaitMessage)
		action := "voice_waiting_strategy.created"
		var err error
		if id == "" {
			err = tx.QueryRow(ctx, `
				INSERT INTO voice_waiting_strategies (tenant_id, name, max_wait_seconds, greeting, hold_music, announcement, max_wait_message)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`, tenantID, in.Name, in.MaxWaitSeconds, g, h, a, m).Scan(&id)
		} else {
			action = "voice_waiting_strategy.updated"
			err = tx.QueryRow(ctx, `
				UPDATE voice_waiting_strategies SET name = $3, max_wait_seconds = $4, greeting = $5, hold_music = $6,
					announcement = $7, max_wait_message = $8, updated_at = now()
				WHERE tenant_id = $1 AND id = $2 RETURNING id::text`, tenantID, id, in.Name, in.MaxWaitSeconds, g, h, a, m).Scan(&id)
		}
		if uniqueViolation(err, "voice_waiting_strategies_name") {
			return fmt.Errorf("a voice waiting strategy named %q already exists: %w", in.Name, ErrConflict)
		}
		if err != nil {
			return translate(err, "voice waiting strategy")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voice_waiting_entry_points WHERE tenant_id = $1 AND strategy_id = $2`, tenantID, id); err != nil {
			return err
		}
		for _, e := range entryPoints(in) {
			var other string
			err := tx.QueryRow(ctx, `
				INSERT INTO voice_waiting_entry_points (tenant_id, kind, address, address_key, strategy_id)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (tenant_id, kind, address_key) DO NOTHING
				RETURNING ''`, tenantID, e.kind, e.address, e.key, id).Scan(&other)
			if errors.Is(err, pgx.ErrNoRows) {
				_ = tx.QueryRow(ctx, `
					SELECT s.name FROM voice_waiting_entry_points e JOIN voice_waiting_strategies s ON s.tenant_id = e.tenant_id AND s.id = e.strategy_id
					WHERE e.tenant_id = $1 AND e.kind = $2 AND e.address_key = $3`, tenantID, e.kind, e.key).Scan(&other)
				return fmt.Errorf("the %s %s already has the waiting strategy %q: %w", e.kind, e.address, other, ErrConflict)
			}
			if err != nil {
				return err
			}
		}
		if err := audit(ctx, tx, tenantID, actor, action, "voice_waiting_strategy", id, in); err != nil {
			return err
		}
		out, err = scanVoiceStrategy(tx.QueryRow(ctx, `SELECT `+voiceStrategyColumns+` FROM voice_waiting_strategies s
			WHERE s.tenant_id = $1 AND s.id = $2`, tenantID, id))
		return err
	})
	return out, err
}

type entryPoint struct{ kind, address, key string }

func entryPoints(in NewVoiceWaitingStrategy) []entryPoint {
	var out []entryPoint
	for _, n := range in.Numbers {
		out = append(out, entryPoint{"number", n, channels.AddressKey("sms", n)})
	}
	for _, a := range in.Applications {
		out = append(out, entryPoint{"application", a, strings.ToLower(a)})
	}
	return out
}

// GetVoiceWaitingStrategy returns one strategy.
func (s *Store) GetVoiceWaitingStrategy(ctx context.Context, tenantID, id string) (VoiceWaitingStrategy, error) {
	if !isUUID(id) {
		return VoiceWaitingStrategy{}, translate(pgx.ErrNoRows, "voice waiting strategy")
	}
	v, err := scanVoiceStrategy(s.pool.QueryRow(ctx, `SELECT `+voiceStrategyColumns+` FROM voice_waiting_strategies s
		WHERE s.tenant_id = $1 AND s.id = $2`, tenantID, id))
	return v, translate(err, "voice waiting strategy")
}

// ListVoiceWaitingStrategies lists the tenant's strategies by name.
func (s *Store) ListVoiceWaitingStrategies(ctx context.Context, tenantID string) ([]VoiceWaitingStrategy, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+voiceStrategyColumns+` FROM voice_waiting_strategies s
		WHERE s.tenant_id = $1 ORDER BY lower(s.name), s.id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VoiceWaitingStrategy{}
	for rows.Next() {
		v, err := scanVoiceStrategy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteVoiceWaitingStrategy deletes a strategy; its entry points go with it.
func (s *Store) DeleteVoiceWaitingStrategy(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "voice waiting strategy")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `DELETE FROM voice_waiting_strategies WHERE tenant_id = $1 AND id = $2 RETURNING name`, tenantID, id).Scan(&name)
		if err != nil {
			return translate(err, "voice waiting strategy")
		}
		return audit(ctx, tx, tenantID, actor, "voice_waiting_strategy.deleted", "voice_waiting_strategy", id, map[string]string{"name": name})
	})
}

// VoiceWaiting is where a voice interaction stands in its queue and the strategy of
// the number or application it came in on.
type VoiceWaiting struct {
	InteractionID string
	Channel       string
	Status        string
	QueuedAt      time.Time
	// Position is the interaction's place in its queue (1 is next), counted in the
	// order bulk assignment takes waiting interactions: priority, then age; 0 when it
	// is no longer waiting.
	Position int
	// Strategy is nil when its entry point has none.
	Strategy *VoiceWaitingStrategy
}

// VoiceWaitingOf returns an interaction's queue position and waiting strategy.
func (s *Store) VoiceWaitingOf(ctx context.Context, tenantID, interactionID string) (VoiceWaiting, error) {
	w := VoiceWaiting{InteractionID: interactionID}
	if !isUUID(interactionID) {
		return w, translate(pgx.ErrNoRows, "interaction")
	}
	var strategyID *string
	err := s.pool.QueryRow(ctx, `
		SELECT i.channel, i.status, i.queued_at,
			CASE WHEN i.status = 'queued' THEN 1 + (SELECT count(*) FROM interactions o
				WHERE o.tenant_id = i.tenant_id AND o.queue_id = i.queue_id AND o.channel = i.channel AND o.status = 'queued'
				AND (o.priority > i.priority OR o.priority = i.priority AND (o.created_at, o.id) < (i.created_at, i.id)))
			ELSE 0 END,
			(SELECT e.strategy_id::text FROM voice_waiting_entry_points e WHERE e.tenant_id = i.tenant_id
				AND ((e.kind = 'number' AND e.address_key = regexp_replace(coalesce(i.to_address, ''), '[^0-9]', '', 'g'))
				  OR (e.kind = 'application' AND e.address_key = lower(coalesce(i.to_address, ''))))
				ORDER BY e.kind DESC LIMIT 1)
		FROM interactions i WHERE i.tenant_id = $1 AND i.id = $2`, tenantID, interactionID).
		Scan(&w.Channel, &w.Status, &w.QueuedAt, &w.Position, &strategyID)
	if err != nil {
		return w, translate(err, "interaction")
	}
	if strategyID != nil {
		v, err := s.GetVoiceWaitingStrategy(ctx, tenantID, *strategyID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return w, err
		}
		if err == nil {
			w.Strategy = &v
		}
	}
	return w, nil
}
