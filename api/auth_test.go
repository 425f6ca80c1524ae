package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

func TestRequireRole(t *testing.T) {
	all := []pgstore.Role{pgstore.RoleAgent, pgstore.RoleSupervisor, pgstore.RoleAdmin, pgstore.RoleIntegration}
	tests := []struct {
		name      string
		allowed   []pgstore.Role
		principal *pgstore.Principal // nil: none in the context
		pass      bool
	}{
		{"admin for admins", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: pgstore.RoleAdmin}, true},
		{"supervisor for admins", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: pgstore.RoleSupervisor}, false},
		{"agent for admins", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: pgstore.RoleAgent}, false},
		{"integration for admins", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: pgstore.RoleIntegration}, false},
		{"platform admin with agent role for admins", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: pgstore.RoleAgent, PlatformAdmin: true}, false},
		{"admin for admins and supervisors", []pgstore.Role{pgstore.RoleAdmin, pgstore.RoleSupervisor}, &pgstore.Principal{Role: pgstore.RoleAdmin}, true},
		{"supervisor for admins and supervisors", []pgstore.Role{pgstore.RoleAdmin, pgstore.RoleSupervisor}, &pgstore.Principal{Role: pgstore.RoleSupervisor}, true},
		{"agent for admins and supervisors", []pgstore.Role{pgstore.RoleAdmin, pgstore.RoleSupervisor}, &pgstore.Principal{Role: pgstore.RoleAgent}, false},
		{"role case matters", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{Role: "Admin"}, false},
		{"empty role", []pgstore.Role{pgstore.RoleAdmin}, &pgstore.Principal{}, false},
		{"no principal", []pgstore.Role{pgstore.RoleAdmin}, nil, false},
		{"no principal, every role", all, nil, false},
		{"no roles allowed", nil, &pgstore.Principal{Role: pgstore.RoleAdmin}, false},
		{"integration among all", all, &pgstore.Principal{Role: pgstore.RoleIntegration}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
			if tt.principal != nil {
				c.Set(principalKey, *tt.principal)
			}
			called := false
			err := requireRole(tt.allowed...)(func(echo.Context) error {
				called = true
				return nil
			})(c)
			if called != tt.pass {
				t.Errorf("next called = %v, want %v", called, tt.pass)
			}
			if tt.pass {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if e := toError(err); err == nil || e.Status != http.StatusForbidden || e.Code != CodeForbidden {
				t.Errorf("err = %v, want 403 forbidden", err)
			}
		})
	}
}

func TestCanSeeUser(t *testing.T) {
	const self, other = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	tests := []struct {
		role          pgstore.Role
		platformAdmin bool
		userID        string
		want          bool
	}{
		{pgstore.RoleAdmin, false, self, true},
		{pgstore.RoleAdmin, false, other, true},
		{pgstore.RoleSupervisor, false, self, true},
		{pgstore.RoleSupervisor, false, other, true},
		{pgstore.RoleAgent, false, self, true},
		{pgstore.RoleAgent, false, other, false},
		{pgstore.RoleIntegration, false, self, true},
		{pgstore.RoleIntegration, false, other, false},
		{pgstore.RoleAgent, true, other, false}, // platform admin grants tenant creation, not reading users
		{"", false, self, true},
		{"", false, other, false},
		{pgstore.RoleAgent, false, "", false},
	}
	for _, tt := range tests {
		p := pgstore.Principal{TenantID: "t", UserID: self, KeyID: "k", Role: tt.role, PlatformAdmin: tt.platformAdmin}
		if got := canSeeUser(p, tt.userID); got != tt.want {
			t.Errorf("canSeeUser(role=%q platformAdmin=%v, %q) = %v, want %v", tt.role, tt.platformAdmin, tt.userID, got, tt.want)
		}
	}
}

// authenticate rejects a missing or non-bearer credential before it asks the store.
func TestAuthenticateRejectsWithoutStore(t *testing.T) {
	s := &Server{} // no store: reaching it would panic
	for _, h := range []string{
		"",
		"Bearer",
		"Bearer ",
		"Bearer    ",
		"Basic dXNlcjpwYXNz",
		"Token sbk_abc",
		"sbk_abc",
		"Bearer\tsbk_abc",
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
		if h != "" {
			req.Header.Set(echo.HeaderAuthorization, h)
		}
		c := echo.New().NewContext(req, httptest.NewRecorder())
		err := s.authenticate(func(echo.Context) error {
			t.Errorf("%q: next was called", h)
			return nil
		})(c)
		if e := toError(err); err == nil || e.Status != http.StatusUnauthorized || e.Code != CodeUnauthenticated {
			t.Errorf("%q: err = %v, want 401 unauthenticated", h, err)
		}
		if _, ok := principalOf(c); ok {
			t.Errorf("%q: a principal was set", h)
		}
	}
}

func TestActor(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if got := actor(c); got != (pgstore.Actor{}) {
		t.Errorf("actor without principal = %+v", got)
	}
	c.Set(principalKey, pgstore.Principal{TenantID: "t", UserID: "u", KeyID: "k", Role: pgstore.RoleAdmin})
	c.Response().Header().Set(echo.HeaderXRequestID, "req-1")
	if got, want := actor(c), (pgstore.Actor{UserID: "u", KeyID: "k", RequestID: "req-1"}); got != want {
		t.Errorf("actor = %+v, want %+v", got, want)
	}
}
