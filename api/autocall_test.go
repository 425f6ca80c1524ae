package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"switchboard/telemetry"
)

// The Auto Call switch of the agent and of a supervisor reach their routes, and
// other methods are told which one is allowed.
func TestAutoCallRoutes(t *testing.T) {
	s := New(Config{Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	const id = "6f1c2c3e-0000-4000-8000-000000000001"
	for _, tc := range []struct{ method, target, route, param string }{
		{http.MethodPut, "/v1/agents/me/auto-call", "/v1/agents/me/auto-call", ""},
		{http.MethodPut, "/v1/agents/" + id + "/auto-call", "/v1/agents/:id/auto-call", id},
	} {
		c := s.echo.NewContext(httptest.NewRequest(tc.method, tc.target, nil), httptest.NewRecorder())
		s.echo.Router().Find(tc.method, tc.target, c)
		if c.Path() != tc.route || c.Param("id") != tc.param {
			t.Errorf("%s %s: route %q id %q, want %q id %q", tc.method, tc.target, c.Path(), c.Param("id"), tc.route, tc.param)
		}
	}
	h := s.Handler()
	for _, target := range []string{"/v1/agents/me/auto-call", "/v1/agents/" + id + "/auto-call"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, nil))
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), http.MethodPut) {
			t.Errorf("POST %s: %d, Allow %q; want 405 allowing PUT", target, rec.Code, rec.Header().Get("Allow"))
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, target, strings.NewReader(`{"enabled":true}`)))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("PUT %s without a key: %d, want 401", target, rec.Code)
		}
	}
}
