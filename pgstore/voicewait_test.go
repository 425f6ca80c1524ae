package pgstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/voicewait"
)

// toneWAV is a second of 16 kHz mono 16-bit PCM.
func toneWAV() []byte {
	s := make([]int16, 16000)
	for i := range s {
		s[i] = int16((i % 40) * 500)
	}
	return voicewait.EncodeWAV(s, 16000)
}

func validationField(err error) string {
	var ve *pgstore.ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	return ""
}

func TestVoiceAudio(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	a, err := store.CreateVoiceAudio(ctx, tid, pgstore.Actor{}, "Jazz", toneWAV())
	if err != nil {
		t.Fatal(err)
	}
	if a.Encoding != "pcm" || a.SampleRate != 16000 || a.Channels != 1 || a.DurationMS != 1000 || a.SizeBytes != 44+32000 {
		t.Fatalf("stored %+v", a)
	}
	wav, err := store.VoiceAudioWAV(ctx, tid, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := voicewait.ParseWAV(wav); err != nil || info.SampleRate != 8000 || info.Duration != time.Second {
		t.Fatalf("playable form %+v, %v", info, err)
	}
	if _, err := store.CreateVoiceAudio(ctx, tid, pgstore.Actor{}, "Bad", []byte("ID3 not a wav")); validationField(err) != "file" {
		t.Fatalf("an MP3 was accepted or refused wrongly: %v", err)
	}
	// Another tenant sees nothing.
	other := newTenant(t).Tenant.ID
	if _, err := store.VoiceAudioWAV(ctx, other, a.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("another tenant read the file: %v", err)
	}
	list, err := store.ListVoiceAudio(ctx, tid)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("list %+v, %v", list, err)
	}
}

func ttsPart(text string) voicewait.Part {
	return voicewait.Part{Enabled: true, Source: voicewait.SourceTTS, Text: text, Language: "en-US"}
}

func TestVoiceWaitingStrategies(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	music, err := store.CreateVoiceAudio(ctx, tid, pgstore.Actor{}, "Music", toneWAV())
	if err != nil {
		t.Fatal(err)
	}
	in := pgstore.NewVoiceWaitingStrategy{
		Name: "Support line",
		Config: voicewait.Config{
			MaxWaitSeconds: 600,
			Greeting:       ttsPart("Welcome to support."),
			HoldMusic:      voicewait.Part{Enabled: true, Source: voicewait.SourceFile, AudioID: music.ID},
			Announcement:   voicewait.Announcement{Part: ttsPart("You are {position:ordinal} in line."), IntervalSeconds: 45},
			MaxWaitMessage: ttsPart("Please call again later."),
		},
		Numbers:      []string{"+385 1 600 0000"},
		Applications: []string{"web-widget"},
	}
	s, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Announcement.Language != "en-us" || s.Announcement.SpeechRate != 1 || s.HoldMusic.AudioID != music.ID ||
		len(s.Numbers) != 1 || len(s.Applications) != 1 || s.MaxWaitSeconds != 600 {
		t.Fatalf("created %+v", s)
	}
	got, err := store.GetVoiceWaitingStrategy(ctx, tid, s.ID)
	if err != nil || got.Announcement.Text != "You are {position:ordinal} in line." || got.Announcement.IntervalSeconds != 45 {
		t.Fatalf("got %+v, %v", got, err)
	}

	// The same number in another strategy (written differently) is a conflict, so is the name.
	dup := in
	dup.Name = "Sales"
	dup.Numbers = []string{"+385-1-600-0000"}
	dup.Applications = nil
	if _, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, dup); !errors.Is(err, pgstore.ErrConflict) {
		t.Fatalf("a number taken twice: %v", err)
	}
	dup.Numbers = nil
	dup.Name = "support LINE"
	if _, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, dup); !errors.Is(err, pgstore.ErrConflict) {
		t.Fatalf("a name taken twice: %v", err)
	}

	// The music cannot go while the strategy plays it.
	if err := store.DeleteVoiceAudio(ctx, tid, pgstore.Actor{}, music.ID); !errors.Is(err, pgstore.ErrConflict) {
		t.Fatalf("audio in use deleted: %v", err)
	}

	// Replace: music off, numbers moved.
	in.HoldMusic = voicewait.Part{}
	in.Numbers = []string{"+1 555 0100"}
	s2, err := store.ReplaceVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, s.ID, in)
	if err != nil || s2.HoldMusic.Enabled || len(s2.Numbers) != 1 || s2.Numbers[0] != "+1 555 0100" {
		t.Fatalf("replaced %+v, %v", s2, err)
	}
	if err := store.DeleteVoiceAudio(ctx, tid, pgstore.Actor{}, music.ID); err != nil {
		t.Fatalf("unused audio: %v", err)
	}
	list, err := store.ListVoiceWaitingStrategies(ctx, tid)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v, %v", list, err)
	}
	if err := store.DeleteVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetVoiceWaitingStrategy(ctx, tid, s.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("deleted strategy: %v", err)
	}
}

func TestVoiceWaitingStrategyValidation(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	base := func() pgstore.NewVoiceWaitingStrategy {
		return pgstore.NewVoiceWaitingStrategy{Name: "S", Config: voicewait.Config{MaxWaitSeconds: 60, Greeting: ttsPart("Hi")}}
	}
	cases := map[string]func(*pgstore.NewVoiceWaitingStrategy){
		"name":                         func(n *pgstore.NewVoiceWaitingStrategy) { n.Name = " " },
		"maxWaitSeconds":               func(n *pgstore.NewVoiceWaitingStrategy) { n.MaxWaitSeconds = 5 },
		"greeting.source":              func(n *pgstore.NewVoiceWaitingStrategy) { n.Greeting.Source = "" },
		"greeting.language":            func(n *pgstore.NewVoiceWaitingStrategy) { n.Greeting.Language = "xx" },
		"greeting.voice":               func(n *pgstore.NewVoiceWaitingStrategy) { n.Greeting.Voice = "darth" },
		"greeting.speechRate":          func(n *pgstore.NewVoiceWaitingStrategy) { n.Greeting.SpeechRate = 9 },
		"greeting.text":                func(n *pgstore.NewVoiceWaitingStrategy) { n.Greeting.Text = "You are {position:ordinal}" },
		"holdMusic.source":             func(n *pgstore.NewVoiceWaitingStrategy) { n.HoldMusic = ttsPart("la la") },
		"holdMusic.audioId":            func(n *pgstore.NewVoiceWaitingStrategy) { n.HoldMusic = voicewait.Part{Enabled: true, Source: "file"} },
		"announcement.intervalSeconds": func(n *pgstore.NewVoiceWaitingStrategy) { n.Announcement.Part = ttsPart("wait") },
		"maxWaitMessage.audioId": func(n *pgstore.NewVoiceWaitingStrategy) {
			n.MaxWaitMessage = voicewait.Part{Enabled: true, Source: "file", AudioID: "6f1f3c2e-0000-4000-8000-000000000000"}
		},
		"numbers[0]":      func(n *pgstore.NewVoiceWaitingStrategy) { n.Numbers = []string{"not a number"} },
		"applications[1]": func(n *pgstore.NewVoiceWaitingStrategy) { n.Applications = []string{"app", "APP"} },
	}
	for field, mutate := range cases {
		n := base()
		mutate(&n)
		_, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, n)
		if validationField(err) != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	// An ordinal in a language without one is refused; the cardinal is not.
	n := base()
	n.Announcement = voicewait.Announcement{Part: voicewait.Part{Enabled: true, Source: "tts", Text: "{position:ordinal}", Language: "zh"}, IntervalSeconds: 30}
	if _, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, n); validationField(err) != "announcement.text" {
		t.Errorf("ordinal in zh: %v", err)
	}
	n.Announcement.Text = "{position:cardinal}"
	if _, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, n); err != nil {
		t.Errorf("cardinal in zh: %v", err)
	}
}

// Concurrent strategies claiming one number: exactly one gets it.
func TestVoiceWaitingNumberConcurrent(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, pgstore.NewVoiceWaitingStrategy{
				Name: "S" + string(rune('a'+i)), Config: voicewait.Config{MaxWaitSeconds: 60}, Numbers: []string{"+44 20 7946 0000"}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, pgstore.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d strategies got the number, want 1", ok)
	}
}

func TestVoiceWaitingOf(t *testing.T) {
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	s, err := store.CreateVoiceWaitingStrategy(ctx, tid, pgstore.Actor{}, pgstore.NewVoiceWaitingStrategy{
		Name: "Main", Config: voicewait.Config{MaxWaitSeconds: 300}, Numbers: []string{"+385 1 600 0000"}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Minute).UTC()
	ids := map[string]string{}
	for _, r := range []struct {
		name     string
		priority int
		age      int
		status   string
	}{{"old", 0, 50, "queued"}, {"urgent", 2, 10, "queued"}, {"me", 0, 30, "queued"}, {"young", 0, 5, "queued"}, {"gone", 2, 55, "connected"}} {
		at := t0.Add(-time.Duration(r.age) * time.Second)
		var id string
		err := pool.QueryRow(ctx, `
			INSERT INTO interactions (tenant_id, id, workflow_id, channel, direction, to_address, queue_id, priority, status, agent_id, queued_at, version, created_at)
			VALUES ($1, gen_random_uuid(), 'interaction/x', 'voice', 'inbound', '+38516000000', $2, $3, $4,
				CASE WHEN $4 = 'connected' THEN gen_random_uuid() END, $5, 1, $5) RETURNING id::text`,
			tid, q, r.priority, r.status, at).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[r.name] = id
	}
	for name, want := range map[string]int{"urgent": 1, "old": 2, "me": 3, "young": 4, "gone": 0} {
		w, err := store.VoiceWaitingOf(ctx, tid, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if w.Position != want {
			t.Errorf("%s at position %d, want %d", name, w.Position, want)
		}
		if w.Strategy == nil || w.Strategy.ID != s.ID {
			t.Errorf("%s: strategy %+v", name, w.Strategy)
		}
	}
	if _, err := store.VoiceWaitingOf(ctx, newTenant(t).Tenant.ID, ids["me"]); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
}
