package rtpengine_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
	"switchboard/voicewait"
)

// Two engines talk over loopback: the far engine's caller (PCMU) and agent (PCMA)
// phones play prompts into the near engine's bridge, which records the call; digits
// go both ways. The recording holds the caller left and the agent right, sample for
// sample, with a correct header once closed.
func TestTwoEnginesCallRecordedWithDTMF(t *testing.T) {
	near, far := newEngine(t), newEngine(t)
	callerDigits := make(chan rtpengine.Digit, 8)
	phoneDigits := make(chan rtpengine.Digit, 8)
	legC := newLeg(t, near, rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 101, OnDTMF: func(d rtpengine.Digit) { callerDigits <- d }, Name: "caller"})
	legA := newLeg(t, near, rtpengine.LegConfig{Law: g711.ALaw, EventPayloadType: 101, Name: "agent"})
	phoneC := newLeg(t, far, rtpengine.LegConfig{Law: g711.ULaw, EventPayloadType: 101, Remote: legC.LocalAddr()})
	phoneA := newLeg(t, far, rtpengine.LegConfig{Law: g711.ALaw, EventPayloadType: 101, Remote: legA.LocalAddr(), OnDTMF: func(d rtpengine.Digit) { phoneDigits <- d }})

	b := near.NewBridge()
	b.Add(legC)
	b.Add(legA)
	b.ForwardDTMF(true)
	dir := filepath.Join(t.TempDir(), "recordings")
	rec, err := rtpengine.CreateRecording(dir, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Record(rec, legC); err != nil {
		t.Fatal(err)
	}
	if _, err := rtpengine.CreateRecording(dir, "call-1"); err == nil {
		t.Fatal("a recording was overwritten")
	}
	if _, err := rtpengine.CreateRecording(dir, "../x"); err == nil {
		t.Fatal("a recording name escaped its directory")
	}

	x := exact(g711.ULaw, ramp(60*rtpengine.FrameSamples))
	y := exact(g711.ALaw, slices.Repeat([]int16{-7000, 7000, 3000, -300}, 60*rtpengine.FrameSamples/4))
	pc := phoneC.Play(rtpengine.Item{Audio: rtpengine.NewAudio(x)})
	pa := phoneA.Play(rtpengine.Item{Audio: rtpengine.NewAudio(y)})
	waitDone(t, pc, 3*time.Second)
	waitDone(t, pa, 3*time.Second)

	if err := phoneC.SendDTMF("42"); err != nil {
		t.Fatal(err)
	}
	if err := legA.SendDTMF("9"); err != nil {
		t.Fatal(err)
	}
	if got := collect(callerDigits, 2, 3*time.Second); got != "42" {
		t.Fatalf("the bridge got digits %q from the caller, want 42", got)
	}
	// The agent's phone hears the caller's keys, forwarded, and the agent leg's own.
	if got := collect(phoneDigits, 3, 3*time.Second); len(got) != 3 || !strings.Contains(got, "9") || strings.Replace(got, "9", "", 1) != "42" {
		t.Fatalf("the agent's phone got digits %q, want 4, 2 and 9", got)
	}
	time.Sleep(100 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2, err := os.ReadFile(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	info, err := voicewait.ParseWAV(b2)
	if err != nil {
		t.Fatal(err)
	}
	if info.Channels != 2 || info.SampleRate != 8000 || info.BitsPerSample != 16 || info.DataOffset+info.DataLength != len(b2) {
		t.Fatalf("recording header %+v for %d bytes", info, len(b2))
	}
	if info.Duration < 1200*time.Millisecond || rec.Duration() != info.Duration {
		t.Fatalf("recording lasts %s (%s counted), want the call's 1.2 s and more", info.Duration, rec.Duration())
	}
	left, right := channels(b2[info.DataOffset:])
	if !contains(left, x) {
		t.Fatal("the left channel does not hold the caller's audio")
	}
	if !contains(right, y) {
		t.Fatal("the right channel does not hold the agent's audio")
	}
}

func channels(data []byte) (left, right []int16) {
	for i := 0; i+4 <= len(data); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(data[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(data[i+2:])))
	}
	return left, right
}

// contains reports whether got, cut in 20 ms frames, holds want's frames in order and
// nothing else but silence: a jitter queue run dry (a stalled machine) inserts silence
// frames, and nothing may be lost or changed.
func contains(got, want []int16) bool {
	const f = rtpengine.FrameSamples
	var frames [][]int16
	for i := 0; i+f <= len(got); i += f {
		if slices.ContainsFunc(got[i:i+f], func(v int16) bool { return v != 0 }) {
			frames = append(frames, got[i:i+f])
		}
	}
	if len(frames)*f != len(want) {
		return false
	}
	for i, fr := range frames {
		if !slices.Equal(fr, want[i*f:(i+1)*f]) {
			return false
		}
	}
	return true
}

// A recording cut short by a crash is a valid WAV of what was written before its last
// header update, and RepairRecording makes the whole of it readable.
func TestRecordingRepair(t *testing.T) {
	e := newEngine(t)
	p := newPeer(t)
	legC := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw})
	legA := newLeg(t, e, rtpengine.LegConfig{Law: g711.ULaw})
	b := e.NewBridge()
	b.Add(legC)
	b.Add(legA)
	rec, err := rtpengine.CreateRecording(t.TempDir(), "crash")
	if err != nil {
		t.Fatal(err)
	}
	b.Record(rec, legC)
	<-p.stream(t, legC.LocalAddr(), rtpengine.PayloadPCMU, constFrames(g711.ULaw, 75, 500, 10))
	// One second has been written; copy the file as a crash would leave it, with half
	// a sample pair of garbage more.
	waitUntil(t, "a second on disk", func() bool {
		st, err := os.Stat(rec.Path())
		return err == nil && st.Size() >= 44+32000
	})
	crashed, err := os.ReadFile(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	cut := filepath.Join(t.TempDir(), "cut.wav")
	os.WriteFile(cut, append(crashed, 1, 2, 3), 0o600)
	info, err := voicewait.ParseWAV(crashed)
	if err != nil || info.Duration != time.Second {
		t.Fatalf("crashed file: %v %s", err, info.Duration)
	}
	d, err := rtpengine.RepairRecording(cut)
	if err != nil || d != time.Second {
		t.Fatalf("repair: %v %s", err, d)
	}
	fixed, _ := os.ReadFile(cut)
	if info, err := voicewait.ParseWAV(fixed); err != nil || info.DataOffset+info.DataLength != len(fixed) {
		t.Fatalf("repaired file: %v", err)
	}
	if _, err := rtpengine.RepairRecording(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("a missing file was repaired")
	}
	other := filepath.Join(t.TempDir(), "other.wav")
	os.WriteFile(other, voicewait.EncodeWAV(make([]int16, 100), 8000), 0o600)
	if _, err := rtpengine.RepairRecording(other); err == nil {
		t.Fatal("a mono file was taken for a recording")
	}
}
