package routing_test

import (
	"errors"
	"testing"
	"time"

	"switchboard/routing"
)

// t0 is a fixed "now" so every test is reproducible.
var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

var available = routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable, System: true}

// agent returns an Available candidate in queue "sales" with skill "es",
// default capacity, no occupancy, last assigned unservedSec seconds before t0.
func agent(id string, unservedSec int) routing.Candidate {
	return routing.Candidate{
		AgentID:        id,
		Status:         available,
		Queues:         []string{"sales"},
		Skills:         []string{"es"},
		Capacity:       routing.DefaultCapacity(),
		Occupancy:      routing.Occupancy{},
		LastAssignedAt: t0.Add(-time.Duration(unservedSec) * time.Second),
	}
}

// wantField asserts err is a *routing.ValidationError for field (and, when
// msgPart is not empty, that its message mentions msgPart).
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var v *routing.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error = %v (%T), want *routing.ValidationError on %s", err, err, field)
	}
	if v.Field != field {
		t.Fatalf("field = %q, want %q (message %q)", v.Field, field, v.Message)
	}
}

func approx(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }
