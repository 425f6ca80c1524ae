package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// registerSnooze adds the snooze of digital conversations: agents snooze and
// unsnooze what they hold, supervisors and admins any of their tenant's.
func (s *Server) registerSnooze(v1 *echo.Group) {
	actors := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/interactions/:id/snooze", s.snoozeInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/unsnooze", s.unsnoozeInteraction, s.authenticate, actors)
}

// snoozeRequest is the body of a snooze: until (an RFC 3339 date-time with its
// offset) or for (an ISO 8601 duration from now), exactly one of them.
type snoozeRequest struct {
	Until string `json:"until"`
	For   string `json:"for"`
}

// snoozeUntil is when a snooze ends, checked against now: in the future and at most
// workflows.MaxSnooze ahead.
func (r snoozeRequest) snoozeUntil(now time.Time) (time.Time, error) {
	until, dur := strings.TrimSpace(r.Until), strings.TrimSpace(r.For)
	days := int(workflows.MaxSnooze / (24 * time.Hour))
	switch {
	case until != "" && dur != "":
		return time.Time{}, invalidField("for", "give either until or for, not both")
	case until == "" && dur == "":
		return time.Time{}, invalidField("until", `is required: when the conversation opens again, as until ("2026-11-21T15:30:00+01:00") or for ("PT2H", "P3D")`)
	case dur != "":
		d, ok := parseISODuration(dur)
		switch {
		case !ok:
			return time.Time{}, invalidField("for", `must be an ISO 8601 duration in weeks, days, hours, minutes or seconds ("PT30M", "P1DT2H")`)
		case d <= 0:
			return time.Time{}, invalidField("for", "must be more than zero")
		case d > workflows.MaxSnooze:
			return time.Time{}, invalidField("for", fmt.Sprintf("must be at most %d days", days))
		}
		return now.Add(d).UTC().Truncate(time.Millisecond), nil
	}
	t, err := time.Parse(time.RFC3339Nano, until)
	// Milliseconds: the time reads back the same from the read model.
	t = t.UTC().Truncate(time.Millisecond)
	switch {
	case err != nil:
		return time.Time{}, invalidField("until", "must be an RFC 3339 date-time with its offset, such as 2026-11-21T15:30:00+01:00 or 2026-11-21T14:30:00Z")
	case !t.After(now):
		return time.Time{}, invalidField("until", "must be in the future")
	case t.After(now.Add(workflows.MaxSnooze)):
		return time.Time{}, invalidField("until", fmt.Sprintf("must be at most %d days ahead", days))
	}
	return t, nil
}

func (s *Server) snoozeInteraction(c echo.Context) error {
	var in snoozeRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	until, err := in.snoozeUntil(time.Now())
	if err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.SnoozeUpdate, workflows.SnoozeInput{Actor: actingAs(c), Until: until})
}

func (s *Server) unsnoozeInteraction(c echo.Context) error {
	return s.updateInteraction(c, workflows.UnsnoozeUpdate, workflows.UnsnoozeInput{Actor: actingAs(c)})
}
