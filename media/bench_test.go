package media_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/media"
)

var (
	benchCalls = flag.Int("sip-calls", 5000, "BenchmarkSIPInboundCalls: how many calls SIPp places")
	benchRate  = flag.Int("sip-rate", 2000, "BenchmarkSIPInboundCalls: calls per second SIPp offers")
)

// BenchmarkSIPInboundCalls measures the SIP layer of inbound calls: SIPp calls a
// tenant's number over UDP (INVITE with SDP → 100, 200 with the SDP answer and an
// RTP leg opened → ACK → BYE → 200, the leg closed) at -sip-rate calls/s, with the
// interaction's start a stand-in that answers at once (the workflow's part is the
// Temporal benchmarks'). It reports the completed calls per second and the failures.
// Run it with -benchtime 1x.
func BenchmarkSIPInboundCalls(b *testing.B) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		b.Fatalf("sipp is not on PATH (make deps-test): %v", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	cs := startCallServer(b, func(c *media.Config) { c.Logger = quiet })
	dir := b.TempDir()
	stat := filepath.Join(dir, "stat.csv")
	calls, rate := *benchCalls, *benchRate
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sf", filepath.Join("testdata", "call.xml"), "-s", strings.TrimPrefix(cs.number, "+"),
		"-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-l", "2000", "-t", "u1", "-i", "127.0.0.1",
		"-p", strconv.Itoa(freePort(b)), "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
		fmt.Sprintf("127.0.0.1:%d", cs.port))
	b.ResetTimer()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	b.StopTimer()
	ok, failed, cerr := sippCounts(stat)
	if cerr != nil {
		b.Fatalf("%v\n%s", cerr, out)
	}
	if err != nil && failed == 0 {
		b.Fatalf("sipp: %v\n%s", err, out)
	}
	b.ReportMetric(float64(ok)/took.Seconds(), "calls/s")
	b.ReportMetric(float64(failed), "failed")
	fmt.Printf("SIP inbound calls: %d offered at %d/s, %d completed, %d failed in %v: %.0f calls/s\n",
		calls, rate, ok, failed, took.Round(time.Millisecond), float64(ok)/took.Seconds())
}
