package rtpengine

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Digit is a key press received as an RFC 4733 telephone-event.
type Digit struct {
	// Key is 0–9, *, #, or A–D.
	Key rune
	// Duration is how long the key was held, from the event's duration field.
	Duration time.Duration
}

const dtmfKeys = "0123456789*#ABCD"

// The shape of the events a leg sends.
const (
	dtmfTone     = 100 * time.Millisecond // how long each key is held
	dtmfGap      = 3                      // frames between keys
	dtmfEndSends = 3                      // the end packet is sent three times (RFC 4733 §2.5.1.4)
	dtmfVolume   = 10                     // −10 dBm0
)

// SendDTMF queues digits (0–9, *, #, A–D) to send as telephone-events, each held for
// 100 ms with 60 ms between keys; audio is paused while an event is sent. It fails
// when telephone-event was not negotiated or a digit is not a key.
func (l *Leg) SendDTMF(digits string) error {
	digits = strings.ToUpper(digits)
	for _, r := range digits {
		if !strings.ContainsRune(dtmfKeys, r) {
			return fmt.Errorf("rtpengine: %q is not a DTMF key (0–9, *, #, A–D)", r)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.eventPT == 0 {
		return fmt.Errorf("rtpengine: leg %s did not negotiate telephone-event", l.name)
	}
	l.dtmfOut.queue = append(l.dtmfOut.queue, digits...)
	return nil
}

// dtmfSender is the state of the events a leg is sending; it lives under the leg's
// lock and advances one packet per tick.
type dtmfSender struct {
	queue   []byte
	active  bool
	event   byte
	ts      uint32 // timestamp of the event's start, shared by all its packets
	packets int    // packets sent of the current event
	ends    int    // end packets sent
	gap     int    // frames left to wait before the next key
}

func (s *dtmfSender) busy() bool { return s.active || len(s.queue) > 0 }

// next returns the event packet's payload for this tick given the leg's current
// timestamp, whether it starts the event (marker) and the event's timestamp; ok is
// false when no event packet is due (between keys).
func (s *dtmfSender) next(now uint32) (payload [4]byte, marker bool, ts uint32, ok bool) {
	if !s.active {
		if s.gap > 0 {
			s.gap--
			return payload, false, 0, false
		}
		if len(s.queue) == 0 {
			return payload, false, 0, false
		}
		s.event = byte(strings.IndexByte(dtmfKeys, s.queue[0]))
		s.queue = s.queue[1:]
		s.active, s.ts, s.packets, s.ends = true, now, 0, 0
		marker = true
	}
	full := int(dtmfTone / Period)
	var end bool
	dur := min(s.packets+1, full) * FrameSamples
	if s.packets+1 >= full {
		end = true
		s.ends++
	}
	s.packets++
	payload[0] = s.event
	payload[1] = dtmfVolume
	if end {
		payload[1] |= 0x80
	}
	binary.BigEndian.PutUint16(payload[2:], uint16(dur))
	if s.ends >= dtmfEndSends {
		s.active = false
		s.gap = dtmfGap
	}
	return payload, marker, s.ts, true
}

// dtmfReceiver turns a peer's event packets into one Digit per key press. The packets
// of one event share its timestamp and are repeated; a digit is reported at the
// event's first end packet and its repeats are ignored. An event whose end packets
// were all lost is reported when the next event starts or after dtmfLost without
// packets.
type dtmfReceiver struct {
	have     bool   // an event is in progress or ended
	ts       uint32 // its timestamp
	event    byte
	duration uint16
	ended    bool
	last     time.Time
}

const dtmfLost = 300 * time.Millisecond

func (r *dtmfReceiver) packet(ts uint32, payload []byte, now time.Time) (Digit, bool) {
	if len(payload) < 4 || payload[0] >= byte(len(dtmfKeys)) {
		return Digit{}, false
	}
	event, end, dur := payload[0], payload[1]&0x80 != 0, binary.BigEndian.Uint16(payload[2:])
	var out Digit
	var report bool
	if !r.have || ts != r.ts {
		if r.have && !r.ended { // the previous event lost its end packets
			out, report = r.digit(), true
		}
		*r = dtmfReceiver{have: true, ts: ts, event: event}
	}
	r.last = now
	if r.ended {
		return out, report
	}
	r.duration = max(r.duration, dur)
	if end {
		if report { // the lost event goes first; this one's repeated end reports it
			return out, true
		}
		r.ended = true
		return r.digit(), true
	}
	return out, report
}

// expire reports an event whose end never came.
func (r *dtmfReceiver) expire(now time.Time) (Digit, bool) {
	if r.have && !r.ended && now.Sub(r.last) > dtmfLost {
		r.ended = true
		return r.digit(), true
	}
	return Digit{}, false
}

func (r *dtmfReceiver) digit() Digit {
	return Digit{Key: rune(dtmfKeys[r.event]), Duration: time.Duration(r.duration) * time.Second / 8000}
}
