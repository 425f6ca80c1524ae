package rtpengine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Frame timing of every stream: 20 ms of 8 kHz audio, 160 samples.
const (
	Period       = 20 * time.Millisecond
	FrameSamples = 160
)

// The scheduler's wheel: one turn is one Period, cut into slots. A task lives in one
// slot and is ticked once per turn at the slot's time, so the streams' sends are
// spread evenly over the period instead of all falling due at once.
const (
	slotCount = 20
	slotWidth = Period / slotCount
)

// task is what the scheduler ticks: a leg playing on its own, or a bridge sending on
// all its legs. A task is ticked by one goroutine at a time.
type task interface {
	tick(w *worker, due time.Time)
}

// worker is the state of one goroutine ticking tasks: scratch buffers for mixing and
// its share of the lateness histogram, so ticks neither allocate nor contend.
type worker struct {
	hist    *histogram
	scratch mixScratch
}

// scheduler ticks every task of the engine from one goroutine driving a timer wheel;
// a slot's tasks are shared with helper goroutines (one per spare CPU) when there are
// enough of them to be worth waking a helper.
type scheduler struct {
	epoch time.Time

	mu     sync.Mutex // guards changes to slots and counts
	slots  [slotCount]atomic.Pointer[[]task]
	counts [slotCount]int

	hist    histogram
	skipped atomic.Uint64 // slot turns dropped because the scheduler fell a period behind

	helpers []chan *slotJob
	done    chan struct{}
	stopped chan struct{}
	stop    sync.Once
}

// slotJob is one slot's tasks shared between the driver and its helpers: each takes
// the next batch of tasks until none are left. The driver does not wait for the
// helpers: on a busy machine a helper's thread may be held off the CPU, and the
// driver then takes the rest of the work and goes on to the next slot on time.
type slotJob struct {
	tasks []task
	due   time.Time
	next  atomic.Int64
}

// shareThreshold is how many tasks a slot must hold before helpers are woken: below
// it the driver alone is faster than the hand-off.
const (
	shareThreshold = 16
	batch          = 8
)

// maxBehind is how late the scheduler may run before it drops turns.
const maxBehind = 5 * Period

func newScheduler(workers int) *scheduler {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s := &scheduler{
		epoch:   time.Now().Truncate(slotWidth).Add(slotWidth),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	for i := range s.slots {
		s.slots[i].Store(&[]task{})
	}
	driver := &worker{hist: &s.hist}
	for range workers - 1 {
		ch := make(chan *slotJob, 4)
		s.helpers = append(s.helpers, ch)
		go s.help(ch, &worker{hist: &s.hist})
	}
	go s.run(driver)
	return s
}

// add puts t in the slot with the fewest tasks and returns that slot.
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

// addAt puts t in the given slot.
func (s *scheduler) addAt(t task, slot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(t, slot)
}

// insert and remove copy the slot's list, so the driver reads it without a lock.
func (s *scheduler) insert(t task, slot int) {
	old := *s.slots[slot].Load()
	list := make([]task, len(old), len(old)+1)
	copy(list, old)
	list = append(list, t)
	s.slots[slot].Store(&list)
	s.counts[slot]++
}

func (s *scheduler) remove(t task, slot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.slots[slot].Load()
	for i, x := range old {
		if x == t {
			list := make([]task, 0, len(old)-1)
			list = append(append(list, old[:i]...), old[i+1:]...)
			s.slots[slot].Store(&list)
			s.counts[slot]--
			return
		}
	}
}

func (s *scheduler) run(w *worker) {
	defer close(s.stopped)
	defer func() {
		for _, h := range s.helpers {
			close(h)
		}
	}()
	timer := time.NewTimer(time.Until(s.epoch))
	defer timer.Stop()
	for n := int64(0); ; n++ {
		due := s.epoch.Add(time.Duration(n) * slotWidth)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-s.done:
				return
			}
		} else {
			select {
			case <-s.done:
				return
			default:
			}
		}
		// A scheduler a little behind (a busy machine) catches up, sending late rather
		// than losing audio; one far behind (the process was stopped or starved) drops
		// the turns it missed rather than sending them in a burst, and the streams'
		// timestamps still advance with the clock.
		if behind := time.Since(due); behind > maxBehind {
			skip := int64(behind / slotWidth)
			s.skipped.Add(uint64(skip))
			n += skip
			due = s.epoch.Add(time.Duration(n) * slotWidth)
		}
		tasks := *s.slots[n%slotCount].Load()
		if len(tasks) < shareThreshold || len(s.helpers) == 0 {
			for _, t := range tasks {
				t.tick(w, due)
			}
			continue
		}
		job := &slotJob{tasks: tasks, due: due}
		for _, h := range s.helpers {
			select {
			case h <- job:
			default: // the helper is behind; it is not waited for
			}
		}
		job.work(w)
	}
}

// help runs until the driver closes jobs on its way out.
func (s *scheduler) help(jobs chan *slotJob, w *worker) {
	for job := range jobs {
		job.work(w)
	}
}

func (j *slotJob) work(w *worker) {
	for {
		end := int(j.next.Add(batch))
		start := end - batch
		if start >= len(j.tasks) {
			return
		}
		for _, t := range j.tasks[start:min(end, len(j.tasks))] {
			t.tick(w, j.due)
		}
	}
}

func (s *scheduler) close() {
	s.stop.Do(func() { close(s.done) })
	<-s.stopped
}
