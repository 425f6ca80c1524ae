package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"switchboard/telemetry"
)

// The agents' own session routes sit beside /v1/agents/{id} and its session
// routes; each request reaches the route meant for it.
func TestSessionRoutes(t *testing.T) {
	s := New(Config{Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	const id = "6f1c2c3e-0000-4000-8000-000000000001"
	for _, tc := range []struct{ method, target, route, param string }{
		{http.MethodGet, "/v1/agents/me", "/v1/agents/:id", "me"},
		{http.MethodPatch, "/v1/agents/" + id, "/v1/agents/:id", id},
		{http.MethodPost, "/v1/agents/me/session", "/v1/agents/me/session", ""},
		{http.MethodGet, "/v1/agents/me/session", "/v1/agents/me/session", ""},
		{http.MethodDelete, "/v1/agents/me/session", "/v1/agents/me/session", ""},
		{http.MethodPut, "/v1/agents/me/status", "/v1/agents/me/status", ""},
		{http.MethodPost, "/v1/agents/me/heartbeat", "/v1/agents/me/heartbeat", ""},
		{http.MethodGet, "/v1/agents/" + id + "/session", "/v1/agents/:id/session", id},
		{http.MethodDelete, "/v1/agents/" + id + "/session", "/v1/agents/:id/session", id},
		{http.MethodPut, "/v1/agents/" + id + "/status", "/v1/agents/:id/status", id},
	} {
		c := s.echo.NewContext(httptest.NewRequest(tc.method, tc.target, nil), httptest.NewRecorder())
		s.echo.Router().Find(tc.method, tc.target, c)
		if c.Path() != tc.route || c.Param("id") != tc.param {
			t.Errorf("%s %s: route %q id %q, want %q id %q", tc.method, tc.target, c.Path(), c.Param("id"), tc.route, tc.param)
		}
	}
	h := s.Handler()
	for _, tc := range []struct{ method, target, allow string }{
		{http.MethodPatch, "/v1/agents/me/session", http.MethodDelete},
		{http.MethodGet, "/v1/agents/me/heartbeat", http.MethodPost},
		{http.MethodPost, "/v1/agents/me/status", http.MethodPut},
		{http.MethodPost, "/v1/agents/" + id + "/session", http.MethodDelete},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), tc.allow) {
			t.Errorf("%s %s: %d, Allow %q; want 405 allowing %s", tc.method, tc.target, rec.Code, rec.Header().Get("Allow"), tc.allow)
		}
	}
}
