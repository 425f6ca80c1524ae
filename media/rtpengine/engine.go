// Package rtpengine is the media plane of the media worker: RTP sessions for call
// legs, paced by one shared scheduler, playing WAV prompts and music, bridging and
// mixing legs, sending and receiving RFC 4733 DTMF, and recording calls.
//
// An Engine owns the scheduler and the legs' UDP sockets. A Leg is one call leg's RTP
// session on its own socket: it sends G.711 (PCMU or PCMA) in 20 ms packets with its
// own SSRC, sequence numbers and timestamps, and latches on the source of the first
// packet it receives (symmetric RTP), so callers behind NAT are reached wherever
// their packets come from. A leg on its own plays a playlist (Play); a Bridge takes
// over the legs put in it and sends each what it should hear: the other party of a
// two-party call (transcoding when the laws differ), the mix of a conference, what a
// supervisor may hear or say (listen, whisper, barge), music to a held party; a
// Bridge can record the call to a stereo WAV file.
//
// With media/sdp, a leg is opened before the answer is written (its LocalAddr port is
// the answer's sdp.Local.Port); the agreed sdp.Stream then gives SetFormat (Law,
// EventPayloadType) and SetRemote (Remote), and SetSending(false) while the peer's
// direction takes no media. A re-INVITE does the same on the open leg.
//
// Every stream is sent from the scheduler's timer wheel: streams are spread over 20
// phases of the 20 ms period and ticked in buckets of 16 by one goroutine and timer
// each, so thousands of streams cost about a hundred goroutines and timers rather
// than one per stream. The lateness of every packet against its due time is counted
// (Engine.Lateness, and the Prometheus metrics of Engine.Collector).
package rtpengine

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
)

// Config configures an Engine.
type Config struct {
	// IP is the address legs' sockets bind to; the zero value binds all IPv4
	// interfaces. The SDP of a call advertises the signalling host's own address with
	// the port of Leg.LocalAddr.
	IP netip.Addr
	// PortMin and PortMax bound the ports of legs' sockets (RTP uses the even ones);
	// both zero lets the system choose any free port.
	PortMin, PortMax int
	// Workers is ignored: the scheduler runs one goroutine per bucket of 16 streams.
	//
	// Deprecated: leave it out.
	Workers int
	// Logger receives the engine's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Engine runs the RTP sessions of one media host.
type Engine struct {
	ip      netip.Addr
	portMin int
	portMax int
	log     *slog.Logger
	sched   *scheduler
	mu      sync.Mutex
	ports   map[int]bool // ports of open legs, when a range is configured
	legs    map[*Leg]struct{}
	closed  bool
}

// ErrClosed is returned for operations on a closed engine, leg or bridge.
var ErrClosed = errors.New("rtpengine: closed")

// New starts an engine.
func New(cfg Config) (*Engine, error) {
	if (cfg.PortMin == 0) != (cfg.PortMax == 0) || cfg.PortMin < 0 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("rtpengine: port range %d–%d: give both bounds, 1–65535, lowest first", cfg.PortMin, cfg.PortMax)
	}
	if cfg.PortMin != 0 && cfg.PortMin+cfg.PortMin%2 > cfg.PortMax {
		return nil, fmt.Errorf("rtpengine: port range %d–%d holds no even port", cfg.PortMin, cfg.PortMax)
	}
	ip := cfg.IP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Engine{
		ip:      ip,
		portMin: cfg.PortMin,
		portMax: cfg.PortMax,
		log:     log.With("component", "rtp"),
		sched:   newScheduler(),
		ports:   map[int]bool{},
		legs:    map[*Leg]struct{}{},
	}, nil
}

// Close closes every leg and stops the scheduler.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	legs := make([]*Leg, 0, len(e.legs))
	for l := range e.legs {
		legs = append(legs, l)
	}
	e.mu.Unlock()
	for _, l := range legs {
		l.Close()
	}
	e.sched.close()
	return nil
}

// Lateness summarises how late the engine's packets were sent since it started (or
// since ResetLateness).
func (e *Engine) Lateness() Lateness { return e.sched.hist.snapshot() }

// ResetLateness clears the lateness counts.
func (e *Engine) ResetLateness() { e.sched.hist.reset() }

// SkippedTurns counts the scheduler's slot turns dropped because it fell more than a
// period behind (the process was stopped or starved of CPU).
func (e *Engine) SkippedTurns() uint64 { return e.sched.skipped.Load() }

// Legs is the number of open legs.
func (e *Engine) Legs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.legs)
}

// listen binds a socket: an even port of the range, tried from a random start, or
// any port the system gives.
func (e *Engine) listen() (*net.UDPConn, error) {
	if e.portMin == 0 {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.ip, 0)))
	}
	first := e.portMin + e.portMin%2
	n := (e.portMax-first)/2 + 1
	start := rand.IntN(n)
	var lastErr error
	for i := range n {
		port := first + 2*((start+i)%n)
		e.mu.Lock()
		busy := e.ports[port]
		if !busy {
			e.ports[port] = true
		}
		e.mu.Unlock()
		if busy {
			continue
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.ip, uint16(port))))
		if err == nil {
			return c, nil
		}
		lastErr = err
		e.mu.Lock()
		delete(e.ports, port)
		e.mu.Unlock()
	}
	if lastErr == nil {
		lastErr = errors.New("every port is in use")
	}
	return nil, fmt.Errorf("rtpengine: no free RTP port in %d–%d: %w", e.portMin, e.portMax, lastErr)
}

func (e *Engine) release(l *Leg, port int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.legs, l)
	if e.portMin != 0 {
		delete(e.ports, port)
	}
}
