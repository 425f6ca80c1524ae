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
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/schema"
	"switchboard/workflows"
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
	testPorts.Lock()
	defer testPorts.Unlock()
	for range 1000 {
		port := testPortLow + mrand.IntN(testPortHigh-testPortLow)
		if testPorts.given[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		if udp {
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				continue
			}
			u.Close()
		}
		testPorts.given[port] = true
		return addr
	}
	t.Fatal("no free port")
	return ""
}

// Tests' ports lie below the kernel's ephemeral range, so no outgoing connection takes
// one between its pick and its listener, and apart from the embedded Temporal server's
// internal ports (16000 and up); within the test binary each is handed out once, so
// stacks running in parallel never pick the same.
const testPortLow, testPortHigh = 10000, 16000

var testPorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

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
	if _, bench := t.(*testing.B); !bench {
		// Tests run several stacks at once on one PostgreSQL: each keeps few
		// connections. Benchmarks run one with the defaults.
		s.args = append(s.args, "--database-url", s.dbURL+"&pool_max_conns=5", "--embedded-temporal-db-conns", "2")
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
	t.Parallel()
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
		// The restarted server takes its history shards back first, which a loaded
		// machine may take some seconds over.
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
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
	if cfg.EmbeddedTemporalConns != 20 {
		t.Errorf("default embedded Temporal connections %d, want 20", cfg.EmbeddedTemporalConns)
	}
	for _, bad := range []string{"0", "201", "many"} {
		err := cfg.parse("dev", []string{"--embedded-temporal-db-conns", bad}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "embedded-temporal-db-conns") {
			t.Errorf("embedded-temporal-db-conns %s: %v", bad, err)
		}
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

// TestSeparateProcesses runs `migrate`, `api`, `worker` and `media` as production does,
// each on its own, against the Temporal server and database of a running dev stack.
func TestSeparateProcesses(t *testing.T) {
	t.Parallel()
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
		"media":  append([]string{"media", "--sip-addr", freeTCP(t, true), "--metrics-addr", mediaMetrics}, common...),
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

// TestACDConfiguration drives the ACD configuration API of a running stack: queues,
// skills, routes, agents, statuses and ACD settings, roles, tenant isolation, and the
// bad configurations of issue 3, each answered 4xx in the documented error format
// without changing anything.
func TestACDConfiguration(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	if adminKey == "" {
		t.Fatalf("no admin key printed:\n%s", s.out)
	}

	items := func(v map[string]any) []any {
		list, _ := v["items"].([]any)
		return list
	}
	id := func(v map[string]any) string { return v["id"].(string) }

	// People: a supervisor and two agents, each with a key.
	newKeyFor := func(t *testing.T, email, role string) (userID, key string) {
		t.Helper()
		u := s.call(t, "POST", "/v1/users", adminKey, map[string]string{"email": email, "name": email[:strings.Index(email, "@")], "role": role}, 201)
		k := s.call(t, "POST", "/v1/api-keys", adminKey, map[string]string{"userId": id(u), "name": "desk"}, 201)
		return id(u), k["secret"].(string)
	}
	_, supKey := newKeyFor(t, "sue@demo.test", "supervisor")
	anaID, anaKey := newKeyFor(t, "ana@demo.test", "agent")
	boID, _ := newKeyFor(t, "bo@demo.test", "agent")

	var defaultID, salesID, spanishID, routeA, routeB string
	t.Run("configure", func(t *testing.T) {
		qs := items(s.call(t, "GET", "/v1/queues", supKey, nil, 200))
		if len(qs) != 1 || qs[0].(map[string]any)["isDefault"] != true || len(qs[0].(map[string]any)["agents"].([]any)) != 2 {
			t.Fatalf("a tenant starts with the Default queue holding every agent: %v", qs)
		}
		defaultID = id(qs[0].(map[string]any))

		spanishID = id(s.call(t, "POST", "/v1/skills", supKey, map[string]string{"name": "Spanish"}, 201))
		s.call(t, "POST", "/v1/skills", supKey, map[string]string{"name": "Billing"}, 201)
		if found := items(s.call(t, "GET", "/v1/skills?q=span", supKey, nil, 200)); len(found) != 1 || id(found[0].(map[string]any)) != spanishID {
			t.Errorf("skill search: %v", found)
		}

		q := s.call(t, "POST", "/v1/queues", supKey, map[string]any{"name": "Sales", "assignmentMode": "sticky", "stickyWindow": "30d"}, 201)
		salesID = id(q)
		q = s.call(t, "PUT", "/v1/queues/"+salesID+"/agents", supKey, map[string]any{"agentIds": []string{anaID}}, 200)
		if agents := q["agents"].([]any); len(agents) != 1 || id(agents[0].(map[string]any)) != anaID {
			t.Errorf("Sales agents: %v", agents)
		}
		q = s.call(t, "PATCH", "/v1/queues/"+salesID, supKey, map[string]any{"autoAssign": false, "assignmentMode": "any"}, 200)
		if q["autoAssign"] != false || q["assignmentMode"] != "any" || q["stickyWindow"] != nil {
			t.Errorf("patched queue %v", q)
		}

		routeA = id(s.call(t, "POST", "/v1/routes", supKey, `{"name":"Spanish chats","queueId":"`+salesID+`","priority":"high",
			"requiredSkills":["`+spanishID+`"],
			"condition":{"all":[{"attr":"channel","op":"is","value":"live_chat"},{"attr":"content","op":"contains","value":"hola"}]}}`, 201))
		routeB = id(s.call(t, "POST", "/v1/routes", supKey, map[string]any{"name": "VIP", "queueId": defaultID,
			"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"vip"}}, "position": 1}, 201))
		rs := items(s.call(t, "GET", "/v1/routes", supKey, nil, 200))
		if len(rs) != 2 || id(rs[0].(map[string]any)) != routeB || rs[1].(map[string]any)["position"] != 2.0 {
			t.Fatalf("routes %v", rs)
		}
		rs = items(s.call(t, "PUT", "/v1/routes/order", supKey, map[string]any{"routeIds": []string{routeA, routeB}}, 200))
		if id(rs[0].(map[string]any)) != routeA || rs[0].(map[string]any)["position"] != 1.0 {
			t.Errorf("reordered %v", rs)
		}
		r := s.call(t, "GET", "/v1/routes/"+routeA, supKey, nil, 200)
		if r["priority"] != "high" || r["requiredSkills"].([]any)[0] != spanishID {
			t.Errorf("route %v", r)
		}
		q = s.call(t, "GET", "/v1/queues/"+salesID, supKey, nil, 200)
		if routes := q["routes"].([]any); len(routes) != 1 || id(routes[0].(map[string]any)) != routeA {
			t.Errorf("Sales lists routes %v", routes)
		}

		a := s.call(t, "PATCH", "/v1/agents/"+anaID, supKey, `{"title":"Senior","extension":"101","skillIds":["`+spanishID+`"],
			"capacity":{"live_chat":3},"wrapUpSeconds":60}`, 200)
		eff := a["effectiveCapacity"].(map[string]any)
		if eff["live_chat"] != 3.0 || eff["live_messaging"] != 5.0 || eff["voice"] != 1.0 || a["effectiveWrapUpSeconds"] != 60.0 ||
			len(a["queueIds"].([]any)) != 2 {
			t.Errorf("agent %v", a)
		}
		a = s.call(t, "PATCH", "/v1/agents/"+anaID, supKey, `{"wrapUpSeconds":null}`, 200)
		if a["wrapUpSeconds"] != nil || a["effectiveWrapUpSeconds"] != 30.0 {
			t.Errorf("wrap-up back to the default: %v", a)
		}

		st := s.call(t, "PATCH", "/v1/acd-settings", supKey, `{"defaultCapacity":{"email":4},"countedStatuses":{"solved":false}}`, 200)
		if st["effectiveCapacity"].(map[string]any)["email"] != 4.0 || st["countedStatuses"].(map[string]any)["solved"] != false {
			t.Errorf("settings %v", st)
		}
		st = s.call(t, "POST", "/v1/acd-settings/reset", supKey, nil, 200)
		if st["effectiveCapacity"].(map[string]any)["email"] != 10.0 || st["countedStatuses"].(map[string]any)["solved"] != true {
			t.Errorf("settings after reset %v", st)
		}

		custom := s.call(t, "POST", "/v1/statuses", supKey, map[string]any{"name": "Coaching", "group": "away", "breakReason": true}, 201)
		cat := items(s.call(t, "GET", "/v1/statuses", supKey, nil, 200))
		if len(cat) != 7 || cat[0].(map[string]any)["id"] != "available" || id(cat[6].(map[string]any)) != id(custom) {
			t.Errorf("catalogue %v", cat)
		}
		s.call(t, "DELETE", "/v1/statuses/"+id(custom), supKey, nil, 204)
	})

	t.Run("roles", func(t *testing.T) {
		// Agents read their own record (also as "me") and the status catalogue, nothing else.
		if a := s.call(t, "GET", "/v1/agents/me", anaKey, nil, 200); id(a) != anaID || a["title"] != "Senior" {
			t.Errorf("me: %v", a)
		}
		s.call(t, "GET", "/v1/agents/"+anaID, anaKey, nil, 200)
		s.call(t, "GET", "/v1/statuses", anaKey, nil, 200)
		for _, c := range [][3]string{
			{"GET", "/v1/agents/" + boID, ""},
			{"PATCH", "/v1/agents/" + anaID, `{"capacity":{"live_chat":50}}`},
			{"GET", "/v1/queues", ""},
			{"POST", "/v1/queues", `{"name":"Mine"}`},
			{"GET", "/v1/routes", ""},
			{"PUT", "/v1/routes/order", `{"routeIds":[]}`},
			{"GET", "/v1/skills", ""},
			{"POST", "/v1/statuses", `{"name":"Nap","group":"away"}`},
			{"GET", "/v1/acd-settings", ""},
			{"POST", "/v1/acd-settings/reset", ""},
		} {
			r := s.do(c[0], c[1], anaKey, c[2])
			if code, _ := r.errorOf(t); r.status != 403 || code != "forbidden" {
				t.Errorf("agent %s %s: %d %s", c[0], c[1], r.status, r.body)
			}
		}
		// Admins configure too; users who are not agents have no agent record.
		s.call(t, "GET", "/v1/routes", adminKey, nil, 200)
		r := s.do("GET", "/v1/agents/me", supKey, "")
		if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
			t.Errorf("supervisor's agent record: %d %s", r.status, r.body)
		}
	})

	t.Run("tenants are isolated", func(t *testing.T) {
		other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-acd", "name": "Other",
			"admin": map[string]string{"email": "boss@other.test", "name": "Boss"}}, 201)
		otherKey := other["apiKey"].(map[string]any)["secret"].(string)
		for _, path := range []string{"/v1/queues/" + salesID, "/v1/routes/" + routeA, "/v1/agents/" + anaID} {
			r := s.do("GET", path, otherKey, "")
			if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
				t.Errorf("other tenant reading %s: %d %s", path, r.status, r.body)
			}
		}
		r := s.do("DELETE", "/v1/skills/"+spanishID, otherKey, "")
		if r.status != 404 {
			t.Errorf("other tenant deleting a skill: %d %s", r.status, r.body)
		}
		r = s.do("POST", "/v1/routes", otherKey, `{"name":"x","queueId":"`+salesID+`","condition":{"attr":"from","op":"is","value":"1"}}`)
		if code, field := r.errorOf(t); r.status != 422 || code != "invalid_field" || field != "queueId" {
			t.Errorf("other tenant routing to our queue: %d %s", r.status, r.body)
		}
		if qs := items(s.call(t, "GET", "/v1/queues", otherKey, nil, 200)); len(qs) != 1 || qs[0].(map[string]any)["isDefault"] != true {
			t.Errorf("other tenant's queues %v", qs)
		}
	})

	t.Run("bad configuration changes nothing", func(t *testing.T) {
		// state is every ACD read the supervisor has, to compare before and after.
		state := func() string {
			t.Helper()
			var b strings.Builder
			for _, path := range []string{"/v1/queues", "/v1/routes", "/v1/skills", "/v1/statuses", "/v1/acd-settings", "/v1/agents/" + anaID} {
				r := s.do("GET", path, supKey, "")
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.status, r.body)
				}
				b.WriteString(path + " " + string(r.body) + "\n")
			}
			return b.String()
		}
		before := state()
		cases := []struct {
			name, method, path, body string
			status                   int
			code, field              string
		}{
			{"unknown queue in a route", "POST", "/v1/routes", `{"name":"x","queueId":"00000000-0000-4000-8000-000000000000","condition":{"attr":"from","op":"is","value":"1"}}`, 422, "invalid_field", "queueId"},
			{"queue that is not an ID", "POST", "/v1/routes", `{"name":"x","queueId":"sales","condition":{"attr":"from","op":"is","value":"1"}}`, 422, "invalid_field", "queueId"},
			{"unknown skill in a route", "POST", "/v1/routes", `{"name":"x","queueId":"` + salesID + `","requiredSkills":["00000000-0000-4000-8000-000000000000"],"condition":{"attr":"from","op":"is","value":"1"}}`, 422, "invalid_field", "requiredSkills[0]"},
			{"route condition on an unknown attribute", "POST", "/v1/routes", `{"name":"x","queueId":"` + salesID + `","condition":{"attr":"shoeSize","op":"is","value":"42"}}`, 422, "invalid_field", "condition.attr"},
			{"nested unknown attribute", "PATCH", "/v1/routes/" + routeA, `{"condition":{"any":[{"attr":"from","op":"is","value":"1"},{"attr":"mood","op":"is","value":"x"}]}}`, 422, "invalid_field", "condition.any[1].attr"},
			{"unknown key in a condition", "PATCH", "/v1/routes/" + routeA, `{"condition":{"attr":"from","op":"is","value":"1","weight":3}}`, 422, "invalid_field", "condition.weight"},
			{"unknown priority", "PATCH", "/v1/routes/" + routeA, `{"priority":"critical"}`, 422, "invalid_field", "priority"},
			{"negative agent capacity", "PATCH", "/v1/agents/" + anaID, `{"capacity":{"email":-1}}`, 422, "invalid_field", "capacity.email"},
			{"voice capacity other than 1", "PATCH", "/v1/agents/" + anaID, `{"capacity":{"voice":2}}`, 422, "invalid_field", "capacity.voice"},
			{"negative default capacity", "PATCH", "/v1/acd-settings", `{"defaultCapacity":{"live_messaging":-5}}`, 422, "invalid_field", "defaultCapacity.live_messaging"},
			{"open excluded from capacity", "PATCH", "/v1/acd-settings", `{"countedStatuses":{"open":false}}`, 422, "invalid_field", "countedStatuses.open"},
			{"wrap-up of the wrong type", "PATCH", "/v1/agents/" + anaID, `{"wrapUpSeconds":"long"}`, 400, "malformed_request", "wrapUpSeconds"},
			{"deleting the Default queue", "DELETE", "/v1/queues/" + defaultID, "", 409, "conflict", ""},
			{"choosing the Default queue's agents", "PUT", "/v1/queues/" + defaultID + "/agents", `{"agentIds":[]}`, 409, "conflict", ""},
			{"deleting a queue that routes lead to", "DELETE", "/v1/queues/" + salesID, "", 409, "conflict", ""},
			{"deleting a skill a route requires", "DELETE", "/v1/skills/" + spanishID, "", 409, "conflict", ""},
			{"reordering with a route missing", "PUT", "/v1/routes/order", `{"routeIds":["` + routeA + `"]}`, 409, "conflict", ""},
			{"reordering with a route twice", "PUT", "/v1/routes/order", `{"routeIds":["` + routeA + `","` + routeA + `"]}`, 422, "invalid_field", "routeIds[1]"},
			{"deleting a predefined status", "DELETE", "/v1/statuses/available", "", 409, "conflict", ""},
			{"a status named like a predefined one", "POST", "/v1/statuses", `{"name":"busy","group":"busy"}`, 409, "conflict", ""},
			{"a sticky queue without a window", "PATCH", "/v1/queues/" + salesID, `{"assignmentMode":"sticky"}`, 422, "invalid_field", "stickyWindow"},
			{"a duplicate queue name", "PATCH", "/v1/queues/" + salesID, `{"name":"default"}`, 409, "conflict", ""},
			{"a non-agent in a queue", "PUT", "/v1/queues/" + salesID + "/agents", `{"agentIds":["` + anaID + `","00000000-0000-4000-8000-000000000000"]}`, 422, "invalid_field", "agentIds[1]"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := s.do(c.method, c.path, supKey, c.body)
				code, field := r.errorOf(t)
				if r.status != c.status || code != c.code || field != c.field {
					t.Errorf("%s %s: %d %s field %q, want %d %s field %q: %s", c.method, c.path, r.status, code, field, c.status, c.code, c.field, r.body)
				}
			})
		}
		if after := state(); after != before {
			t.Errorf("refused configuration changed something:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		// Deleting a queue with active interactions: the next subtest.
	})

	t.Run("a queue with active interactions is not deleted", func(t *testing.T) {
		busy := id(s.call(t, "POST", "/v1/queues", supKey, map[string]any{"name": "Busy"}, 201))
		route := id(s.call(t, "POST", "/v1/routes", supKey, map[string]any{"name": "busy", "queueId": busy,
			"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"busy"}}}, 201))
		ix := s.call(t, "POST", "/v1/interactions", adminKey, `{"channel":"web_chat","from":"visitor-9","tags":["busy"]}`, 201)
		if ix["queueId"] != busy {
			t.Fatalf("routed to %v, want Busy", ix["queueId"])
		}
		s.call(t, "DELETE", "/v1/routes/"+route, supKey, nil, 204)
		// The interaction waits in Busy (nobody is logged in) once its workflow wrote it.
		deadline := time.Now().Add(30 * time.Second)
		for len(items(s.call(t, "GET", "/v1/interactions?status=queued&queueId="+busy, supKey, nil, 200))) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the interaction never reached the read model")
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := s.do("DELETE", "/v1/queues/"+busy, supKey, "")
		if code, _ := r.errorOf(t); r.status != 409 || code != "conflict" || !strings.Contains(string(r.body), "active interactions") {
			t.Errorf("deleting a queue with a waiting interaction: %d %s", r.status, r.body)
		}
		s.call(t, "GET", "/v1/queues/"+busy, supKey, nil, 200)
		if ended := s.call(t, "POST", "/v1/interactions/"+id(ix)+"/end", adminKey, `{"reason":"visitor left"}`, 200); ended["status"] != "abandoned" {
			t.Errorf("ended %v", ended)
		}
		s.call(t, "DELETE", "/v1/queues/"+busy, supKey, nil, 204)
	})

	t.Run("deletes", func(t *testing.T) {
		s.call(t, "DELETE", "/v1/routes/"+routeA, supKey, nil, 204)
		if rs := items(s.call(t, "GET", "/v1/routes", supKey, nil, 200)); len(rs) != 1 || rs[0].(map[string]any)["position"] != 1.0 {
			t.Errorf("routes after delete %v", rs)
		}
		s.call(t, "DELETE", "/v1/queues/"+salesID, supKey, nil, 204)
		s.call(t, "GET", "/v1/queues/"+salesID, supKey, nil, 404)
		if a := s.call(t, "GET", "/v1/agents/"+anaID, supKey, nil, 200); len(a["queueIds"].([]any)) != 1 || a["queueIds"].([]any)[0] != defaultID {
			t.Errorf("Ana's queues after deleting Sales: %v", a["queueIds"])
		}
		s.call(t, "DELETE", "/v1/skills/"+spanishID, supKey, nil, 204)
		if a := s.call(t, "GET", "/v1/agents/"+anaID, supKey, nil, 200); len(a["skillIds"].([]any)) != 0 {
			t.Errorf("Ana's skills after deleting Spanish: %v", a["skillIds"])
		}
	})
}

// call sends body (a value marshalled to JSON, or a raw JSON string) with key and
// requires status; it returns the JSON answer (nil for 204).
func (s *testStack) call(t *testing.T, method, path, key string, body any, status int) map[string]any {
	t.Helper()
	raw, ok := body.(string)
	if !ok && body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	r := s.do(method, path, key, raw)
	if r.status != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	if status == http.StatusNoContent {
		return nil
	}
	return r.json(t)
}

// wantError requires an error answer with status, code and field.
func (s *testStack) wantError(t *testing.T, method, path, key string, body any, status int, code, field string) {
	t.Helper()
	raw, _ := body.(string)
	if body != nil && raw == "" {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	r := s.do(method, path, key, raw)
	gotCode, gotField := r.errorOf(t)
	if r.status != status || gotCode != code || gotField != field {
		t.Errorf("%s %s: %d %s field %q, want %d %s field %q: %s", method, path, r.status, gotCode, gotField, status, code, field, r.body)
	}
}

// newUserKey creates a user of the admin's tenant with an API key.
func (s *testStack) newUserKey(t *testing.T, adminKey, role string) (id, key string) {
	t.Helper()
	email := randomName(role+"-") + "@demo.test"
	u := s.call(t, "POST", "/v1/users", adminKey, map[string]string{"email": email, "name": role, "role": role}, 201)
	k := s.call(t, "POST", "/v1/api-keys", adminKey, map[string]string{"userId": u["id"].(string), "name": "desk"}, 201)
	return u["id"].(string), k["secret"].(string)
}

// tenantOf answers the tenant of key, and removes the tenant's presence keys from
// the shared test Redis when the test ends.
func (s *testStack) tenantOf(t *testing.T, key string) string {
	t.Helper()
	tenant := s.call(t, "GET", "/v1/me", key, nil, 200)["tenant"].(map[string]any)["id"].(string)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := rdb.Keys(ctx, presence.DefaultPrefix+":{"+tenant+"}:*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Logf("remove presence keys of tenant %s: %v", tenant, err)
		}
	})
	return tenant
}

// sessionState waits until the agent's session workflow has ended and returns
// what its query answers.
func sessionState(t *testing.T, c client.Client, workflowID string) workflows.AgentSessionState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
		if err == nil && desc.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("session workflow %s did not complete: %v %v", workflowID, desc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, err := c.QueryWorkflow(ctx, workflowID, "", workflows.AgentSessionQuery)
	if err != nil {
		t.Fatalf("query %s: %v", workflowID, err)
	}
	var st workflows.AgentSessionState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAgentSessions drives agent presence and sessions end to end: login, a break,
// heartbeats, a supervisor's status change and forced logout, the session workflow
// found in Temporal visibility with its durations and its history in PostgreSQL; a
// logout refused while the agent holds an interaction; and, on a stack with a 1 s
// heartbeat, a desktop that stops heart-beating logged out by the workflow.
func TestAgentSessions(t *testing.T) {
	t.Parallel()
	t.Run("login, break, forced logout", func(t *testing.T) {
		s := newTestStack(t)
		s.start()
		defer s.stop()
		adminKey := keyPattern.FindString(s.out.String())
		tenant := s.tenantOf(t, adminKey)
		supID, supKey := s.newUserKey(t, adminKey, "supervisor")
		agentID, agentKey := s.newUserKey(t, adminKey, "agent")
		offID, offKey := s.newUserKey(t, adminKey, "agent")
		s.call(t, "PATCH", "/v1/agents/"+offID, supKey, `{"enabled":false}`, 200)

		// Who may log in.
		s.wantError(t, "POST", "/v1/agents/me/session", supKey, nil, 403, "forbidden", "")
		s.wantError(t, "POST", "/v1/agents/me/session", offKey, nil, 409, "agent_disabled", "")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"status":"Nap"}`, 422, "invalid_field", "status")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"status":"offline"}`, 422, "invalid_field", "status")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"mood":"sunny"}`, 422, "invalid_field", "mood")
		s.wantError(t, "POST", "/v1/agents/me/heartbeat", agentKey, nil, 409, "not_logged_in", "")

		winter := s.call(t, "POST", "/v1/campaigns", adminKey, `{"name":"Winter"}`, 201)["id"].(string)
		login := s.call(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"winter"}`, 201)
		st := login["status"].(map[string]any)
		if login["loggedIn"] != true || st["id"] != "available" || login["campaign"] != winter || login["heartbeatTtlSeconds"] != 30.0 {
			t.Fatalf("login %v", login)
		}
		wfID := login["workflowId"].(string)
		if wfID != workflows.AgentSessionWorkflowID(tenant, agentID) {
			t.Errorf("workflow ID %s", wfID)
		}
		// Logging in again resumes the live session.
		again := s.call(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"winter"}`, 200)
		if again["resumed"] != true || again["session"] != login["session"] {
			t.Errorf("second login %v", again)
		}

		time.Sleep(300 * time.Millisecond)
		lunch := s.call(t, "PUT", "/v1/agents/me/status", agentKey, `{"status":"lunch"}`, 200)
		if st := lunch["status"].(map[string]any); st["name"] != "Lunch" || st["breakReason"] != true || st["group"] != "away" || st["id"] == "" {
			t.Errorf("status Lunch: %v", lunch)
		}
		s.wantError(t, "PUT", "/v1/agents/me/status", agentKey, `{"status":"Nap"}`, 422, "invalid_field", "status")
		s.wantError(t, "PUT", "/v1/agents/me/status", agentKey, `{"status":"Offline"}`, 422, "invalid_field", "status")
		s.wantError(t, "PUT", "/v1/agents/me/status", agentKey, `{}`, 422, "invalid_field", "status")
		s.wantError(t, "PUT", "/v1/agents/"+agentID+"/status", agentKey, `{"status":"busy"}`, 403, "forbidden", "")
		time.Sleep(500 * time.Millisecond)
		s.call(t, "POST", "/v1/agents/me/heartbeat", agentKey, nil, 204)
		// Totals come from the workflow's query, which a loaded machine may answer
		// after the API's 2 s budget: ask again rather than fail.
		var me map[string]any
		for range 5 {
			if me = s.call(t, "GET", "/v1/agents/me/session", agentKey, nil, 200); me["totals"] != nil {
				break
			}
		}
		if me["loggedIn"] != true || me["status"].(map[string]any)["name"] != "Lunch" {
			t.Errorf("own session %v", me)
		}
		if totals, _ := me["totals"].(map[string]any); totals == nil || totals["breakMs"].(map[string]any)["Lunch"].(float64) < 500 {
			t.Errorf("own session's totals %v", me["totals"])
		}

		// A supervisor puts the agent in training, then logs them out.
		tr := s.call(t, "PUT", "/v1/agents/"+agentID+"/status", supKey, `{"status":"Training"}`, 200)
		if tr["status"].(map[string]any)["name"] != "Training" {
			t.Errorf("supervisor's status change %v", tr)
		}
		time.Sleep(200 * time.Millisecond)
		s.wantError(t, "DELETE", "/v1/agents/"+supID+"/session", supKey, nil, 404, "not_found", "")
		s.call(t, "DELETE", "/v1/agents/"+agentID+"/session", supKey, nil, 204)
		view := s.call(t, "GET", "/v1/agents/"+agentID+"/session", supKey, nil, 200)
		if view["loggedIn"] != false || view["status"].(map[string]any)["name"] != "Offline" {
			t.Errorf("after forced logout %v", view)
		}
		s.wantError(t, "POST", "/v1/agents/me/heartbeat", agentKey, nil, 409, "not_logged_in", "")
		s.wantError(t, "PUT", "/v1/agents/me/status", agentKey, `{"status":"available"}`, 409, "not_logged_in", "")

		// The session workflow is found by its agent in Temporal visibility.
		c := s.temporalClient()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		query := fmt.Sprintf("AgentId = %q AND TenantId = %q", agentID, tenant)
		for {
			list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			if err != nil {
				t.Fatalf("list %s: %v", query, err)
			}
			if len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowId == wfID &&
				list.Executions[0].Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("session workflow not found by %s: %v", query, list.Executions)
			}
			time.Sleep(200 * time.Millisecond)
		}
		state := sessionState(t, c, wfID)
		tot := state.Sheet.Totals
		if state.Open || state.LogoutReason != pgstore.LogoutForced || state.Campaign != winter ||
			tot.BreakMs["Lunch"] < 500 || tot.BreakMs["Training"] < 200 || tot.StatusMs["Available"] < 300 || tot.LoggedInMs < 1000 {
			t.Errorf("session state %+v", state)
		}
		var sum int64
		for _, v := range tot.StatusMs {
			sum += v
		}
		if sum != tot.LoggedInMs || tot.GroupMs["away"] != tot.BreakMs["Lunch"]+tot.BreakMs["Training"] {
			t.Errorf("totals do not add up: %+v", tot)
		}
		if len(state.History) != 4 || state.History[2].ActorID != supID || state.History[3].Status.Name != "Offline" {
			t.Errorf("history %+v", state.History)
		}

		// PostgreSQL has the session and each change, once.
		pool, err := pgxpool.New(ctx, s.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		store := pgstore.New(pool)
		session := int64(login["session"].(float64))
		evs, err := store.AgentSessionEvents(ctx, tenant, agentID, session)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, string(e.Kind)+":"+e.Status.Name)
		}
		if strings.Join(kinds, " ") != "login:Available status:Lunch status:Training logout:Offline" || evs[3].ActorID != supID {
			t.Errorf("recorded history %v", kinds)
		}
		rec, err := store.GetAgentSession(ctx, tenant, agentID, session)
		if err != nil || rec.LogoutReason != pgstore.LogoutForced || rec.Totals.LoggedInMs != tot.LoggedInMs || rec.LastSeq != 4 {
			t.Errorf("recorded session %+v, %v", rec, err)
		}
		if *updateHistories {
			recordHistory(t, c, wfID, "agent_session.json")
		}

		// No logout while the agent holds an interaction.
		next := s.call(t, "POST", "/v1/agents/me/session", agentKey, nil, 201)
		if next["session"].(float64) <= login["session"].(float64) {
			t.Errorf("new session %v after %v", next["session"], login["session"])
		}
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
		defer rdb.Close()
		ps, err := presence.New(rdb, presence.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ix := randomName("ix-")
		if ok, err := ps.Reserve(ctx, tenant, agentID, ix, routing.LiveChat, 5, time.Minute); err != nil || !ok {
			t.Fatalf("reserve: %v, %v", ok, err)
		}
		s.wantError(t, "DELETE", "/v1/agents/me/session", agentKey, nil, 409, "active_interactions", "")
		if v := s.call(t, "GET", "/v1/agents/me/session", agentKey, nil, 200); v["loggedIn"] != true {
			t.Errorf("refused logout logged out: %v", v)
		}
		if ok, err := ps.Release(ctx, tenant, agentID, ix); err != nil || !ok {
			t.Fatalf("release: %v, %v", ok, err)
		}
		s.call(t, "DELETE", "/v1/agents/me/session", agentKey, nil, 204)
		s.call(t, "DELETE", "/v1/agents/me/session", agentKey, nil, 204) // again: nothing to do
		if st := sessionState(t, c, wfID); st.Session != int64(next["session"].(float64)) || st.LogoutReason != pgstore.LogoutByAgent {
			t.Errorf("second session %+v", st)
		}
	})

	t.Run("heartbeat stops", func(t *testing.T) {
		s := newTestStack(t)
		s.args = append(s.args, "--heartbeat-ttl", "1s")
		s.start()
		defer s.stop()
		adminKey := keyPattern.FindString(s.out.String())
		tenant := s.tenantOf(t, adminKey)
		agentID, agentKey := s.newUserKey(t, adminKey, "agent")
		login := s.call(t, "POST", "/v1/agents/me/session", agentKey, `{"status":"busy"}`, 201)
		if login["heartbeatTtlSeconds"] != 1.0 {
			t.Fatalf("login %v", login)
		}
		loginAt, _ := time.Parse(time.RFC3339Nano, login["loginAt"].(string))
		expiresAt, _ := time.Parse(time.RFC3339Nano, login["expiresAt"].(string))

		// No heartbeat: the agent reads Offline, and the workflow records the
		// logout at the moment the heartbeat lapsed.
		c := s.temporalClient()
		state := sessionState(t, c, workflows.AgentSessionWorkflowID(tenant, agentID))
		if state.LogoutReason != pgstore.LogoutHeartbeatLapsed || state.LogoutAt == nil || !state.LogoutAt.Equal(expiresAt) ||
			state.Sheet.Totals.LoggedInMs != expiresAt.Sub(loginAt).Milliseconds() || state.Sheet.Totals.StatusMs["Busy"] != 1000 {
			t.Errorf("lapsed session %+v (login %v, expires %v)", state, loginAt, expiresAt)
		}
		v := s.call(t, "GET", "/v1/agents/me/session", agentKey, nil, 200)
		if v["loggedIn"] != false || v["expired"] != false || v["status"].(map[string]any)["name"] != "Offline" {
			t.Errorf("after the lapse %v", v)
		}
		if totals, _ := v["totals"].(map[string]any); totals == nil || totals["loggedInMs"] != 1000.0 {
			t.Errorf("final totals %v", v["totals"])
		}
		s.wantError(t, "POST", "/v1/agents/me/heartbeat", agentKey, nil, 409, "not_logged_in", "")
		if *updateHistories {
			recordHistory(t, c, workflows.AgentSessionWorkflowID(tenant, agentID), "agent_session_lapse.json")
		}
	})
}

func TestHeartbeatTTLSetting(t *testing.T) {
	for _, c := range []struct {
		env, flag string
		want      time.Duration
		ok        bool
	}{
		{"", "", 30 * time.Second, true},
		{"45s", "", 45 * time.Second, true},
		{"45s", "1s", time.Second, true},
		{"", "500ms", 0, false},
		{"", "2h", 0, false},
		{"", "soon", 0, false},
	} {
		var cfg config
		var args []string
		if c.flag != "" {
			args = []string{"--heartbeat-ttl", c.flag}
		}
		err := cfg.parse("api", args, func(k string) string {
			if k == "SWITCHBOARD_HEARTBEAT_TTL" {
				return c.env
			}
			return ""
		})
		if (err == nil) != c.ok || (c.ok && cfg.HeartbeatTTL != c.want) {
			t.Errorf("env %q flag %q: %v, %v; want %v ok=%v", c.env, c.flag, cfg.HeartbeatTTL, err, c.want, c.ok)
		}
	}
}
