package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"switchboard/pgstore"
	"switchboard/telemetry"
)

// An agent asking for another agent's record is refused before the store is asked, so
// the answer says nothing about whether that ID exists.
func TestGetAgentOnlyOwnRecordForAgents(t *testing.T) {
	s := New(Config{Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	for _, id := range []string{"6f1c2c3e-0000-4000-8000-000000000002", "00000000-0000-0000-0000-000000000000", "nope"} {
		rec := httptest.NewRecorder()
		c := s.echo.NewContext(httptest.NewRequest(http.MethodGet, "/v1/agents/"+id, nil), rec)
		c.SetParamNames("id")
		c.SetParamValues(id)
		c.Set(principalKey, pgstore.Principal{TenantID: "t1", UserID: "6f1c2c3e-0000-4000-8000-000000000001", Role: pgstore.RoleAgent})
		err := s.getAgent(c) // a nil store would panic if it were reached
		if e := toError(err); e.Status != http.StatusForbidden || e.Code != CodeForbidden {
			t.Errorf("agent reading %s: %v, want 403", id, err)
		}
	}
}

func TestAgentIDMe(t *testing.T) {
	s := New(Config{Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	for param, want := range map[string]string{"me": "u-self", "u-other": "u-other", "ME": "ME"} {
		c := s.echo.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		c.SetParamNames("id")
		c.SetParamValues(param)
		c.Set(principalKey, pgstore.Principal{UserID: "u-self"})
		if got := agentID(c); got != want {
			t.Errorf("agentID(%q) = %q, want %q", param, got, want)
		}
	}
}
