package rtpengine_test

import (
	"net/netip"
	"testing"

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
