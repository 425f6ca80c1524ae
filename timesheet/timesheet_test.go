package timesheet_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"switchboard/routing"
	"switchboard/timesheet"
)

var (
	t0        = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	available = timesheet.Status{ID: "available", Name: "Available", Group: routing.GroupAvailable}
	busy      = timesheet.Status{ID: "busy", Name: "Busy", Group: routing.GroupBusy}
	lunch     = timesheet.Status{ID: "c0ffee00-0000-4000-8000-000000000001", Name: "Lunch", Group: routing.GroupAway, BreakReason: true}
	training  = timesheet.Status{ID: "c0ffee00-0000-4000-8000-000000000002", Name: "Training", Group: routing.GroupAway, BreakReason: true}
	meeting   = timesheet.Status{ID: "c0ffee00-0000-4000-8000-000000000003", Name: "Meeting", Group: routing.GroupAway}
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one event applied to a sheet started at t0 in Available.
type step struct {
	at     time.Duration
	status *timesheet.Status
	voice  *routing.VoiceState
}

func st(d time.Duration, s timesheet.Status) step   { return step{at: d, status: &s} }
func vo(d time.Duration, v routing.VoiceState) step { return step{at: d, voice: &v} }

func TestSheet(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		end   time.Duration
		want  timesheet.Totals
	}{
		{
			name: "idle all along",
			end:  10 * time.Minute,
			want: timesheet.Totals{LoggedInMs: 600_000, IdleMs: 600_000,
				StatusMs: map[string]int64{"Available": 600_000}, GroupMs: map[routing.StatusGroup]int64{routing.GroupAvailable: 600_000}},
		},
		{
			name:  "breaks per reason, a plain away status is not a break",
			steps: []step{st(time.Minute, lunch), st(31*time.Minute, available), st(40*time.Minute, training), st(50*time.Minute, meeting), st(55*time.Minute, lunch)},
			end:   time.Hour,
			want: timesheet.Totals{LoggedInMs: 3_600_000, IdleMs: 60_000 + 540_000,
				StatusMs: map[string]int64{"Available": 600_000, "Lunch": 1_800_000 + 300_000, "Training": 600_000, "Meeting": 300_000},
				GroupMs:  map[routing.StatusGroup]int64{routing.GroupAvailable: 600_000, routing.GroupAway: 3_000_000},
				BreakMs:  map[string]int64{"Lunch": 2_100_000, "Training": 600_000}},
		},
		{
			name: "a call: ringing, talking, wrapping; wrap-up is not idle",
			steps: []step{vo(time.Minute, routing.VoiceRinging), vo(time.Minute+10*time.Second, routing.VoiceInCall),
				vo(6*time.Minute+10*time.Second, routing.VoiceWrapping), vo(6*time.Minute+40*time.Second, routing.VoiceIdle)},
			end: 10 * time.Minute,
			want: timesheet.Totals{LoggedInMs: 600_000, TalkMs: 300_000, IdleMs: 60_000 + 200_000,
				StatusMs: map[string]int64{"Available": 600_000}, GroupMs: map[routing.StatusGroup]int64{routing.GroupAvailable: 600_000},
				VoiceMs: map[routing.VoiceState]int64{routing.VoiceRinging: 10_000, routing.VoiceInCall: 300_000, routing.VoiceWrapping: 30_000}},
		},
		{
			name:  "a call while busy is talk time, not idle",
			steps: []step{st(0, busy), vo(2*time.Minute, routing.VoiceInCall), vo(5*time.Minute, routing.VoiceIdle)},
			end:   5 * time.Minute,
			want: timesheet.Totals{LoggedInMs: 300_000, TalkMs: 180_000,
				StatusMs: map[string]int64{"Busy": 300_000}, GroupMs: map[routing.StatusGroup]int64{routing.GroupBusy: 300_000},
				VoiceMs: map[routing.VoiceState]int64{routing.VoiceInCall: 180_000}},
		},
		{
			name:  "an event older than the account counts at the account's instant",
			steps: []step{st(5*time.Minute, lunch), st(4*time.Minute, available)},
			end:   6 * time.Minute,
			want: timesheet.Totals{LoggedInMs: 360_000, IdleMs: 300_000 + 60_000,
				StatusMs: map[string]int64{"Available": 360_000}, GroupMs: map[routing.StatusGroup]int64{routing.GroupAvailable: 360_000}},
		},
		{
			name:  "milliseconds are kept, sub-milliseconds are not",
			steps: []step{st(1500*time.Microsecond, lunch)},
			end:   2 * time.Millisecond,
			want: timesheet.Totals{LoggedInMs: 2, IdleMs: 1,
				StatusMs: map[string]int64{"Available": 1, "Lunch": 1}, GroupMs: map[routing.StatusGroup]int64{routing.GroupAvailable: 1, routing.GroupAway: 1},
				BreakMs: map[string]int64{"Lunch": 1}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := timesheet.Start(t0, available)
			for _, e := range c.steps {
				if e.status != nil {
					s.SetStatus(at(e.at), *e.status)
				}
				if e.voice != nil {
					s.SetVoice(at(e.at), *e.voice)
				}
			}
			before := s.Totals.Clone()
			got := s.At(at(c.end))
			if !maps.Equal(s.Totals.StatusMs, before.StatusMs) || s.Totals.LoggedInMs != before.LoggedInMs {
				t.Error("At changed the sheet")
			}
			wantTotals(t, got, c.want)
			s.Advance(at(c.end))
			wantTotals(t, s.Totals, c.want)
		})
	}
}

func wantTotals(t *testing.T, got, want timesheet.Totals) {
	t.Helper()
	want = want.Clone() // nil maps read as empty
	if got.LoggedInMs != want.LoggedInMs || got.TalkMs != want.TalkMs || got.IdleMs != want.IdleMs ||
		!maps.Equal(got.StatusMs, want.StatusMs) || !maps.Equal(got.GroupMs, want.GroupMs) ||
		!maps.Equal(got.BreakMs, want.BreakMs) || !maps.Equal(got.VoiceMs, want.VoiceMs) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("totals\n got %s\nwant %s", g, w)
	}
	var sum int64
	for _, v := range got.StatusMs {
		sum += v
	}
	if sum != got.LoggedInMs {
		t.Errorf("time per status sums to %d, logged in %d", sum, got.LoggedInMs)
	}
}

func TestSameStatusChangesNothing(t *testing.T) {
	s := timesheet.Start(t0, lunch)
	if s.SetStatus(at(time.Minute), timesheet.Status{Name: "LUNCH", Group: routing.GroupAway}) {
		t.Error("the same status (by name, ignoring case) counted as a change")
	}
	if !s.StatusSince.Equal(t0) || !s.Through.Equal(t0) {
		t.Errorf("a repeated status moved the sheet: %+v", s)
	}
	if s.SetVoice(at(time.Minute), routing.VoiceIdle) {
		t.Error("the same voice state counted as a change")
	}
	if !s.SetStatus(at(2*time.Minute), training) || !s.StatusSince.Equal(at(2*time.Minute)) {
		t.Errorf("change to Training: %+v", s)
	}
	if got := s.Totals.BreakTotalMs(); got != 120_000 {
		t.Errorf("break total %d", got)
	}
}

func TestTotalsEncodeEmptyMaps(t *testing.T) {
	b, err := json.Marshal(timesheet.Start(t0, available).Totals)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"loggedInMs":0,"statusMs":{},"groupMs":{},"breakMs":{},"voiceMs":{},"talkMs":0,"idleMs":0}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	// Totals decoded from an old payload without maps still accumulate.
	var s timesheet.Sheet
	if err := json.Unmarshal([]byte(`{"status":{"name":"Available","group":"available"},"through":"2025-03-03T09:00:00Z"}`), &s); err != nil {
		t.Fatal(err)
	}
	s.Advance(at(time.Second))
	if s.Totals.StatusMs["Available"] != 1000 {
		t.Errorf("decoded sheet: %+v", s.Totals)
	}
}
