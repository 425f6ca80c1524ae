package hours_test

import (
	"errors"
	"testing"
	"time"

	"switchboard/hours"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(ranges ...string) hours.Day {
	d := hours.Day{Enabled: true}
	for i := 0; i+1 < len(ranges); i += 2 {
		d.Ranges = append(d.Ranges, hours.Range{From: ranges[i], To: ranges[i+1]})
	}
	return d
}

// office is Monday to Friday 08:00–16:00 in Europe/Zagreb, the weekend off.
func office() hours.Period {
	w := hours.Week{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		w[d] = day("08:00", "16:00")
	}
	return hours.Period{TimeZone: "Europe/Zagreb", Days: w}
}

// everyDay is the same ranges every day of the week in zone.
func everyDay(zone string, ranges ...string) hours.Period {
	w := hours.Week{}
	for _, d := range hours.Weekdays {
		w[d] = day(ranges...)
	}
	return hours.Period{TimeZone: zone, Days: w}
}

func with(p hours.Period, f func(*hours.Period)) hours.Period {
	w := hours.Week{}
	for k, v := range p.Days {
		w[k] = v
	}
	p.Days = w
	f(&p)
	return p
}

func mustNew(t *testing.T, p hours.Period) *hours.Calendar {
	t.Helper()
	c, err := hours.New(p)
	if err != nil {
		t.Fatalf("period refused: %v", err)
	}
	return c
}

func TestOpen(t *testing.T) {
	sundayEarly := with(office(), func(p *hours.Period) { p.Days["sunday"] = day("01:00", "05:00") })
	for _, tc := range []struct {
		name   string
		period hours.Period
		at     string
		open   bool
	}{
		{"a working day inside its range", office(), "2025-03-03T08:00:00Z", true}, // Monday 09:00 CET
		{"at the opening minute", office(), "2025-03-03T07:00:00Z", true},          // 08:00 CET
		{"a second before the opening", office(), "2025-03-03T06:59:59Z", false},
		{"a second before the closing", office(), "2025-03-03T14:59:59Z", true},
		{"the closing time itself is closed", office(), "2025-03-03T15:00:00Z", false},
		{"a switched-off day", office(), "2025-03-08T10:00:00Z", false}, // Saturday
		{"a switched-off day keeps its ranges closed", with(office(), func(p *hours.Period) {
			p.Days["saturday"] = hours.Day{Enabled: false, Ranges: []hours.Range{{From: "09:00", To: "13:00"}}}
		}), "2025-03-08T10:00:00Z", false},
		{"summer time shifts the hours an hour earlier in UTC", office(), "2025-06-02T06:00:00Z", true}, // 08:00 CEST
		{"summer time: 07:00 UTC is 09:00", office(), "2025-06-02T14:30:00Z", false},                    // 16:30 CEST
		{"the hour the clocks skip: 01:30 UTC is 03:30 CEST", sundayEarly, "2025-03-30T01:30:00Z", true},
		{"before the range on the day the clocks go forward", sundayEarly, "2025-03-29T23:59:59Z", false}, // 00:59:59 CET
		{"the repeated hour, first time (02:30 CEST)", sundayEarly, "2025-10-26T00:30:00Z", true},
		{"the repeated hour, second time (02:30 CET)", sundayEarly, "2025-10-26T01:30:00Z", true},
		{"a range ending at 24:00, last second", everyDay("Europe/Zagreb", "20:00", "24:00"), "2025-03-07T22:59:59Z", true},
		{"a range ending at 24:00, midnight", everyDay("Europe/Zagreb", "20:00", "24:00"), "2025-03-07T23:00:00Z", false},
		{"another time zone: 09:00 in New York", everyDay("America/New_York", "08:00", "16:00"), "2025-03-10T13:00:00Z", true},
		{"another time zone: 22:00 in Tokyo", everyDay("Asia/Tokyo", "08:00", "16:00"), "2025-03-10T13:00:00Z", false},
		{"a holiday's first day", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{Name: "Christmas", StartDate: "2025-12-24", EndDate: "2025-12-26"}}
		}), "2025-12-24T09:00:00Z", false},
		{"a holiday's end date is included", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{Name: "Christmas", StartDate: "2025-12-24", EndDate: "2025-12-26"}}
		}), "2025-12-26T14:59:00Z", false},
		{"the working day after a holiday", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{Name: "Christmas", StartDate: "2025-12-24", EndDate: "2025-12-26"}}
		}), "2025-12-29T07:00:00Z", true},
		{"the last second of a holiday, in the period's zone", with(everyDay("Europe/Zagreb", "00:00", "24:00"), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{StartDate: "2025-05-01", EndDate: "2025-05-01"}}
		}), "2025-05-01T21:59:59Z", false},
		{"the first second after a holiday, in the period's zone", with(everyDay("Europe/Zagreb", "00:00", "24:00"), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{StartDate: "2025-05-01", EndDate: "2025-05-01"}}
		}), "2025-05-01T22:00:00Z", true},
		{"two ranges, the gap between", everyDay("Europe/Zagreb", "08:00", "12:00", "13:00", "17:00"), "2025-03-03T11:30:00Z", false},
		{"two ranges, the second", everyDay("Europe/Zagreb", "08:00", "12:00", "13:00", "17:00"), "2025-03-03T12:00:00Z", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustNew(t, tc.period).Open(utc(tc.at)); got != tc.open {
				t.Errorf("Open(%s) = %v, want %v", tc.at, got, tc.open)
			}
		})
	}
}

func TestNextOpeningAndClosing(t *testing.T) {
	christmas := with(office(), func(p *hours.Period) {
		p.Holidays = []hours.Holiday{{Name: "Christmas", StartDate: "2025-12-24", EndDate: "2025-12-26"}}
	})
	mayDay := with(everyDay("Europe/Zagreb", "00:00", "24:00"), func(p *hours.Period) {
		p.Holidays = []hours.Holiday{{Name: "Labour Day", StartDate: "2025-05-01", EndDate: "2025-05-01"}}
	})
	// Sunday ranges across the clock changes of Europe/Zagreb (2025-03-30 02:00 CET
	// → 03:00 CEST; 2025-10-26 03:00 CEST → 02:00 CET).
	sunday := func(ranges ...string) hours.Period {
		return hours.Period{TimeZone: "Europe/Zagreb", Days: hours.Week{"sunday": day(ranges...)}}
	}
	overnight := hours.Period{TimeZone: "Europe/Zagreb", Days: hours.Week{
		"friday": day("20:00", "24:00"), "saturday": day("00:00", "02:00"),
	}}
	for _, tc := range []struct {
		name    string
		period  hours.Period
		from    string
		opening string // "" none
		closing string
	}{
		{"closed in the evening: opens the next morning", office(), "2025-03-03T17:00:00Z", "2025-03-04T07:00:00Z", "2025-03-04T15:00:00Z"},
		{"open: closes at the end of the range, opens the next day", office(), "2025-03-03T09:00:00Z", "2025-03-04T07:00:00Z", "2025-03-03T15:00:00Z"},
		{"Friday evening: opens on Monday (weekend switched off)", office(), "2025-03-07T17:00:00Z", "2025-03-10T07:00:00Z", "2025-03-10T15:00:00Z"},
		{"at the closing instant: the next opening is tomorrow", office(), "2025-03-03T15:00:00Z", "2025-03-04T07:00:00Z", "2025-03-04T15:00:00Z"},
		{"at the opening instant: open, so the next opening is tomorrow", office(), "2025-03-03T07:00:00Z", "2025-03-04T07:00:00Z", "2025-03-03T15:00:00Z"},
		// Clocks forward: 08:00 on Sunday 30 March is already summer time.
		{"the morning after the clocks go forward", everyDay("Europe/Zagreb", "08:00", "16:00"), "2025-03-29T17:00:00Z", "2025-03-30T06:00:00Z", "2025-03-30T14:00:00Z"},
		// Clocks back: 08:00 on Sunday 26 October is winter time again.
		{"the morning after the clocks go back", everyDay("Europe/Zagreb", "08:00", "16:00"), "2025-10-25T17:00:00Z", "2025-10-26T07:00:00Z", "2025-10-26T15:00:00Z"},
		{"a range across the spring change lasts three hours", sunday("01:00", "05:00"), "2025-03-29T12:00:00Z", "2025-03-30T00:00:00Z", "2025-03-30T03:00:00Z"},
		{"a range across the autumn change lasts five hours", sunday("01:00", "05:00"), "2025-10-25T12:00:00Z", "2025-10-25T23:00:00Z", "2025-10-26T04:00:00Z"},
		{"a range ending in the skipped hour closes when the clock jumps", sunday("01:00", "02:30"), "2025-03-30T00:30:00Z", "2025-04-05T23:00:00Z", "2025-03-30T01:00:00Z"},
		{"a range inside the skipped hour never opens that day", sunday("02:00", "03:00"), "2025-03-29T12:00:00Z", "2025-04-06T00:00:00Z", "2025-04-06T01:00:00Z"},
		{"a range ending in the repeated hour closes at its first end", sunday("00:00", "02:30"), "2025-10-25T22:30:00Z", "2025-10-26T01:00:00Z", "2025-10-26T00:30:00Z"},
		{"… and opens again when the clock goes back", sunday("00:00", "02:30"), "2025-10-26T00:45:00Z", "2025-10-26T01:00:00Z", "2025-10-26T01:30:00Z"},
		{"… and closes at its second end", sunday("00:00", "02:30"), "2025-10-26T01:10:00Z", "2025-11-01T23:00:00Z", "2025-10-26T01:30:00Z"},
		{"a holiday: opens on the first working day after its end date", christmas, "2025-12-23T16:00:00Z", "2025-12-29T07:00:00Z", "2025-12-29T15:00:00Z"},
		// Open every hour after it, so it never closes again.
		{"a one-day holiday ends at 24:00 of its date", mayDay, "2025-05-01T10:00:00Z", "2025-05-01T22:00:00Z", ""},
		{"a one-day holiday starts at 00:00 of its date", mayDay, "2025-04-30T12:00:00Z", "2025-05-01T22:00:00Z", "2025-04-30T22:00:00Z"},
		{"ranges meeting at midnight are one working time", overnight, "2025-03-07T20:00:00Z", "2025-03-14T19:00:00Z", "2025-03-08T01:00:00Z"},
		{"two ranges a day", everyDay("Europe/Zagreb", "08:00", "12:00", "13:00", "17:00"), "2025-03-03T11:30:00Z", "2025-03-03T12:00:00Z", "2025-03-03T16:00:00Z"},
		{"New York's clocks go forward on another date", everyDay("America/New_York", "08:00", "16:00"), "2025-03-08T22:00:00Z", "2025-03-09T12:00:00Z", "2025-03-09T20:00:00Z"},
		{"every day switched off: never", with(office(), func(p *hours.Period) {
			for k, d := range p.Days {
				d.Enabled = false
				p.Days[k] = d
			}
		}), "2025-03-03T09:00:00Z", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.period)
			from := utc(tc.from)
			check := func(what string, got time.Time, ok bool, want string) {
				t.Helper()
				switch {
				case want == "" && ok:
					t.Errorf("%s from %s = %s, want none", what, tc.from, got.UTC().Format(time.RFC3339))
				case want != "" && (!ok || !got.Equal(utc(want))):
					t.Errorf("%s from %s = %s (%v), want %s", what, tc.from, got.UTC().Format(time.RFC3339), ok, want)
				}
			}
			opening, ok := c.NextOpening(from)
			check("NextOpening", opening, ok, tc.opening)
			closing, ok := c.NextClosing(from)
			check("NextClosing", closing, ok, tc.closing)
			if tc.opening != "" {
				// What it says is what Open says: closed just before, open at the opening.
				if !c.Open(opening) || c.Open(opening.Add(-time.Second)) {
					t.Errorf("Open around the opening %s: before %v, at %v", opening, c.Open(opening.Add(-time.Second)), c.Open(opening))
				}
			}
			if tc.closing != "" {
				if c.Open(closing) || !c.Open(closing.Add(-time.Second)) {
					t.Errorf("Open around the closing %s: before %v, at %v", closing, c.Open(closing.Add(-time.Second)), c.Open(closing))
				}
			}
		})
	}
}

// TestNextOpeningAgreesWithOpen walks a year minute by minute at every boundary the
// calendar names and checks that Open does not change between them.
func TestNextOpeningAgreesWithOpen(t *testing.T) {
	for _, p := range []hours.Period{
		with(office(), func(p *hours.Period) {
			p.Days["saturday"] = day("00:00", "02:30", "09:00", "13:00")
			p.Days["sunday"] = day("01:00", "03:00", "22:00", "24:00")
			p.Holidays = []hours.Holiday{{StartDate: "2025-04-18", EndDate: "2025-04-21"}, {StartDate: "2025-12-24", EndDate: "2025-12-26"}}
		}),
		everyDay("America/Santiago", "00:00", "01:00", "23:00", "24:00"),
		everyDay("Australia/Lord_Howe", "01:30", "02:30"),
	} {
		c := mustNew(t, p)
		at := utc("2025-01-01T00:00:00Z")
		end := utc("2026-01-01T00:00:00Z")
		for at.Before(end) {
			open := c.Open(at)
			var next time.Time
			var ok bool
			if open {
				next, ok = c.NextClosing(at)
			} else {
				next, ok = c.NextOpening(at)
			}
			if !ok {
				t.Fatalf("%s: no change after %s", p.TimeZone, at)
			}
			for m := at.Add(time.Minute); m.Before(next); m = m.Add(time.Minute) {
				if c.Open(m) != open {
					t.Fatalf("%s: Open(%s) = %v, but the next change after %s is %s", p.TimeZone, m, !open, at, next)
				}
			}
			if c.Open(next) == open {
				t.Fatalf("%s: Open(%s) = %v at the change", p.TimeZone, next, open)
			}
			at = next
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period hours.Period
		field  string
	}{
		{"no time zone", with(office(), func(p *hours.Period) { p.TimeZone = "" }), "timeZone"},
		{"an unknown time zone", with(office(), func(p *hours.Period) { p.TimeZone = "Europe/Atlantis" }), "timeZone"},
		{"the machine's zone", with(office(), func(p *hours.Period) { p.TimeZone = "Local" }), "timeZone"},
		{"not a weekday", with(office(), func(p *hours.Period) { p.Days["funday"] = day("08:00", "09:00") }), "days.funday"},
		{"a working day without ranges", with(office(), func(p *hours.Period) { p.Days["saturday"] = hours.Day{Enabled: true} }), "days.saturday.ranges"},
		{"a clock without two digits", with(office(), func(p *hours.Period) { p.Days["monday"] = day("8:00", "16:00") }), "days.monday.ranges[0].from"},
		{"24:00 as a start", with(office(), func(p *hours.Period) { p.Days["monday"] = day("24:00", "24:00") }), "days.monday.ranges[0].from"},
		{"25:00 as an end", with(office(), func(p *hours.Period) { p.Days["monday"] = day("08:00", "25:00") }), "days.monday.ranges[0].to"},
		{"minutes past 59", with(office(), func(p *hours.Period) { p.Days["monday"] = day("08:60", "16:00") }), "days.monday.ranges[0].from"},
		{"an end before the start", with(office(), func(p *hours.Period) { p.Days["monday"] = day("22:00", "02:00") }), "days.monday.ranges[0].to"},
		{"an empty range", with(office(), func(p *hours.Period) { p.Days["monday"] = day("08:00", "08:00") }), "days.monday.ranges[0].to"},
		{"overlapping ranges", with(office(), func(p *hours.Period) { p.Days["tuesday"] = day("13:00", "17:00", "08:00", "13:30") }), "days.tuesday.ranges[0]"},
		{"a switched-off day's ranges are checked too", with(office(), func(p *hours.Period) {
			p.Days["sunday"] = hours.Day{Ranges: []hours.Range{{From: "10:00", To: "09:00"}}}
		}), "days.sunday.ranges[0].to"},
		{"a holiday without dates", with(office(), func(p *hours.Period) { p.Holidays = []hours.Holiday{{Name: "x"}} }), "holidays[0].startDate"},
		{"a date that does not exist", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{StartDate: "2025-01-01", EndDate: "2025-01-01"}, {StartDate: "2025-02-30", EndDate: "2025-03-01"}}
		}), "holidays[1].startDate"},
		{"an end date before the start date", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{StartDate: "2025-12-26", EndDate: "2025-12-24"}}
		}), "holidays[0].endDate"},
		{"a holiday over a year long", with(office(), func(p *hours.Period) {
			p.Holidays = []hours.Holiday{{StartDate: "2025-01-01", EndDate: "2026-01-02"}}
		}), "holidays[0].endDate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.period.Validate()
			var fe *hours.Error
			if !errors.As(err, &fe) || fe.Field != tc.field || fe.Message == "" {
				t.Errorf("Validate = %v, want an error on %s", err, tc.field)
			}
		})
	}
	for _, p := range []hours.Period{
		office(),
		everyDay("UTC", "00:00", "24:00"),
		with(office(), func(p *hours.Period) {
			p.Days["saturday"] = hours.Day{Enabled: false, Ranges: []hours.Range{{From: "09:00", To: "13:00"}}}
			p.Days["friday"] = day("08:00", "12:00", "12:00", "16:00")
			p.Holidays = []hours.Holiday{{Name: "New Year", StartDate: "2025-01-01", EndDate: "2025-01-01"}, {Name: "A year", StartDate: "2025-01-01", EndDate: "2026-01-01"}}
		}),
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
}

// benchPeriod is an office week with fifty holidays.
func benchPeriod() hours.Period {
	return with(office(), func(p *hours.Period) {
		for i := range 50 {
			d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i*7)
			p.Holidays = append(p.Holidays, hours.Holiday{StartDate: d.Format(time.DateOnly), EndDate: d.Format(time.DateOnly)})
		}
	})
}

// BenchmarkNew is making the calendar of a stored period, which the API does for
// each new conversation of a queue with working hours.
func BenchmarkNew(b *testing.B) {
	p := benchPeriod()
	for b.Loop() {
		if _, err := hours.New(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextOpening is the API's answer for a new conversation outside the
// hours (Open, then NextOpening), and the queue-hours workflow's for each opening:
// from Friday evening to Monday morning across a clock change.
func BenchmarkNextOpening(b *testing.B) {
	c, err := hours.New(benchPeriod())
	if err != nil {
		b.Fatal(err)
	}
	from := utc("2025-03-28T19:00:00Z")
	for b.Loop() {
		if c.Open(from) {
			b.Fatal("open")
		}
		if _, ok := c.NextOpening(from); !ok {
			b.Fatal("no opening")
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2025-12-24", true}, {"2024-02-29", true}, {"2025-02-29", false}, {"2025-02-30", false}, {"2025-13-01", false},
		{"2025-00-10", false}, {"2025-01-00", false}, {"2025-1-01", false}, {"2025/01/01", false}, {"25-01-2025", false},
		{"2025-01-0x", false}, {"", false}, {"2025-01-011", false},
	} {
		got, ok := hours.ParseDate(tc.in)
		if ok != tc.ok || ok && got.Format(time.DateOnly) != tc.in {
			t.Errorf("ParseDate(%q) = %v, %v", tc.in, got, ok)
		}
	}
}
