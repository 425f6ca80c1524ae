package sla_test

import (
	"testing"
	"time"

	"switchboard/sla"
)

// BenchmarkEvaluate recalculates a long conversation (a month, 400 events: messages,
// replies and solve/reopen cycles) under office working hours, as a recalculation
// after a policy change or a queue transfer would.
func BenchmarkEvaluate(b *testing.B) {
	cal := office(b)
	cfg := sla.Config{Severity: severity(30, 20, 24*60, sla.WorkingHours), Calendar: cal}
	var history []sla.Event
	u := at("2026-06-01T06:00:00Z")
	for i := range 100 {
		history = append(history, cust(u), reply(u.Add(10*time.Minute)), status(u.Add(20*time.Minute), sla.Solved))
		if i%2 == 0 {
			history = append(history, status(u.Add(2*time.Hour), sla.Open))
		}
		u = u.Add(7 * time.Hour)
	}
	end := u.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sla.Evaluate(cfg, history, end); err != nil {
			b.Fatal(err)
		}
	}
}
