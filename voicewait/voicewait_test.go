package voicewait_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"switchboard/voicewait"
)

// wav builds a WAV file with the given format fields and data length.
func wav(format, channels, rate, bits, dataLen int) []byte {
	var b bytes.Buffer
	align := channels * bits / 8
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(format))
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*align))
	binary.Write(&b, binary.LittleEndian, uint16(align))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(dataLen))
	for i := range dataLen {
		b.WriteByte(byte(i * 7))
	}
	return b.Bytes()
}

func TestParseWAV(t *testing.T) {
	good := []struct {
		name     string
		file     []byte
		encoding string
		duration time.Duration
	}{
		{"pcm16 8k mono", wav(1, 1, 8000, 16, 16000), "pcm", time.Second},
		{"pcm16 44.1k stereo", wav(1, 2, 44100, 16, 44100*4/2), "pcm", 500 * time.Millisecond},
		{"pcm8 16k", wav(1, 1, 16000, 8, 8000), "pcm", 500 * time.Millisecond},
		{"alaw", wav(6, 1, 8000, 8, 8000), "alaw", time.Second},
		{"ulaw", wav(7, 1, 8000, 8, 4000), "ulaw", 500 * time.Millisecond},
	}
	for _, c := range good {
		info, err := voicewait.ParseWAV(c.file)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if info.Encoding != c.encoding || info.Duration != c.duration {
			t.Errorf("%s: got %s %v, want %s %v", c.name, info.Encoding, info.Duration, c.encoding, c.duration)
		}
	}
	full := wav(1, 1, 8000, 16, 16000)
	noData := wav(1, 1, 8000, 16, 0)[:36]
	bad := []struct {
		name, file, want string
	}{
		{"truncated", string(full[:len(full)-100]), "truncated"},
		{"header only", string(full[:20]), "fmt chunk"},
		{"wrong magic", "RIFX" + string(full[4:]), "not a WAV"},
		{"mp3", "ID3\x03\x00\x00\x00" + strings.Repeat("x", 100), "not a WAV"},
		{"no data chunk", string(noData), "no data chunk"},
		{"empty data", string(wav(1, 1, 8000, 16, 0)), "no audio"},
		{"float", string(wav(3, 1, 8000, 32, 800)), "unsupported encoding"},
		{"24-bit", string(wav(1, 1, 8000, 24, 900)), "unsupported encoding"},
		{"sample rate", string(wav(1, 1, 4000, 16, 800)), "sample rate"},
		{"channels", string(wav(1, 6, 8000, 16, 1200)), "channels"},
		{"too large", string(wav(1, 1, 8000, 16, voicewait.MaxAudioBytes)), "4 MB"},
	}
	for _, c := range bad {
		_, err := voicewait.ParseWAV([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestToTelephone(t *testing.T) {
	// One second of a 44.1 kHz stereo tone becomes one second of 8 kHz mono.
	in := wav(1, 2, 44100, 16, 44100*4)
	out, info, err := voicewait.ToTelephone(in)
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 8000 || info.Channels != 1 || info.BitsPerSample != 16 || info.Encoding != "pcm" {
		t.Fatalf("converted to %+v", info)
	}
	if info.Duration != time.Second || len(out) != 44+16000 {
		t.Fatalf("duration %v, %d bytes", info.Duration, len(out))
	}
	// A-law silence (0xD5) expands to near zero.
	alaw := wav(6, 1, 8000, 8, 0)
	alaw = append(alaw[:40], 0x40, 0x1f, 0, 0)
	alaw = append(alaw, bytes.Repeat([]byte{0xd5}, 8000)...)
	out, _, err = voicewait.ToTelephone(alaw)
	if err != nil {
		t.Fatal(err)
	}
	for i := 44; i < len(out); i += 2 {
		if v := int16(binary.LittleEndian.Uint16(out[i:])); v > 16 || v < -16 {
			t.Fatalf("A-law silence decoded to %d", v)
		}
	}
}

func TestOrdinals(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th",
		21: "21st", 22: "22nd", 23: "23rd", 101: "101st", 111: "111th", 112: "112th"} {
		if got, _ := voicewait.Ordinal("en-us", n); got != want {
			t.Errorf("Ordinal(en-us, %d) = %q, want %q", n, got, want)
		}
	}
	cases := []struct {
		text, lang string
		pos        int
		want       string
	}{
		{"You are {position:ordinal} in line", "en", 3, "You are 3rd in line"},
		{"{position:cardinal} callers ahead", "en", 3, "3 callers ahead"},
		{"You are {position:adaptive}", "en-gb", 12, "You are 12th"},
		{"Sie sind {position:adaptive}", "de", 2, "Sie sind 2."},
		{"Vous êtes {position:adaptive}", "fr", 1, "Vous êtes 1er"},
		{"Você é o {position:adaptive}", "pt", 4, "Você é o 4º"},
		// Languages without an ordinal form get the number from adaptive.
		{"位置 {position:adaptive}", "zh", 5, "位置 5"},
		{"you are {position:ordinal}", "en", 0, "you are "},
	}
	for _, c := range cases {
		if got := voicewait.RenderPosition(c.text, c.lang, c.pos); got != c.want {
			t.Errorf("RenderPosition(%q, %s, %d) = %q, want %q", c.text, c.lang, c.pos, got, c.want)
		}
	}
	if err := voicewait.CheckPlaceholders("{position:ordinal}", "zh"); err == nil {
		t.Error("an ordinal in a language without ordinals was accepted")
	}
	if err := voicewait.CheckPlaceholders("{queue}", "en"); err == nil {
		t.Error("an unknown placeholder was accepted")
	}
	if err := voicewait.CheckPlaceholders("{position:cardinal} {position:adaptive}", "zh"); err != nil {
		t.Error(err)
	}
}

type span struct {
	kind       voicewait.Kind
	start, end int // seconds
	pos        int
	text       string
}

func spans(steps []voicewait.Step) []span {
	var out []span
	for _, s := range steps {
		out = append(out, span{s.Kind, int(s.Start / time.Second), int(s.End / time.Second), s.Position, s.Text})
	}
	return out
}

func TestPlan(t *testing.T) {
	tts := func(text string) voicewait.Part {
		return voicewait.Part{Enabled: true, Source: voicewait.SourceTTS, Text: text, Language: "en"}
	}
	full := voicewait.Config{
		MaxWaitSeconds: 120,
		Greeting:       tts("Welcome"),
		HoldMusic:      voicewait.Part{Enabled: true, Source: voicewait.SourceFile, AudioID: "m"},
		Announcement:   voicewait.Announcement{Part: tts("You are {position:ordinal}"), IntervalSeconds: 30},
		MaxWaitMessage: tts("Sorry, goodbye"),
	}
	d := voicewait.Durations{Greeting: 5 * time.Second, Announcement: 3 * time.Second, MaxWaitMessage: 4 * time.Second}
	positions := []voicewait.PositionChange{{0, 3}, {50 * time.Second, 2}, {70 * time.Second, 1}}
	got := spans(voicewait.Plan(full, d, positions))
	want := []span{
		{voicewait.KindGreeting, 0, 5, 0, ""},
		{voicewait.KindMusic, 5, 35, 0, ""},
		{voicewait.KindAnnouncement, 35, 38, 3, "You are 3rd"},
		{voicewait.KindMusic, 38, 65, 0, ""},
		{voicewait.KindAnnouncement, 65, 68, 2, "You are 2nd"},
		{voicewait.KindMusic, 68, 95, 0, ""},
		{voicewait.KindAnnouncement, 95, 98, 1, "You are 1st"},
		// The next announcement (125 s) would pass the max-wait message at 116 s.
		{voicewait.KindMusic, 98, 116, 0, ""},
		{voicewait.KindMaxWaitMessage, 116, 120, 0, ""},
		{voicewait.KindDrop, 120, 120, 0, ""},
	}
	if !equal(got, want) {
		t.Fatalf("plan:\n got %v\nwant %v", got, want)
	}

	// An announcement that would overlap the max-wait message is left out.
	c := full
	c.MaxWaitSeconds = 40
	got = spans(voicewait.Plan(c, d, positions))
	want = []span{
		{voicewait.KindGreeting, 0, 5, 0, ""},
		{voicewait.KindMusic, 5, 36, 0, ""},
		{voicewait.KindMaxWaitMessage, 36, 40, 0, ""},
		{voicewait.KindDrop, 40, 40, 0, ""},
	}
	if !equal(got, want) {
		t.Fatalf("short plan:\n got %v\nwant %v", got, want)
	}

	// Everything off but the maximum wait: silence, then the drop.
	off := voicewait.Config{MaxWaitSeconds: 60, Announcement: voicewait.Announcement{IntervalSeconds: 10}}
	got = spans(voicewait.Plan(off, d, positions))
	want = []span{{voicewait.KindSilence, 0, 60, 0, ""}, {voicewait.KindDrop, 60, 60, 0, ""}}
	if !equal(got, want) {
		t.Fatalf("all off:\n got %v\nwant %v", got, want)
	}

	// Music off, announcements on: silence between them; no greeting, so the first
	// comes one interval after entering the queue; no max-wait message, so the drop
	// is at the maximum wait.
	c = full
	c.Greeting.Enabled, c.HoldMusic.Enabled, c.MaxWaitMessage.Enabled = false, false, false
	c.MaxWaitSeconds = 65
	c.Announcement.Text = "{position:cardinal} callers ahead"
	got = spans(voicewait.Plan(c, d, positions))
	want = []span{
		{voicewait.KindSilence, 0, 30, 0, ""},
		{voicewait.KindAnnouncement, 30, 33, 3, "3 callers ahead"},
		{voicewait.KindSilence, 33, 60, 0, ""},
		{voicewait.KindAnnouncement, 60, 63, 2, "2 callers ahead"},
		{voicewait.KindSilence, 63, 65, 0, ""},
		{voicewait.KindDrop, 65, 65, 0, ""},
	}
	if !equal(got, want) {
		t.Fatalf("music off:\n got %v\nwant %v", got, want)
	}

	steps := voicewait.Plan(full, d, positions)
	for at, kind := range map[time.Duration]voicewait.Kind{0: voicewait.KindGreeting, 36 * time.Second: voicewait.KindAnnouncement,
		40 * time.Second: voicewait.KindMusic, 117 * time.Second: voicewait.KindMaxWaitMessage, time.Hour: voicewait.KindDrop} {
		if got := steps[voicewait.At(steps, at)].Kind; got != kind {
			t.Errorf("At(%v) = %s, want %s", at, got, kind)
		}
	}
}

func equal(a, b []span) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
