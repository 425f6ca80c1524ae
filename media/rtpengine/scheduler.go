package rtpengine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Frame timing of every stream: 20 ms of 8 kHz audio, 160 samples.
const (
	Period       = 20 * time.Millisecond
	FrameSamples = 160
)

// The scheduler is a timer wheel: one turn is one Period, cut into slots (phases). A
// task has a phase and is ticked once per turn at its phase's time, so the streams'
// sends are spread evenly over the period instead of all falling due at once.
//
// The tasks of a phase are held in buckets of up to bucketSize, each ticked by a
// goroutine of its own sleeping on one timer: a few thousand streams make about a
// hundred goroutines and timers, not one per stream. Buckets rather than one driver
// goroutine keep pacing on a busy machine: when the operating system holds a thread
// off the CPU, only the bucket running on it waits, and Go's scheduler runs the
// other buckets (and fires their timers) on the threads that still run.
const (
	slotCount  = 20
	slotWidth  = Period / slotCount
	bucketSize = 16
)

// maxBehind is how late a bucket may run before it drops turns.
const maxBehind = 5 * Period

// task is what the scheduler ticks: a leg playing on its own, or a bridge sending on
// all its legs.
type task interface {
	tick(w *worker, due time.Time)
}

// worker is the state of one goroutine ticking tasks: scratch buffers for mixing, so
// ticks do not allocate, and the lateness histogram it counts into.
type worker struct {
	hist    *histogram
	scratch mixScratch
}

type scheduler struct {
	epoch time.Time

	mu     sync.Mutex // guards the fields below
	phases [slotCount][]*bucket
	counts [slotCount]int
	where  map[task]*bucket
	closed bool

	hist    histogram
	skipped atomic.Uint64 // turns buckets dropped because they fell maxBehind

	done chan struct{}
	wg   sync.WaitGroup
}

// bucket is up to bucketSize tasks of one phase and the goroutine ticking them.
type bucket struct {
	phase int
	n     int                    // tasks, under the scheduler's lock
	tasks atomic.Pointer[[]task] // copied on change, so the goroutine reads it without a lock
	stop  chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{
		epoch: time.Now().Truncate(Period),
		where: map[task]*bucket{},
		done:  make(chan struct{}),
	}
}

// add gives t the phase with the fewest tasks and returns that phase.
func (s *scheduler) add(t task) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for i, n := range s.counts {
		if n < s.counts[best] {
			best = i
		}
	}
	s.insert(t, best)
	return best
}

// addAt gives t the phase slot.
func (s *scheduler) addAt(t task, slot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(t, slot)
}

func (s *scheduler) insert(t task, phase int) {
	if s.closed {
		return
	}
	var b *bucket
	for _, c := range s.phases[phase] {
		if c.n < bucketSize {
			b = c
			break
		}
	}
	if b == nil {
		b = &bucket{phase: phase, stop: make(chan struct{})}
		b.tasks.Store(&[]task{})
		s.phases[phase] = append(s.phases[phase], b)
		s.wg.Add(1)
		go s.run(b)
	}
	old := *b.tasks.Load()
	list := make([]task, len(old), len(old)+1)
	copy(list, old)
	list = append(list, t)
	b.tasks.Store(&list)
	b.n++
	s.counts[phase]++
	s.where[t] = b
}

func (s *scheduler) remove(t task, _ int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.where[t]
	if b == nil {
		return
	}
	delete(s.where, t)
	old := *b.tasks.Load()
	list := make([]task, 0, len(old))
	for _, x := range old {
		if x != t {
			list = append(list, x)
		}
	}
	b.tasks.Store(&list)
	b.n--
	s.counts[b.phase]--
	if b.n == 0 {
		ps := s.phases[b.phase]
		for i, c := range ps {
			if c == b {
				s.phases[b.phase] = append(ps[:i:i], ps[i+1:]...)
				break
			}
		}
		close(b.stop)
	}
}

// run ticks a bucket's tasks at its phase of every turn.
func (s *scheduler) run(b *bucket) {
	defer s.wg.Done()
	w := &worker{hist: &s.hist}
	offset := time.Duration(b.phase) * slotWidth
	n := int64(time.Since(s.epoch)/Period) + 1
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ; ; n++ {
		due := s.epoch.Add(time.Duration(n)*Period + offset)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-b.stop:
				return
			case <-s.done:
				return
			}
		}
		select {
		case <-b.stop:
			return
		default:
		}
		// A bucket a little behind (a busy machine) catches up, sending late rather
		// than losing audio; one far behind (the process was stopped or starved)
		// drops the turns it missed rather than sending them in a burst, and the
		// streams' timestamps still advance with the clock.
		if behind := time.Since(due); behind > maxBehind {
			skip := int64(behind / Period)
			s.skipped.Add(uint64(skip))
			n += skip
			due = s.epoch.Add(time.Duration(n)*Period + offset)
		}
		for _, t := range *b.tasks.Load() {
			t.tick(w, due)
		}
	}
}

// close stops every bucket and waits for them.
func (s *scheduler) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
}
