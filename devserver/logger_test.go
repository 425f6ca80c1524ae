package devserver

import (
	"sync/atomic"
	"testing"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// recorder is a log.Logger that notes which level each message went to.
type recorder struct {
	log.Logger
	calls []string
}

func (r *recorder) Error(msg string, _ ...tag.Tag) { r.calls = append(r.calls, "error: "+msg) }
func (r *recorder) Fatal(msg string, _ ...tag.Tag) { r.calls = append(r.calls, "fatal: "+msg) }

// A fatal message ends the process only while the server is not being stopped.
func TestStopSafeLoggerFatal(t *testing.T) {
	rec := &recorder{Logger: log.NewNoopLogger()}
	stopping := &atomic.Bool{}
	l := stopSafeLogger{Logger: rec, stopping: stopping}
	l.Fatal("failed to start ringpop")
	stopping.Store(true)
	// The goroutine that logs the fatal message ends there; others go on.
	ended := make(chan bool)
	go func() {
		defer func() { ended <- true }()
		log.With(l, tag.NewStringTag("service", "matching")).Fatal("failed to start ringpop")
		rec.calls = append(rec.calls, "went on after a fatal message")
	}()
	<-ended
	want := []string{"fatal: failed to start ringpop", "error: while stopping: failed to start ringpop"}
	if len(rec.calls) != 2 || rec.calls[0] != want[0] || rec.calls[1] != want[1] {
		t.Fatalf("calls %q, want %q", rec.calls, want)
	}
}
