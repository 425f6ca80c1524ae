package rtpengine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"switchboard/media/g711"
)

// Role is how a leg takes part in a bridge.
type Role uint8

// The roles of a bridge's legs.
const (
	// Party hears every other party and is heard by all (the caller, the agent, the
	// third party of a conference, a supervisor who barges in).
	Party Role = iota
	// Listener hears the parties and is heard by nobody (a supervisor listening).
	Listener
	// Whisperer hears the parties and is heard only by its target (a supervisor
	// coaching the agent without the caller hearing).
	Whisperer
)

func (r Role) String() string {
	switch r {
	case Listener:
		return "listener"
	case Whisperer:
		return "whisperer"
	}
	return "party"
}

// Bridge connects legs: each hears what its role and the others' allow, mixed when
// several speak, transcoded between PCMU and PCMA as needed. Two parties are the B2BUA
// call of a caller and an agent; more make a conference. The bridge sends on all its
// legs from one scheduler task, in the slot of the first leg put in it, so what every
// leg hears is cut from the same 20 ms of everyone's audio and a recording's
// channels stay aligned.
type Bridge struct {
	e *Engine

	mu        sync.Mutex
	members   []*member
	slot      int
	scheduled bool
	rec       *Recording
	recCaller *Leg
	closed    bool
	fwdDTMF   bool
	lastDue   time.Time // of the last tick
}

type member struct {
	leg    *Leg
	role   Role
	target *Leg // a whisperer's listener
	muted  bool
	hold   *Playback // the music a held leg hears; nil when not held
}

// NewBridge makes an empty bridge.
func (e *Engine) NewBridge() *Bridge {
	return &Bridge{e: e}
}

func (b *Bridge) lock()   { b.mu.Lock() }
func (b *Bridge) unlock() { b.mu.Unlock() }

// Errors of bridge operations.
var (
	ErrInOtherBridge = errors.New("rtpengine: leg is in another bridge")
	ErrNotInBridge   = errors.New("rtpengine: leg is not in this bridge")
)

// Add puts a leg in the bridge as a Party. Its own playlist ends and what it had
// queued from its peer is dropped, so nothing stale is relayed.
func (b *Bridge) Add(l *Leg) error { return b.Join(l, Party, nil) }

// Join puts a leg in the bridge with a role; a Whisperer's target is the leg that
// hears it (the agent), which must be in the bridge. A leg already in the bridge
// takes the new role.
func (b *Bridge) Join(l *Leg, role Role, target *Leg) error {
	b.lock()
	defer b.unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.checkRole(l, role, target); err != nil {
		return err
	}
	if m := b.find(l); m != nil {
		m.role, m.target = role, target
		return nil
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case l.bridge != nil:
		l.mu.Unlock()
		return ErrInOtherBridge
	}
	l.bridge = b
	if l.playback != nil {
		l.playback.finish()
		l.playback = nil
	}
	l.mu.Unlock()
	l.in.flush()
	b.members = append(b.members, &member{leg: l, role: role, target: target})
	if !b.scheduled {
		b.slot, b.scheduled = l.slot, true
		b.e.sched.addAt(b, b.slot)
	}
	return nil
}

func (b *Bridge) checkRole(l *Leg, role Role, target *Leg) error {
	switch role {
	case Party, Listener:
		if target != nil {
			return fmt.Errorf("rtpengine: a %s has no target", role)
		}
	case Whisperer:
		if target == nil || target == l || b.find(target) == nil {
			return errors.New("rtpengine: a whisperer's target must be another leg of the bridge")
		}
	default:
		return fmt.Errorf("rtpengine: unknown role %d", role)
	}
	return nil
}

// SetRole changes the role of a leg of the bridge (listen → whisper → barge).
func (b *Bridge) SetRole(l *Leg, role Role, target *Leg) error {
	b.lock()
	defer b.unlock()
	m := b.find(l)
	if m == nil {
		return ErrNotInBridge
	}
	if err := b.checkRole(l, role, target); err != nil {
		return err
	}
	m.role, m.target = role, target
	return nil
}

// Remove takes a leg out of the bridge; on its own again it sends nothing until it
// plays something. Whisperers whose target it was become listeners.
func (b *Bridge) Remove(l *Leg) error {
	b.lock()
	defer b.unlock()
	return b.remove(l)
}

func (b *Bridge) remove(l *Leg) error {
	i := b.index(l)
	if i < 0 {
		return ErrNotInBridge
	}
	b.members = append(b.members[:i], b.members[i+1:]...)
	for _, m := range b.members {
		if m.target == l {
			m.role, m.target = Listener, nil
		}
	}
	l.mu.Lock()
	l.bridge = nil
	l.mu.Unlock()
	return nil
}

// Hold makes a leg hear a playlist (hold music) instead of the others; while held it
// is heard by nobody. Hold again changes the music; Unhold ends it.
func (b *Bridge) Hold(l *Leg, items ...Item) (*Playback, error) {
	b.lock()
	defer b.unlock()
	m := b.find(l)
	if m == nil {
		return nil, ErrNotInBridge
	}
	if m.hold != nil {
		m.hold.finish()
	}
	m.hold = newPlayback(items, l.music) // played under l.mu, like the leg's own
	return m.hold, nil
}

// Unhold brings a held leg back into the call.
func (b *Bridge) Unhold(l *Leg) error {
	b.lock()
	defer b.unlock()
	m := b.find(l)
	if m == nil {
		return ErrNotInBridge
	}
	if m.hold != nil {
		m.hold.finish()
		m.hold = nil
	}
	return nil
}

// Mute stops (or, with false, restores) passing a leg's audio to the others; a muted
// leg still hears them.
func (b *Bridge) Mute(l *Leg, muted bool) error {
	b.lock()
	defer b.unlock()
	m := b.find(l)
	if m == nil {
		return ErrNotInBridge
	}
	m.muted = muted
	return nil
}

// Record writes the call to rec from now on: the caller's voice on the left channel,
// everyone else who is heard on the right (the agent, a conference's third party, a
// supervisor who whispers or barges). A held or muted leg is heard by nobody, and so
// is not recorded. The bridge closes rec when it closes or records elsewhere.
func (b *Bridge) Record(rec *Recording, caller *Leg) error {
	b.lock()
	defer b.unlock()
	if b.closed {
		return ErrClosed
	}
	if b.find(caller) == nil {
		return ErrNotInBridge
	}
	if b.rec != nil && b.rec != rec {
		b.rec.Close()
	}
	b.rec, b.recCaller = rec, caller
	return nil
}

// StopRecording closes the recording, its header written; nil when none runs.
func (b *Bridge) StopRecording() error {
	b.lock()
	rec := b.rec
	b.rec, b.recCaller = nil, nil
	b.unlock()
	if rec == nil {
		return nil
	}
	return rec.Close()
}

// Close removes every leg (they stay open, on their own) and closes the recording.
func (b *Bridge) Close() error {
	b.lock()
	if b.closed {
		b.unlock()
		return nil
	}
	b.closed = true
	for len(b.members) > 0 {
		b.remove(b.members[0].leg)
	}
	if b.scheduled {
		b.e.sched.remove(b, b.slot)
	}
	rec := b.rec
	b.rec = nil
	b.unlock()
	if rec != nil {
		return rec.Close()
	}
	return nil
}

// ForwardDTMF makes the bridge pass each key a party presses on to the other parties
// that negotiated telephone-event (a caller transferred to an outside number works
// its menu); the digit still goes to the pressing leg's OnDTMF.
func (b *Bridge) ForwardDTMF(on bool) {
	b.lock()
	defer b.unlock()
	b.fwdDTMF = on
}

// forward sends a digit received on from to the bridge's other parties.
func (b *Bridge) forward(from *Leg, d Digit) {
	b.lock()
	defer b.unlock()
	if !b.fwdDTMF {
		return
	}
	src := b.find(from)
	if src == nil || src.muted || src.hold != nil || src.role == Listener {
		return
	}
	for _, m := range b.members {
		if m.leg != from && hears(m, src) {
			m.leg.SendDTMF(string(d.Key)) // fails only for legs without telephone-event
		}
	}
}

// Legs returns the bridge's legs.
func (b *Bridge) Legs() []*Leg {
	b.lock()
	defer b.unlock()
	out := make([]*Leg, len(b.members))
	for i, m := range b.members {
		out[i] = m.leg
	}
	return out
}

func (b *Bridge) find(l *Leg) *member {
	if i := b.index(l); i >= 0 {
		return b.members[i]
	}
	return nil
}

func (b *Bridge) index(l *Leg) int {
	for i, m := range b.members {
		if m.leg == l {
			return i
		}
	}
	return -1
}

// mixScratch is a worker's room for one bridge tick.
type mixScratch struct {
	frames  []inFrame
	voice   []bool // frame present and passed on (not muted, not held)
	pcm     [][FrameSamples]int16
	decoded []bool
	out     [FrameSamples]byte
	sum     [FrameSamples]int32
	left    [FrameSamples]int16
	right   [FrameSamples]int16
}

func (s *mixScratch) reset(n int) {
	if cap(s.frames) < n {
		s.frames = make([]inFrame, n)
		s.voice = make([]bool, n)
		s.pcm = make([][FrameSamples]int16, n)
		s.decoded = make([]bool, n)
	}
	s.frames, s.voice, s.pcm, s.decoded = s.frames[:n], s.voice[:n], s.pcm[:n], s.decoded[:n]
	clear(s.decoded)
}

func (s *mixScratch) linear(i int) *[FrameSamples]int16 {
	if !s.decoded[i] {
		g711.Decode(s.frames[i].law, s.pcm[i][:], s.frames[i].data[:])
		s.decoded[i] = true
	}
	return &s.pcm[i]
}

// hears reports whether member p hears member q.
func hears(p, q *member) bool {
	if p == q || p.hold != nil {
		return false
	}
	return q.role == Party || (q.role == Whisperer && q.target == p.leg)
}

// tick takes one frame from every leg and sends each leg what it hears.
func (b *Bridge) tick(w *worker, due time.Time) {
	b.lock()
	defer b.unlock()
	if b.closed || len(b.members) == 0 || !due.After(b.lastDue) {
		return // a stale tick, from a helper held off the CPU past the next turn
	}
	b.lastDue = due
	s := &w.scratch
	s.reset(len(b.members))
	for i, m := range b.members {
		s.voice[i] = m.leg.in.pop(&s.frames[i]) && !m.muted && m.hold == nil
	}
	for i, m := range b.members {
		l := m.leg
		l.mu.Lock()
		if !l.closed {
			var payload []byte
			if m.hold != nil {
				if f, ok := m.hold.next(l.law); ok {
					payload = f
				} else {
					payload = silence[l.law][:]
				}
			} else {
				payload = b.mix(s, i, l.law)
			}
			l.emit(w, due, payload)
		}
		l.mu.Unlock()
	}
	if b.rec != nil {
		b.record(s)
	}
}

// mix returns what member i hears in law: silence, one voice passed through (or
// transcoded), or the sum of several.
func (b *Bridge) mix(s *mixScratch, i int, law g711.Law) []byte {
	p := b.members[i]
	first, n := -1, 0
	for j, q := range b.members {
		if s.voice[j] && hears(p, q) {
			if n == 0 {
				first = j
			}
			n++
		}
	}
	switch {
	case n == 0:
		return silence[law][:]
	case n == 1:
		f := &s.frames[first]
		if f.law == law {
			return f.data[:]
		}
		g711.Transcode(f.law, law, s.out[:], f.data[:])
		return s.out[:]
	}
	clear(s.sum[:])
	for j, q := range b.members {
		if s.voice[j] && hears(p, q) {
			for k, v := range s.linear(j) {
				s.sum[k] += int32(v)
			}
		}
	}
	var pcm [FrameSamples]int16
	for k, v := range s.sum {
		pcm[k] = int16(max(min(v, 32767), -32768))
	}
	g711.Encode(law, s.out[:], pcm[:])
	return s.out[:]
}

// record writes the caller's voice left and the others' right.
func (b *Bridge) record(s *mixScratch) {
	clear(s.left[:])
	clear(s.sum[:])
	for j, q := range b.members {
		if !s.voice[j] || q.role == Listener {
			continue
		}
		if q.leg == b.recCaller {
			s.left = *s.linear(j)
			continue
		}
		for k, v := range s.linear(j) {
			s.sum[k] += int32(v)
		}
	}
	for k, v := range s.sum {
		s.right[k] = int16(max(min(v, 32767), -32768))
	}
	b.rec.write(&s.left, &s.right)
}
