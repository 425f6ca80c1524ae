package api_test

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
)

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Field     string `json:"field"`
		RequestID string `json:"requestId"`
	} `json:"error"`
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantError checks an error response: status, JSON body with code, and a request ID
// equal to the X-Request-Id header.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get(echo.HeaderContentType)); mt != echo.MIMEApplicationJSON {
		t.Errorf("Content-Type = %q, want application/json", rec.Header().Get(echo.HeaderContentType))
	}
	var body errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body is not {\"error\":{...}}: %v", err)
	}
	if body.Error.Code != code {
		t.Errorf("code = %q, want %q", body.Error.Code, code)
	}
	if body.Error.Message == "" {
		t.Error("empty message")
	}
	id := rec.Header().Get(echo.HeaderXRequestID)
	if id == "" || body.Error.RequestID != id {
		t.Errorf("requestId = %q, X-Request-Id = %q; want equal and set", body.Error.RequestID, id)
	}
	return body
}

func TestUnknownRoute(t *testing.T) {
	h := newServer(t).Handler()
	// Unknown /v1 paths are 404 with or without a key: authentication is per route.
	for _, target := range []string{"/nope", "/", "/v2/me", "/healthz/extra", "/v1", "/v1/", "/v1/nope", "/v1/userz"} {
		t.Run(target, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, target, nil)
			wantError(t, rec, http.StatusNotFound, "not_found")
		})
	}
}

func TestRequestIDFromClient(t *testing.T) {
	h := newServer(t).Handler()
	rec := do(t, h, http.MethodGet, "/nope", http.Header{echo.HeaderXRequestID: {"trace-123"}})
	body := wantError(t, rec, http.StatusNotFound, "not_found")
	if body.Error.RequestID != "trace-123" {
		t.Errorf("requestId = %q, want the client's trace-123", body.Error.RequestID)
	}
	a := do(t, h, http.MethodGet, "/healthz", nil).Header().Get(echo.HeaderXRequestID)
	b := do(t, h, http.MethodGet, "/healthz", nil).Header().Get(echo.HeaderXRequestID)
	if a == "" || a == b {
		t.Errorf("request IDs %q and %q: want set and distinct", a, b)
	}
}

// Every /v1 route except the document needs a bearer key; the server has no store, so
// these requests must be refused before the store is asked.
func TestV1RequiresBearer(t *testing.T) {
	s := newServer(t)
	h := s.Handler()
	var targets [][2]string
	for _, r := range s.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if !strings.HasPrefix(path, "/v1") || path == "/v1/openapi.json" {
			continue
		}
		if method == echo.RouteNotFound {
			method = http.MethodGet
		}
		path = strings.ReplaceAll(strings.ReplaceAll(path, ":id", "6f1c2c3e-0000-4000-8000-000000000001"), "*", "nope")
		targets = append(targets, [2]string{method, path})
	}
	if len(targets) < 10 {
		t.Fatalf("only %d /v1 routes found", len(targets))
	}
	for _, tgt := range targets {
		for _, auth := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "sbk_abc"} {
			t.Run(tgt[0]+" "+tgt[1]+" "+auth, func(t *testing.T) {
				header := http.Header{}
				if auth != "" {
					header.Set(echo.HeaderAuthorization, auth)
				}
				rec := do(t, h, tgt[0], tgt[1], header)
				wantError(t, rec, http.StatusUnauthorized, "unauthenticated")
				if got := rec.Header().Get(echo.HeaderWWWAuthenticate); !strings.HasPrefix(got, "Bearer ") {
					t.Errorf("WWW-Authenticate = %q, want Bearer ...", got)
				}
			})
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newServer(t).Handler()
	for _, tc := range []struct{ method, target, allow string }{
		{http.MethodPost, "/healthz", http.MethodGet},
		{http.MethodDelete, "/v1/openapi.json", http.MethodGet},
		{http.MethodPut, "/v1/users/6f1c2c3e-0000-4000-8000-000000000001", http.MethodPatch},
		{http.MethodDelete, "/v1/tenants", http.MethodPost},
		{http.MethodGet, "/v1/system/checks", http.MethodPost},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.target, nil)
			wantError(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
			if allow := rec.Header().Get(echo.HeaderAllow); !strings.Contains(allow, tc.allow) {
				t.Errorf("Allow = %q, want it to contain %s", allow, tc.allow)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	rec := do(t, newServer(t).Handler(), http.MethodGet, "/healthz", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body) != 1 || body["status"] != "ok" {
		t.Errorf("body = %s, want {\"status\":\"ok\"}", rec.Body)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := do(t, h, http.MethodGet, "/metrics", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics status = %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	h := newServer(t).Handler()
	do(t, h, http.MethodGet, "/healthz", nil)
	do(t, h, http.MethodGet, "/healthz", nil)
	do(t, h, http.MethodGet, "/nope/123", nil)
	do(t, h, http.MethodGet, "/v1/users/6f1c2c3e-0000-4000-8000-000000000001", nil)
	out := scrape(t, h)
	for _, want := range []string{
		`switchboard_http_requests_total{method="GET",route="/healthz",status="200"} 2`,
		// route templates, never raw paths, so IDs do not explode the series
		`switchboard_http_requests_total{method="GET",route="/v1/users/:id",status="401"} 1`,
		`switchboard_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, raw := range []string{"/nope/123", "6f1c2c3e"} {
		if strings.Contains(out, raw) {
			t.Errorf("/metrics contains the raw path %q", raw)
		}
	}
	if !strings.Contains(out, `status="404"}`) {
		t.Error("/metrics did not count the unmatched request")
	}
}

func TestPanicBecomes500(t *testing.T) {
	s := newServer(t)
	s.EchoForTest().GET("/test/panic", func(echo.Context) error {
		panic("secret: the database password is hunter2")
	})
	s.EchoForTest().GET("/test/nil", func(c echo.Context) error {
		var m map[string]int
		m["x"]++ // a runtime error, not a string
		return nil
	})
	h := s.Handler()

	for _, target := range []string{"/test/panic", "/test/nil"} {
		rec := do(t, h, http.MethodGet, target, nil)
		body := wantError(t, rec, http.StatusInternalServerError, "internal")
		if strings.Contains(body.Error.Message, "hunter2") || strings.Contains(body.Error.Message, "nil map") {
			t.Errorf("message %q leaks the panic", body.Error.Message)
		}
	}
	// Still serving, concurrently too.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			do(t, h, http.MethodGet, "/test/panic", nil)
			if rec := do(t, h, http.MethodGet, "/healthz", nil); rec.Code != http.StatusOK {
				t.Errorf("/healthz after a panic: %d", rec.Code)
			}
		})
	}
	wg.Wait()
	if out := scrape(t, h); !strings.Contains(out, `switchboard_http_requests_total{method="GET",route="/test/panic",status="500"} 9`) {
		t.Errorf("/metrics did not count the panicking requests as 500s:\n%s", grep(out, "switchboard_http_requests_total"))
	}
}

// http.ErrAbortHandler is net/http's way to abort a response; it must reach net/http.
func TestAbortHandlerPanicPropagates(t *testing.T) {
	s := newServer(t)
	s.EchoForTest().GET("/test/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", r)
		}
	}()
	do(t, s.Handler(), http.MethodGet, "/test/abort", nil)
	t.Error("the abort panic was swallowed")
}

// HEAD error responses carry no body.
func TestHeadErrorHasNoBody(t *testing.T) {
	rec := do(t, newServer(t).Handler(), http.MethodHead, "/nope", nil)
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Errorf("HEAD /nope = %d with %d body bytes, want 404 and none", rec.Code, rec.Body.Len())
	}
}

func grep(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
