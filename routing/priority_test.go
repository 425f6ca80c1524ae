package routing_test

import (
	"encoding/json"
	"testing"

	"switchboard/routing"
)

func TestPriorityOrderAndJSON(t *testing.T) {
	order := []routing.Priority{routing.PriorityLow, routing.PriorityNormal, routing.PriorityHigh, routing.PriorityUrgent}
	names := []string{"low", "normal", "high", "urgent"}
	for i, p := range order {
		if i > 0 && !(order[i-1] < p) {
			t.Errorf("%v should rank below %v", order[i-1], p)
		}
		b, err := json.Marshal(p)
		if err != nil || string(b) != `"`+names[i]+`"` {
			t.Errorf("Marshal(%v) = %s, %v", p, b, err)
		}
		var back routing.Priority
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("round trip %v = %v, %v", p, back, err)
		}
	}
	var zero routing.Priority
	if zero != routing.PriorityNormal {
		t.Error("zero priority should be normal")
	}
	var p routing.Priority
	if err := json.Unmarshal([]byte(`"critical"`), &p); err == nil {
		t.Error("unknown priority accepted")
	}
	if _, err := json.Marshal(routing.Priority(7)); err == nil {
		t.Error("out-of-range priority marshalled")
	}
}
