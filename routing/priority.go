package routing

import "fmt"

// Priority orders waiting interactions; a larger value is served first. The
// zero value is Normal so that a route or interaction that does not say
// otherwise gets the ordinary priority.
type Priority int

// The four priorities, in increasing urgency.
const (
	PriorityLow    Priority = -1
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
	PriorityUrgent Priority = 2
)

// Valid reports whether p is one of the four priorities.
func (p Priority) Valid() bool { return p >= PriorityLow && p <= PriorityUrgent }

// String returns the API name of p.
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityUrgent:
		return "urgent"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ParsePriority reads an API priority name.
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "low":
		return PriorityLow, nil
	case "normal", "":
		return PriorityNormal, nil
	case "high":
		return PriorityHigh, nil
	case "urgent":
		return PriorityUrgent, nil
	}
	return 0, fmt.Errorf("unknown priority %q (want low, normal, high or urgent)", s)
}

// MarshalText writes the name, so JSON carries "high" rather than 1 and the
// numeric encoding stays free to change.
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("invalid priority %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads a priority name.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
