// Package hours is the working-hours calendar of a queue: a period in an IANA time
// zone with hours per weekday (one or more ranges a day; a day switched off is not a
// working day) and holidays by inclusive date range. Given an instant it tells
// whether the period is open and when it next opens or closes, on the wall clock of
// its time zone, so across daylight-saving changes too. It is pure: the same period
// and instant always give the same answer, which lets workflows use it.
//
// The wall clock decides: a range 08:00–16:00 is open while the clock in the
// period's zone shows 08:00 to 15:59:59. On the day the clocks go forward an hour
// that does not exist is never open (a range 02:00–03:00 in Europe/Zagreb on the
// last Sunday of March never opens, and 01:00–03:00 closes at 02:00 CET, when the
// clock jumps to 03:00); on the day they go back the repeated hour is open or closed
// both times, as the clock shows it. A holiday runs from 00:00 of its start date to
// 24:00 of its end date, in the period's zone.
package hours

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Weekdays are the keys of Week, Monday first.
var Weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// weekdayOf maps Weekdays to time.Weekday.
var weekdayOf = map[string]time.Weekday{
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday,
	"friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
}

// Limits of a period.
const (
	// MaxRanges bounds the ranges of one day.
	MaxRanges = 12
	// MaxHolidays bounds the holidays of one period.
	MaxHolidays = 500
	// MaxHolidayDays bounds the length of one holiday.
	MaxHolidayDays = 366
	// MaxHolidayName bounds a holiday's name.
	MaxHolidayName = 100
	// horizon is how far ahead NextOpening and NextClosing look.
	horizon = 3 * 366 * 24 * time.Hour
	// window is how much of the horizon is searched at once.
	window = 8 * 24 * time.Hour
)

// Range is working time on one day: from From (inclusive) to To (exclusive), both
// "HH:MM" on the wall clock; To may be "24:00", the end of the day. A range across
// midnight is two ranges, one on each day.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Day is the hours of one weekday. A day switched off (Enabled false) is not a
// working day; its ranges are kept for when it is switched on again.
type Day struct {
	Enabled bool    `json:"enabled"`
	Ranges  []Range `json:"ranges"`
}

// Week is the hours of each weekday by name (monday … sunday); a missing day is
// switched off.
type Week map[string]Day

// Holiday is a non-working date range, both dates included (YYYY-MM-DD).
type Holiday struct {
	Name      string `json:"name"`
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate"`
}

// Period is working hours: a time zone, the week's hours and holidays.
type Period struct {
	// TimeZone is an IANA time zone name, such as Europe/Zagreb; the hours and the
	// holidays are in it.
	TimeZone string    `json:"timeZone"`
	Days     Week      `json:"days"`
	Holidays []Holiday `json:"holidays"`
}

// Error names the field of a period that is wrong and why.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func fieldError(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// span is a working range in seconds of the day, [from, to).
type span struct{ from, to int }

// date is a civil date as year*10000 + month*100 + day, which orders like the dates.
type date int

func dateOf(y int, m time.Month, d int) date { return date(y*10000 + int(m)*100 + d) }

// Calendar is a validated period, ready to answer.
type Calendar struct {
	loc *time.Location
	// days are the merged working spans by time.Weekday; nil for a day off.
	days [7][]span
	// holidays are inclusive date ranges.
	holidays [][2]date
	// works: some day of the week has working time.
	works bool
}

// zones caches loaded time zones: loading one reads the zone database.
var zones sync.Map

func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// ValidTimeZone reports whether name is an IANA time zone (not "Local", which
// depends on the machine).
func ValidTimeZone(name string) bool {
	if strings.TrimSpace(name) == "" || name == "Local" {
		return false
	}
	_, err := loadZone(name)
	return err == nil
}

// parseClock parses "HH:MM" into seconds of the day; "24:00" only when end is set.
func parseClock(s string, end bool) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 {
		return 0, false
	}
	switch {
	case hh == 24 && mm == 0 && end:
	case hh > 23:
		return 0, false
	}
	return hh*3600 + mm*60, true
}

// ParseDate parses a YYYY-MM-DD date.
func ParseDate(s string) (time.Time, bool) {
	if len(s) != len(time.DateOnly) || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(part string) int {
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, m, d := num(s[:4]), num(s[5:7]), num(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	// A day past the month's end (2025-02-30) rolls over into the next month.
	return t, t.Day() == d
}

// Validate checks the period and returns what is wrong, naming the field.
func (p Period) Validate() error {
	_, err := New(p)
	return err
}

// New checks the period and makes its calendar.
func New(p Period) (*Calendar, error) {
	if !ValidTimeZone(p.TimeZone) {
		return nil, fieldError("timeZone", "must be an IANA time zone such as Europe/Zagreb")
	}
	loc, _ := loadZone(p.TimeZone)
	c := &Calendar{loc: loc}
	// Sorted, so the first wrong day named is always the same one.
	//workflowcheck:ignore
	for _, name := range slices.Sorted(maps.Keys(p.Days)) {
		wd, ok := weekdayOf[name]
		if !ok {
			return nil, fieldError("days."+name, "is not a weekday: use monday … sunday")
		}
		day := p.Days[name]
		field := "days." + name
		if len(day.Ranges) > MaxRanges {
			return nil, fieldError(field+".ranges", "at most %d ranges a day", MaxRanges)
		}
		if day.Enabled && len(day.Ranges) == 0 {
			return nil, fieldError(field+".ranges", "a working day needs at least one range; switch the day off instead")
		}
		spans := make([]span, 0, len(day.Ranges))
		for i, r := range day.Ranges {
			rf := field + ".ranges[" + strconv.Itoa(i) + "]"
			from, ok := parseClock(r.From, false)
			if !ok {
				return nil, fieldError(rf+".from", "must be a time HH:MM from 00:00 to 23:59")
			}
			to, ok := parseClock(r.To, true)
			if !ok {
				return nil, fieldError(rf+".to", "must be a time HH:MM from 00:01 to 24:00")
			}
			if to <= from {
				return nil, fieldError(rf+".to", "must be after from (a range across midnight is two ranges, one on each day)")
			}
			spans = append(spans, span{from, to})
		}
		sorted := slices.Clone(spans)
		slices.SortFunc(sorted, func(a, b span) int { return a.from - b.from })
		var merged []span
		for i, s := range sorted {
			if i > 0 && s.from < sorted[i-1].to {
				j := slices.Index(spans, s)
				return nil, fieldError(fmt.Sprintf("%s.ranges[%d]", field, j), "overlaps another range of the day")
			}
			if n := len(merged); n > 0 && merged[n-1].to == s.from {
				merged[n-1].to = s.to
				continue
			}
			merged = append(merged, s)
		}
		if day.Enabled {
			c.days[wd] = merged
			c.works = true
		}
	}
	if len(p.Holidays) > MaxHolidays {
		return nil, fieldError("holidays", "at most %d holidays", MaxHolidays)
	}
	for i, h := range p.Holidays {
		hf := func() string { return fmt.Sprintf("holidays[%d]", i) }
		if utf8.RuneCountInString(h.Name) > MaxHolidayName || strings.ContainsFunc(h.Name, unicode.IsControl) {
			return nil, fieldError(hf()+".name", "must be at most %d characters, without control characters", MaxHolidayName)
		}
		start, ok := ParseDate(h.StartDate)
		if !ok {
			return nil, fieldError(hf()+".startDate", "must be a date YYYY-MM-DD")
		}
		end, ok := ParseDate(h.EndDate)
		if !ok {
			return nil, fieldError(hf()+".endDate", "must be a date YYYY-MM-DD")
		}
		if end.Before(start) {
			return nil, fieldError(hf()+".endDate", "must be on or after startDate (a one-day holiday has the same start and end date)")
		}
		if end.Sub(start) >= MaxHolidayDays*24*time.Hour {
			return nil, fieldError(hf()+".endDate", "a holiday lasts at most %d days", MaxHolidayDays)
		}
		c.holidays = append(c.holidays, [2]date{dateOf(start.Date()), dateOf(end.Date())})
	}
	return c, nil
}

// Location is the period's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Open reports whether the period is open at t.
func (c *Calendar) Open(t time.Time) bool {
	local := t.In(c.loc)
	spans := c.days[local.Weekday()]
	if len(spans) == 0 || c.holiday(dateOf(local.Date())) {
		return false
	}
	s := local.Hour()*3600 + local.Minute()*60 + local.Second()
	for _, sp := range spans {
		if s >= sp.from && s < sp.to {
			return true
		}
	}
	return false
}

func (c *Calendar) holiday(d date) bool {
	for _, h := range c.holidays {
		if d >= h[0] && d <= h[1] {
			return true
		}
	}
	return false
}

// NextOpening is the first instant after t at which the period opens: when it is
// closed at t, the end of the closure; when open, the opening after the next
// closing. ok is false when it does not open within three years (every day
// switched off, or holidays covering every working day).
func (c *Calendar) NextOpening(t time.Time) (time.Time, bool) {
	if !c.works {
		return time.Time{}, false
	}
	if c.Open(t) {
		closing, ok := c.first(t, false)
		if !ok {
			return time.Time{}, false
		}
		t = closing
	}
	return c.first(t, true)
}

// NextClosing is the first instant after t at which the period closes: when it is
// open at t, the end of this working time (ranges that meet across midnight are
// one working time); when closed, the closing after the next opening.
func (c *Calendar) NextClosing(t time.Time) (time.Time, bool) {
	if !c.works {
		return time.Time{}, false
	}
	if !c.Open(t) {
		opening, ok := c.first(t, true)
		if !ok {
			return time.Time{}, false
		}
		t = opening
	}
	return c.first(t, false)
}

// first is the first instant after t at which Open is want. Open only changes at a
// candidate (see candidates) and holds from each candidate to the next, so the
// answer is the first candidate where it is want.
func (c *Calendar) first(t time.Time, want bool) (time.Time, bool) {
	for from := t; from.Sub(t) < horizon; from = from.Add(window) {
		for _, u := range c.candidates(from, from.Add(window)) {
			if c.Open(u) == want {
				return u, true
			}
		}
	}
	return time.Time{}, false
}

// candidates are the instants in (from, to], in order, at which Open may change:
// the starts of days (a weekday or a holiday begins), the edges of the working
// ranges, and the zone's offset changes (a range whose edge the clock jumps over
// changes there). A wall-clock time maps to an instant through each offset in
// effect around it, so a time the clock shows twice (when it goes back) gives both
// instants and a time it skips gives none.
func (c *Calendar) candidates(from, to time.Time) []time.Time {
	var out []time.Time
	add := func(u time.Time) {
		if u.After(from) && !u.After(to) {
			out = append(out, u)
		}
	}
	_, offset := from.In(c.loc).Zone()
	offsets := []int{offset}
	for x := from; ; {
		_, end := x.In(c.loc).ZoneBounds()
		if end.IsZero() || end.After(to) {
			break
		}
		add(end)
		if _, o := end.In(c.loc).Zone(); !slices.Contains(offsets, o) {
			offsets = append(offsets, o)
		}
		x = end
	}
	first := from.In(c.loc)
	day := time.Date(first.Year(), first.Month(), first.Day()-1, 0, 0, 0, 0, time.UTC)
	last := to.In(c.loc)
	end := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, time.UTC)
	for ; !day.After(end); day = day.AddDate(0, 0, 1) {
		edges := []int{0}
		for _, sp := range c.days[day.Weekday()] {
			edges = append(edges, sp.from)
			if sp.to < 24*3600 {
				edges = append(edges, sp.to)
			}
		}
		for _, e := range edges {
			wall := day.Add(time.Duration(e) * time.Second)
			for _, o := range offsets {
				u := wall.Add(-time.Duration(o) * time.Second)
				l := u.In(c.loc)
				if l.Year() == day.Year() && l.YearDay() == day.YearDay() && l.Hour()*3600+l.Minute()*60+l.Second() == e {
					add(u)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}
