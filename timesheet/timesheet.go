// Package timesheet accounts the time of one agent session for reporting:
// logged-in time, time per status, per status group and per break reason,
// time per voice sub-state (talk time is time in a call) and idle time. It is
// pure and deterministic, so the agent-session workflow can call it, and the
// API can use it to bring a queried sheet up to the present.
//
// Time is accounted in whole milliseconds, the resolution of the presence
// clock that dates every event. Events are applied in order: an instant
// earlier than what is already accounted counts as that instant, so nothing is
// ever counted twice or taken back.
package timesheet

import (
	"maps"
	"strings"
	"time"

	"switchboard/routing"
)

// Status is the status an agent is in, as accounting needs it.
type Status struct {
	// ID is the catalogue ID (the lower-case name of a predefined status, a
	// UUID otherwise); empty when the status is no longer in the catalogue.
	ID          string              `json:"id,omitempty"`
	Name        string              `json:"name"`
	Group       routing.StatusGroup `json:"group"`
	BreakReason bool                `json:"breakReason,omitempty"`
}

// Same reports whether s and o are the same status. Names are unique in a
// tenant ignoring case, so the name and group decide, not the ID (which a
// status read back from presence may lack).
func (s Status) Same(o Status) bool {
	return strings.EqualFold(s.Name, o.Name) && s.Group == o.Group
}

// Totals are the accounted durations of a session, in milliseconds.
type Totals struct {
	// LoggedInMs is the time from login.
	LoggedInMs int64 `json:"loggedInMs"`
	// StatusMs is the time per status name.
	StatusMs map[string]int64 `json:"statusMs"`
	// GroupMs is the time per status group.
	GroupMs map[routing.StatusGroup]int64 `json:"groupMs"`
	// BreakMs is the time per break reason (Away statuses flagged as breaks).
	BreakMs map[string]int64 `json:"breakMs"`
	// VoiceMs is the time per voice sub-state (ringing, in_call, wrapping).
	VoiceMs map[routing.VoiceState]int64 `json:"voiceMs"`
	// TalkMs is the time in a call (voice sub-state in_call).
	TalkMs int64 `json:"talkMs"`
	// IdleMs is the time in an Available-group status with no call ringing,
	// in progress or in wrap-up.
	IdleMs int64 `json:"idleMs"`
}

// NewTotals returns empty totals with their maps made, so they encode as {}
// rather than null.
func NewTotals() Totals {
	return Totals{
		StatusMs: map[string]int64{},
		GroupMs:  map[routing.StatusGroup]int64{},
		BreakMs:  map[string]int64{},
		VoiceMs:  map[routing.VoiceState]int64{},
	}
}

// Clone returns a deep copy, always with its maps made.
func (t Totals) Clone() Totals {
	t.StatusMs = cloneMap(t.StatusMs)
	t.GroupMs = cloneMap(t.GroupMs)
	t.BreakMs = cloneMap(t.BreakMs)
	t.VoiceMs = cloneMap(t.VoiceMs)
	return t
}

// cloneMap copies m without ranging over it, so that the workflow checker
// has no iteration order to worry about.
func cloneMap[K comparable](m map[K]int64) map[K]int64 {
	if m == nil {
		return map[K]int64{}
	}
	return maps.Clone(m)
}

// BreakTotalMs is the time on any break.
func (t Totals) BreakTotalMs() int64 {
	var n int64
	for _, v := range t.BreakMs {
		n += v
	}
	return n
}

// Sheet is the running account of one session: the current status and voice
// sub-state, since when, and the totals accounted up to Through.
type Sheet struct {
	Status      Status             `json:"status"`
	StatusSince time.Time          `json:"statusSince"`
	Voice       routing.VoiceState `json:"voice,omitempty"`
	VoiceSince  time.Time          `json:"voiceSince"`
	// Through is the instant up to which Totals are accounted.
	Through time.Time `json:"through"`
	Totals  Totals    `json:"totals"`
}

// Start opens a sheet at login time at, in status st, with no call.
func Start(at time.Time, st Status) Sheet {
	return Sheet{Status: st, StatusSince: at, VoiceSince: at, Through: at, Totals: NewTotals()}
}

// Advance accounts the time from Through to t in the current status and voice
// sub-state. An instant at or before Through changes nothing.
func (s *Sheet) Advance(t time.Time) {
	d := t.Sub(s.Through).Milliseconds()
	if d <= 0 {
		return
	}
	if s.Totals.StatusMs == nil {
		s.Totals = s.Totals.Clone()
	}
	tt := &s.Totals
	tt.LoggedInMs += d
	tt.StatusMs[s.Status.Name] += d
	tt.GroupMs[s.Status.Group] += d
	if s.Status.BreakReason {
		tt.BreakMs[s.Status.Name] += d
	}
	if s.Voice != routing.VoiceIdle {
		tt.VoiceMs[s.Voice] += d
	}
	if s.Voice == routing.VoiceInCall {
		tt.TalkMs += d
	}
	if s.Status.Group == routing.GroupAvailable && s.Voice == routing.VoiceIdle {
		tt.IdleMs += d
	}
	s.Through = s.Through.Add(time.Duration(d) * time.Millisecond)
}

// SetStatus accounts up to t and switches to st from then on. It reports
// false, changing nothing, when st is the current status.
func (s *Sheet) SetStatus(t time.Time, st Status) bool {
	if s.Status.Same(st) {
		return false
	}
	s.Advance(t)
	s.Status = st
	s.StatusSince = s.Through
	return true
}

// SetVoice accounts up to t and switches the voice sub-state to v from then
// on. It reports false, changing nothing, when v is the current sub-state.
func (s *Sheet) SetVoice(t time.Time, v routing.VoiceState) bool {
	if s.Voice == v {
		return false
	}
	s.Advance(t)
	s.Voice = v
	s.VoiceSince = s.Through
	return true
}

// At returns the totals as they stand at t, leaving the sheet as it is.
func (s Sheet) At(t time.Time) Totals {
	c := s
	c.Totals = s.Totals.Clone()
	c.Advance(t)
	return c.Totals
}
