// Package sla is the service-level agreement of conversations: policies (which
// conversations they apply to, first match in list order) and the clocks of a
// policy's severity (first response, next reply and total resolution), computed
// from a conversation's event history. It is pure: the same input always gives
// the same answer, which lets workflows use it.
package sla

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"switchboard/routing"
)

// Counting says when a severity's clocks run.
type Counting string

// Countings.
const (
	// Always counts around the clock.
	Always Counting = "always"
	// WorkingHours counts only while the conversation's queue is within its
	// working hours; outside them every clock of the severity is on hold.
	WorkingHours Counting = "workingHours"
)

// Valid reports whether c is a known counting.
func (c Counting) Valid() bool { return c == Always || c == WorkingHours }

// Limits of a policy.
const (
	// MaxMinutes bounds one metric: a year.
	MaxMinutes = 366 * 24 * 60
	// MaxSeverities bounds a policy's severities.
	MaxSeverities = 50
	// MaxNameLength bounds policy and severity names.
	MaxNameLength = 200
	// MaxQueues bounds a policy's queue list.
	MaxQueues = 500
)

// Severity is a level of a policy with its targets; 0 means the metric is not
// tracked at this severity, and at least one is set. A target is given in
// minutes, or in seconds (for a target that is not whole minutes), never both.
type Severity struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Default marks the severity every conversation matching the policy starts
	// with; a policy has exactly one.
	Default              bool `json:"default"`
	FirstResponseMinutes int  `json:"firstResponseMinutes"`
	NextReplyMinutes     int  `json:"nextReplyMinutes"`
	ResolutionMinutes    int  `json:"resolutionMinutes"`
	// The same targets in seconds, used when the minutes are 0.
	FirstResponseSeconds int      `json:"firstResponseSeconds,omitempty"`
	NextReplySeconds     int      `json:"nextReplySeconds,omitempty"`
	ResolutionSeconds    int      `json:"resolutionSeconds,omitempty"`
	Counting             Counting `json:"counting"`
}

// Target is the metric's target time; 0 when it is not tracked.
func (s Severity) Target(m Metric) time.Duration {
	min, sec := s.target(m)
	if min > 0 {
		return time.Duration(min) * time.Minute
	}
	return time.Duration(sec) * time.Second
}

// target is the metric's target as given: minutes and seconds.
func (s Severity) target(m Metric) (minutes, seconds int) {
	switch m {
	case FirstResponse:
		return s.FirstResponseMinutes, s.FirstResponseSeconds
	case NextReply:
		return s.NextReplyMinutes, s.NextReplySeconds
	case Resolution:
		return s.ResolutionMinutes, s.ResolutionSeconds
	}
	return 0, 0
}

// Validate checks one severity; field names are relative to it.
func (s Severity) Validate() error {
	if strings.TrimSpace(s.Name) == "" || utf8.RuneCountInString(s.Name) > MaxNameLength {
		return invalid("name", "is required and at most %d characters", MaxNameLength)
	}
	tracked := false
	for _, m := range Metrics {
		min, sec := s.target(m)
		if min < 0 || min > MaxMinutes {
			return invalid(string(m)+"Minutes", "must be between 0 (not tracked) and %d minutes", MaxMinutes)
		}
		if sec < 0 || sec > MaxMinutes*60 {
			return invalid(string(m)+"Seconds", "must be between 0 (not tracked) and %d seconds", MaxMinutes*60)
		}
		if min > 0 && sec > 0 {
			return invalid(string(m)+"Seconds", "give the target in minutes or in seconds, not both")
		}
		tracked = tracked || min > 0 || sec > 0
	}
	if !tracked {
		return invalid("firstResponseMinutes", "set at least one of firstResponseMinutes, nextReplyMinutes and resolutionMinutes (or their seconds)")
	}
	if !s.Counting.Valid() {
		return invalid("counting", "must be %q or %q, got %q", Always, WorkingHours, s.Counting)
	}
	return nil
}

// QueueMode says how a policy treats the conversation's queue.
type QueueMode string

// Queue modes.
const (
	// AnyQueue applies the policy whatever the queue.
	AnyQueue QueueMode = "any"
	// AppliedQueues applies it only to conversations in the listed queues.
	AppliedQueues QueueMode = "applied"
	// IgnoredQueues applies it to conversations in every queue but the listed ones.
	IgnoredQueues QueueMode = "ignored"
)

// Queues is a policy's queue scope.
type Queues struct {
	Mode     QueueMode `json:"mode"`
	QueueIDs []string  `json:"queueIds"`
}

// Validate checks the scope; field names are relative to it.
func (q Queues) Validate() error {
	switch q.Mode {
	case AnyQueue:
		if len(q.QueueIDs) > 0 {
			return invalid("queueIds", "must be empty when mode is %q", AnyQueue)
		}
		return nil
	case AppliedQueues, IgnoredQueues:
	default:
		return invalid("mode", "must be %q, %q or %q, got %q", AnyQueue, AppliedQueues, IgnoredQueues, q.Mode)
	}
	if len(q.QueueIDs) == 0 || len(q.QueueIDs) > MaxQueues {
		return invalid("queueIds", "mode %q needs 1 to %d queue IDs", q.Mode, MaxQueues)
	}
	for i, id := range q.QueueIDs {
		if strings.TrimSpace(id) == "" {
			return invalid(fmt.Sprintf("queueIds[%d]", i), "queue ID is required")
		}
		if slices.Contains(q.QueueIDs[:i], id) {
			return invalid(fmt.Sprintf("queueIds[%d]", i), "queue %s is listed twice", id)
		}
	}
	return nil
}

func (q Queues) covers(queueID string) bool {
	switch q.Mode {
	case AppliedQueues:
		return slices.Contains(q.QueueIDs, queueID)
	case IgnoredQueues:
		return !slices.Contains(q.QueueIDs, queueID)
	}
	return true
}

// Policy is an SLA policy as matching sees it.
type Policy struct {
	ID      string `json:"id"`
	Enabled bool   `json:"enabled"`
	// ValidFrom (inclusive) and ValidTo (exclusive) bound when the policy
	// applies; nil is unbounded.
	ValidFrom        *time.Time        `json:"validFrom"`
	ValidTo          *time.Time        `json:"validTo"`
	Condition        routing.Condition `json:"condition"`
	Queues           Queues            `json:"queues"`
	Severities       []Severity        `json:"severities"`
	ExcludeAutomated bool              `json:"excludeAutomated"`
}

// Validate checks the policy's rules (names are checked by the store). Field
// names are the API's: "condition.any[0].attr", "severities[1].counting".
func (p Policy) Validate() error {
	if p.ValidFrom != nil && p.ValidTo != nil && !p.ValidTo.After(*p.ValidFrom) {
		return invalid("validTo", "must be after validFrom")
	}
	if err := p.Condition.Validate(); err != nil {
		return fromRouting("condition", err)
	}
	if err := p.Queues.Validate(); err != nil {
		return prefixed("queues", err)
	}
	if len(p.Severities) == 0 || len(p.Severities) > MaxSeverities {
		return invalid("severities", "a policy has 1 to %d severities, one of them the default", MaxSeverities)
	}
	defaults := 0
	for i, s := range p.Severities {
		field := fmt.Sprintf("severities[%d]", i)
		if err := s.Validate(); err != nil {
			return prefixed(field, err)
		}
		for _, o := range p.Severities[:i] {
			if strings.EqualFold(strings.TrimSpace(o.Name), strings.TrimSpace(s.Name)) {
				return invalid(field+".name", "severity %q is named twice", s.Name)
			}
		}
		if s.Default {
			defaults++
		}
	}
	if defaults != 1 {
		return invalid("severities", "exactly one severity must be the default, found %d", defaults)
	}
	return nil
}

// DefaultSeverity is the severity a conversation matching the policy starts with.
func (p Policy) DefaultSeverity() Severity {
	for _, s := range p.Severities {
		if s.Default {
			return s
		}
	}
	return Severity{}
}

// ValidAt reports whether the policy is enabled and within its validity period at t.
func (p Policy) ValidAt(t time.Time) bool {
	if !p.Enabled {
		return false
	}
	if p.ValidFrom != nil && t.Before(*p.ValidFrom) {
		return false
	}
	return p.ValidTo == nil || t.Before(*p.ValidTo)
}

// Conversation is what matching knows of a conversation.
type Conversation struct {
	Facts   routing.Facts
	QueueID string
	// At is the instant the match is for, tested against validity periods.
	At time.Time
}

// Match returns the first policy in list order that applies to c: enabled,
// valid at c.At, covering c's queue, and whose condition c's facts satisfy.
func Match(policies []Policy, c Conversation) (Policy, bool) {
	for _, p := range policies {
		if p.ValidAt(c.At) && p.Queues.covers(c.QueueID) && p.Condition.Matches(c.Facts) {
			return p, true
		}
	}
	return Policy{}, false
}

// ValidationError names the field that is wrong and why.
type ValidationError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error formats the error as "field: message".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func prefixed(prefix string, err error) error {
	if v, ok := err.(*ValidationError); ok {
		out := *v
		if out.Field == "" {
			out.Field = prefix
		} else {
			out.Field = prefix + "." + out.Field
		}
		return &out
	}
	return err
}

func fromRouting(prefix string, err error) error {
	if v, ok := err.(*routing.ValidationError); ok {
		return prefixed(prefix, &ValidationError{Field: v.Field, Message: v.Message})
	}
	return err
}
