package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

const principalKey = "principal"

// authenticate resolves the bearer API key to a principal, or answers 401.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "send an API key as Authorization: Bearer <key>"}
		}
		p, err := s.store.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func principalOf(c echo.Context) (pgstore.Principal, bool) {
	p, ok := c.Get(principalKey).(pgstore.Principal)
	return p, ok
}

func principal(c echo.Context) pgstore.Principal {
	p, _ := principalOf(c)
	return p
}

// actor is the caller as recorded in the audit log.
func actor(c echo.Context) pgstore.Actor {
	p := principal(c)
	return pgstore.Actor{UserID: p.UserID, KeyID: p.KeyID, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
}

// requireRole lets only callers with one of roles through.
func requireRole(roles ...pgstore.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !slices.Contains(roles, principal(c).Role) {
				return errForbidden("your role may not do this")
			}
			return next(c)
		}
	}
}
