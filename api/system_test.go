package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"switchboard/pgstore"
	"switchboard/telemetry"
	"switchboard/workflows"
)

// fakeTemporal answers ExecuteWorkflow; any other call panics on the nil embedded client.
type fakeTemporal struct {
	client.Client
	startErr error
	run      *fakeRun
	got      client.StartWorkflowOptions
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.got = o
	if f.startErr != nil {
		return nil, f.startErr
	}
	return f.run, nil
}

type fakeRun struct {
	client.WorkflowRun
	result workflows.SystemCheckResult
	err    error
}

func (r *fakeRun) GetRunID() string { return "run-1" }

func (r *fakeRun) Get(_ context.Context, v any) error {
	if r.err != nil {
		return r.err
	}
	reflect.ValueOf(v).Elem().Set(reflect.ValueOf(r.result))
	return nil
}

// documentedSchemaRefs are the $refs of the JSON schemas an operation documents for status.
func documentedSchemaRefs(t *testing.T, method, path, status string) []string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	resp, ok := dig(doc, "paths", path, method, "responses", status).(map[string]any)
	if !ok {
		t.Fatalf("%s %s documents no %s response", method, path, status)
	}
	if ref, ok := resp["$ref"].(string); ok {
		resp = dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
	}
	schema, _ := dig(resp, "content", "application/json", "schema").(map[string]any)
	var refs []string
	if ref, ok := schema["$ref"].(string); ok {
		refs = append(refs, ref)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		alts, _ := schema[key].([]any)
		for _, alt := range alts {
			if ref, ok := alt.(map[string]any)["$ref"].(string); ok {
				refs = append(refs, ref)
			}
		}
	}
	return refs
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Every answer of runSystemCheck has a status and a body shape the document lists.
func TestRunSystemCheckMatchesOpenAPI(t *testing.T) {
	const errorSchema, checkSchema = "#/components/schemas/ErrorResponse", "#/components/schemas/SystemCheck"
	tests := []struct {
		name     string
		temporal *fakeTemporal
		status   int
		schema   string
		code     string
	}{
		{"healthy", &fakeTemporal{run: &fakeRun{result: workflows.SystemCheckResult{Worker: "w1", Healthy: true}}}, http.StatusOK, checkSchema, ""},
		{"unhealthy", &fakeTemporal{run: &fakeRun{result: workflows.SystemCheckResult{Worker: "w1"}}}, http.StatusServiceUnavailable, checkSchema, ""},
		{"temporal refuses", &fakeTemporal{startErr: errors.New("namespace not found")}, http.StatusServiceUnavailable, errorSchema, CodeUnavailable},
		{"no worker in time", &fakeTemporal{run: &fakeRun{err: context.DeadlineExceeded}}, http.StatusGatewayTimeout, errorSchema, CodeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{Temporal: tt.temporal, Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
			rec := httptest.NewRecorder()
			c := s.echo.NewContext(httptest.NewRequest(http.MethodPost, "/v1/system/checks", nil), rec)
			c.Set(principalKey, pgstore.Principal{TenantID: "t1", UserID: "u1", Role: pgstore.RoleAdmin})
			if err := s.runSystemCheck(c); err != nil {
				s.handleError(err, c)
			}
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			switch tt.schema {
			case errorSchema:
				if got := dig(body, "error", "code"); got != tt.code {
					t.Errorf("error code = %v, want %s; body %s", got, tt.code, rec.Body)
				}
			case checkSchema:
				if body["workflowId"] == "" || body["runId"] != "run-1" || dig(body, "result", "worker") != "w1" {
					t.Errorf("body %s is not a SystemCheck", rec.Body)
				}
				if !strings.HasPrefix(tt.temporal.got.ID, "system-check/") || tt.temporal.got.TaskQueue != workflows.TaskQueue {
					t.Errorf("started with %+v", tt.temporal.got)
				}
			}
			refs := documentedSchemaRefs(t, "post", "/v1/system/checks", strconv.Itoa(tt.status))
			found := false
			for _, r := range refs {
				found = found || r == tt.schema
			}
			if !found {
				t.Errorf("openapi.json documents %d as %v, but the server sends %s", tt.status, refs, tt.schema)
			}
		})
	}
}
