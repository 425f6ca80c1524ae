package rtpengine_test

import (
	"encoding/binary"
	"testing"
	"time"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
)

func event(key byte, end bool, dur uint16) []byte {
	p := []byte{key, 10, 0, 0}
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], dur)
	return p
}

func collect(ch chan rtpengine.Digit, n int, timeout time.Duration) string {
	var s string
	deadline := time.After(timeout)
	for len(s) < n {
		select {
		case d := <-ch:
			s += string(d.Key)
		case <-deadline:
			return s
		}
	}
	return s
}

// Each key press is reported once: at its first end packet, its repeats ignored; an
// event whose end packets were lost is reported when the next begins, or when nothing
// more comes for it.
func TestDTMFReceiveDeduplicates(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	digits := make(chan rtpengine.Digit, 16)
	leg := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 101, OnDTMF: func(d rtpengine.Digit) { digits <- d }})
	dst := leg.LocalAddr()
	press := func(key byte, ts uint32, end bool) {
		for i := uint16(1); i <= 4; i++ {
			p.send(t, dst, 101, i == 1, ts, event(key, false, i*160))
		}
		if end {
			for range 3 {
				p.send(t, dst, 101, false, ts, event(key, true, 800))
			}
		}
	}
	press(5, 1000, true)   // 5
	press(11, 3000, true)  // #
	press(9, 5000, false)  // 9, its end lost
	press(1, 7000, true)   // 1
	press(14, 9000, false) // C, its end lost and nothing after
	got := collect(digits, 4, 2*time.Second)
	if got != "5#91" {
		t.Fatalf("digits %q, want 5#91", got)
	}
	time.Sleep(400 * time.Millisecond)
	p.send(t, dst, rtpengine.PayloadPCMU, false, 9800, make([]byte, 160))
	if got := collect(digits, 1, 2*time.Second); got != "C" {
		t.Fatalf("lost-end digit %q, want C", got)
	}
	select {
	case d := <-digits:
		t.Fatalf("extra digit %q", d.Key)
	case <-time.After(100 * time.Millisecond):
	}
}

// Sent digits are RFC 4733 events: the marker on each event's first packet, one
// timestamp per event, growing durations, the end packet three times, consecutive
// sequence numbers; digits that are no keys are refused.
func TestDTMFSend(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	leg := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 101, Remote: p.addr()})
	if err := leg.SendDTMF("1x"); err == nil {
		t.Fatal("x was sent as a digit")
	}
	if err := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw}).SendDTMF("1"); err == nil {
		t.Fatal("DTMF sent without telephone-event")
	}
	if err := leg.SendDTMF("1#"); err != nil {
		t.Fatal(err)
	}
	got := p.waitFor(t, 2*time.Second, "14 event packets", func(g []rxPacket) bool { return len(g) >= 14 })
	for i, pk := range got {
		ev := i / 7
		first := got[ev*7]
		if pk.h.PayloadType != 101 || pk.h.SequenceNumber != got[0].h.SequenceNumber+uint16(i) ||
			pk.h.Timestamp != first.h.Timestamp || pk.h.Marker != (i%7 == 0) {
			t.Fatalf("packet %d: %+v", i, pk.h)
		}
		key := []byte{1, 11}[ev]
		end := i%7 >= 4
		dur := min(i%7+1, 5) * 160
		if pk.payload[0] != key || (pk.payload[1]&0x80 != 0) != end || int(binary.BigEndian.Uint16(pk.payload[2:])) != dur {
			t.Fatalf("packet %d payload % x", i, pk.payload)
		}
	}
	if d := got[7].h.Timestamp - got[0].h.Timestamp; d < 800+3*160 {
		t.Fatalf("second event %d samples after the first", d)
	}
}

// A digit sent during a prompt pauses the audio for the event; the audio resumes with
// the marker bit and the timestamp the clock has reached, the sequence unbroken.
func TestDTMFSendDuringAudio(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	leg := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 101, Remote: p.addr()})
	leg.Play(rtpengine.Item{Audio: rtpengine.NewAudio(frameSamples(constFrames(g711.ULaw, 5, 3000, 10), g711.ULaw)), Loop: true})
	p.waitFor(t, 2*time.Second, "audio", func(g []rxPacket) bool { return len(g) >= 5 })
	if err := leg.SendDTMF("7"); err != nil {
		t.Fatal(err)
	}
	got := p.waitFor(t, 2*time.Second, "the event and audio after it", func(g []rxPacket) bool {
		for i, pk := range g {
			if pk.h.PayloadType == 101 && i+8 <= len(g) {
				return true
			}
		}
		return false
	})
	first := -1
	for i, pk := range got {
		if pk.h.SequenceNumber != got[0].h.SequenceNumber+uint16(i) {
			t.Fatalf("sequence broken at %d", i)
		}
		if pk.h.PayloadType == 101 && first < 0 {
			first = i
		}
	}
	ev, before, after := got[first], got[first-1], got[first+7]
	if ev.h.Timestamp != before.h.Timestamp+160 || !ev.h.Marker {
		t.Fatalf("event at %d after audio at %d", ev.h.Timestamp, before.h.Timestamp)
	}
	if after.h.PayloadType != rtpengine.PayloadPCMU || !after.h.Marker || after.h.Timestamp != ev.h.Timestamp+7*160 {
		t.Fatalf("audio after the event: %+v (event at %d)", after.h, ev.h.Timestamp)
	}
}
