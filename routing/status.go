package routing

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// StatusGroup is the class of an agent status; the group, not the status
// name, decides what work the agent may receive, so tenants can invent
// statuses without touching routing.
type StatusGroup string

// The four status groups.
const (
	GroupAvailable   StatusGroup = "available"
	GroupBusy        StatusGroup = "busy"
	GroupAway        StatusGroup = "away"
	GroupUnavailable StatusGroup = "unavailable"
)

// Valid reports whether g is one of the four groups.
func (g StatusGroup) Valid() bool {
	switch g {
	case GroupAvailable, GroupBusy, GroupAway, GroupUnavailable:
		return true
	}
	return false
}

// ReceivesNew reports whether agents in g are candidates for new interactions
// through automatic assignment; only the Available group is.
func (g StatusGroup) ReceivesNew() bool { return g == GroupAvailable }

// ReceivesTransfers reports whether agents in g may be handed an interaction
// by a colleague: a busy or away agent may still pick up a deliberate
// hand-over, only a signed-out agent cannot.
func (g StatusGroup) ReceivesTransfers() bool {
	return g == GroupAvailable || g == GroupBusy || g == GroupAway
}

// Status is a named agent status belonging to a group.
type Status struct {
	Name  string      `json:"name"`
	Group StatusGroup `json:"group"`
	// System marks the predefined statuses, which tenants cannot rename or
	// delete because presence automation (sign-in, sign-out) sets them.
	System bool `json:"system,omitempty"`
}

// Names of the predefined statuses.
const (
	StatusAvailable = "Available"
	StatusBusy      = "Busy"
	StatusAway      = "Away"
	StatusOffline   = "Offline"
)

// MaxStatusNameLength bounds custom status names so they fit agent desktops.
const MaxStatusNameLength = 64

// DefaultStatuses returns the predefined statuses, one per group, in group
// order. A fresh slice each call keeps the package free of shared state.
func DefaultStatuses() []Status {
	return []Status{
		{Name: StatusAvailable, Group: GroupAvailable, System: true},
		{Name: StatusBusy, Group: GroupBusy, System: true},
		{Name: StatusAway, Group: GroupAway, System: true},
		{Name: StatusOffline, Group: GroupUnavailable, System: true},
	}
}

// DefaultBreakReasons returns the break statuses a new tenant starts with.
// Breaks are Away-group statuses: the agent keeps transfers but gets no new
// work. They are ordinary custom statuses, so a tenant may rename or drop them.
func DefaultBreakReasons() []Status {
	return []Status{
		{Name: "Lunch", Group: GroupAway},
		{Name: "Training", Group: GroupAway},
	}
}

// Validate checks one custom status on its own (name and group).
func (s Status) Validate() error {
	name := strings.TrimSpace(s.Name)
	switch {
	case name == "":
		return invalid("name", "a status needs a name")
	case name != s.Name:
		return invalid("name", "status name must not start or end with spaces")
	case utf8.RuneCountInString(name) > MaxStatusNameLength:
		return invalid("name", "status name must be at most %d characters", MaxStatusNameLength)
	case !s.Group.Valid():
		return invalid("group", "unknown status group %q (want available, busy, away or unavailable)", s.Group)
	case s.System:
		return invalid("system", "custom statuses cannot be marked as system statuses")
	}
	return nil
}

// StatusCatalog is a tenant's full list of statuses: the predefined ones
// followed by its custom statuses in the order the tenant gave them.
type StatusCatalog []Status

// NewStatusCatalog validates the tenant's custom statuses (break reasons
// included) and returns them after the predefined ones. Names must be unique
// within the tenant ignoring case, predefined names included, because agents
// pick statuses by name and "lunch" next to "Lunch" would be ambiguous.
// Errors carry a field path such as "statuses[1].name".
func NewStatusCatalog(custom []Status) (StatusCatalog, error) {
	out := StatusCatalog(DefaultStatuses())
	for i, s := range custom {
		field := fmt.Sprintf("statuses[%d]", i)
		if err := s.Validate(); err != nil {
			return nil, prefixed(field, err)
		}
		if prev, ok := out.Find(s.Name); ok {
			return nil, invalid(field+".name", "status name %q is already used by %q", s.Name, prev.Name)
		}
		out = append(out, s)
	}
	return out, nil
}

// Find looks a status up by name, ignoring case.
func (c StatusCatalog) Find(name string) (Status, bool) {
	for _, s := range c {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Status{}, false
}

// VoiceState is where an agent is in the life of a call; it sits beside the
// status rather than replacing it, so the chosen status survives the call.
type VoiceState string

// The voice sub-states; the empty value means no call in progress.
const (
	VoiceIdle     VoiceState = ""
	VoiceRinging  VoiceState = "ringing"
	VoiceInCall   VoiceState = "in_call"
	VoiceWrapping VoiceState = "wrapping"
)

// Valid reports whether v is a known voice sub-state.
func (v VoiceState) Valid() bool {
	switch v {
	case VoiceIdle, VoiceRinging, VoiceInCall, VoiceWrapping:
		return true
	}
	return false
}

// OccupiesVoice reports whether the state holds the agent's single voice slot even
// without a slot in presence (a call in progress). Ringing does not: the ringing
// offer holds its reservation, and a ringing state that outlived it (the offer rang
// out while its run was held up) must not keep calls away from the agent. Wrap-up
// does not either, so the agent can take the next call while finishing notes.
func (v VoiceState) OccupiesVoice() bool { return v == VoiceInCall }
