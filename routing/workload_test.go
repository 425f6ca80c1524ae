package routing_test

import (
	"math"
	"testing"

	"switchboard/routing"
)

// occCap builds occupancy and capacity from (occupancy, capacity) pairs per
// channel; a zero capacity leaves the channel out.
func occCap(lm, lmCap, lc, lcCap, em, emCap int) (routing.Occupancy, routing.Capacity) {
	occ := routing.Occupancy{routing.LiveMessaging: lm, routing.LiveChat: lc, routing.Email: em}
	c := routing.Capacity{}
	if lmCap > 0 {
		c[routing.LiveMessaging] = lmCap
	}
	if lcCap > 0 {
		c[routing.LiveChat] = lcCap
	}
	if emCap > 0 {
		c[routing.Email] = emCap
	}
	return occ, c
}

func TestCombinedPercentage(t *testing.T) {
	tests := []struct {
		name                            string
		lm, lmCap, lc, lcCap, em, emCap int
		want                            int
		full                            bool
	}{
		// The reference's two worked examples: 33 + 20 + 30 and 33 + 20 + 40.
		{"reference 83%", 2, 6, 1, 5, 3, 10, 83, false},
		{"reference 93% after one more email", 2, 6, 1, 5, 4, 10, 93, true},
		{"exactly 90 is full", 0, 0, 0, 0, 9, 10, 90, true},
		{"exactly 90 across channels", 3, 5, 0, 5, 3, 10, 90, true},
		{"89.5 truncates to 89 and is not full", 4, 5, 2, 21, 0, 10, 89, false},
		{"89.9 is not full", 0, 0, 0, 0, 899, 1000, 89, false},
		{"thirds sum to exactly 100", 1, 3, 1, 3, 1, 3, 100, true},
		{"empty", 0, 5, 0, 5, 0, 10, 0, false},
		{"channel without capacity is skipped", 0, 5, 7, 0, 0, 10, 0, false},
		{"over capacity exceeds 100", 10, 5, 0, 5, 0, 10, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			occ, c := occCap(tt.lm, tt.lmCap, tt.lc, tt.lcCap, tt.em, tt.emCap)
			if got := routing.CombinedPercentage(occ, c); got != tt.want {
				t.Errorf("CombinedPercentage = %d, want %d", got, tt.want)
			}
			if got := routing.FullCapacity(occ, c); got != tt.full {
				t.Errorf("FullCapacity = %v, want %v", got, tt.full)
			}
			wantState := routing.StateUnderCapacity
			if tt.full {
				wantState = routing.StateFullCapacity
			}
			if got := routing.CapacityStateOf(occ, c); got != wantState {
				t.Errorf("CapacityStateOf = %q, want %q", got, wantState)
			}
		})
	}
}

func TestCombinedIgnoresVoice(t *testing.T) {
	occ := routing.Occupancy{routing.Voice: 1}
	if got := routing.CombinedPercentage(occ, routing.DefaultCapacity()); got != 0 {
		t.Fatalf("a call counted towards the combined figure: %d", got)
	}
}

func TestWorkload(t *testing.T) {
	lcOnly := func(capLC, occLC, capLM, occLM int) (routing.Occupancy, routing.Capacity) {
		return routing.Occupancy{routing.LiveChat: occLC, routing.LiveMessaging: occLM},
			routing.Capacity{routing.LiveChat: capLC, routing.LiveMessaging: capLM}
	}
	tests := []struct {
		name string
		occ  routing.Occupancy
		cap  routing.Capacity
		want float64
	}{
		// Reference table rows as capLC, occLC, capLM, occLM.
		{"reference agent 2", nil, nil, 35},
		{"reference agent 3 (printed as 48)", nil, nil, 47.5},
		// The reference's first row (10,5,20,4) prints workload 20, but its own
		// formula gives (50+20)/2 = 35; the scoring tests use 20 directly.
		{"reference agent 1 by the formula", nil, nil, 35},
		{"email counted when the agent has email capacity", routing.Occupancy{routing.Email: 5, routing.LiveChat: 1},
			routing.Capacity{routing.Email: 10, routing.LiveChat: 5, routing.LiveMessaging: 5}, (50.0 + 20 + 0) / 3},
		{"voice ignored", routing.Occupancy{routing.Voice: 1}, routing.Capacity{routing.Voice: 1, routing.LiveChat: 4}, 0},
		{"no messaging capacity", routing.Occupancy{}, routing.Capacity{routing.Voice: 1}, 0},
	}
	tests[0].occ, tests[0].cap = lcOnly(5, 1, 10, 5)
	tests[1].occ, tests[1].cap = lcOnly(20, 15, 5, 1)
	tests[2].occ, tests[2].cap = lcOnly(10, 5, 20, 4)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routing.Workload(tt.occ, tt.cap); !approx(got, tt.want, 1e-9) {
				t.Fatalf("Workload = %v, want %v", got, tt.want)
			}
		})
	}
	occ, c := lcOnly(20, 15, 5, 1)
	if got := math.Round(routing.Workload(occ, c)); got != 48 {
		t.Fatalf("rounded reference agent 3 = %v, want 48", got)
	}
}

func TestHasRoom(t *testing.T) {
	c := routing.Capacity{routing.Voice: 5, routing.LiveChat: 2, routing.Email: 0}
	tests := []struct {
		name string
		occ  routing.Occupancy
		ch   routing.Channel
		want bool
	}{
		{"room below capacity", routing.Occupancy{routing.LiveChat: 1}, routing.LiveChat, true},
		{"at capacity", routing.Occupancy{routing.LiveChat: 2}, routing.LiveChat, false},
		{"over capacity", routing.Occupancy{routing.LiveChat: 3}, routing.LiveChat, false},
		{"voice is one regardless of map", routing.Occupancy{routing.Voice: 1}, routing.Voice, false},
		{"voice free", routing.Occupancy{}, routing.Voice, true},
		{"zero capacity channel", routing.Occupancy{}, routing.Email, false},
		{"missing capacity is zero", routing.Occupancy{}, routing.LiveMessaging, false},
		{"unknown channel", routing.Occupancy{}, routing.Channel("fax"), false},
	}
	for _, tt := range tests {
		if got := routing.HasRoom(tt.occ, c, tt.ch); got != tt.want {
			t.Errorf("%s: HasRoom = %v, want %v", tt.name, got, tt.want)
		}
	}
}
