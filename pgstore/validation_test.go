package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/pgtest"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	adminID := ct.Admin.ID

	goodAdmin := pgstore.NewUser{Email: "a@example.com", Name: "A"}
	tenant := func(slug, name, tz string, admin pgstore.NewUser) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: name, TimeZone: tz, Admin: admin})
			return err
		}
	}
	user := func(email, name string, role pgstore.Role) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateUser(ctx, tid, pgstore.Actor{}, pgstore.NewUser{Email: email, Name: name, Role: role})
			return err
		}
	}
	key := func(userID, name string, expires *time.Time) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateAPIKey(ctx, tid, pgstore.Actor{}, pgstore.NewAPIKey{UserID: userID, Name: name, ExpiresAt: expires})
			return err
		}
	}
	update := func(in pgstore.UserUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateUser(ctx, tid, pgstore.Actor{}, adminID, in)
			return err
		}
	}
	listUsers := func(f pgstore.UserFilter) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.ListUsers(ctx, tid, f)
			return err
		}
	}
	ptr := func(s string) *string { return &s }
	role := func(r pgstore.Role) *pgstore.Role { return &r }
	past := time.Now().Add(-time.Minute)
	now := time.Now()
	slug := "v-" + pgtest.RandomHex(4)
	long := strings.Repeat("x", 201)

	tests := []struct {
		name  string
		call  func(context.Context) error
		field string
	}{
		{"slug empty", tenant("", "N", "", goodAdmin), "slug"},
		{"slug one character", tenant("a", "N", "", goodAdmin), "slug"},
		{"slug upper case", tenant("Acme", "N", "", goodAdmin), "slug"},
		{"slug leading dash", tenant("-acme", "N", "", goodAdmin), "slug"},
		{"slug underscore", tenant("ac_me", "N", "", goodAdmin), "slug"},
		{"slug inner space", tenant("ac me", "N", "", goodAdmin), "slug"},
		{"slug 64 characters", tenant(strings.Repeat("a", 64), "N", "", goodAdmin), "slug"},
		{"tenant name empty", tenant(slug, "", "", goodAdmin), "name"},
		{"tenant name blank", tenant(slug, "   ", "", goodAdmin), "name"},
		{"tenant name 201 characters", tenant(slug, long, "", goodAdmin), "name"},
		{"time zone unknown", tenant(slug, "N", "Mars/Olympus_Mons", goodAdmin), "timeZone"},
		{"time zone offset", tenant(slug, "N", "+02:00", goodAdmin), "timeZone"},
		{"time zone Local", tenant(slug, "N", "Local", goodAdmin), "timeZone"},
		{"admin email missing", tenant(slug, "N", "", pgstore.NewUser{Name: "A"}), "admin.email"},
		{"admin email no at", tenant(slug, "N", "", pgstore.NewUser{Email: "ana.example.com", Name: "A"}), "admin.email"},
		{"admin email with display name", tenant(slug, "N", "", pgstore.NewUser{Email: "Ana <ana@example.com>", Name: "A"}), "admin.email"},
		{"admin name empty", tenant(slug, "N", "", pgstore.NewUser{Email: "a@example.com"}), "admin.name"},
		{"user email invalid", user("not an address", "N", pgstore.RoleAgent), "email"},
		{"user email too long", user(strings.Repeat("a", 310)+"@example.com", "N", pgstore.RoleAgent), "email"},
		{"user name blank", user("n@example.com", " ", pgstore.RoleAgent), "name"},
		{"user name 201 characters", user("n@example.com", long, pgstore.RoleAgent), "name"},
		{"user role missing", user("n@example.com", "N", ""), "role"},
		{"user role unknown", user("n@example.com", "N", "owner"), "role"},
		{"user role wrong case", user("n@example.com", "N", "Admin"), "role"},
		{"key userId empty", key("", "k", nil), "userId"},
		{"key userId not a UUID", key("user-1", "k", nil), "userId"},
		{"key name empty", key(adminID, "  ", nil), "name"},
		{"key name 201 characters", key(adminID, long, nil), "name"},
		{"key expires in the past", key(adminID, "k", &past), "expiresAt"},
		{"key expires now", key(adminID, "k", &now), "expiresAt"},
		{"update nothing set", update(pgstore.UserUpdate{}), ""},
		{"update name blank", update(pgstore.UserUpdate{Name: ptr("  ")}), "name"},
		{"update name 201 characters", update(pgstore.UserUpdate{Name: ptr(long)}), "name"},
		{"update role unknown", update(pgstore.UserUpdate{Role: role("root")}), "role"},
		{"page limit 201", listUsers(pgstore.UserFilter{Page: pgstore.Page{Limit: 201}}), "limit"},
		{"page limit negative", listUsers(pgstore.UserFilter{Page: pgstore.Page{Limit: -1}}), "limit"},
		{"page after not an ID", listUsers(pgstore.UserFilter{Page: pgstore.Page{After: "bad"}}), "after"},
		{"list role unknown", listUsers(pgstore.UserFilter{Role: "root"}), "role"},
		{"list keys userId", func(ctx context.Context) error {
			_, err := store.ListAPIKeys(ctx, tid, pgstore.KeyFilter{UserID: "bad"})
			return err
		}, "userId"},
		{"list tenants limit", func(ctx context.Context) error {
			_, err := store.ListTenants(ctx, pgstore.Page{Limit: 1000})
			return err
		}, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(testContext(t))
			var v *pgstore.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("error = %v (%T), want *pgstore.ValidationError", err, err)
			}
			if v.Field != tc.field {
				t.Errorf("Field = %q, want %q (error %q)", v.Field, tc.field, v.Error())
			}
			if v.Message == "" {
				t.Error("empty Message")
			}
		})
	}

	ctx := testContext(t)
	// None of the rejected writes reached the database.
	var tenants, users, keys int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM tenants WHERE slug = $1),
		(SELECT count(*) FROM users WHERE tenant_id = $2),
		(SELECT count(*) FROM api_keys WHERE tenant_id = $2)`, slug, tid).Scan(&tenants, &users, &keys); err != nil {
		t.Fatal(err)
	}
	if tenants != 0 || users != 1 || keys != 1 {
		t.Errorf("after rejected writes: %d tenants with slug, %d users, %d keys; want 0, 1, 1", tenants, users, keys)
	}
	if u, err := store.GetUser(ctx, tid, adminID); err != nil || u.Name != ct.Admin.Name || u.Role != pgstore.RoleAdmin {
		t.Errorf("admin after rejected updates = %+v, %v", u, err)
	}
}

// Bounds are in characters, as the database counts them, not in bytes.
func TestValidationBoundaries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	n200 := strings.Repeat("n", 200)
	accents := strings.Repeat("é", 200) // 400 bytes
	for _, name := range []string{n200, accents} {
		slug := "b-" + pgtest.RandomHex(4)
		ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{
			Slug: slug, Name: name,
			Admin: pgstore.NewUser{Email: "a@" + slug + ".example", Name: name},
		})
		if err != nil {
			t.Errorf("CreateTenant with a %d-character, %d-byte name: %v", len([]rune(name)), len(name), err)
			continue
		}
		if ct.Tenant.Name != name || ct.Tenant.TimeZone != "UTC" {
			t.Errorf("tenant = %+v, want the name kept and time zone UTC by default", ct.Tenant)
		}
		if _, err := store.CreateAPIKey(ctx, ct.Tenant.ID, pgstore.Actor{}, pgstore.NewAPIKey{UserID: ct.Admin.ID, Name: name}); err != nil {
			t.Errorf("CreateAPIKey with a %d-byte name: %v", len(name), err)
		}
		if _, err := store.UpdateUser(ctx, ct.Tenant.ID, pgstore.Actor{}, ct.Admin.ID, pgstore.UserUpdate{Name: &name}); err != nil {
			t.Errorf("UpdateUser with a %d-byte name: %v", len(name), err)
		}
	}
	// Slugs of 2 and 63 characters are the limits of the pattern.
	for _, slug := range []string{pgtest.RandomHex(1), "s" + pgtest.RandomHex(31)[:62]} {
		if _, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{
			Slug: slug, Name: "N", Admin: pgstore.NewUser{Email: "a@example.com", Name: "A"},
		}); err != nil {
			t.Errorf("CreateTenant with %d-character slug %q: %v", len(slug), slug, err)
		}
	}
}

func TestPageValidate(t *testing.T) {
	t.Parallel()
	p := pgstore.Page{}
	if err := p.Validate(); err != nil || p.Limit != 50 {
		t.Errorf("Page{}.Validate() = %v, Limit %d; want nil, 50", err, p.Limit)
	}
	for _, limit := range []int{1, 200} {
		p := pgstore.Page{Limit: limit, After: "0B9F6A52-3D7E-4F0C-9A51-6F7F1B2C3D4E"}
		if err := p.Validate(); err != nil || p.Limit != limit {
			t.Errorf("Page{Limit: %d}.Validate() = %v, Limit %d", limit, err, p.Limit)
		}
	}

	// The default also applies to listings: 51 users come back as 50.
	ctx := testContext(t)
	ct := newTenant(t)
	if _, err := pool.Exec(ctx, `
		INSERT INTO users (tenant_id, email, name, role)
		SELECT $1, 'bulk' || i || '@example.com', 'Bulk ' || i, 'agent' FROM generate_series(1, 50) i`, ct.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	users, err := store.ListUsers(ctx, ct.Tenant.ID, pgstore.UserFilter{})
	if err != nil || len(users) != 50 {
		t.Errorf("ListUsers with no limit = %d users, %v; want 50 of 51", len(users), err)
	}
}
