package rtpengine

import (
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/media/g711"
)

var (
	benchStreams  = flag.Int("streams", 1500, "BenchmarkHoldMusic: concurrent streams (calls on hold music)")
	benchDuration = flag.Duration("duration", 10*time.Second, "BenchmarkHoldMusic: measured time of each run")
)

// benchRun is what one run of N streams measured.
type benchRun struct {
	name     string
	lateness Lateness
	cpu      time.Duration // process CPU time over the measured window
	mem      uint64        // heap and stacks added by the streams
	sent     uint64
	expected uint64
}

// BenchmarkHoldMusic sends hold music to -streams concurrent calls for -duration and
// reports the lateness of the packets against their 20 ms due times, the share more
// than 10 ms late, and CPU and memory per call, next to the floor measured in the same
// run: plain Go pacing of as many 20 ms UDP streams, a goroutine and a socket each,
// sending the same packets to the same receivers.
//
//	go test -run '^$' -bench BenchmarkHoldMusic -benchtime 1x ./media/rtpengine/ -streams 1500 -duration 10s
func BenchmarkHoldMusic(b *testing.B) {
	n, d := *benchStreams, *benchDuration
	sinks := startSinks(b, 4)
	floor := runFloor(b, n, d, sinks)
	engine := runEngine(b, n, d, sinks)
	w := os.Stdout
	fmt.Fprintf(w, "\nhold music: %d concurrent streams, %s measured each, GOMAXPROCS %d\n", n, d, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%-22s %9s %9s %9s %9s %12s %14s %10s %9s\n", "", "p50", "p99", "p99.9", "max", ">10ms late", "CPU/call", "mem/call", "sent")
	for _, r := range []benchRun{floor, engine} {
		perCall := float64(r.cpu) / float64(d) / float64(n) * 100
		fmt.Fprintf(w, "%-22s %9s %9s %9s %9s %11.4f%% %10.4f%%core %8.1fKB %8.2f%%\n", r.name,
			r.lateness.P50, r.lateness.P99, r.lateness.P999, r.lateness.Max.Round(time.Microsecond),
			100*r.lateness.LateShare(), perCall, float64(r.mem)/float64(n)/1024, 100*float64(r.sent)/math.Max(1, float64(r.expected)))
	}
	fmt.Fprintf(w, "engine/floor p99 %.2f×, CPU %.2f×\n", float64(engine.lateness.P99)/math.Max(1, float64(floor.lateness.P99)),
		float64(engine.cpu)/math.Max(1, float64(floor.cpu)))
	b.ReportMetric(float64(engine.lateness.P99)/1e6, "p99-ms")
	b.ReportMetric(100*engine.lateness.LateShare(), "late-%")
	b.ReportMetric(float64(floor.lateness.P99)/1e6, "floor-p99-ms")
	b.ReportMetric(100*floor.lateness.LateShare(), "floor-late-%")
}

// startSinks opens receivers that read and drop everything sent to them.
func startSinks(b *testing.B, k int) []netip.AddrPort {
	var out []netip.AddrPort
	for range k {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadBuffer(4 << 20)
		b.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		out = append(out, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

func heapAndStacks() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure waits a second for the streams to settle, then measures for d.
func measure(d time.Duration, reset func(), snapshot func() (Lateness, uint64)) (Lateness, time.Duration, uint64) {
	time.Sleep(time.Second)
	reset()
	_, sent0 := snapshot()
	cpu0 := cpuTime()
	time.Sleep(d)
	cpu := cpuTime() - cpu0
	l, sent := snapshot()
	return l, cpu, sent - sent0
}

// runFloor paces n streams the plain way: a goroutine per stream sleeping until each
// packet's due time and writing to its own socket.
func runFloor(b *testing.B, n int, d time.Duration, sinks []netip.AddrPort) benchRun {
	base := heapAndStacks()
	var hist histogram
	var sent atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now().Add(100 * time.Millisecond)
	payload := make([]byte, FrameSamples)
	for i := range payload {
		payload[i] = g711.EncodeULaw(int16(i * 100))
	}
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			dst := sinks[i%len(sinks)]
			buf := make([]byte, 1500)
			h := rtp.Header{Version: 2, SSRC: uint32(i)}
			next := start.Add(time.Duration(i) * Period / time.Duration(n))
			for {
				if w := time.Until(next); w > 0 {
					time.Sleep(w)
				}
				select {
				case <-stop:
					return
				default:
				}
				h.SequenceNumber++
				h.Timestamp += FrameSamples
				k, _ := h.MarshalTo(buf)
				k += copy(buf[k:], payload)
				hist.add(time.Since(next))
				if _, err := c.WriteToUDPAddrPort(buf[:k], dst); err == nil {
					sent.Add(1)
				}
				next = next.Add(Period)
				if behind := time.Since(next); behind > Period {
					next = next.Add(behind / Period * Period)
				}
			}
		}()
	}
	l, cpu, s := measure(d, hist.reset, func() (Lateness, uint64) { return hist.snapshot(), sent.Load() })
	mem := heapAndStacks() - base
	close(stop)
	wg.Wait()
	return benchRun{name: "plain Go pacing (floor)", lateness: l, cpu: cpu, mem: mem, sent: s, expected: uint64(n) * uint64(d/Period)}
}

// runEngine plays looped music to n legs of one engine.
func runEngine(b *testing.B, n int, d time.Duration, sinks []netip.AddrPort) benchRun {
	samples := make([]int16, 10*8000)
	for i := range samples {
		samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	music := NewAudio(samples)
	base := heapAndStacks()
	e, err := New(Config{IP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	legs := make([]*Leg, n)
	for i := range legs {
		l, err := e.NewLeg(LegConfig{Law: g711.Law(i % 2), Remote: sinks[i%len(sinks)]})
		if err != nil {
			b.Fatal(err)
		}
		l.Play(Item{Audio: music, Loop: true})
		legs[i] = l
	}
	sentAll := func() uint64 {
		var s uint64
		for _, l := range legs {
			s += l.sent.Load()
		}
		return s
	}
	l, cpu, s := measure(d, e.ResetLateness, func() (Lateness, uint64) { return e.Lateness(), sentAll() })
	mem := heapAndStacks() - base
	return benchRun{name: "rtpengine (hold music)", lateness: l, cpu: cpu, mem: mem, sent: s, expected: uint64(n) * uint64(d/Period)}
}
