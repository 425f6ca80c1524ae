package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/pgstore"
	"switchboard/pgtest"
	"switchboard/telemetry"
)

// dncAPI is the API over a database of its own (no Temporal: every request here is
// answered, or refused, before a workflow would be involved), with a tenant's admin,
// supervisor, agent and integration keys.
type dncAPI struct {
	h                          http.Handler
	store                      *pgstore.Store
	admin, sup, agent, integ   string
	supID, agentID, theirAdmin string
}

func newDNCAPI(t *testing.T) *dncAPI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, drop, err := pgtest.Migrated(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	store := pgstore.New(pool)
	x := &dncAPI{store: store, h: api.New(api.Config{Store: store, Registry: telemetry.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}).Handler()}
	tenant := func() pgstore.CreatedTenant {
		slug := "d-" + pgtest.RandomHex(6)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
			Admin: pgstore.NewUser{Email: "admin@" + slug + ".example", Name: "Admin"}})
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	ours, theirs := tenant(), tenant()
	x.admin, x.theirAdmin = ours.Key.Secret, theirs.Key.Secret
	user := func(role pgstore.Role) (string, string) {
		u, err := store.CreateUser(ctx, ours.Tenant.ID, pgstore.Actor{}, pgstore.NewUser{Email: pgtest.RandomHex(4) + "@example.com", Name: "The " + string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		k, err := store.CreateAPIKey(ctx, ours.Tenant.ID, pgstore.Actor{}, pgstore.NewAPIKey{UserID: u.ID, Name: "desk"})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID, k.Secret
	}
	x.supID, x.sup = user(pgstore.RoleSupervisor)
	x.agentID, x.agent = user(pgstore.RoleAgent)
	_, x.integ = user(pgstore.RoleIntegration)
	return x
}

// do sends a request and checks its status; body is JSON unless it is a *bytes.Buffer
// sent with contentType.
func (x *dncAPI) do(t *testing.T, method, path, key, contentType string, body any, status int) []byte {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case *bytes.Buffer:
		r = b
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r, contentType = bytes.NewReader(raw), "application/json"
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	if rec.Code != status {
		t.Fatalf("%s %s = %d %s; want %d", method, path, rec.Code, rec.Body, status)
	}
	return rec.Body.Bytes()
}

// wantError checks an error response's code and field.
func (x *dncAPI) wantError(t *testing.T, method, path, key, contentType string, body any, status int, code, field string) {
	t.Helper()
	var e struct {
		Error api.Error `json:"error"`
	}
	if err := json.Unmarshal(x.do(t, method, path, key, contentType, body, status), &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Code != code || e.Error.Field != field || e.Error.Message == "" {
		t.Errorf("%s %s: error %+v; want %s on %q", method, path, e.Error, code, field)
	}
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// Admins and supervisors keep the list, everyone checks a number; adding, listing
// with pages and filters, checking and deleting answer what the store did.
func TestDoNotCallAPI(t *testing.T) {
	x := newDNCAPI(t)
	for _, key := range []string{x.agent, x.integ} {
		x.wantError(t, "POST", "/v1/dnc", key, "", map[string]string{"phone": "+15550100001"}, 403, "forbidden", "")
		x.wantError(t, "GET", "/v1/dnc", key, "", nil, 403, "forbidden", "")
		x.wantError(t, "DELETE", "/v1/dnc/+15550100001", key, "", nil, 403, "forbidden", "")
		x.wantError(t, "POST", "/v1/dnc/uploads", key, "text/plain", "+15550100001", 403, "forbidden", "")
	}
	e := decodeJSON[pgstore.DoNotCallEntry](t, x.do(t, "POST", "/v1/dnc", x.sup, "", map[string]string{"phone": "+1 (555) 010-0001", "reason": "asked"}, 201))
	if e.Phone != "+15550100001" || e.AddedBy == nil || *e.AddedBy != x.supID || e.Source != pgstore.DoNotCallManual || e.Reason != "asked" {
		t.Errorf("added = %+v", e)
	}
	x.do(t, "POST", "/v1/dnc", x.admin, "", map[string]string{"phone": "+15550100001"}, 200)
	x.do(t, "POST", "/v1/dnc", x.admin, "", map[string]string{"phone": "+15550100002"}, 201)
	x.wantError(t, "POST", "/v1/dnc", x.admin, "", map[string]string{"phone": "1-800-FLOWERS"}, 422, "invalid_field", "phone")
	x.wantError(t, "POST", "/v1/dnc", x.admin, "", map[string]any{"phone": "+15550100003", "extra": 1}, 422, "invalid_field", "extra")

	type check struct {
		Phone  string                  `json:"phone"`
		Listed bool                    `json:"listed"`
		Entry  *pgstore.DoNotCallEntry `json:"entry"`
	}
	if c := decodeJSON[check](t, x.do(t, "GET", "/v1/dnc/check?phone=%2B1+555+010+0001", x.agent, "", nil, 200)); !c.Listed || c.Phone != "+15550100001" || c.Entry != nil {
		t.Errorf("agent's check = %+v; want listed, without the entry", c)
	}
	if c := decodeJSON[check](t, x.do(t, "GET", "/v1/dnc/check?phone=%2B15550100001", x.sup, "", nil, 200)); !c.Listed || c.Entry == nil || c.Entry.Reason != "asked" {
		t.Errorf("supervisor's check = %+v; want the entry", c)
	}
	if c := decodeJSON[check](t, x.do(t, "GET", "/v1/dnc/check?phone=%2B15550100001", x.theirAdmin, "", nil, 200)); c.Listed {
		t.Errorf("another tenant's check = %+v", c)
	}
	x.wantError(t, "GET", "/v1/dnc/check", x.integ, "", nil, 422, "invalid_field", "phone")

	type page struct {
		Items     []pgstore.DoNotCallEntry `json:"items"`
		NextAfter string                   `json:"nextAfter"`
	}
	p1 := decodeJSON[page](t, x.do(t, "GET", "/v1/dnc?limit=1", x.sup, "", nil, 200))
	if len(p1.Items) != 1 || p1.Items[0].Phone != "+15550100002" || p1.NextAfter == "" {
		t.Fatalf("first page = %+v", p1)
	}
	p2 := decodeJSON[page](t, x.do(t, "GET", "/v1/dnc?limit=1&after="+p1.NextAfter, x.sup, "", nil, 200))
	if len(p2.Items) != 1 || p2.Items[0].Phone != "+15550100001" {
		t.Errorf("second page = %+v", p2)
	}
	if p := decodeJSON[page](t, x.do(t, "GET", "/v1/dnc?addedBy=me", x.sup, "", nil, 200)); len(p.Items) != 1 || p.Items[0].Phone != "+15550100001" {
		t.Errorf("added by me = %+v", p)
	}
	if p := decodeJSON[page](t, x.do(t, "GET", "/v1/dnc?phone=%2B44", x.sup, "", nil, 200)); len(p.Items) != 0 || p.NextAfter != "" {
		t.Errorf("no match = %+v", p)
	}
	x.wantError(t, "GET", "/v1/dnc?since=yesterday", x.sup, "", nil, 400, "malformed_request", "since")
	x.wantError(t, "GET", "/v1/dnc?source=fax", x.sup, "", nil, 422, "invalid_field", "source")

	x.do(t, "DELETE", "/v1/dnc/%2B1%20555%20010%200001", x.sup, "", nil, 204)
	x.wantError(t, "DELETE", "/v1/dnc/+15550100001", x.sup, "", nil, 404, "not_found", "")
	if c := decodeJSON[check](t, x.do(t, "GET", "/v1/dnc/check?phone=%2B15550100001", x.agent, "", nil, 200)); c.Listed {
		t.Errorf("deleted number still listed: %+v", c)
	}
}

// An upload, as multipart or as the body, answers its result with the bad lines by
// number; a file that cannot be read line by line is refused whole.
func TestDoNotCallUploadAPI(t *testing.T) {
	x := newDNCAPI(t)
	multipartBody := func(parts map[string]string) (*bytes.Buffer, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for name, v := range parts {
			var part io.Writer
			var err error
			if name == "file" {
				part, err = w.CreateFormFile("file", "numbers.csv")
			} else {
				part, err = w.CreateFormField(name)
			}
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(part, v)
		}
		w.Close()
		return &b, w.FormDataContentType()
	}
	body, ct := multipartBody(map[string]string{"file": "phone,name\n+385 1 600 0001,Ana\nnot a number,Bo\n+385 1 600 0001,Ana again\n", "reason": "opt-outs"})
	res := decodeJSON[pgstore.DoNotCallUploadResult](t, x.do(t, "POST", "/v1/dnc/uploads", x.sup, ct, body, 200))
	if res.Added != 1 || res.Invalid != 1 || res.Duplicates != 1 || !res.HeaderSkipped || len(res.Problems) != 2 ||
		res.Problems[0].Line != 3 || res.Problems[0].Problem != "invalid" || res.Problems[1].Line != 4 || res.Problems[1].Problem != "duplicate" {
		t.Errorf("multipart upload = %+v", res)
	}
	e, err := x.store.GetDoNotCall(context.Background(), decodeJSON[struct {
		User pgstore.User `json:"user"`
	}](t, x.do(t, "GET", "/v1/me", x.sup, "", nil, 200)).User.TenantID, "+38516000001")
	if err != nil || e.Reason != "opt-outs" || e.Source != pgstore.DoNotCallUpload || *e.AddedBy != x.supID {
		t.Errorf("uploaded entry = %+v, %v", e, err)
	}
	res = decodeJSON[pgstore.DoNotCallUploadResult](t, x.do(t, "POST", "/v1/dnc/uploads?reason=list", x.admin, "text/csv; charset=utf-8", "+385 1 600 0001\n+385 1 600 0002\n", 200))
	if res.Added != 1 || res.AlreadyListed != 1 || len(res.Problems) != 1 || res.Problems[0].Line != 1 || res.Problems[0].Problem != "listed" {
		t.Errorf("text upload = %+v", res)
	}

	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, "text/plain", "+385 1 600 0003\n\"+385 1 600 0004\n", 422, "invalid_field", "file")
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, "text/plain", "PK\x03\x04\x00\x00+385 1 600 0005\n", 422, "invalid_field", "file")
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, "application/json", `["+385 1 600 0006"]`, 415, "malformed_request", "")
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, "text/csv; charset=latin1", "+385 1 600 0007\n", 415, "malformed_request", "")
	big := bytes.Repeat([]byte("+385 1 600 0008\n"), pgstore.MaxDoNotCallUploadBytes/16+1)
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, "text/plain", bytes.NewBuffer(big), 413, "request_too_large", "")
	body, ct = multipartBody(map[string]string{"file": string(big)})
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, ct, body, 413, "request_too_large", "")
	body, ct = multipartBody(map[string]string{"reason": "no file"})
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, ct, body, 422, "invalid_field", "file")
	body, ct = multipartBody(map[string]string{"file": "+385 1 600 0009\n", "colour": "blue"})
	x.wantError(t, "POST", "/v1/dnc/uploads", x.admin, ct, body, 422, "invalid_field", "colour")
	for _, phone := range []string{"+38516000003", "+38516000005", "+38516000006", "+38516000007", "+38516000008", "+38516000009"} {
		if c := decodeJSON[struct{ Listed bool }](t, x.do(t, "GET", "/v1/dnc/check?phone=%2B"+phone[1:], x.admin, "", nil, 200)); c.Listed {
			t.Errorf("%s from a refused upload is listed", phone)
		}
	}
}

// An outbound call to a listed number is refused with do_not_call naming "to"
// before anything starts (this API has no Temporal: a request that got past the
// check would fail otherwise).
func TestOutboundToListedNumberRefused(t *testing.T) {
	x := newDNCAPI(t)
	x.do(t, "POST", "/v1/dnc", x.admin, "", map[string]string{"phone": "+385 91 555 0199"}, 201)
	x.wantError(t, "POST", "/v1/interactions", x.agent, "", map[string]any{"channel": "voice", "direction": "outbound", "to": "+385 (91) 555-0199"}, 422, "do_not_call", "to")
	x.wantError(t, "POST", "/v1/interactions", x.integ, "", map[string]any{"channel": "call", "direction": "outbound", "to": "+385915550199", "agentId": x.agentID}, 422, "do_not_call", "to")
	x.wantError(t, "POST", "/v1/interactions", x.agent, "", map[string]any{"channel": "voice", "direction": "outbound", "to": "sip:bob@example.com"}, 422, "invalid_field", "to")
}

// The phonebook: everyone reads, admins and supervisors write; a transfer or a
// conference names a contact instead of a number, checked before the workflow.
func TestInternalContactsAPI(t *testing.T) {
	x := newDNCAPI(t)
	x.wantError(t, "POST", "/v1/internal-contacts", x.agent, "", map[string]string{"name": "Billing", "phone": "+385 1 234 5678"}, 403, "forbidden", "")
	c := decodeJSON[pgstore.InternalContact](t, x.do(t, "POST", "/v1/internal-contacts", x.sup, "", map[string]string{"name": "Billing", "phone": "+385 1 234 5678", "description": "2nd line"}, 201))
	if c.Phone != "+38512345678" || c.Name != "Billing" || c.Description != "2nd line" {
		t.Errorf("created = %+v", c)
	}
	x.wantError(t, "POST", "/v1/internal-contacts", x.admin, "", map[string]string{"name": "billing", "phone": "+385 1 234 0000"}, 409, "conflict", "")
	x.wantError(t, "POST", "/v1/internal-contacts", x.admin, "", map[string]string{"name": "Local", "phone": "01 234 5678"}, 422, "invalid_field", "phone")
	type page struct {
		Items []pgstore.InternalContact `json:"items"`
	}
	if p := decodeJSON[page](t, x.do(t, "GET", "/v1/internal-contacts?q=bill", x.agent, "", nil, 200)); len(p.Items) != 1 || p.Items[0].ID != c.ID {
		t.Errorf("agent's search = %+v", p)
	}
	x.do(t, "GET", "/v1/internal-contacts/"+c.ID, x.integ, "", nil, 200)
	x.wantError(t, "GET", "/v1/internal-contacts/"+c.ID, x.theirAdmin, "", nil, 404, "not_found", "")
	x.wantError(t, "PATCH", "/v1/internal-contacts/"+c.ID, x.agent, "", map[string]string{"name": "B"}, 403, "forbidden", "")
	up := decodeJSON[pgstore.InternalContact](t, x.do(t, "PATCH", "/v1/internal-contacts/"+c.ID, x.admin, "", map[string]string{"phone": "+385 1 234 9999"}, 200))
	if up.Phone != "+38512349999" || up.Name != "Billing" {
		t.Errorf("updated = %+v", up)
	}

	id := "0b0f8c1e-7f7a-4c55-9d2b-1a4e6d1c2b3a" // no such interaction: refusals come first
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"transfer", map[string]any{"target": map[string]any{"contactId": "0b0f8c1e-0000-4c55-9d2b-1a4e6d1c2b3a"}}, "target.contactId"},
		{"transfer", map[string]any{"target": map[string]any{"kind": "agent", "contactId": c.ID}}, "target.kind"},
		{"transfer", map[string]any{"target": map[string]any{"kind": "external", "number": "+15550100000", "contactId": c.ID}}, "target.number"},
		{"transfer", map[string]any{"mode": "warm", "target": map[string]any{"contactId": c.ID}}, "target.kind"},
		{"conference", map[string]any{"contactId": "nope"}, "contactId"},
		{"conference", map[string]any{"kind": "supervisor", "contactId": c.ID}, "kind"},
		{"conference/leave", map[string]any{"number": "+15550100000", "contactId": c.ID}, "number"},
	} {
		x.wantError(t, "POST", "/v1/interactions/"+id+"/"+tc.path, x.agent, "", tc.body, 422, "invalid_field", tc.field)
	}
	x.wantError(t, "DELETE", "/v1/internal-contacts/"+c.ID, x.agent, "", nil, 403, "forbidden", "")
	x.do(t, "DELETE", "/v1/internal-contacts/"+c.ID, x.sup, "", nil, 204)
	x.wantError(t, "DELETE", "/v1/internal-contacts/"+c.ID, x.sup, "", nil, 404, "not_found", "")
}
