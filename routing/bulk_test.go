package routing_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"switchboard/routing"
)

func waiting(id string, ch routing.Channel, p routing.Priority, ageSec int) routing.Waiting {
	return routing.Waiting{ID: id, QueueID: "sales", Channel: ch, Priority: p, CreatedAt: t0.Add(-time.Duration(ageSec) * time.Second)}
}

func ids(ws []routing.Waiting) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func TestOrderWaiting(t *testing.T) {
	in := []routing.Waiting{
		waiting("normal-old", routing.LiveChat, routing.PriorityNormal, 500),
		waiting("low-oldest", routing.LiveChat, routing.PriorityLow, 9_000),
		waiting("urgent-new", routing.LiveChat, routing.PriorityUrgent, 1),
		waiting("high-b", routing.LiveChat, routing.PriorityHigh, 100),
		waiting("high-a", routing.LiveChat, routing.PriorityHigh, 100),
		waiting("normal-new", routing.LiveChat, routing.PriorityNormal, 5),
		waiting("high-old", routing.LiveChat, routing.PriorityHigh, 200),
	}
	orig := slices.Clone(in)
	want := []string{"urgent-new", "high-old", "high-a", "high-b", "normal-old", "normal-new", "low-oldest"}
	if got := ids(routing.OrderWaiting(in)); !reflect.DeepEqual(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Fatal("OrderWaiting modified its input")
	}
	slices.Reverse(in)
	if got := ids(routing.OrderWaiting(in)); !reflect.DeepEqual(got, want) {
		t.Fatalf("order depends on input order: %v", got)
	}
}

func TestBulkAssign(t *testing.T) {
	lc, lm, em, v := routing.LiveChat, routing.LiveMessaging, routing.Email, routing.Voice
	base := func() routing.Candidate {
		a := agent("a", 10)
		a.Capacity = routing.Capacity{v: 1, lc: 2, lm: 1, em: 0}
		return a
	}
	tests := []struct {
		name    string
		agent   func() routing.Candidate
		waiting []routing.Waiting
		want    []string
	}{
		{"fills each channel in priority then age order", base, []routing.Waiting{
			waiting("c1", lc, routing.PriorityNormal, 100),
			waiting("c2", lc, routing.PriorityUrgent, 1),
			waiting("c3", lc, routing.PriorityNormal, 200),
			waiting("m1", lm, routing.PriorityLow, 900),
			waiting("m2", lm, routing.PriorityHigh, 10),
		}, []string{"c2", "m2", "c3"}},
		{"a full channel does not block another", base, []routing.Waiting{
			waiting("e1", em, routing.PriorityUrgent, 10),
			waiting("c1", lc, routing.PriorityLow, 10),
		}, []string{"c1"}},
		{"existing occupancy counts", func() routing.Candidate {
			a := base()
			a.Occupancy = routing.Occupancy{lc: 1, lm: 1}
			return a
		}, []routing.Waiting{
			waiting("c1", lc, routing.PriorityNormal, 10),
			waiting("c2", lc, routing.PriorityNormal, 5),
			waiting("m1", lm, routing.PriorityNormal, 10),
		}, []string{"c1"}},
		{"one call at most", base, []routing.Waiting{
			waiting("v1", v, routing.PriorityNormal, 10),
			waiting("v2", v, routing.PriorityNormal, 5),
		}, []string{"v1"}},
		{"queue membership, default queue, skills, exclusions, deferral", base, []routing.Waiting{
			{ID: "other-queue", QueueID: "billing", Channel: lc, CreatedAt: t0.Add(-time.Hour)},
			{ID: "needs-de", QueueID: "sales", Channel: lc, CreatedAt: t0.Add(-time.Hour), RequiredSkills: []string{"de"}},
			{ID: "had-it", QueueID: "sales", Channel: lc, CreatedAt: t0.Add(-time.Hour), ExcludedAgents: []string{"x", "a"}},
			{ID: "snoozed", QueueID: "sales", Channel: lc, CreatedAt: t0.Add(-time.Hour), NotBefore: t0.Add(time.Minute)},
			{ID: "due-now", QueueID: "sales", Channel: lc, CreatedAt: t0.Add(-30 * time.Minute), NotBefore: t0},
			{ID: "default", QueueID: routing.DefaultQueue, Channel: lc, CreatedAt: t0.Add(-time.Minute), RequiredSkills: []string{"es"}},
		}, []string{"due-now", "default"}},
		{"duplicate ids taken once", base, []routing.Waiting{
			waiting("c1", lc, routing.PriorityNormal, 10),
			waiting("c1", lc, routing.PriorityNormal, 10),
		}, []string{"c1"}},
		{"not available gets nothing", func() routing.Candidate {
			a := base()
			a.Status = routing.Status{Name: "Busy", Group: routing.GroupBusy}
			return a
		}, []routing.Waiting{waiting("c1", lc, routing.PriorityNormal, 10)}, nil},
		{"already full gets nothing", func() routing.Candidate {
			a := base()
			a.Occupancy = routing.Occupancy{v: 1, lc: 2, lm: 1}
			return a
		}, []routing.Waiting{waiting("c1", lc, routing.PriorityNormal, 10)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.agent()
			occBefore := copyOcc(a.Occupancy)
			got := routing.BulkAssign(a, tt.waiting, t0)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("BulkAssign = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(copyOcc(a.Occupancy), occBefore) {
				t.Fatal("BulkAssign modified the agent's occupancy")
			}
		})
	}
}

func copyOcc(o routing.Occupancy) map[routing.Channel]int {
	out := map[routing.Channel]int{}
	for k, v := range o {
		out[k] = v
	}
	return out
}

func TestOnQueueChange(t *testing.T) {
	tests := []struct {
		queues []string
		to     string
		keep   bool
	}{
		{[]string{"sales", "billing"}, "billing", true},
		{[]string{"sales"}, "billing", false},
		{nil, routing.DefaultQueue, true},
		{[]string{"sales"}, routing.DefaultQueue, true},
		{nil, "sales", false},
	}
	for _, tt := range tests {
		if got := routing.OnQueueChange(tt.queues, tt.to); got != tt.keep {
			t.Errorf("OnQueueChange(%v, %q) = %v, want %v", tt.queues, tt.to, got, tt.keep)
		}
	}
}
