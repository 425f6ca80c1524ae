package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// decode reads a JSON body into v strictly: wrong content type, syntax errors, wrong
// types, unknown fields and trailing data are all rejected with the field and reason,
// so malformed input never reaches the store or a workflow.
func decode(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMalformed, Message: "send the body as application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("body is larger than %d bytes", maxBody)}
		}
		return errMalformed("", "could not read the body")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return errMalformed("", "a JSON body is required")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errMalformed("", "the body has data after the JSON value")
	}
	return nil
}

func jsonError(err error) *Error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return errMalformed("", fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errMalformed("", "the JSON body ends too early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return errMalformed(field, fmt.Sprintf("%s must be a JSON %s, not %s", orBody(field), jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Message: "unknown field"}
	}
	return errMalformed("", "invalid JSON: "+err.Error())
}

func orBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "ptr":
		return "value of another type"
	}
	return "number"
}

// queryInt reads an optional integer query parameter.
func queryInt(c echo.Context, name string) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeMalformed, Field: name, Message: "must be an integer"}
	}
	return n, nil
}
