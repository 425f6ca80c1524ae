package api

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// A callback's time is at (an ISO 8601 date-time with its offset) or in (an ISO 8601
// duration, or a number of minutes), exactly one, not in the past and at most 366
// days ahead; a refusal names the field, under the prefix of the body it is in.
func TestCallbackDue(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at, in string
		want   time.Time
		field  string
	}{
		{at: "2026-11-21T15:30:00+01:00", want: time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)},
		{at: "2026-11-21T09:00:00Z", want: now},
		{in: `"PT2H"`, want: now.Add(2 * time.Hour)},
		{in: `"pt90m"`, want: now.Add(90 * time.Minute)},
		{in: `"P1DT2H30M"`, want: now.Add(26*time.Hour + 30*time.Minute)},
		{in: `"P2W"`, want: now.Add(14 * 24 * time.Hour)},
		{in: `"PT45S"`, want: now.Add(45 * time.Second)},
		{in: `90`, want: now.Add(90 * time.Minute)},
		{in: `null`, field: "callback.at"},
		{field: "callback.at"},
		{at: "2026-11-21T15:30:00", field: "callback.at"},
		{at: "tomorrow", field: "callback.at"},
		{at: "2026-11-20T15:30:00Z", field: "callback.at"},
		{at: "2026-11-21T15:30:00Z", in: `"PT1H"`, field: "callback.in"},
		{in: `"P1M"`, field: "callback.in"},
		{in: `"P1Y"`, field: "callback.in"},
		{in: `"PT"`, field: "callback.in"},
		{in: `"P"`, field: "callback.in"},
		{in: `"2 hours"`, field: "callback.in"},
		{in: `0`, field: "callback.in"},
		{in: `-5`, field: "callback.in"},
		{in: `1.5`, field: "callback.in"},
		{in: `true`, field: "callback.in"},
		{in: `"P367D"`, field: "callback.in"},
		{in: `"P999999W"`, field: "callback.in"},
		{in: `"PT99999999M"`, field: "callback.in"},
		{in: `600000`, field: "callback.in"},
	} {
		var raw json.RawMessage
		if tc.in != "" {
			raw = json.RawMessage(tc.in)
		}
		got, err := callbackDue("callback.", tc.at, raw, now)
		if tc.field == "" {
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("at %q in %s: %v, %v; want %v", tc.at, tc.in, got, err, tc.want)
			}
			continue
		}
		var e *Error
		if !errors.As(toError(err), &e) || e.Status != 422 || e.Field != tc.field {
			t.Errorf("at %q in %s: %v, %v; want 422 on %s", tc.at, tc.in, got, err, tc.field)
		}
	}
}
