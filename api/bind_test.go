package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

type decodeAdmin struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type decodeBody struct {
	Name    string        `json:"name"`
	Count   int           `json:"count"`
	Enabled *bool         `json:"enabled"`
	Tags    []string      `json:"tags"`
	Admin   decodeAdmin   `json:"admin"`
	Members []decodeAdmin `json:"members"`
	Boss    *decodeAdmin  `json:"boss"`
}

// decodeRequest runs decode on a POST with body and Content-Type ct ("" sends none).
func decodeRequest(t *testing.T, ct, body string, v any) error {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if ct != "" {
		req.Header.Set(echo.HeaderContentType, ct)
	}
	c := echo.New().NewContext(req, httptest.NewRecorder())
	return decode(c, v)
}

// bodyOfSize is a valid decodeBody document of exactly n bytes.
func bodyOfSize(n int) string {
	const head, tail = `{"name":"`, `"}`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

func TestDecode(t *testing.T) {
	const jsonCT = "application/json"
	type want struct {
		status  int    // 0: no error
		code    string //
		field   string
		message string // substring of the message
	}
	tests := []struct {
		name string
		ct   string
		body string
		want want
		// check runs on success
		check func(t *testing.T, got decodeBody)
	}{
		{
			name: "valid",
			ct:   jsonCT,
			body: `{"name":"Ana","count":3,"enabled":true,"tags":["a","b"],"admin":{"email":"a@example.com","name":"A"},"members":[{"email":"m@example.com"}],"boss":{"name":"B"}}`,
			check: func(t *testing.T, got decodeBody) {
				if got.Name != "Ana" || got.Count != 3 || got.Enabled == nil || !*got.Enabled ||
					len(got.Tags) != 2 || got.Admin.Email != "a@example.com" || len(got.Members) != 1 ||
					got.Boss == nil || got.Boss.Name != "B" {
					t.Errorf("decoded %+v", got)
				}
			},
		},
		{name: "valid with surrounding whitespace", ct: jsonCT, body: " \n\t{\"name\":\"x\"}\r\n "},
		{name: "charset parameter accepted", ct: "application/json; charset=utf-8", body: `{"name":"x"}`},
		{name: "charset parameter without space", ct: "application/json;charset=UTF-8", body: `{"name":"x"}`},
		{name: "media type is case-insensitive", ct: "Application/JSON", body: `{"name":"x"}`},
		{name: "no content type is taken as JSON", ct: "", body: `{"name":"x"}`},
		{name: "JSON keys match case-insensitively", ct: jsonCT, body: `{"NAME":"x"}`,
			check: func(t *testing.T, got decodeBody) {
				if got.Name != "x" {
					t.Errorf("Name = %q", got.Name)
				}
			}},
		{name: "null is an empty object", ct: jsonCT, body: `null`},
		{name: "body of exactly 1 MiB", ct: jsonCT, body: bodyOfSize(maxBody)},

		{name: "text/plain", ct: "text/plain", body: `{"name":"x"}`,
			want: want{status: http.StatusUnsupportedMediaType, code: CodeMalformed, message: "application/json"}},
		{name: "form", ct: "application/x-www-form-urlencoded", body: `name=x`,
			want: want{status: http.StatusUnsupportedMediaType, code: CodeMalformed}},
		{name: "json suffix type", ct: "application/merge-patch+json", body: `{"name":"x"}`,
			want: want{status: http.StatusUnsupportedMediaType, code: CodeMalformed}},
		{name: "unparsable content type", ct: "application/json; charset", body: `{"name":"x"}`,
			want: want{status: http.StatusUnsupportedMediaType, code: CodeMalformed}},

		{name: "empty body", ct: jsonCT, body: ``,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "required"}},
		{name: "whitespace body", ct: jsonCT, body: " \n\t ",
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "required"}},
		{name: "syntax error", ct: jsonCT, body: `{"name" "x"}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "at byte 9"}},
		{name: "syntax error at start", ct: jsonCT, body: `<user/>`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "at byte 1"}},
		{name: "trailing comma", ct: jsonCT, body: `{"name":"x",}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "at byte 13"}},
		{name: "truncated object", ct: jsonCT, body: `{"name":`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "ends too early"}},
		{name: "truncated string", ct: jsonCT, body: `{"name":"An`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "ends too early"}},
		{name: "truncated array", ct: jsonCT, body: `{"tags":["a",`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "ends too early"}},

		{name: "string for number", ct: jsonCT, body: `{"count":"3"}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "count", message: "count must be a JSON number, not string"}},
		{name: "number for string", ct: jsonCT, body: `{"name":1}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "name", message: "name must be a JSON string, not number"}},
		{name: "string for boolean pointer", ct: jsonCT, body: `{"enabled":"yes"}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "enabled", message: "must be a JSON boolean"}},
		{name: "object for array", ct: jsonCT, body: `{"tags":{}}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "tags", message: "must be a JSON array"}},
		{name: "string for object", ct: jsonCT, body: `{"admin":"ana"}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "admin", message: "must be a JSON object"}},
		{name: "nested wrong type", ct: jsonCT, body: `{"admin":{"email":42}}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "admin.email", message: "admin.email must be a JSON string"}},
		{name: "wrong type in array element", ct: jsonCT, body: `{"members":[{"email":"a"},{"name":false}]}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "members.name"}},
		{name: "wrong type behind pointer", ct: jsonCT, body: `{"boss":{"email":[]}}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "boss.email"}},
		{name: "array instead of object", ct: jsonCT, body: `[{"name":"x"}]`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "", message: "the body must be a JSON object, not array"}},
		{name: "string instead of object", ct: jsonCT, body: `"x"`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, field: "", message: "the body must be a JSON object"}},

		{name: "unknown field", ct: jsonCT, body: `{"name":"x","nmae":"y"}`,
			want: want{status: http.StatusUnprocessableEntity, code: CodeInvalid, field: "nmae", message: "unknown field"}},
		{name: "unknown nested field", ct: jsonCT, body: `{"admin":{"email":"a@example.com","mail":"y"}}`,
			want: want{status: http.StatusUnprocessableEntity, code: CodeInvalid, field: "admin.mail", message: "unknown field"}},
		{name: "unknown field in array element", ct: jsonCT, body: `{"members":[{"email":"a"},{"role":"admin"}]}`,
			want: want{status: http.StatusUnprocessableEntity, code: CodeInvalid, field: "members.role"}},
		{name: "unknown field behind pointer", ct: jsonCT, body: `{"boss":{"x":1}}`,
			want: want{status: http.StatusUnprocessableEntity, code: CodeInvalid, field: "boss.x"}},
		{name: "unknown field with quotes in its name", ct: jsonCT, body: `{"a\"b":1}`,
			want: want{status: http.StatusUnprocessableEntity, code: CodeInvalid, field: `a"b`}},

		{name: "second value", ct: jsonCT, body: `{"name":"x"} {"name":"y"}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "after the JSON value"}},
		{name: "trailing garbage", ct: jsonCT, body: `{"name":"x"}garbage`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "after the JSON value"}},
		{name: "trailing closing brace", ct: jsonCT, body: `{"name":"x"}}`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "after the JSON value"}},
		{name: "trailing closing bracket", ct: jsonCT, body: `{"name":"x"}]`,
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "after the JSON value"}},
		{name: "trailing number", ct: jsonCT, body: "{\"name\":\"x\"}\n1",
			want: want{status: http.StatusBadRequest, code: CodeMalformed, message: "after the JSON value"}},

		{name: "body over 1 MiB", ct: jsonCT, body: bodyOfSize(maxBody + 1),
			want: want{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge}},
		{name: "body far over 1 MiB", ct: jsonCT, body: bodyOfSize(3 * maxBody),
			want: want{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeBody
			err := decodeRequest(t, tt.ct, tt.body, &got)
			if tt.want.status == 0 {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if tt.check != nil {
					tt.check(t, got)
				}
				return
			}
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("decode error = %#v, want *Error", err)
			}
			if apiErr.Status != tt.want.status || apiErr.Code != tt.want.code || apiErr.Field != tt.want.field {
				t.Errorf("decode error = {%d %s field=%q %q}, want {%d %s field=%q}",
					apiErr.Status, apiErr.Code, apiErr.Field, apiErr.Message, tt.want.status, tt.want.code, tt.want.field)
			}
			if !strings.Contains(apiErr.Message, tt.want.message) {
				t.Errorf("message %q does not contain %q", apiErr.Message, tt.want.message)
			}
			if apiErr.Message == "" {
				t.Error("empty message")
			}
			// The error survives toError unchanged, so handlers can return it as is.
			if te := toError(err); te != apiErr {
				t.Errorf("toError changed the decode error: %+v", te)
			}
		})
	}
}

// The request types the handlers decode report nested fields by their JSON path.
func TestDecodeStoreTypes(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		body   string
		status int
		field  string
	}{
		{"tenant admin email type", &pgstore.NewTenant{}, `{"slug":"acme","name":"Acme","admin":{"email":7,"name":"A"}}`, http.StatusBadRequest, "admin.email"},
		{"tenant admin unknown field", &pgstore.NewTenant{}, `{"slug":"acme","name":"Acme","admin":{"email":"a@example.com","password":"x"}}`, http.StatusUnprocessableEntity, "admin.password"},
		{"tenant unknown field", &pgstore.NewTenant{}, `{"slug":"acme","plan":"gold"}`, http.StatusUnprocessableEntity, "plan"},
		{"user update disabled type", &pgstore.UserUpdate{}, `{"disabled":"true"}`, http.StatusBadRequest, "disabled"},
		{"user role type", &pgstore.NewUser{}, `{"role":1}`, http.StatusBadRequest, "role"},
		{"api key user type", &pgstore.NewAPIKey{}, `{"userId":1,"name":"ci"}`, http.StatusBadRequest, "userId"},
		{"api key unknown field", &pgstore.NewAPIKey{}, `{"name":"ci","scopes":[]}`, http.StatusUnprocessableEntity, "scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := toError(decodeRequest(t, "application/json", tt.body, tt.v))
			if e.Status != tt.status || e.Field != tt.field {
				t.Errorf("got {%d field=%q %q}, want {%d field=%q}", e.Status, e.Field, e.Message, tt.status, tt.field)
			}
		})
	}
}

func TestQueryInt(t *testing.T) {
	tests := []struct {
		query string
		want  int
		err   bool
	}{
		{"", 0, false},
		{"limit=", 0, false},
		{"limit=25", 25, false},
		{"limit=-1", -1, false},
		{"limit=abc", 0, true},
		{"limit=1.5", 0, true},
		{"limit=99999999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/?"+tt.query, nil), httptest.NewRecorder())
			got, err := queryInt(c, "limit")
			if tt.err {
				e := toError(err)
				if err == nil || e.Status != http.StatusBadRequest || e.Code != CodeMalformed || e.Field != "limit" {
					t.Fatalf("queryInt = %d, %v; want a 400 on field limit", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("queryInt = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestUnknownFieldPath(t *testing.T) {
	type Inner struct {
		A string `json:"a"`
	}
	type Embedded struct {
		E string `json:"e"`
	}
	type doc struct {
		Embedded
		Inner    Inner            `json:"inner"`
		List     []*Inner         `json:"list"`
		ByKey    map[string]Inner `json:"byKey"`
		Untagged Inner
		Skipped  Inner     `json:"-"`
		When     time.Time `json:"when"`
		hidden   Inner
	}
	tests := []struct {
		body, name, want string
	}{
		{`{"x":1}`, "x", "x"},
		{`{"e":"ok","x":1}`, "x", "x"},
		{`{"inner":{"a":"ok","x":1}}`, "x", "inner.x"},
		{`{"INNER":{"x":1}}`, "x", "inner.x"},
		{`{"list":[null,{"a":"ok"},{"x":1}]}`, "x", "list.x"},
		{`{"byKey":{"k":{"x":1}}}`, "x", "byKey.x"},
		{`{"Untagged":{"x":1}}`, "x", "Untagged.x"},
		{`{"Skipped":{"x":1}}`, "Skipped", "Skipped"},
		{`{"hidden":{"x":1}}`, "hidden", "hidden"},
		// a type that decodes itself is not searched
		{`{"when":{"x":1}}`, "x", "x"},
		// not found or not JSON: the name as given
		{`{"inner":{"a":"ok"}}`, "x", "x"},
		{`{`, "x", "x"},
	}
	for _, tt := range tests {
		if got := unknownFieldPath([]byte(tt.body), reflect.TypeFor[*doc](), tt.name); got != tt.want {
			t.Errorf("unknownFieldPath(%s, %q) = %q, want %q", tt.body, tt.name, got, tt.want)
		}
	}
}
