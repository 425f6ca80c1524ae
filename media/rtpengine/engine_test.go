package rtpengine_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
)

// Legs take even ports of the configured range, refuse to open when none is free,
// and give theirs back when closed.
func TestPortRange(t *testing.T) {
	for _, bad := range []rtpengine.Config{{PortMin: 20000}, {PortMin: 30000, PortMax: 20000}, {PortMin: 20001, PortMax: 20001}, {PortMin: -2, PortMax: 10}} {
		if _, err := rtpengine.New(bad); err == nil {
			t.Fatalf("range %d–%d accepted", bad.PortMin, bad.PortMax)
		}
	}
	e, err := rtpengine.New(rtpengine.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 47311, PortMax: 47316})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	seen := map[uint16]bool{}
	var legs []*rtpengine.Leg
	for range 3 {
		l, err := e.NewLeg(rtpengine.LegConfig{Law: g711.ULaw})
		if err != nil {
			t.Fatal(err)
		}
		port := l.LocalAddr().Port()
		if port%2 != 0 || port < 47312 || port > 47316 || seen[port] {
			t.Fatalf("leg got port %d", port)
		}
		seen[port] = true
		legs = append(legs, l)
	}
	if _, err := e.NewLeg(rtpengine.LegConfig{Law: g711.ULaw}); err == nil {
		t.Fatal("a fourth leg opened in a range of three even ports")
	}
	legs[1].Close()
	l, err := e.NewLeg(rtpengine.LegConfig{Law: g711.ULaw})
	if err != nil || l.LocalAddr().Port() != legs[1].LocalAddr().Port() {
		t.Fatalf("a closed leg's port was not reused: %v", err)
	}
	if e.Legs() != 3 {
		t.Fatalf("%d legs open", e.Legs())
	}
	if _, err := e.NewLeg(rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 13}); err == nil {
		t.Fatal("a static payload type was taken for telephone-event")
	}
	e.Close()
	if _, err := e.NewLeg(rtpengine.LegConfig{Law: g711.ULaw}); err != rtpengine.ErrClosed {
		t.Fatalf("a leg opened on a closed engine: %v", err)
	}
}

// The engine's metrics count what it sent, and keep counting across ResetLateness.
func TestCollector(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	leg := newLeg(t, e, rtpengine.LegConfig{Law: g711.ALaw, Remote: p.addr()})
	waitDone(t, leg.Play(rtpengine.Item{Audio: rtpengine.NewAudio(make([]int16, 5*rtpengine.FrameSamples))}), 2*time.Second)
	e.ResetLateness()
	if e.Lateness().Packets != 0 {
		t.Fatal("lateness not reset")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	if got["switchboard_rtp_packets_sent_total"] != 5 || got["switchboard_rtp_send_lateness_seconds"] != 5 ||
		got["switchboard_rtp_legs"] != 1 || len(got) != 5 {
		t.Fatalf("metrics %v", got)
	}
}

// A leg whose peer asked for no media sends nothing, and starts a new talkspurt when
// it may send again.
func TestSetSending(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	leg := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, Remote: p.addr()})
	leg.Play(rtpengine.Item{Audio: rtpengine.NewAudio(make([]int16, rtpengine.FrameSamples)), Loop: true})
	p.waitFor(t, time.Second, "audio", func(g []rxPacket) bool { return len(g) >= 3 })
	leg.SetSending(false)
	time.Sleep(50 * time.Millisecond)
	p.reset()
	time.Sleep(100 * time.Millisecond)
	if n := len(p.packets()); n != 0 {
		t.Fatalf("%d packets sent to a peer that wants none", n)
	}
	leg.SetSending(true)
	got := p.waitFor(t, time.Second, "audio again", func(g []rxPacket) bool { return len(g) >= 2 })
	if !got[0].h.Marker || got[1].h.Marker {
		t.Fatal("resumed audio does not start a talkspurt")
	}
}
