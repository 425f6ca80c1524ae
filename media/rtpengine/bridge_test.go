package rtpengine_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
)

func transcoded(from, to g711.Law, frames [][]byte) [][]byte {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = make([]byte, len(f))
		g711.Transcode(from, to, out[i], f)
	}
	return out
}

func sameFrames(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d audio frames, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: frame %d differs", what, i)
		}
	}
}

// A caller on PCMU and an agent on PCMA are bridged: each hears every frame the
// other sent, in order and transcoded. The caller's leg had no address from SDP and
// the agent's a wrong one: both latch on where their peer's packets come from.
func TestBridgeRelaysBothWaysWithTranscoding(t *testing.T) {
	e := newEngine(t)
	caller, agent := newPeer(t), newPeer(t)
	legC := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw})
	legA := newLeg(t, e, rtpengine.LegConfig{Law: g711.ALaw, Remote: netip.MustParseAddrPort("127.0.0.1:9")})
	b := e.NewBridge()
	t.Cleanup(func() { b.Close() })
	if err := b.Add(legC); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(legA); err != nil {
		t.Fatal(err)
	}
	if err := e.NewBridge().Add(legA); err != rtpengine.ErrInOtherBridge {
		t.Fatalf("a leg joined a second bridge: %v", err)
	}
	skipped := e.SkippedTurns()
	x := constFrames(g711.ULaw, 40, 1000, 150)
	y := constFrames(g711.ALaw, 40, -1000, -150)
	dc := caller.stream(t, legC.LocalAddr(), rtpengine.PayloadPCMU, x)
	da := agent.stream(t, legA.LocalAddr(), rtpengine.PayloadPCMA, y)
	<-dc
	<-da
	time.Sleep(200 * time.Millisecond)
	sameFrames(t, "agent hears", audioOf(agent.packets(), rtpengine.PayloadPCMA, g711.ALaw), transcoded(g711.ULaw, g711.ALaw, x))
	sameFrames(t, "caller hears", audioOf(caller.packets(), rtpengine.PayloadPCMU, g711.ULaw), transcoded(g711.ALaw, g711.ULaw, y))
	if legA.Remote() != agent.addr() || legC.Remote() != caller.addr() {
		t.Fatalf("legs did not latch: %s %s", legA.Remote(), legC.Remote())
	}
	// Once latched, packets from elsewhere are dropped.
	intruder := newPeer(t)
	intruder.send(t, legC.LocalAddr(), rtpengine.PayloadPCMU, false, 1, x[0])
	waitUntil(t, "foreign packet counted", func() bool { return legC.Stats().Foreign == 1 })
	if legC.Remote() != caller.addr() {
		t.Fatal("an intruder took over the caller's leg")
	}
	// The bridge sends on its own clock: one stream, sequence and timestamps unbroken.
	assertStream(t, caller.packets(), e.SkippedTurns() != skipped)
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mode is the payload most packets of the last 200 ms carried.
func mode(got []rxPacket) []byte {
	counts := map[string]int{}
	best := ""
	for _, p := range got {
		k := string(p.payload)
		counts[k]++
		if counts[k] > counts[best] {
			best = k
		}
	}
	return []byte(best)
}

func code(law g711.Law, v int) []byte {
	f := make([]byte, rtpengine.FrameSamples)
	s := make([]int16, rtpengine.FrameSamples)
	for i := range s {
		s[i] = int16(v)
	}
	g711.Encode(law, f, s)
	return f
}

func value(law g711.Law, v int16) int {
	var c [1]byte
	var d [1]int16
	g711.Encode(law, c[:], []int16{v})
	g711.Decode(law, d[:], c[:])
	return int(d[0])
}

// Hold, mute, a three-way conference and a supervisor who listens, whispers to the
// agent, then barges in: each party hears exactly whom it should, mixed.
func TestBridgeHoldMuteConferenceAndSupervision(t *testing.T) {
	e := newEngine(t)
	law := g711.ULaw
	caller, agent, sup := newPeer(t), newPeer(t), newPeer(t)
	legC := newLeg(t, e, rtpengine.LegConfig{Law: law})
	legA := newLeg(t, e, rtpengine.LegConfig{Law: law})
	legS := newLeg(t, e, rtpengine.LegConfig{Law: law})
	b := e.NewBridge()
	t.Cleanup(func() { b.Close() })
	for _, l := range []*rtpengine.Leg{legC, legA} {
		if err := b.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	const cv, av, sv = 1000, 2000, 4000
	repeat := func(v int) [][]byte { return slices.Repeat([][]byte{code(law, v)}, 200) }
	caller.stream(t, legC.LocalAddr(), rtpengine.PayloadPCMU, repeat(cv))
	agent.stream(t, legA.LocalAddr(), rtpengine.PayloadPCMU, repeat(av))
	sup.stream(t, legS.LocalAddr(), rtpengine.PayloadPCMU, repeat(sv))
	c, a, s := value(law, cv), value(law, av), value(law, sv)
	music := constFrames(law, 1, -3000, 0)[0]

	check := func(phase string, want map[*peer][]byte) {
		t.Helper()
		time.Sleep(150 * time.Millisecond)
		for p := range want {
			p.reset()
		}
		time.Sleep(250 * time.Millisecond)
		for p, w := range want {
			if got := mode(p.packets()); !bytes.Equal(got, w) {
				var d [1]int16
				g711.Decode(law, d[:], got[:1])
				t.Fatalf("%s: a peer hears %d", phase, d[0])
			}
		}
	}
	silent := code(law, 0)
	check("two parties", map[*peer][]byte{caller: code(law, a), agent: code(law, c)})

	if _, err := b.Hold(legC, rtpengine.Item{Audio: rtpengine.NewAudio(frameSamples([][]byte{music}, law)), Loop: true}); err != nil {
		t.Fatal(err)
	}
	check("caller held", map[*peer][]byte{caller: music, agent: silent})
	if err := b.Unhold(legC); err != nil {
		t.Fatal(err)
	}
	if err := b.Mute(legA, true); err != nil {
		t.Fatal(err)
	}
	check("agent muted", map[*peer][]byte{caller: silent, agent: code(law, c)})
	b.Mute(legA, false)

	if err := b.Join(legS, rtpengine.Listener, nil); err != nil {
		t.Fatal(err)
	}
	check("supervisor listens", map[*peer][]byte{caller: code(law, a), agent: code(law, c), sup: code(law, c+a)})
	if err := b.SetRole(legS, rtpengine.Whisperer, legA); err != nil {
		t.Fatal(err)
	}
	check("supervisor whispers", map[*peer][]byte{caller: code(law, a), agent: code(law, c+s), sup: code(law, c+a)})
	if err := b.SetRole(legS, rtpengine.Party, nil); err != nil {
		t.Fatal(err)
	}
	check("supervisor barges", map[*peer][]byte{caller: code(law, a+s), agent: code(law, c+s), sup: code(law, c+a)})

	if err := b.SetRole(legS, rtpengine.Whisperer, legS); err == nil {
		t.Fatal("a leg whispered to itself")
	}
	if err := b.Remove(legA); err != nil {
		t.Fatal(err)
	}
	check("agent left the conference", map[*peer][]byte{caller: code(law, s), sup: code(law, c)})
	// On its own again the agent's leg sends nothing until it plays something.
	time.Sleep(60 * time.Millisecond)
	agent.reset()
	time.Sleep(100 * time.Millisecond)
	if n := len(agent.packets()); n != 0 {
		t.Fatalf("a leg out of the bridge sent %d packets", n)
	}
}

// A phone that restarts its stream (new SSRC, sequence numbers anywhere) is relayed
// at once; the address the SDP gave takes its leg back from a stranger who sent first.
func TestStreamRestartAndSignalledAddress(t *testing.T) {
	e := newEngine(t)
	phone, stranger, other := newPeer(t), newPeer(t), newPeer(t)
	legP := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, Remote: phone.addr()})
	legO := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw, Remote: other.addr()})
	b := e.NewBridge()
	t.Cleanup(func() { b.Close() })
	b.Add(legP)
	b.Add(legO)
	stranger.send(t, legP.LocalAddr(), rtpengine.PayloadPCMU, false, 1, code(g711.ULaw, 9000))
	waitUntil(t, "the stranger latched", func() bool { return legP.Remote() == stranger.addr() })
	x := constFrames(g711.ULaw, 10, 1000, 150)
	phone.seq = 30000
	<-phone.stream(t, legP.LocalAddr(), rtpengine.PayloadPCMU, x)
	if legP.Remote() != phone.addr() {
		t.Fatalf("the leg stayed latched on %s", legP.Remote())
	}
	// The same phone restarts with another SSRC and sequence numbers just behind its last.
	phone.seq = 29990
	y := constFrames(g711.ULaw, 10, -1000, -150)
	restart := make(chan struct{})
	go func() {
		defer close(restart)
		for i, f := range y {
			phone.sendSSRC(t, legP.LocalAddr(), 0xD00D, uint32(90000+160*i), f)
			time.Sleep(rtpengine.Period)
		}
	}()
	<-restart
	time.Sleep(150 * time.Millisecond)
	heard := audioOf(other.packets(), rtpengine.PayloadPCMU, g711.ULaw)
	if len(heard) < 18 || !bytes.Equal(heard[len(heard)-1], y[len(y)-1]) {
		t.Fatalf("the other side heard %d frames, the restarted stream's last one: %v", len(heard), len(heard) > 0 && bytes.Equal(heard[len(heard)-1], y[len(y)-1]))
	}
}
