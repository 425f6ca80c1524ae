package voicewait

import (
	"sort"
	"time"
)

// Part is one message or sound of a strategy, switched on or off, from an uploaded
// file or from text-to-speech.
type Part struct {
	Enabled bool `json:"enabled"`
	// Source is "file" (AudioID) or "tts" (Text, Language, Voice, SpeechRate).
	Source  string `json:"source,omitempty"`
	AudioID string `json:"audioId,omitempty"`
	Text    string `json:"text,omitempty"`
	// Language is a speech language such as en-us; Voice an optional voice variant;
	// SpeechRate a factor of the normal speed (0.5–2, 0 means 1).
	Language   string  `json:"language,omitempty"`
	Voice      string  `json:"voice,omitempty"`
	SpeechRate float64 `json:"speechRate,omitempty"`
}

// The sources of a part's audio.
const (
	SourceFile = "file"
	SourceTTS  = "tts"
)

// Announcement is the periodic announcement: a part played every interval.
type Announcement struct {
	Part
	IntervalSeconds int `json:"intervalSeconds,omitempty"`
}

// Config is what a voice waiting strategy plays while a caller waits.
type Config struct {
	// MaxWaitSeconds is how long the strategy runs before the call is dropped.
	MaxWaitSeconds int          `json:"maxWaitSeconds"`
	Greeting       Part         `json:"greeting"`
	HoldMusic      Part         `json:"holdMusic"`
	Announcement   Announcement `json:"announcement"`
	MaxWaitMessage Part         `json:"maxWaitMessage"`
}

// Kind names a step of a schedule.
type Kind string

// The steps of a schedule.
const (
	KindGreeting       Kind = "greeting"
	KindMusic          Kind = "holdMusic"
	KindSilence        Kind = "silence"
	KindAnnouncement   Kind = "announcement"
	KindMaxWaitMessage Kind = "maxWaitMessage"
	KindDrop           Kind = "drop"
)

// Durations are how long the strategy's messages play.
type Durations struct {
	Greeting       time.Duration
	Announcement   time.Duration
	MaxWaitMessage time.Duration
}

// PositionChange is the caller's queue position from At (an offset from the time the
// caller entered the queue) until the next change.
type PositionChange struct {
	At       time.Duration
	Position int
}

// Step is what the caller hears from Start to End, offsets from the time they entered
// the queue. Music loops for the whole step; Text is an announcement's text with the
// position it had then rendered.
type Step struct {
	Kind     Kind          `json:"kind"`
	Start    time.Duration `json:"-"`
	End      time.Duration `json:"-"`
	Position int           `json:"position,omitempty"`
	Text     string        `json:"text,omitempty"`
}

// PositionAt is the position the changes give at offset at (0 when none is known yet).
func PositionAt(changes []PositionChange, at time.Duration) int {
	c := append([]PositionChange(nil), changes...)
	sort.SliceStable(c, func(i, j int) bool { return c[i].At < c[j].At })
	p := 0
	for _, ch := range c {
		if ch.At > at {
			break
		}
		p = ch.Position
	}
	return p
}

// Plan says what a caller hears from the time they enter the queue until the call is
// dropped: the greeting once from the start; then hold music, looped (silence when it
// is off); an announcement one interval after the greeting ends and then every
// interval (from one announcement's start to the next, never overlapping), with the
// queue position it has at that moment rendered into its text; the max-wait message
// so that it ends at the maximum waiting time; and the drop then. An announcement that
// would run into the max-wait message is not played, and the greeting is cut short if
// the max-wait message must start before it ends.
func Plan(c Config, d Durations, positions []PositionChange) []Step {
	maxWait := time.Duration(c.MaxWaitSeconds) * time.Second
	end := maxWait
	if c.MaxWaitMessage.Enabled {
		end = max(0, maxWait-d.MaxWaitMessage)
	}
	var steps []Step
	t := time.Duration(0)
	if c.Greeting.Enabled && end > 0 {
		t = min(d.Greeting, end)
		steps = append(steps, Step{Kind: KindGreeting, Start: 0, End: t})
	}
	const never = time.Duration(1<<63 - 1)
	next := never
	interval := time.Duration(c.Announcement.IntervalSeconds) * time.Second
	if c.Announcement.Enabled && interval > 0 {
		next = t + interval
	}
	fill := KindSilence
	if c.HoldMusic.Enabled {
		fill = KindMusic
	}
	for t < end {
		stop := min(next, end)
		if stop > t {
			if n := len(steps); n > 0 && steps[n-1].Kind == fill && steps[n-1].End == t {
				steps[n-1].End = stop
			} else {
				steps = append(steps, Step{Kind: fill, Start: t, End: stop})
			}
			t = stop
		}
		if t >= end {
			break
		}
		if t+d.Announcement > end {
			next = never
			continue
		}
		pos := PositionAt(positions, t)
		text := ""
		if c.Announcement.Source == SourceTTS {
			text = RenderPosition(c.Announcement.Text, c.Announcement.Language, pos)
		}
		steps = append(steps, Step{Kind: KindAnnouncement, Start: t, End: t + d.Announcement, Position: pos, Text: text})
		next = max(t+interval, t+d.Announcement)
		t += d.Announcement
	}
	if c.MaxWaitMessage.Enabled {
		steps = append(steps, Step{Kind: KindMaxWaitMessage, Start: end, End: maxWait})
	}
	return append(steps, Step{Kind: KindDrop, Start: maxWait, End: maxWait})
}

// At returns the index of the step playing at offset at: the last step that has
// started (the drop once the maximum waiting time has passed).
func At(steps []Step, at time.Duration) int {
	return max(sort.Search(len(steps), func(i int) bool { return steps[i].Start > at })-1, 0)
}
