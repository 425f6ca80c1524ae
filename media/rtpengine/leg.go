package rtpengine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"switchboard/media/g711"
)

// RTP payload types of the G.711 laws (RFC 3551).
const (
	PayloadPCMU = 0
	PayloadPCMA = 8
)

// PayloadType is the static RTP payload type of a law.
func PayloadType(law g711.Law) uint8 {
	if law == g711.ALaw {
		return PayloadPCMA
	}
	return PayloadPCMU
}

// LegConfig describes a leg's RTP session as negotiated in SDP.
type LegConfig struct {
	// Law is the G.711 law the leg sends (PCMU or PCMA). It receives either.
	Law g711.Law
	// EventPayloadType is the payload type of RFC 4733 telephone-event negotiated with
	// the peer (a dynamic type, 96–127, commonly 101); 0 when none was, and then DTMF
	// is neither sent nor recognised.
	EventPayloadType uint8
	// Remote is where to send, from the peer's SDP; it may be left zero. The leg
	// latches on the source of the first packet it receives, which replaces it.
	Remote netip.AddrPort
	// OnDTMF is called with each digit the peer sends, once per key press, from the
	// leg's receiving goroutine: it must return quickly.
	OnDTMF func(Digit)
	// Name identifies the leg in logs (a call ID and side, say).
	Name string
}

// Validate checks the configuration.
func (c LegConfig) Validate() error {
	if c.Law != g711.ULaw && c.Law != g711.ALaw {
		return fmt.Errorf("rtpengine: unknown law %d", c.Law)
	}
	if c.EventPayloadType != 0 && (c.EventPayloadType < 96 || c.EventPayloadType > 127) {
		return fmt.Errorf("rtpengine: telephone-event payload type %d: want a dynamic type 96–127", c.EventPayloadType)
	}
	return nil
}

// Leg is one call leg's RTP session on its own UDP socket.
type Leg struct {
	e      *Engine
	conn   *net.UDPConn
	local  netip.AddrPort
	name   string
	slot   int
	onDTMF func(Digit)

	mu        sync.Mutex // guards the fields below; a tick sends under it
	law       g711.Law
	eventPT   uint8
	remote    netip.AddrPort
	signalled netip.AddrPort // the address from SDP
	latched   bool
	ssrc      uint32
	seq       uint16
	ts        uint32
	lastDue   time.Time // due time of the last packet sent
	talking   bool      // the leg's last tick sent audio: the next audio needs no marker
	playback  *Playback
	music     map[*Audio]int // where looped audio stopped, shared by the leg's playlists
	bridge    *Bridge
	dtmfOut   dtmfSender
	closed    bool
	silent    bool // SetSending(false): the peer asked for no media
	buf       [1500]byte

	in       inbound
	rx       dtmfReceiver // receiving goroutine only
	recvDone chan struct{}

	sent, received, foreign, invalid atomic.Uint64
	lastRecv                         atomic.Int64 // unix nanoseconds
}

// NewLeg opens a leg: it binds a socket, starts receiving and takes its place in the
// scheduler, sending nothing until it plays something or joins a bridge.
func (e *Engine) NewLeg(cfg LegConfig) (*Leg, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	conn, err := e.listen()
	if err != nil {
		return nil, err
	}
	l := &Leg{
		e:         e,
		conn:      conn,
		local:     conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		name:      cfg.Name,
		onDTMF:    cfg.OnDTMF,
		law:       cfg.Law,
		eventPT:   cfg.EventPayloadType,
		remote:    unmap(cfg.Remote),
		signalled: unmap(cfg.Remote),
		ssrc:      rand.Uint32(),
		seq:       uint16(rand.Uint32()),
		ts:        rand.Uint32(),
		music:     map[*Audio]int{},
		recvDone:  make(chan struct{}),
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	e.legs[l] = struct{}{}
	e.mu.Unlock()
	l.slot = e.sched.add(l)
	go l.receive()
	return l, nil
}

// LocalAddr is the address the leg's socket is bound to; its port goes in the SDP.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// Remote is where the leg sends: the latched source of the peer's packets, or the
// address from the SDP until a packet came.
func (l *Leg) Remote() netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

// SetRemote sets where to send after a new SDP offer or answer; the leg latches
// again on the next packet it receives.
func (l *Leg) SetRemote(addr netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remote = unmap(addr)
	l.signalled = l.remote
	l.latched = false
}

// SetSending turns the leg's sending off or back on: off while the peer's SDP says it
// takes no media (a=sendonly or a=inactive from a phone putting the call on hold, or
// the legacy 0.0.0.0 address). Receiving goes on; the first packet after sending
// resumes carries the marker bit.
func (l *Leg) SetSending(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.silent = !on
}

// SetFormat changes the law the leg sends and the telephone-event payload type, after
// a new SDP negotiation.
func (l *Leg) SetFormat(law g711.Law, eventPT uint8) error {
	if err := (LegConfig{Law: law, EventPayloadType: eventPT}).Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.law, l.eventPT = law, eventPT
	return nil
}

// Law is the law the leg sends.
func (l *Leg) Law() g711.Law {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.law
}

// Play replaces what the leg plays on its own with a playlist, starting at its next
// frame; Stop, another Play or joining a bridge ends it (a bridge plays hold music
// itself, see Bridge.Hold). A leg in a bridge starts the playlist when it leaves.
func (l *Leg) Play(items ...Item) *Playback {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := newPlayback(items, l.music)
	if l.playback != nil {
		l.playback.finish()
	}
	if l.closed {
		p.finish()
		return p
	}
	l.playback = p
	return p
}

// Stop ends the leg's playlist; the leg then sends nothing on its own.
func (l *Leg) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.playback != nil {
		l.playback.finish()
		l.playback = nil
	}
}

// LegStats are a leg's counters.
type LegStats struct {
	Sent, Received uint64
	// Foreign counts packets dropped because they came from another source than the
	// one the leg latched on; Invalid those that were not RTP.
	Foreign, Invalid uint64
	// LastReceived is when the last packet from the peer arrived (zero if none did);
	// a call whose peer fell silent for long has lost its media.
	LastReceived time.Time
}

// Stats returns the leg's counters.
func (l *Leg) Stats() LegStats {
	s := LegStats{Sent: l.sent.Load(), Received: l.received.Load(), Foreign: l.foreign.Load(), Invalid: l.invalid.Load()}
	if t := l.lastRecv.Load(); t != 0 {
		s.LastReceived = time.Unix(0, t)
	}
	return s
}

// Close leaves any bridge, stops sending and receiving and frees the port.
func (l *Leg) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	b := l.bridge
	l.mu.Unlock()
	if b != nil {
		b.Remove(l)
	}
	l.mu.Lock()
	l.closed = true
	if l.playback != nil {
		l.playback.finish()
		l.playback = nil
	}
	l.mu.Unlock()
	l.e.sched.remove(l, l.slot)
	err := l.conn.Close()
	<-l.recvDone
	l.e.release(l, int(l.local.Port()))
	return err
}

// tick sends the leg's next frame while it is on its own.
func (l *Leg) tick(w *worker, due time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bridge != nil || l.closed || !due.After(l.lastDue) {
		return // a stale tick, from a helper held off the CPU past the next turn
	}
	var payload []byte
	if l.playback != nil {
		if f, ok := l.playback.next(l.law); ok {
			payload = f
		} else {
			l.playback = nil
		}
	}
	l.emit(w, due, payload)
}

// emit sends what is due: a DTMF event packet while one is being sent, else the
// audio frame (nil sends nothing). The caller holds l.mu.
func (l *Leg) emit(w *worker, due time.Time, payload []byte) {
	if l.silent {
		l.talking = false
		return
	}
	if l.dtmfOut.busy() && l.eventPT != 0 {
		l.advance(due)
		ev, marker, ts, ok := l.dtmfOut.next(l.ts)
		if ok {
			l.talking = false // audio resuming after the event starts a talkspurt
			l.send(w, due, l.eventPT, marker, ts, ev[:])
			return
		}
	}
	if payload == nil {
		l.talking = false
		return
	}
	l.advance(due)
	marker := !l.talking
	l.talking = true
	l.send(w, due, PayloadType(l.law), marker, l.ts, payload)
}

// advance moves the timestamp on by the frames elapsed since the last packet, so it
// follows the clock across pauses and scheduler hiccups.
func (l *Leg) advance(due time.Time) {
	if due.Equal(l.lastDue) {
		return
	}
	if !l.lastDue.IsZero() {
		frames := max((due.Sub(l.lastDue)+Period/2)/Period, 1)
		l.ts += uint32(frames) * FrameSamples
	}
	l.lastDue = due
}

func (l *Leg) send(w *worker, due time.Time, pt uint8, marker bool, ts uint32, payload []byte) {
	if !l.remote.IsValid() || l.remote.Port() == 0 {
		return
	}
	h := rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: l.seq, Timestamp: ts, SSRC: l.ssrc}
	n, err := h.MarshalTo(l.buf[:])
	if err != nil {
		return
	}
	n += copy(l.buf[n:], payload)
	l.seq++
	w.hist.add(time.Since(due))
	if _, err := l.conn.WriteToUDPAddrPort(l.buf[:n], l.remote); err == nil {
		l.sent.Add(1)
	}
}

// receive reads the peer's packets until the socket closes.
func (l *Leg) receive() {
	defer close(l.recvDone)
	buf := make([]byte, 1600)
	var p rtp.Packet
	var lastSeq uint16
	var lastSSRC uint32
	haveSeq := false
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if p.Unmarshal(buf[:n]) != nil || p.Version != 2 {
			l.invalid.Add(1)
			continue
		}
		from = unmap(from)
		l.mu.Lock()
		// The first source is latched on; the address the SDP gave always wins it
		// back, so a stranger who sends first cannot keep a peer without NAT from
		// its media.
		if !l.latched || (from == l.signalled && from != l.remote) {
			l.remote, l.latched = from, true
			haveSeq = false
		} else if from != l.remote {
			l.mu.Unlock()
			l.foreign.Add(1)
			continue
		}
		eventPT := l.eventPT
		l.mu.Unlock()
		l.received.Add(1)
		now := time.Now()
		l.lastRecv.Store(now.UnixNano())
		switch {
		case p.PayloadType == PayloadPCMU || p.PayloadType == PayloadPCMA:
			// Late and duplicate packets are dropped: audio is played in order.
			// A new SSRC or a jump far back is a restarted stream (a phone after a
			// re-INVITE), taken as it comes.
			if d := int16(p.SequenceNumber - lastSeq); haveSeq && p.SSRC == lastSSRC && d <= 0 && d > -maxMisorder {
				continue
			}
			lastSeq, lastSSRC, haveSeq = p.SequenceNumber, p.SSRC, true
			law := g711.ULaw
			if p.PayloadType == PayloadPCMA {
				law = g711.ALaw
			}
			l.in.push(law, p.Payload)
		case eventPT != 0 && p.PayloadType == eventPT:
			if d, ok := l.rx.packet(p.Timestamp, p.Payload, now); ok {
				l.digit(d)
			}
		}
		if d, ok := l.rx.expire(now); ok {
			l.digit(d)
		}
	}
}

// digit reports a received key press, and passes it on to the other parties of the
// leg's bridge when the bridge forwards DTMF.
func (l *Leg) digit(d Digit) {
	if l.onDTMF != nil {
		l.onDTMF(d)
	}
	l.mu.Lock()
	b := l.bridge
	l.mu.Unlock()
	if b != nil {
		b.forward(l, d)
	}
}

// maxMisorder is how far back a sequence number may be and still count as a late
// packet of the same stream (RFC 3550 A.1 uses 100).
const maxMisorder = 100

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// inFrame is a received 20 ms frame.
type inFrame struct {
	law  g711.Law
	data [FrameSamples]byte
}

// inbound is a leg's small receive queue: frames wait there for the bridge that
// relays them. It holds at most inboundCap frames, dropping the oldest beyond; after
// running dry it gives nothing until inboundPrime frames wait again, so network
// jitter of up to a frame does not cut the audio at every packet.
type inbound struct {
	mu      sync.Mutex
	frames  [inboundCap]inFrame
	head, n int
	primed  bool
	partial inFrame
	pn      int
}

const (
	inboundCap   = 6
	inboundPrime = 2
)

// push queues payload, cutting it into frames (peers may send 10 or 30 ms packets).
func (q *inbound) push(law g711.Law, payload []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pn > 0 && q.partial.law != law {
		q.pn = 0
	}
	q.partial.law = law
	for len(payload) > 0 {
		c := copy(q.partial.data[q.pn:], payload)
		q.pn += c
		payload = payload[c:]
		if q.pn < FrameSamples {
			return
		}
		q.pn = 0
		if q.n == inboundCap {
			q.head = (q.head + 1) % inboundCap
			q.n--
		}
		q.frames[(q.head+q.n)%inboundCap] = q.partial
		q.n++
	}
}

// pop takes the oldest frame.
func (q *inbound) pop(f *inFrame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.primed {
		if q.n < inboundPrime {
			return false
		}
		q.primed = true
	}
	if q.n == 0 {
		q.primed = false
		return false
	}
	*f = q.frames[q.head]
	q.head = (q.head + 1) % inboundCap
	q.n--
	return true
}

// flush drops what is queued, so a leg joining a bridge relays nothing stale.
func (q *inbound) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.n, q.pn, q.primed = 0, 0, false
}
