package media_test

import (
	"context"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"switchboard/media"
	"switchboard/media/sdp"
	"switchboard/pgstore"
	"switchboard/voicewait"
	"switchboard/workflows"
)

// noWaiting is a number without a waiting strategy: the caller waits in silence.
type noWaiting struct{}

func (noWaiting) VoiceWaitingOf(context.Context, string, string) (pgstore.VoiceWaiting, error) {
	return pgstore.VoiceWaiting{Status: "queued", QueuedAt: time.Now()}, nil
}

func (noWaiting) VoiceAudioWAV(context.Context, string, string) ([]byte, error) {
	return nil, pgstore.ErrNotFound
}

// shortWait is a strategy of files that drops the caller after two seconds.
type shortWait struct{ queued time.Time }

func tone(ms int) []byte {
	s := make([]int16, 8*ms)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return voicewait.EncodeWAV(s, 8000)
}

func (w shortWait) VoiceWaitingOf(context.Context, string, string) (pgstore.VoiceWaiting, error) {
	file := func(id string) voicewait.Part {
		return voicewait.Part{Enabled: true, Source: voicewait.SourceFile, AudioID: id}
	}
	return pgstore.VoiceWaiting{Status: "queued", QueuedAt: w.queued, Position: 2, Strategy: &pgstore.VoiceWaitingStrategy{
		Config: voicewait.Config{MaxWaitSeconds: 2, Greeting: file("greeting"), HoldMusic: file("music"), MaxWaitMessage: file("bye")}}}, nil
}

func (shortWait) VoiceAudioWAV(_ context.Context, _, id string) ([]byte, error) {
	return tone(map[string]int{"greeting": 300, "music": 500, "bye": 300}[id]), nil
}

// A caller waiting in the queue hears the number's strategy as RTP, paced, and is
// dropped at the maximum wait: a BYE, and the interaction hears why.
func TestWaitingTreatment(t *testing.T) {
	cs := startCallServer(t, func(c *media.Config) { c.Waiting = shortWait{queued: time.Now()} })
	rtp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	offer := sdp.Offer(sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: rtp.LocalAddr().(*net.UDPAddr).Port, SessionID: 1, Version: 1})
	caller := newPeer(t)
	dlg, err := cs.dial(t, caller, cs.number, offer)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	packets := 0
	buf := make([]byte, 1500)
	for time.Since(start) < time.Second {
		_ = rtp.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := rtp.ReadFrom(buf); err == nil && n == 12+160 {
			packets++
		}
	}
	// 20 ms frames: about 50 in a second.
	if packets < 40 || packets > 55 {
		t.Errorf("%d RTP packets of 160 bytes in a second, want about 50", packets)
	}
	select {
	case <-dlg.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the caller was not dropped at the maximum wait")
	}
	if got := cs.ix.next(t); got != "caller hung up "+workflows.MaxWaitReason {
		t.Fatalf("event %q", got)
	}
}
