package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"switchboard/pgtest"
	"switchboard/schema"
)

var updateHistories = flag.Bool("update-histories", false, "record workflow histories into workflows/testdata for the replay tests")

// testStack is one `switchboard dev` started by run, on free ports and its own databases.
type testStack struct {
	t        testing.TB
	args     []string
	dbURL    string
	httpURL  string
	uiURL    string
	sipAddr  string
	temporal string
	dataDir  string
	out      *syncBuffer
	cancel   context.CancelFunc
	done     chan error
}

// syncBuffer collects run's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// freeTCP returns a loopback address whose port is free for TCP and, when udp is set,
// for UDP too. Ports stay below 32768 like the server's own internal ones.
func freeTCP(t testing.TB, udp bool) string {
	t.Helper()
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		if !udp {
			l.Close()
			return addr
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

func newTestStack(t testing.TB) *testStack {
	t.Helper()
	dbURL, drop := pgtest.NewURL("")
	s := &testStack{
		t:        t,
		dbURL:    dbURL,
		dataDir:  t.TempDir(),
		sipAddr:  freeTCP(t, true),
		temporal: freeTCP(t, false),
	}
	httpAddr := freeTCP(t, false)
	uiAddr := freeTCP(t, false)
	s.httpURL = "http://" + httpAddr
	s.uiURL = "http://" + uiAddr
	s.args = []string{"dev",
		"--database-url", s.dbURL,
		"--redis-url", "redis://127.0.0.1:6379/15",
		"--http-addr", httpAddr,
		"--sip-addr", s.sipAddr,
		"--embedded-temporal-addr", s.temporal,
		"--temporal-ui-addr", uiAddr,
		"--data-dir", s.dataDir,
		"--log-level", "warn",
	}
	// The embedded Temporal server's two databases are dropped with it.
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Logf("drop test databases: %v", err)
		}
	})
	return s
}

// start runs `switchboard dev` and waits for /readyz to answer 200.
func (s *testStack) start() time.Duration {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.out = &syncBuffer{}
	s.done = make(chan error, 1)
	began := time.Now()
	go func() { s.done <- run(ctx, s.args, func(string) string { return "" }, s.out) }()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.t.Fatalf("switchboard dev exited early: %v\noutput:\n%s", err, s.out)
		default:
		}
		res, err := http.Get(s.httpURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK && strings.Contains(s.out.String(), "Switchboard is running") {
				return time.Since(began)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("switchboard dev not ready in time\noutput:\n%s", s.out)
	return 0
}

// stop cancels the context as Ctrl-C would and requires a clean exit.
func (s *testStack) stop() {
	s.t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("switchboard dev did not stop cleanly: %v", err)
		}
	case <-time.After(time.Minute):
		s.t.Fatal("switchboard dev did not stop within a minute")
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
	return v
}

// errorOf checks the documented error format and returns code and field.
func (r response) errorOf(t *testing.T) (code, field string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", r.body)
	}
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func (s *testStack) do(method, path, key, body string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.httpURL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (s *testStack) temporalClient() client.Client {
	s.t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.temporal, Namespace: "default", Logger: quietLogger()})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(c.Close)
	return c
}

var keyPattern = regexp.MustCompile(`sbk_[a-z0-9]{16}_[A-Za-z0-9_-]+`)

func TestDevStack(t *testing.T) {
	s := newTestStack(t)
	first := s.start()
	t.Logf("first start (database and Temporal schema created): %v", first)

	adminKey := keyPattern.FindString(s.out.String())
	if adminKey == "" {
		t.Fatalf("first start printed no admin key:\n%s", s.out)
	}
	saved, err := os.ReadFile(filepath.Join(s.dataDir, bootstrapKeyFile))
	if err != nil || strings.TrimSpace(string(saved)) != adminKey {
		t.Fatalf("admin key file: %q, %v", saved, err)
	}

	t.Run("readiness reports each dependency", func(t *testing.T) {
		r := s.do("GET", "/readyz", "", "")
		body := r.json(t)
		checks, _ := body["checks"].(map[string]any)
		for _, dep := range []string{"postgres", "redis", "temporal"} {
			c, _ := checks[dep].(map[string]any)
			if c["status"] != "ok" {
				t.Errorf("%s: %v", dep, checks[dep])
			}
		}
		if r.status != 200 || body["status"] != "ok" {
			t.Errorf("readyz %d %s", r.status, r.body)
		}
	})

	var tenantA, adminA string
	t.Run("authentication", func(t *testing.T) {
		r := s.do("GET", "/v1/me", "", "")
		if code, _ := r.errorOf(t); r.status != 401 || code != "unauthenticated" {
			t.Errorf("no key: %d %s", r.status, r.body)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("no WWW-Authenticate challenge: %v", r.header)
		}
		r = s.do("GET", "/v1/me", "sbk_aaaaaaaaaaaaaaaa_wrong", "")
		if code, _ := r.errorOf(t); r.status != 401 || code != "unauthenticated" {
			t.Errorf("unknown key: %d %s", r.status, r.body)
		}
		r = s.do("GET", "/v1/me", adminKey, "")
		me := r.json(t)
		if r.status != 200 || me["platformAdmin"] != true {
			t.Fatalf("me: %d %s", r.status, r.body)
		}
		tenantA = me["tenant"].(map[string]any)["id"].(string)
		adminA = me["user"].(map[string]any)["id"].(string)
	})

	t.Run("tenants are isolated", func(t *testing.T) {
		r := s.do("POST", "/v1/tenants", adminKey, `{"slug":"acme","name":"Acme","timeZone":"Europe/Paris","admin":{"email":"boss@acme.test","name":"Boss"}}`)
		if r.status != 201 {
			t.Fatalf("create tenant: %d %s", r.status, r.body)
		}
		created := r.json(t)
		keyB := created["apiKey"].(map[string]any)["secret"].(string)
		tenantB := created["tenant"].(map[string]any)["id"].(string)

		for _, path := range []string{"/v1/users/" + adminA, "/v1/tenants/" + tenantA} {
			r := s.do("GET", path, keyB, "")
			if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
				t.Errorf("tenant B reading %s: %d %s", path, r.status, r.body)
			}
		}
		r = s.do("PATCH", "/v1/users/"+adminA, keyB, `{"disabled":true}`)
		if r.status != 404 {
			t.Errorf("tenant B disabling tenant A's admin: %d %s", r.status, r.body)
		}
		r = s.do("POST", "/v1/tenants", keyB, `{"slug":"other","name":"Other","admin":{"email":"a@b.test","name":"A"}}`)
		if code, _ := r.errorOf(t); r.status != 403 || code != "forbidden" {
			t.Errorf("tenant admin creating a tenant: %d %s", r.status, r.body)
		}
		r = s.do("GET", "/v1/users", keyB, "")
		if users := r.json(t)["items"].([]any); r.status != 200 || len(users) != 1 {
			t.Errorf("tenant B sees users %s", r.body)
		}

		r = s.do("POST", "/v1/users", keyB, `{"email":"agent@acme.test","name":"Agent","role":"agent"}`)
		if r.status != 201 {
			t.Fatalf("create agent: %d %s", r.status, r.body)
		}
		agentID := r.json(t)["id"].(string)
		r = s.do("POST", "/v1/api-keys", keyB, fmt.Sprintf(`{"userId":%q,"name":"desk"}`, agentID))
		if r.status != 201 {
			t.Fatalf("agent key: %d %s", r.status, r.body)
		}
		agentKey := r.json(t)["secret"].(string)
		r = s.do("POST", "/v1/users", agentKey, `{"email":"x@acme.test","name":"X","role":"admin"}`)
		if code, _ := r.errorOf(t); r.status != 403 || code != "forbidden" {
			t.Errorf("agent creating a user: %d %s", r.status, r.body)
		}
		r = s.do("GET", "/v1/me", agentKey, "")
		if got := r.json(t)["tenant"].(map[string]any)["id"]; got != tenantB {
			t.Errorf("agent's tenant %v, want %s", got, tenantB)
		}
	})

	t.Run("bad input gets the documented error", func(t *testing.T) {
		cases := []struct {
			name, body string
			status     int
			code       string
			field      string
		}{
			{"syntax", `{"email":"a@b.test",`, 400, "malformed_request", ""},
			{"wrong type", `{"email":"a@b.test","name":7,"role":"agent"}`, 400, "malformed_request", "name"},
			{"unknown field", `{"email":"a@b.test","name":"A","role":"agent","boss":true}`, 422, "invalid_field", "boss"},
			{"bad role", `{"email":"a@b.test","name":"A","role":"boss"}`, 422, "invalid_field", "role"},
			{"bad email", `{"email":"nope","name":"A","role":"agent"}`, 422, "invalid_field", "email"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := s.do("POST", "/v1/users", adminKey, c.body)
				code, field := r.errorOf(t)
				if r.status != c.status || code != c.code || field != c.field {
					t.Errorf("got %d %s field %q, want %d %s field %q: %s", r.status, code, field, c.status, c.code, c.field, r.body)
				}
			})
		}
		r := s.do("GET", "/v1/users?role=agent", adminKey, "")
		if items := r.json(t)["items"].([]any); len(items) != 0 {
			t.Errorf("rejected requests created users: %s", r.body)
		}
	})

	var checkID string
	t.Run("workflow round trip", func(t *testing.T) {
		r := s.do("POST", "/v1/system/checks", adminKey, "")
		if r.status != 200 {
			t.Fatalf("system check: %d %s", r.status, r.body)
		}
		body := r.json(t)
		result := body["result"].(map[string]any)
		if result["healthy"] != true || len(result["checks"].([]any)) != 2 {
			t.Fatalf("system check result: %s", r.body)
		}
		checkID = body["workflowId"].(string)

		c := s.temporalClient()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The run is findable in the UI by its tenant search attribute.
		query := fmt.Sprintf("TenantId = %q AND WorkflowType = 'SystemCheck'", tenantA)
		for {
			list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			if err != nil {
				t.Fatalf("list %s: %v", query, err)
			}
			if len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowId == checkID {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("run %s not found by %s: %v", checkID, query, list.Executions)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if *updateHistories {
			recordHistory(t, c, checkID, "system_check.json")
		}
	})

	t.Run("temporal web UI", func(t *testing.T) {
		res, err := http.Get(s.uiURL + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(strings.ToLower(string(page)), "<html") {
			t.Errorf("UI page: %d %.200s", res.StatusCode, page)
		}
		res, err = http.Get(s.uiURL + "/api/v1/namespaces")
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(ns), `"name": "default"`) && !strings.Contains(string(ns), `"name":"default"`) {
			t.Errorf("UI namespaces: %d %.300s", res.StatusCode, ns)
		}
	})

	t.Run("SIP listener answers OPTIONS", func(t *testing.T) {
		conn, err := net.Dial("udp", s.sipAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		local := conn.LocalAddr().String()
		msg := "OPTIONS sip:" + s.sipAddr + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + randomName("") + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:" + s.sipAddr + ">\r\n" +
			"Call-ID: " + randomName("probe-") + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			t.Errorf("OPTIONS answer %q, %v", buf[:n], err)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		r := s.do("GET", "/metrics", "", "")
		for _, want := range []string{"switchboard_http_requests_total", "go_goroutines", "process_resident_memory_bytes", "temporal_request"} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	s.stop()
	again := s.start()
	t.Logf("second start: %v", again)

	t.Run("second start keeps its data", func(t *testing.T) {
		if keyPattern.MatchString(s.out.String()) {
			t.Errorf("second start bootstrapped again:\n%s", s.out)
		}
		if r := s.do("GET", "/v1/me", adminKey, ""); r.status != 200 {
			t.Errorf("admin key after restart: %d %s", r.status, r.body)
		}
		c := s.temporalClient()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		desc, err := c.DescribeWorkflowExecution(ctx, checkID, "")
		if err != nil {
			t.Fatalf("earlier run %s after restart: %v", checkID, err)
		}
		if st := desc.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Errorf("earlier run status %v", st)
		}
	})
	s.stop()
}

// recordHistory writes a finished run's history for the replay tests.
func recordHistory(t *testing.T, c client.Client, workflowID, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []json.RawMessage
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, b)
	}
	out, err := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "workflows", "testdata", file)
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events into %s", len(events), path)
}

func TestDependencyErrorsNameTheMissingService(t *testing.T) {
	closed := freeTCP(t, false) // nothing listens here
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"postgres", []string{"dev", "--database-url", "postgres://postgres@" + closed + "/x?sslmode=disable"}, "PostgreSQL is not reachable at 127.0.0.1"},
		{"redis", []string{"dev", "--redis-url", "redis://" + closed + "/0"}, "Redis is not reachable at " + closed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, c.args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Start it") {
				t.Errorf("got %v, want an error containing %q and how to start it", err, c.want)
			}
		})
	}
}

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_HTTP_ADDR": ":9999", "SWITCHBOARD_LOG_LEVEL": "debug"}
	var cfg config
	if err := cfg.parse("api", []string{"--log-level", "warn"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":9999" || cfg.LogLevel != "warn" || cfg.RedisURL != "redis://127.0.0.1:6379/0" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.temporalAddress() != "127.0.0.1:7233" {
		t.Errorf("default temporal address %q", cfg.temporalAddress())
	}
	if err := cfg.parse("api", []string{"--log-level", "loud"}, func(string) string { return "" }); err == nil {
		t.Error("log level loud accepted")
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

// TestSeparateProcesses runs `migrate`, `api`, `worker` and `media` as production does,
// each on its own, against the Temporal server and database of a running dev stack.
func TestSeparateProcesses(t *testing.T) {
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())

	var out syncBuffer
	common := []string{"--database-url", s.dbURL, "--redis-url", "redis://127.0.0.1:6379/15", "--temporal-address", s.temporal, "--log-level", "warn"}
	if err := run(context.Background(), append([]string{"migrate"}, common...), func(string) string { return "" }, &out); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "schema version") {
		t.Errorf("migrate said %q", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	apiAddr, workerMetrics, mediaMetrics := freeTCP(t, false), freeTCP(t, false), freeTCP(t, false)
	procs := map[string][]string{
		"api":    append([]string{"api", "--http-addr", apiAddr}, common...),
		"worker": append([]string{"worker", "--metrics-addr", workerMetrics}, common...),
		"media":  {"media", "--sip-addr", freeTCP(t, true), "--metrics-addr", mediaMetrics, "--log-level", "warn"},
	}
	done := make(chan error, len(procs))
	for name, args := range procs {
		go func() {
			err := run(ctx, args, func(string) string { return "" }, io.Discard)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			done <- err
		}()
	}
	defer func() {
		cancel()
		for range procs {
			if err := <-done; err != nil {
				t.Errorf("stopping: %v", err)
			}
		}
	}()

	waitOK := func(url string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			res, err := http.Get(url)
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not answering 200: %v", url, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitOK("http://" + apiAddr + "/readyz")
	waitOK("http://" + workerMetrics + "/healthz")
	waitOK("http://" + mediaMetrics + "/metrics")

	api := &testStack{t: t, httpURL: "http://" + apiAddr}
	r := api.do("POST", "/v1/system/checks", adminKey, "")
	if r.status != 200 || r.json(t)["result"].(map[string]any)["healthy"] != true {
		t.Errorf("system check through the standalone API: %d %s", r.status, r.body)
	}
	res, err := http.Get("http://" + workerMetrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "temporal_") {
		t.Error("worker /metrics has no Temporal SDK metrics")
	}
}

func TestAPIRefusesUnmigratedDatabase(t *testing.T) {
	url, drop := pgtest.NewURL("")
	defer drop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := schema.EnsureDatabase(ctx, url); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"api", "worker"} {
		err := run(ctx, []string{cmd, "--database-url", url, "--redis-url", "redis://127.0.0.1:6379/15", "--http-addr", freeTCP(t, false)}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "switchboard migrate") {
			t.Errorf("%s on an unmigrated database: %v", cmd, err)
		}
	}
}
