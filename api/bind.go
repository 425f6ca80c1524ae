package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// decode reads a JSON body into v strictly: wrong content type, syntax errors, wrong
// types, unknown fields and trailing data are all rejected with the field and reason,
// so malformed input never reaches the store or a workflow.
func decode(c echo.Context, v any) error { return decodeJSON(c, v, true) }

// decodeOptional is decode for a body that may be left out: an empty body leaves v
// as it is.
func decodeOptional(c echo.Context, v any) error { return decodeJSON(c, v, false) }

func decodeJSON(c echo.Context, v any, required bool) error {
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
		if !required {
			return nil
		}
		return errMalformed("", "a JSON body is required")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := jsonError(err)
		if e.Code == CodeInvalid {
			e.Field = unknownFieldPath(body, reflect.TypeOf(v), e.Field)
		}
		return e
	}
	// Anything but the end of input after the value, including a stray '}' or ']'
	// (which dec.More would not report), is trailing data.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errMalformed("", "the body has data after the JSON value")
	}
	return nil
}

// unknownFieldPath finds the unknown key name in body and returns its dotted path from
// the root ("admin.password"), the form type errors use; encoding/json names only the
// key. It falls back to name.
func unknownFieldPath(body []byte, t reflect.Type, name string) string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return name
	}
	if path, ok := findUnknownField(doc, t, name, ""); ok {
		return path
	}
	return name
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func findUnknownField(doc any, t reflect.Type, name, prefix string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return "", false // decodes itself; unknown fields are not reported inside it
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		items, _ := doc.([]any)
		for _, item := range items {
			if path, ok := findUnknownField(item, t.Elem(), name, prefix); ok {
				return path, true
			}
		}
	case reflect.Map:
		// Like encoding/json's type errors, the path leaves out map keys and array indexes.
		obj, _ := doc.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if path, ok := findUnknownField(obj[k], t.Elem(), name, prefix); ok {
				return path, true
			}
		}
	case reflect.Struct:
		obj, _ := doc.(map[string]any)
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			f, known := fields[k]
			if !known {
				for fk, ff := range fields {
					if strings.EqualFold(fk, k) {
						f, known = ff, true
						break
					}
				}
			}
			if !known {
				if k == name {
					return joinField(prefix, k), true
				}
				continue
			}
			if path, ok := findUnknownField(obj[k], f.Type, name, joinField(prefix, f.Name)); ok {
				return path, true
			}
		}
	}
	return "", false
}

// jsonFields maps the JSON names of t's fields, including those promoted from embedded
// structs, to the field with its JSON name in Name.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		f.Name = name
		out[name] = f
	}
	return out
}

func joinField(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
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
