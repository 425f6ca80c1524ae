package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/presence"
)

func TestToError(t *testing.T) {
	const secret = "dial tcp 10.0.0.7:5432: password authentication failed for user \"switchboard\""
	own := &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "no"}
	tests := []struct {
		name    string
		err     error
		status  int
		code    string
		field   string
		message string // exact, when set
	}{
		{"api error", own, http.StatusForbidden, CodeForbidden, "", "no"},
		{"wrapped api error", fmt.Errorf("handler: %w", own), http.StatusForbidden, CodeForbidden, "", "no"},
		{"validation error", &pgstore.ValidationError{Field: "email", Message: "must be an e-mail address"},
			http.StatusUnprocessableEntity, CodeInvalid, "email", "must be an e-mail address"},
		{"wrapped validation error", fmt.Errorf("create user: %w", &pgstore.ValidationError{Field: "admin.role", Message: "unknown role"}),
			http.StatusUnprocessableEntity, CodeInvalid, "admin.role", "unknown role"},
		{"not found", pgstore.ErrNotFound, http.StatusNotFound, CodeNotFound, "", ""},
		{"wrapped not found", fmt.Errorf("user: %w", pgstore.ErrNotFound), http.StatusNotFound, CodeNotFound, "", "user: not found"},
		{"conflict", fmt.Errorf("user already exists: %w", pgstore.ErrConflict), http.StatusConflict, CodeConflict, "", "user already exists: conflict"},
		{"unauthenticated", pgstore.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated, "", ""},
		{"wrapped unauthenticated", fmt.Errorf("key sbk_x: %w", pgstore.ErrUnauthenticated), http.StatusUnauthorized, CodeUnauthenticated, "", ""},
		{"deadline", context.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout, "", ""},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, CodeTimeout, "", ""},
		{"echo not found", echo.ErrNotFound, http.StatusNotFound, CodeNotFound, "", "no such route"},
		{"echo method not allowed", echo.ErrMethodNotAllowed, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", ""},
		{"echo too large", echo.ErrStatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, CodeTooLarge, "", ""},
		{"echo unauthorized", echo.NewHTTPError(http.StatusUnauthorized, "token expired"), http.StatusUnauthorized, CodeUnauthenticated, "", "token expired"},
		{"echo unavailable", echo.ErrServiceUnavailable, http.StatusServiceUnavailable, CodeUnavailable, "", "Service Unavailable"},
		{"echo other 4xx", echo.NewHTTPError(http.StatusTeapot, "short and stout"), http.StatusBadRequest, CodeMalformed, "", "short and stout"},
		{"echo 4xx without message", echo.NewHTTPError(http.StatusUnsupportedMediaType), http.StatusBadRequest, CodeMalformed, "", "Unsupported Media Type"},
		{"echo 5xx", echo.NewHTTPError(http.StatusBadGateway, secret), http.StatusInternalServerError, CodeInternal, "", "internal error"},
		{"wrapped echo error", fmt.Errorf("route: %w", echo.ErrNotFound), http.StatusNotFound, CodeNotFound, "", ""},
		{"arbitrary", errors.New(secret), http.StatusInternalServerError, CodeInternal, "", "internal error"},
		{"wrapped arbitrary", fmt.Errorf("get user: %w", errors.New(secret)), http.StatusInternalServerError, CodeInternal, "", "internal error"},
		{"active interactions", fmt.Errorf("logout agent a1: %w", presence.ErrActiveInteractions), http.StatusConflict, CodeActiveInteractions, "", ""},
		{"not logged in", fmt.Errorf("heartbeat agent a1: %w", presence.ErrNotLoggedIn), http.StatusConflict, CodeNotLoggedIn, "", ""},
		{"session expired", fmt.Errorf("heartbeat agent a1: %w", presence.ErrExpired), http.StatusGone, CodeSessionExpired, "", ""},
		{"presence input", fmt.Errorf("%w: agent id is empty", presence.ErrInvalid), http.StatusUnprocessableEntity, CodeInvalid, "", ""},
		{"canceled", context.Canceled, http.StatusInternalServerError, CodeInternal, "", "internal error"},
		{"panic", fmt.Errorf("panic: %v", secret), http.StatusInternalServerError, CodeInternal, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toError(tt.err)
			if got.Status != tt.status || got.Code != tt.code || got.Field != tt.field {
				t.Errorf("toError = {%d %s field=%q %q}, want {%d %s field=%q}", got.Status, got.Code, got.Field, got.Message, tt.status, tt.code, tt.field)
			}
			if tt.message != "" && got.Message != tt.message {
				t.Errorf("message = %q, want %q", got.Message, tt.message)
			}
			if got.Message == "" {
				t.Error("empty message")
			}
			if got.Status >= 500 && strings.Contains(got.Message, "password") {
				t.Errorf("message %q leaks the original error", got.Message)
			}
			if http.StatusText(got.Status) == "" {
				t.Errorf("status %d is not an HTTP status", got.Status)
			}
		})
	}
}

func TestErrorJSON(t *testing.T) {
	b, err := json.Marshal(map[string]*Error{"error": {Status: 422, Code: CodeInvalid, Message: "bad", Field: "email", RequestID: "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"error":{"code":"invalid_field","message":"bad","field":"email","requestId":"r1"}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	b, _ = json.Marshal(&Error{Status: 500, Code: CodeInternal, Message: "internal error"})
	if want := `{"code":"internal","message":"internal error"}`; string(b) != want {
		t.Errorf("got %s, want %s (status is not serialised, empty field and requestId omitted)", b, want)
	}
	if got := (&Error{Code: CodeConflict, Message: "taken"}).Error(); got != "conflict: taken" {
		t.Errorf("Error() = %q", got)
	}
}

// The codes the server can send are exactly those the OpenAPI document lists.
func TestErrorCodesDocumented(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorResponse struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"ErrorResponse"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := doc.Components.Schemas.ErrorResponse.Properties.Error.Properties.Code.Enum
	codes := []string{CodeMalformed, CodeInvalid, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeConflict,
		CodeMethodNotAllowed, CodeTooLarge, CodeUnavailable, CodeTimeout, CodeInternal,
		CodeAgentDisabled, CodeActiveInteractions, CodeNotLoggedIn, CodeSessionExpired, CodeDoNotCall}
	slices.Sort(documented)
	slices.Sort(codes)
	if !slices.Equal(documented, codes) {
		t.Errorf("ErrorResponse code enum = %v, want %v", documented, codes)
	}
}
