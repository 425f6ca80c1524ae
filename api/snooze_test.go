package api

import (
	"errors"
	"testing"
	"time"
)

// A snooze's time is until (an RFC 3339 date-time with its offset) or for (an ISO
// 8601 duration from now), exactly one, in the future and at most 365 days ahead; a
// refusal names the field given.
func TestSnoozeUntil(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		until, dur string
		want       time.Time
		field      string
	}{
		{until: "2026-11-21T15:30:00+01:00", want: time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)},
		{until: "2026-11-21T09:00:00.5Z", want: now.Add(500 * time.Millisecond)},
		{dur: "PT2S", want: now.Add(2 * time.Second)},
		{until: "2026-11-21T09:00:01.123456789+00:00", want: now.Add(1123 * time.Millisecond)},
		{dur: "pt90m", want: now.Add(90 * time.Minute)},
		{dur: "P1DT2H30M", want: now.Add(26*time.Hour + 30*time.Minute)},
		{dur: "P52W", want: now.Add(364 * 24 * time.Hour)},
		{dur: "P365D", want: now.Add(365 * 24 * time.Hour)},
		{until: "2027-11-21T09:00:00Z", want: now.Add(365 * 24 * time.Hour)},
		{field: "until"},
		{until: "2026-11-21T09:00:00Z", field: "until"},
		{until: "2026-11-20T15:30:00Z", field: "until"},
		{until: "2026-11-21T15:30:00", field: "until"},
		{until: "tomorrow", field: "until"},
		{until: "2027-11-21T09:00:01Z", field: "until"},
		{until: "2026-11-21T15:30:00Z", dur: "PT1H", field: "for"},
		{dur: "P366D", field: "for"},
		{dur: "P1Y", field: "for"},
		{dur: "P1M", field: "for"},
		{dur: "PT0S", field: "for"},
		{dur: "P", field: "for"},
		{dur: "2 hours", field: "for"},
		{dur: "P999999W", field: "for"},
	} {
		got, err := snoozeRequest{Until: tc.until, For: tc.dur}.snoozeUntil(now)
		if tc.field == "" {
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("until %q for %q: %v, %v; want %v", tc.until, tc.dur, got, err, tc.want)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 422 || e.Code != CodeInvalid || e.Field != tc.field || e.Message == "" {
			t.Errorf("until %q for %q: %v, %v; want 422 on %s", tc.until, tc.dur, got, err, tc.field)
		}
	}
}
