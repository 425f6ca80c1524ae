package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/pgtest"
)

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	actor := pgstore.Actor{
		UserID:    "0b9f6a52-3d7e-4f0c-9a51-6f7f1b2c3d4e",
		KeyID:     "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
		RequestID: "req-" + pgtest.RandomHex(8),
	}
	slug := "acme-" + pgtest.RandomHex(4)
	ct, err := store.CreateTenant(ctx, actor, pgstore.NewTenant{
		Slug: "  " + slug + " ", Name: "  Acme Support ", TimeZone: "America/Sao_Paulo",
		// The first user is always an admin, whatever the request says.
		Admin: pgstore.NewUser{Email: " boss@acme.example ", Name: " Boss ", Role: pgstore.RoleAgent},
	})
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}

	tn := ct.Tenant
	if tn.ID == "" || tn.Slug != slug || tn.Name != "Acme Support" || tn.TimeZone != "America/Sao_Paulo" {
		t.Errorf("tenant = %+v, want slug %q, trimmed name, time zone kept", tn, slug)
	}
	if tn.CreatedAt.IsZero() || tn.UpdatedAt.IsZero() {
		t.Errorf("tenant timestamps not set: %+v", tn)
	}
	got, err := store.GetTenant(ctx, tn.ID)
	if err != nil || got != tn {
		t.Errorf("GetTenant = %+v, %v; want %+v", got, err, tn)
	}

	a := ct.Admin
	if a.ID == "" || a.TenantID != tn.ID || a.Email != "boss@acme.example" || a.Name != "Boss" ||
		a.Role != pgstore.RoleAdmin || a.PlatformAdmin || a.Disabled {
		t.Errorf("admin = %+v, want an enabled, non-platform admin of the tenant", a)
	}

	k := ct.Key
	if k.ID == "" || k.TenantID != tn.ID || k.UserID != a.ID || k.RevokedAt != nil || k.ExpiresAt != nil {
		t.Errorf("key = %+v, want a live key of the admin", k.APIKey)
	}
	if !strings.HasPrefix(k.Secret, "sbk_"+k.Prefix+"_") {
		t.Errorf("secret %q does not start with sbk_<prefix>_ (prefix %q)", k.Secret, k.Prefix)
	}
	p, err := store.Authenticate(ctx, k.Secret)
	if err != nil {
		t.Fatalf("Authenticate with the first key: %v", err)
	}
	want := pgstore.Principal{TenantID: tn.ID, UserID: a.ID, KeyID: k.ID, Role: pgstore.RoleAdmin}
	if p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	var (
		objectType, objectID, requestID, actorUser, actorKey, detailSlug string
		n                                                                int
	)
	err = pool.QueryRow(ctx, `
		SELECT count(*) OVER (), object_type, object_id, request_id, actor_user::text, actor_key::text, details->>'slug'
		FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.created'`, tn.ID).
		Scan(&n, &objectType, &objectID, &requestID, &actorUser, &actorKey, &detailSlug)
	if err != nil {
		t.Fatalf("read tenant.created audit row: %v", err)
	}
	if n != 1 || objectType != "tenant" || objectID != tn.ID || requestID != actor.RequestID ||
		actorUser != actor.UserID || actorKey != actor.KeyID || detailSlug != slug {
		t.Errorf("audit: %d rows, type %q id %q request %q user %q key %q slug %q; want 1 row of tenant %s by %+v",
			n, objectType, objectID, requestID, actorUser, actorKey, detailSlug, tn.ID, actor)
	}
}

func TestGetTenantNotFound(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for _, id := range []string{"", "nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := store.GetTenant(ctx, id); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("GetTenant(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func TestListTenantsPages(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// Other tests add tenants meanwhile, so check only that ours come out once, in order.
	var mine []string
	for range 3 {
		mine = append(mine, newTenant(t).Tenant.ID)
	}
	seen := map[string]int{}
	var order []string
	page := pgstore.Page{Limit: 2}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("pagination does not end")
		}
		ts, err := store.ListTenants(ctx, page)
		if err != nil {
			t.Fatalf("ListTenants: %v", err)
		}
		if len(ts) > 2 {
			t.Fatalf("page of %d tenants, limit 2", len(ts))
		}
		if len(ts) == 0 {
			break
		}
		for _, tn := range ts {
			seen[tn.ID]++
			order = append(order, tn.ID)
		}
		page.After = ts[len(ts)-1].ID
	}
	var got []string
	for _, id := range order {
		if seen[id] != 1 {
			t.Errorf("tenant %s listed %d times", id, seen[id])
		}
		for _, m := range mine {
			if id == m {
				got = append(got, id)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(mine, ",") {
		t.Errorf("our tenants in listing order = %v, want %v", got, mine)
	}
}

func TestDuplicateSlug(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	first := newTenant(t)
	for _, slug := range []string{first.Tenant.Slug, " " + first.Tenant.Slug + "\t"} {
		_, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{
			Slug: slug, Name: "Second",
			Admin: pgstore.NewUser{Email: "other-" + pgtest.RandomHex(4) + "@example.com", Name: "Other"},
		})
		if !errors.Is(err, pgstore.ErrConflict) {
			t.Errorf("CreateTenant with taken slug %q: error = %v, want ErrConflict", slug, err)
		}
	}
}

// Bootstrap needs a database without tenants, so it gets one of its own.
func TestBootstrapConcurrent(t *testing.T) {
	t.Parallel()
	const n = 10
	s, p := isolatedStore(t, n+2)
	ctx := testContext(t)

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results [n]*pgstore.CreatedTenant
		errs    [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Bootstrap(ctx)
		}()
	}
	close(start)
	wg.Wait()

	var created *pgstore.CreatedTenant
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Bootstrap #%d: %v", i, errs[i])
		}
		if results[i] != nil {
			if created != nil {
				t.Errorf("Bootstrap #%d also created a tenant: %+v", i, results[i].Tenant)
			}
			created = results[i]
		}
	}
	if created == nil {
		t.Fatal("no Bootstrap call created the tenant")
	}

	var tenants int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants); err != nil {
		t.Fatal(err)
	}
	if tenants != 1 {
		t.Errorf("%d tenants after concurrent Bootstrap, want 1", tenants)
	}
	if !created.Admin.PlatformAdmin || created.Admin.Role != pgstore.RoleAdmin || created.Admin.TenantID != created.Tenant.ID {
		t.Errorf("bootstrapped admin = %+v, want a platform admin of the tenant", created.Admin)
	}
	pr, err := s.Authenticate(ctx, created.Key.Secret)
	if err != nil {
		t.Fatalf("Authenticate with the bootstrap key: %v", err)
	}
	want := pgstore.Principal{TenantID: created.Tenant.ID, UserID: created.Admin.ID, KeyID: created.Key.ID,
		Role: pgstore.RoleAdmin, PlatformAdmin: true}
	if pr != want {
		t.Errorf("principal = %+v, want %+v", pr, want)
	}
	var audits int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.bootstrapped'`,
		created.Tenant.ID).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	if audits != 1 {
		t.Errorf("%d tenant.bootstrapped audit rows, want 1", audits)
	}

	// Later starts find the tenant and do nothing.
	again, err := s.Bootstrap(ctx)
	if again != nil || err != nil {
		t.Errorf("Bootstrap on a set-up database = %v, %v; want nil, nil", again, err)
	}
}

// Bootstrap does nothing on a database that already has tenants, even without a demo one.
func TestBootstrapSkipsWhenTenantsExist(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	newTenant(t) // the shared database has tenants from now on, whatever runs first
	got, err := store.Bootstrap(ctx)
	if got != nil || err != nil {
		t.Errorf("Bootstrap = %v, %v; want nil, nil", got, err)
	}
	var demo int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE slug = 'demo'`).Scan(&demo); err != nil {
		t.Fatal(err)
	}
	if demo != 0 {
		t.Errorf("Bootstrap created the demo tenant next to existing ones")
	}
}

func TestStorePing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
