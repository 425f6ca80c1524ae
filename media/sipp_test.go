package media_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/media"
)

const sippCalls = 5

// TestSIPpOptions runs a real, independent SIP implementation against the
// server, so the endpoint is not only checked by the library it is built on.
func TestSIPpOptions(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct{ name, mode string }{{"UDP", "u1"}, {"TCP", "t1"}} {
		t.Run(tc.name, func(t *testing.T) {
			runSIPp(t, ts, tc.mode, "options.xml", sippCalls)
		})
	}
}

// TestSIPpRegister registers agents' phones with SIPp's digest implementation
// (MD5: the Debian SIPp knows no other, and answers the first challenge, so the
// registrar offers MD5 first, as it would to such phones) and un-registers them.
func TestSIPpRegister(t *testing.T) {
	ts, regs := startRegistrar(t, media.Config{DigestAlgorithms: []string{"MD5", "SHA-256"}})
	a := newSIPAgent(t)
	inf := filepath.Join(t.TempDir(), "agent.csv")
	if err := os.WriteFile(inf, []byte(fmt.Sprintf("SEQUENTIAL\n%s;%s\n", a.extension, a.tenant.Slug)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, mode string }{{"UDP", "u1"}, {"TCP", "t1"}} {
		t.Run(tc.name, func(t *testing.T) {
			runSIPp(t, ts, tc.mode, "register.xml", 2, "-inf", inf, "-au", a.extension, "-ap", a.password)
			if list, err := regs.Lookup(context.Background(), a.tenant.ID, a.agentID); err != nil || len(list) != 0 {
				t.Errorf("after un-registering: %+v (%v)", list, err)
			}
		})
	}
}

// runSIPp runs a SIPp scenario of testdata against ts as calls calls, one at a
// time, and fails the test unless every call succeeds.
func runSIPp(t testing.TB, ts *testServer, mode, scenario string, calls int, extra ...string) {
	t.Helper()
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not on PATH: install the Debian package sip-tester "+
			"(apt-get install -y sip-tester; the project's Makefile installs it): %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"stat":   filepath.Join(dir, "stat.csv"),
		"errors": filepath.Join(dir, "errors.log"),
		"screen": filepath.Join(dir, "screen.log"),
	}
	args := []string{
		"-sf", filepath.Join("testdata", scenario),
		"-m", strconv.Itoa(calls), "-l", "1",
		"-t", mode,
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)),
		"-nostdin",
		"-timeout", "10s", "-timeout_error",
		"-trace_err", "-error_file", files["errors"],
		"-trace_stat", "-stf", files["stat"],
		"-trace_screen", "-screen_file", files["screen"],
	}
	args = append(append(args, extra...), fmt.Sprintf("127.0.0.1:%d", ts.port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, args...)
	t.Logf("running %s", strings.Join(cmd.Args, " "))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("sipp finished in %v", time.Since(start).Round(time.Millisecond))

	report := func() {
		t.Logf("sipp output:\n%s", out)
		for name, f := range files {
			if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
				t.Logf("sipp %s file:\n%s", name, b)
			}
		}
	}
	if err != nil {
		report()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("sipp exited %d, want 0 (1: a call failed, 255: fatal error)", ee.ExitCode())
		}
		t.Fatalf("sipp: %v", err)
	}
	ok, failed, err := sippCounts(files["stat"])
	if err != nil {
		report()
		t.Fatal(err)
	}
	if ok != calls || failed != 0 {
		report()
		t.Fatalf("sipp: %d successful and %d failed calls, want %d and 0", ok, failed, calls)
	}
}

// sippCounts reads the cumulative successful and failed call counts from
// the last row of sipp's -trace_stat CSV.
func sippCounts(path string) (ok, failed int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("sipp stat file: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return 0, 0, fmt.Errorf("sipp stat file: %w", err)
	}
	if len(rows) < 2 {
		return 0, 0, fmt.Errorf("sipp stat file has %d rows, want a header and data", len(rows))
	}
	col := func(name string) (int, error) {
		last := rows[len(rows)-1]
		for i, h := range rows[0] {
			if h == name && i < len(last) {
				return strconv.Atoi(strings.TrimSpace(last[i]))
			}
		}
		return 0, fmt.Errorf("sipp stat file has no %s column", name)
	}
	if ok, err = col("SuccessfulCall(C)"); err != nil {
		return 0, 0, err
	}
	if failed, err = col("FailedCall(C)"); err != nil {
		return 0, 0, err
	}
	return ok, failed, nil
}
