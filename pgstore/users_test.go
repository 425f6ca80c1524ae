package pgstore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"switchboard/pgstore"
)

func TestDuplicateEmail(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	if _, err := store.CreateUser(ctx, tid, pgstore.Actor{}, pgstore.NewUser{Email: "Ana@x.io", Name: "Ana", Role: pgstore.RoleAgent}); err != nil {
		t.Fatalf("first CreateUser: %v", err)
	}
	for _, email := range []string{"Ana@x.io", "ana@x.io", "ANA@X.IO", " ana@x.io ", strings.ToUpper(ct.Admin.Email)} {
		_, err := store.CreateUser(ctx, tid, pgstore.Actor{}, pgstore.NewUser{Email: email, Name: "Dup", Role: pgstore.RoleSupervisor})
		if !errors.Is(err, pgstore.ErrConflict) {
			t.Errorf("CreateUser %q: error = %v, want ErrConflict", email, err)
		}
	}
	// The rule is per tenant: another tenant may have an Ana too.
	other := newTenant(t)
	if _, err := store.CreateUser(ctx, other.Tenant.ID, pgstore.Actor{}, pgstore.NewUser{Email: "ana@x.io", Name: "Ana", Role: pgstore.RoleAgent}); err != nil {
		t.Errorf("same e-mail in another tenant: %v", err)
	}
	users, err := store.ListUsers(ctx, tid, pgstore.UserFilter{})
	if err != nil || len(users) != 2 {
		t.Errorf("ListUsers = %d users, %v; want admin and Ana only", len(users), err)
	}
}

func TestCreateUserConcurrentSameEmail(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	ctx := testContext(t)
	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		users [n]pgstore.User
		errs  [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "race@example.com"
			if i%2 == 1 {
				email = "Race@Example.com"
			}
			<-start
			users[i], errs[i] = store.CreateUser(ctx, ct.Tenant.ID, pgstore.Actor{}, pgstore.NewUser{Email: email, Name: "Racer", Role: pgstore.RoleAgent})
		}()
	}
	close(start)
	wg.Wait()

	var winner pgstore.User
	wins := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			wins++
			winner = users[i]
		case !errors.Is(errs[i], pgstore.ErrConflict):
			t.Errorf("CreateUser #%d: error = %v, want nil or ErrConflict", i, errs[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d CreateUser calls succeeded, want exactly 1", wins)
	}
	var rows, audits int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = $1 AND lower(email) = 'race@example.com'),
		(SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'user.created')`, ct.Tenant.ID).Scan(&rows, &audits); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || audits != 1 {
		t.Errorf("%d users and %d user.created audit rows, want 1 and 1", rows, audits)
	}
	if got, err := store.GetUser(ctx, ct.Tenant.ID, winner.ID); err != nil || got != winner {
		t.Errorf("GetUser(winner) = %+v, %v; want %+v", got, err, winner)
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	ctx := testContext(t)
	u := newUser(t, ct.Tenant.ID, pgstore.RoleAgent)

	name := "  Renamed  "
	sup := pgstore.RoleSupervisor
	got, err := store.UpdateUser(ctx, ct.Tenant.ID, pgstore.Actor{RequestID: "req-upd"}, u.ID, pgstore.UserUpdate{Name: &name, Role: &sup})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got.Name != "Renamed" || got.Role != pgstore.RoleSupervisor || got.Disabled || got.Email != u.Email ||
		!got.CreatedAt.Equal(u.CreatedAt) || got.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("after update = %+v (was %+v)", got, u)
	}
	// Fields left nil keep their values.
	off := true
	got2, err := store.UpdateUser(ctx, ct.Tenant.ID, pgstore.Actor{}, u.ID, pgstore.UserUpdate{Disabled: &off})
	if err != nil {
		t.Fatalf("UpdateUser disabled: %v", err)
	}
	if !got2.Disabled || got2.Name != "Renamed" || got2.Role != pgstore.RoleSupervisor {
		t.Errorf("after disabling = %+v", got2)
	}
	if fetched, err := store.GetUser(ctx, ct.Tenant.ID, u.ID); err != nil || fetched != got2 {
		t.Errorf("GetUser = %+v, %v; want %+v", fetched, err, got2)
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'user.updated' AND object_id = $2`,
		ct.Tenant.ID, u.ID).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	if audits != 2 {
		t.Errorf("%d user.updated audit rows, want 2", audits)
	}

	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := store.UpdateUser(ctx, ct.Tenant.ID, pgstore.Actor{}, id, pgstore.UserUpdate{Name: &name}); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("UpdateUser(%q) error = %v, want ErrNotFound", id, err)
		}
		if _, err := store.GetUser(ctx, ct.Tenant.ID, id); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("GetUser(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func TestListUsersPagination(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	roles := []pgstore.Role{pgstore.RoleAgent, pgstore.RoleSupervisor, pgstore.RoleAgent, pgstore.RoleIntegration, pgstore.RoleAgent}
	want := []pgstore.User{ct.Admin}
	for _, r := range roles {
		want = append(want, newUser(t, tid, r))
	}
	// Other tenants' users never show up, however they interleave in time.
	newUser(t, newTenant(t).Tenant.ID, pgstore.RoleAgent)

	collect := func(f pgstore.UserFilter) []pgstore.User {
		t.Helper()
		var all []pgstore.User
		for i := 0; ; i++ {
			if i > 20 {
				t.Fatal("pagination does not end")
			}
			page, err := store.ListUsers(ctx, tid, f)
			if err != nil {
				t.Fatalf("ListUsers(%+v): %v", f, err)
			}
			if len(page) > f.Limit {
				t.Fatalf("page of %d users, limit %d", len(page), f.Limit)
			}
			if len(page) == 0 {
				return all
			}
			all = append(all, page...)
			f.After = page[len(page)-1].ID
		}
	}
	ids := func(us []pgstore.User) string {
		var s []string
		for _, u := range us {
			s = append(s, u.ID)
		}
		return strings.Join(s, " ")
	}

	if got := collect(pgstore.UserFilter{Page: pgstore.Page{Limit: 2}}); ids(got) != ids(want) {
		t.Errorf("pages of 2:\n got %s\nwant %s", ids(got), ids(want))
	} else {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("user %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	}

	for _, r := range []pgstore.Role{pgstore.RoleAgent, pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration} {
		var wantRole []pgstore.User
		for _, u := range want {
			if u.Role == r {
				wantRole = append(wantRole, u)
			}
		}
		if got := collect(pgstore.UserFilter{Role: r, Page: pgstore.Page{Limit: 2}}); ids(got) != ids(wantRole) {
			t.Errorf("role %s:\n got %s\nwant %s", r, ids(got), ids(wantRole))
		}
	}

	// A cursor that is not a user of this tenant gives nothing rather than an error or
	// another tenant's rows.
	for _, after := range []string{"00000000-0000-0000-0000-000000000000", newTenant(t).Admin.ID} {
		got, err := store.ListUsers(ctx, tid, pgstore.UserFilter{Page: pgstore.Page{After: after}})
		if err != nil || len(got) != 0 {
			t.Errorf("ListUsers after foreign ID %s = %d users, %v; want none", after, len(got), err)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	a, b := newTenant(t), newTenant(t)
	ctx := testContext(t)
	aUser := newUser(t, a.Tenant.ID, pgstore.RoleAgent)
	aKey := newKey(t, a.Tenant.ID, aUser.ID, nil)
	bUser := newUser(t, b.Tenant.ID, pgstore.RoleAgent)

	if _, err := store.GetUser(ctx, b.Tenant.ID, aUser.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("GetUser of A's user in B: error = %v, want ErrNotFound", err)
	}
	if _, err := store.GetAPIKey(ctx, b.Tenant.ID, aKey.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("GetAPIKey of A's key in B: error = %v, want ErrNotFound", err)
	}
	hacked := "Hacked"
	yes := true
	if _, err := store.UpdateUser(ctx, b.Tenant.ID, pgstore.Actor{}, aUser.ID, pgstore.UserUpdate{Name: &hacked, Disabled: &yes}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("UpdateUser of A's user in B: error = %v, want ErrNotFound", err)
	}
	if _, err := store.RevokeAPIKey(ctx, b.Tenant.ID, pgstore.Actor{}, aKey.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("RevokeAPIKey of A's key in B: error = %v, want ErrNotFound", err)
	}
	_, err := store.CreateAPIKey(ctx, b.Tenant.ID, pgstore.Actor{}, pgstore.NewAPIKey{UserID: aUser.ID, Name: "stolen"})
	if !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("CreateAPIKey in B for A's user: error = %v, want ErrNotFound", err)
	}
	if _, err := store.CreateUser(ctx, "00000000-0000-0000-0000-000000000000", pgstore.Actor{}, pgstore.NewUser{Email: "x@example.com", Name: "X", Role: pgstore.RoleAgent}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("CreateUser in a missing tenant: error = %v, want ErrNotFound", err)
	}

	// A's objects are untouched.
	if got, err := store.GetUser(ctx, a.Tenant.ID, aUser.ID); err != nil || got != aUser {
		t.Errorf("A's user after B's attempts = %+v, %v; want %+v", got, err, aUser)
	}
	if got, err := store.GetAPIKey(ctx, a.Tenant.ID, aKey.ID); err != nil || got.RevokedAt != nil {
		t.Errorf("A's key after B's attempts = %+v, %v; want not revoked", got, err)
	}
	if p, err := store.Authenticate(ctx, aKey.Secret); err != nil || p.TenantID != a.Tenant.ID {
		t.Errorf("A's key after B's attempts authenticates as %+v, %v", p, err)
	}
	var keys int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE user_id = $1`, aUser.ID).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Errorf("A's user has %d keys, want 1", keys)
	}

	// Listings of B show B only.
	bUsers, err := store.ListUsers(ctx, b.Tenant.ID, pgstore.UserFilter{Page: pgstore.Page{Limit: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bUsers) != 2 || bUsers[0].ID != b.Admin.ID || bUsers[1].ID != bUser.ID {
		t.Errorf("ListUsers(B) = %+v, want B's admin and user", bUsers)
	}
	for _, u := range bUsers {
		if u.TenantID != b.Tenant.ID {
			t.Errorf("ListUsers(B) shows %+v of another tenant", u)
		}
	}
	bKeys, err := store.ListAPIKeys(ctx, b.Tenant.ID, pgstore.KeyFilter{})
	if err != nil || len(bKeys) != 1 || bKeys[0].ID != b.Key.ID {
		t.Errorf("ListAPIKeys(B) = %+v, %v; want B's first key only", bKeys, err)
	}
	if ks, err := store.ListAPIKeys(ctx, b.Tenant.ID, pgstore.KeyFilter{UserID: aUser.ID}); err != nil || len(ks) != 0 {
		t.Errorf("ListAPIKeys(B, A's user) = %+v, %v; want none", ks, err)
	}
	// Audit rows of B's failed attempts were rolled back; A's log has no trace of B.
	var foreign int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND object_id IN ($2, $3)`,
		b.Tenant.ID, aUser.ID, aKey.ID).Scan(&foreign); err != nil {
		t.Fatal(err)
	}
	if foreign != 0 {
		t.Errorf("%d audit rows in B about A's objects", foreign)
	}
}
