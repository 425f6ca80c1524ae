package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/api"
	"switchboard/telemetry"
)

// newServer builds the API without any backing service: construction must not touch
// the store, Redis or Temporal.
func newServer(t *testing.T) *api.Server {
	t.Helper()
	return api.New(api.Config{Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
}

// openAPIMethods are the operation keys a path item may hold.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func loadOpenAPI(t *testing.T) (openAPIDoc, any) {
	t.Helper()
	raw := api.OpenAPI()
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc, tree
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// routeSet is the server's routes as "METHOD /path/{param}", without Echo's internal
// not-found routes (registered for group middleware).
func routeSet(t *testing.T, s *api.Server) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range s.Routes() {
		method, path, ok := strings.Cut(r, " ")
		if !ok {
			t.Fatalf("route %q is not \"METHOD path\"", r)
		}
		if method == echo.RouteNotFound {
			continue
		}
		out[method+" "+echoParam.ReplaceAllString(path, "{$1}")] = true
	}
	return out
}

func specSet(t *testing.T, doc openAPIDoc) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue // parameters, summary, description, servers, $ref
			}
			out[strings.ToUpper(key)+" "+path] = true
		}
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	routes := routeSet(t, newServer(t))
	spec := specSet(t, doc)
	if len(routes) == 0 || len(spec) == 0 {
		t.Fatalf("nothing to compare: %d routes, %d documented operations", len(routes), len(spec))
	}
	for r := range routes {
		if !spec[r] {
			t.Errorf("route %s is not documented in openapi.json", r)
		}
	}
	for op := range spec {
		if !routes[op] {
			t.Errorf("openapi.json documents %s, but the server has no such route", op)
		}
	}
}

func TestOpenAPIDocument(t *testing.T) {
	doc, tree := loadOpenAPI(t)
	if !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}

	t.Run("refs resolve", func(t *testing.T) {
		var refs int
		walkJSON(tree, "#", func(at string, v map[string]any) {
			ref, ok := v["$ref"].(string)
			if !ok {
				return
			}
			refs++
			if _, err := resolvePointer(tree, ref); err != "" {
				t.Errorf("%s: $ref %q: %s", at, ref, err)
			}
		})
		if refs == 0 {
			t.Error("found no $ref at all; is the walk broken?")
		}
	})

	t.Run("path parameters declared", func(t *testing.T) {
		tmpl := regexp.MustCompile(`\{([^}]+)\}`)
		for path, item := range doc.Paths {
			want := map[string]bool{}
			for _, m := range tmpl.FindAllStringSubmatch(path, -1) {
				want[m[1]] = true
			}
			for key, rawOp := range item {
				if !slices.Contains(openAPIMethods, key) {
					continue
				}
				var op struct {
					Parameters []struct {
						Name     string `json:"name"`
						In       string `json:"in"`
						Required bool   `json:"required"`
					} `json:"parameters"`
				}
				if err := json.Unmarshal(rawOp, &op); err != nil {
					t.Fatalf("%s %s: %v", key, path, err)
				}
				got := map[string]bool{}
				for _, p := range op.Parameters {
					if p.In != "path" {
						continue
					}
					got[p.Name] = true
					if !p.Required {
						t.Errorf("%s %s: path parameter %q must be required", key, path, p.Name)
					}
					if !want[p.Name] {
						t.Errorf("%s %s: path parameter %q is not in the path", key, path, p.Name)
					}
				}
				for name := range want {
					if !got[name] {
						t.Errorf("%s %s: path parameter %q is not declared", key, path, name)
					}
				}
			}
		}
	})

	t.Run("secured operations document 401", func(t *testing.T) {
		for path, item := range doc.Paths {
			for key, rawOp := range item {
				if !slices.Contains(openAPIMethods, key) {
					continue
				}
				var op struct {
					Security  *[]any                     `json:"security"`
					Responses map[string]json.RawMessage `json:"responses"`
				}
				if err := json.Unmarshal(rawOp, &op); err != nil {
					t.Fatalf("%s %s: %v", key, path, err)
				}
				public := op.Security != nil && len(*op.Security) == 0
				// The server authenticates the /v1 group; the document itself is public.
				wantPublic := !strings.HasPrefix(path, "/v1/") || path == "/v1/openapi.json"
				if public != wantPublic {
					t.Errorf("%s %s: documented as public=%v, but the server makes it public=%v", key, path, public, wantPublic)
				}
				if !public {
					if _, ok := op.Responses["401"]; !ok {
						t.Errorf("%s %s: requires an API key but does not document 401", key, path)
					}
				}
			}
		}
	})
}

// walkJSON calls fn for every object in v, with its JSON pointer.
func walkJSON(v any, at string, fn func(at string, obj map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(at, v)
		for k, child := range v {
			walkJSON(child, at+"/"+escapePointer(k), fn)
		}
	case []any:
		for i, child := range v {
			walkJSON(child, at+"/"+itoa(i), fn)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// resolvePointer follows a local reference ("#/a/b") in doc; it reports why it failed.
func resolvePointer(doc any, ref string) (any, string) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, "not a reference inside the document"
	}
	if rest == "" {
		return doc, ""
	}
	if !strings.HasPrefix(rest, "/") {
		return nil, "not a JSON pointer"
	}
	cur := doc
	for _, tok := range strings.Split(rest[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, "walks into a non-object at " + tok
		}
		if cur, ok = obj[tok]; !ok {
			return nil, "no " + tok
		}
	}
	return cur, ""
}

func TestResolvePointer(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b/c":{"d~e":1}}}`), &doc); err != nil {
		t.Fatal(err)
	}
	for ref, ok := range map[string]bool{
		"#":               true,
		"#/a":             true,
		"#/a/b~1c/d~0e":   true,
		"#/a/b/c":         false,
		"#/x":             false,
		"#/a/b~1c/d~0e/f": false,
		"other.json#/a":   false,
		"#a":              false,
	} {
		if _, err := resolvePointer(doc, ref); (err == "") != ok {
			t.Errorf("resolvePointer(%q) error = %q, want ok=%v", ref, err, ok)
		}
	}
}

func TestServeOpenAPI(t *testing.T) {
	h := newServer(t).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	mt, _, err := mime.ParseMediaType(rec.Header().Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		t.Errorf("Content-Type = %q, want application/json", rec.Header().Get(echo.HeaderContentType))
	}
	body, _ := io.ReadAll(rec.Body)
	if !bytes.Equal(body, api.OpenAPI()) {
		t.Error("the served document differs from api.OpenAPI()")
	}
	if !json.Valid(body) {
		t.Error("the served document is not valid JSON")
	}
}
