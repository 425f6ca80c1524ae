package rtpengine_test

import (
	"fmt"
	"net/netip"
	"os"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
	"switchboard/voicewait"
)

// The life of an inbound call on the media plane, as the SIP side drives it: the
// caller's leg answers the INVITE's SDP, hears the waiting treatment, is bridged to
// the agent's phone with a recording, and presses keys.
func Example() {
	engine, err := rtpengine.New(rtpengine.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 20000, PortMax: 20999})
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	// INVITE from the caller: the SDP offer said PCMA, telephone-event 101, and
	// where to send; the answer carries caller.LocalAddr().Port().
	caller, err := engine.NewLeg(rtpengine.LegConfig{
		Law: g711.ALaw, EventPayloadType: 101, Remote: netip.MustParseAddrPort("127.0.0.1:40000"), Name: "call-1/caller",
		OnDTMF: func(d rtpengine.Digit) { fmt.Println("caller pressed", string(d.Key)) },
	})
	if err != nil {
		panic(err)
	}
	defer caller.Close()

	// The waiting treatment: the strategy's plan, played from the start.
	music := rtpengine.NewAudio(make([]int16, 8000))    // a file's LoadWAV in practice
	greeting := rtpengine.NewAudio(make([]int16, 4000)) // likewise, or speech
	steps := voicewait.Plan(voicewait.Config{
		MaxWaitSeconds: 300,
		Greeting:       voicewait.Part{Enabled: true, Source: voicewait.SourceFile},
		HoldMusic:      voicewait.Part{Enabled: true, Source: voicewait.SourceFile},
	}, voicewait.Durations{Greeting: greeting.Duration()}, nil)
	items, err := rtpengine.PlanItems(steps, 0, func(s voicewait.Step) (*rtpengine.Audio, error) {
		if s.Kind == voicewait.KindGreeting {
			return greeting, nil
		}
		return music, nil
	})
	if err != nil {
		panic(err)
	}
	waiting := caller.Play(items...)
	_ = waiting.Done() // closes at the plan's drop: hang up then

	// The agent's phone answered: bridge, record, forward keys.
	agent, err := engine.NewLeg(rtpengine.LegConfig{Law: g711.ULaw, Remote: netip.MustParseAddrPort("127.0.0.1:40002"), Name: "call-1/agent"})
	if err != nil {
		panic(err)
	}
	defer agent.Close()
	call := engine.NewBridge()
	call.Add(caller) // ends the waiting playlist
	call.Add(agent)
	dir, err := os.MkdirTemp("", "recordings") // the data directory's recordings/ in practice
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	rec, err := rtpengine.CreateRecording(dir, "call-1")
	if err != nil {
		panic(err)
	}
	call.Record(rec, caller)

	// Hold from the API, then back; a supervisor would Join as a Listener.
	call.Hold(caller, rtpengine.Item{Audio: music, Loop: true})
	call.Unhold(caller)

	// BYE: the bridge closes the recording with its header.
	if err := call.Close(); err != nil {
		panic(err)
	}
	fmt.Println("recorded", rec.Path() != "")
	// Output: recorded true
}
