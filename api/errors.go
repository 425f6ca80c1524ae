package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/presence"
)

// Error is the body of every error response: {"error":{"code","message","field"}}.
type Error struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes clients can branch on.
const (
	CodeMalformed        = "malformed_request"
	CodeInvalid          = "invalid_field"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "request_too_large"
	CodeUnavailable      = "unavailable"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal"

	// CodeAgentDisabled: the agent's record is disabled, so they cannot log in.
	CodeAgentDisabled = "agent_disabled"
	// CodeActiveInteractions: a logout refused while the agent holds or is
	// being offered interactions.
	CodeActiveInteractions = "active_interactions"
	// CodeNotLoggedIn: the agent has no session; the desktop logs in again.
	CodeNotLoggedIn = "not_logged_in"
	// CodeSessionExpired: the session ended when its heartbeat lapsed; the
	// desktop logs in again.
	CodeSessionExpired = "session_expired"
	// CodeDoNotCall: an outbound call to a number on the tenant's do-not-call
	// list: 422 naming the field when the request gives the number, 409 when a
	// stored object's number (a callback's) is listed.
	CodeDoNotCall = "do_not_call"
)

func errMalformed(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMalformed, Message: msg, Field: field}
}

func errForbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: msg}
}

// toError is the one place where errors from anywhere become HTTP errors.
func toError(err error) *Error {
	var apiErr *Error
	var valErr *pgstore.ValidationError
	var httpErr *echo.HTTPError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &valErr):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Message: valErr.Message, Field: valErr.Field}
	case errors.Is(err, pgstore.ErrNotFound):
		return errNotFound(err.Error())
	case errors.Is(err, pgstore.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, presence.ErrActiveInteractions):
		return &Error{Status: http.StatusConflict, Code: CodeActiveInteractions,
			Message: "the agent still holds or is being offered interactions: finish or transfer them first"}
	case errors.Is(err, presence.ErrNotLoggedIn):
		return &Error{Status: http.StatusConflict, Code: CodeNotLoggedIn, Message: "the agent is not logged in: log in with POST /v1/agents/me/session"}
	case errors.Is(err, presence.ErrExpired):
		return &Error{Status: http.StatusGone, Code: CodeSessionExpired,
			Message: "the session ended when its heartbeat lapsed: log in again with POST /v1/agents/me/session"}
	case errors.Is(err, presence.ErrInvalid):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Message: err.Error()}
	case errors.Is(err, pgstore.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "the API key is unknown, revoked or expired"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "the operation did not finish in time"}
	case errors.As(err, &httpErr):
		return fromHTTPError(httpErr)
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

func fromHTTPError(e *echo.HTTPError) *Error {
	msg := http.StatusText(e.Code)
	if m, ok := e.Message.(string); ok && m != "" {
		msg = m
	}
	switch e.Code {
	case http.StatusNotFound:
		return errNotFound("no such route")
	case http.StatusMethodNotAllowed:
		return &Error{Status: e.Code, Code: CodeMethodNotAllowed, Message: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		return &Error{Status: e.Code, Code: CodeTooLarge, Message: "request body is too large"}
	case http.StatusUnauthorized:
		return &Error{Status: e.Code, Code: CodeUnauthenticated, Message: msg}
	case http.StatusServiceUnavailable:
		return &Error{Status: e.Code, Code: CodeUnavailable, Message: msg}
	}
	if e.Code >= 400 && e.Code < 500 {
		return errMalformed("", msg)
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := *toError(err)
	e.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if e.Status >= 500 {
		s.logger.ErrorContext(c.Request().Context(), "request failed", "error", err, "request_id", e.RequestID, "path", c.Path())
	}
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="switchboard"`)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(e.Status)
	} else {
		werr = c.JSON(e.Status, map[string]*Error{"error": &e})
	}
	if werr != nil {
		s.logger.Warn("write error response", "error", werr)
	}
}
