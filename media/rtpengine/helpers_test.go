package rtpengine_test

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
)

// newEngine starts an engine on loopback, closed with the test.
func newEngine(t *testing.T) *rtpengine.Engine {
	t.Helper()
	e, err := rtpengine.New(rtpengine.Config{IP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newLeg(t *testing.T, e *rtpengine.Engine, cfg rtpengine.LegConfig) *rtpengine.Leg {
	t.Helper()
	l, err := e.NewLeg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// rxPacket is a packet a peer received.
type rxPacket struct {
	at      time.Time
	h       rtp.Header
	payload []byte
}

// peer is a plain RTP endpoint on a loopback socket: it records what arrives and
// sends paced packets of its own.
type peer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []rxPacket
	seq  uint16
	ts   uint32
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{conn: c, seq: 1000, ts: 5000}
	go func() {
		buf := make([]byte, 1600)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var pk rtp.Packet
			if pk.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
				continue
			}
			p.mu.Lock()
			p.got = append(p.got, rxPacket{at: time.Now(), h: pk.Header, payload: pk.Payload})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return p
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) packets() []rxPacket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rxPacket(nil), p.got...)
}

func (p *peer) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = nil
}

// waitFor waits until ok holds for what arrived, failing the test after timeout.
func (p *peer) waitFor(t *testing.T, timeout time.Duration, what string, ok func([]rxPacket) bool) []rxPacket {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.packets()
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %d packets arrived", what, len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send writes one packet to dst.
func (p *peer) send(t *testing.T, dst netip.AddrPort, pt uint8, marker bool, ts uint32, payload []byte) {
	t.Helper()
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: p.seq, Timestamp: ts, SSRC: 0xCAFE}, Payload: payload}
	p.seq++
	b, err := pk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, dst); err != nil {
		t.Fatal(err)
	}
}

// stream sends frames to dst every 20 ms from a goroutine; the returned channel
// closes when all are sent.
func (p *peer) stream(t *testing.T, dst netip.AddrPort, pt uint8, frames [][]byte) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(rtpengine.Period)
		defer tick.Stop()
		for i, f := range frames {
			p.mu.Lock()
			p.ts += rtpengine.FrameSamples
			ts := p.ts
			p.mu.Unlock()
			pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: i == 0, SequenceNumber: p.seq, Timestamp: ts, SSRC: 0xBEEF}, Payload: f}
			p.seq++
			b, _ := pk.Marshal()
			if _, err := p.conn.WriteToUDPAddrPort(b, dst); err != nil {
				return
			}
			<-tick.C
		}
	}()
	return done
}

// constFrames returns n frames, frame i holding 160 samples of value base+i*step,
// encoded in law: each frame is told apart by its code.
func constFrames(law g711.Law, n int, base, step int16) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		s := make([]int16, rtpengine.FrameSamples)
		for k := range s {
			s[k] = base + int16(i)*step
		}
		out[i] = make([]byte, rtpengine.FrameSamples)
		g711.Encode(law, out[i], s)
	}
	return out
}

func isSilence(law g711.Law, payload []byte) bool {
	for _, c := range payload {
		if c != g711.Silence(law) {
			return false
		}
	}
	return true
}

// audioOf returns the payloads of the packets with payload type pt that are not
// silence.
func audioOf(got []rxPacket, pt uint8, law g711.Law) [][]byte {
	var out [][]byte
	for _, p := range got {
		if p.h.PayloadType == pt && !isSilence(law, p.payload) {
			out = append(out, p.payload)
		}
	}
	return out
}

// ramp is n samples rising and falling, so every frame differs.
func ramp(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((i*37)%20000 - 10000)
	}
	return s
}

// sendSSRC writes one audio packet of the given SSRC and timestamp to dst.
func (p *peer) sendSSRC(t *testing.T, dst netip.AddrPort, ssrc, ts uint32, payload []byte) {
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: rtpengine.PayloadPCMU, SequenceNumber: p.seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	p.seq++
	b, _ := pk.Marshal()
	p.conn.WriteToUDPAddrPort(b, dst)
}
