package pgstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/pgstore"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	u := newUser(t, tid, pgstore.RoleSupervisor)
	k := newKey(t, tid, u.ID, nil)
	other := newKey(t, tid, u.ID, nil)

	p, err := store.Authenticate(ctx, k.Secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if want := (pgstore.Principal{TenantID: tid, UserID: u.ID, KeyID: k.ID, Role: pgstore.RoleSupervisor}); p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	head := "sbk_" + k.Prefix + "_" // the part that finds the row
	rest := strings.TrimPrefix(k.Secret, head)
	rejected := []struct{ name, secret string }{
		{"empty", ""},
		{"garbage", "hello"},
		{"scheme only", "sbk_"},
		{"prefix without secret part", "sbk_" + k.Prefix},
		{"short prefix", "sbk_abc_" + rest},
		{"unknown prefix", "sbk_aaaaaaaaaaaaaaaa_" + rest},
		{"wrong scheme", "sbx_" + strings.TrimPrefix(k.Secret, "sbk_")},
		{"upper-case scheme", "SBK_" + strings.TrimPrefix(k.Secret, "sbk_")},
		{"with Bearer", "Bearer " + k.Secret},
		{"leading space", " " + k.Secret},
		{"trailing newline", k.Secret + "\n"},
		{"right prefix, wrong secret", head + strings.Repeat("A", len(rest))},
		{"right prefix, other key's secret", head + strings.TrimPrefix(other.Secret, "sbk_"+other.Prefix+"_")},
		{"right prefix, secret cut short", k.Secret[:len(k.Secret)-1]},
		{"right prefix, empty secret", head},
		{"prefix not UTF-8", "sbk_" + strings.Repeat("\xff", 16) + "_" + rest},
		{"prefix with NUL", "sbk_" + strings.Repeat("\x00", 16) + "_" + rest},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			p, err := store.Authenticate(ctx, tc.secret)
			if !errors.Is(err, pgstore.ErrUnauthenticated) {
				t.Errorf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
			}
			if p != (pgstore.Principal{}) {
				t.Errorf("rejected key still yields principal %+v", p)
			}
		})
	}
	// Failed attempts with the right prefix do not count as use.
	if got, err := store.GetAPIKey(ctx, tid, other.ID); err != nil || got.LastUsedAt != nil {
		t.Errorf("other key after failed attempts = %+v, %v; want LastUsedAt nil", got, err)
	}

	t.Run("revoked", func(t *testing.T) {
		rk := newKey(t, tid, u.ID, nil)
		if _, err := store.Authenticate(ctx, rk.Secret); err != nil {
			t.Fatalf("before revoking: %v", err)
		}
		if _, err := store.RevokeAPIKey(ctx, tid, pgstore.Actor{}, rk.ID); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		if _, err := store.Authenticate(ctx, rk.Secret); !errors.Is(err, pgstore.ErrUnauthenticated) {
			t.Errorf("revoked key: error = %v, want ErrUnauthenticated", err)
		}
		if _, err := store.Authenticate(ctx, k.Secret); err != nil {
			t.Errorf("revoking one key affected another: %v", err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		soon := time.Now().Add(time.Hour)
		ek := newKey(t, tid, u.ID, &soon)
		if ek.ExpiresAt == nil || !ek.ExpiresAt.Equal(soon.Truncate(time.Microsecond)) {
			t.Errorf("ExpiresAt = %v, want %v", ek.ExpiresAt, soon)
		}
		if _, err := store.Authenticate(ctx, ek.Secret); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		if _, err := pool.Exec(ctx, `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, ek.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Authenticate(ctx, ek.Secret); !errors.Is(err, pgstore.ErrUnauthenticated) {
			t.Errorf("expired key: error = %v, want ErrUnauthenticated", err)
		}
	})

	t.Run("disabled user", func(t *testing.T) {
		du := newUser(t, tid, pgstore.RoleAgent)
		dk := newKey(t, tid, du.ID, nil)
		dk2 := newKey(t, tid, du.ID, nil)
		on, off := true, false
		if got, err := store.UpdateUser(ctx, tid, pgstore.Actor{}, du.ID, pgstore.UserUpdate{Disabled: &on}); err != nil || !got.Disabled {
			t.Fatalf("disable: %+v, %v", got, err)
		}
		for _, s := range []string{dk.Secret, dk2.Secret} {
			if _, err := store.Authenticate(ctx, s); !errors.Is(err, pgstore.ErrUnauthenticated) {
				t.Errorf("key of disabled user: error = %v, want ErrUnauthenticated", err)
			}
		}
		if _, err := store.Authenticate(ctx, k.Secret); err != nil {
			t.Errorf("disabling one user affected another's key: %v", err)
		}
		if got, err := store.UpdateUser(ctx, tid, pgstore.Actor{}, du.ID, pgstore.UserUpdate{Disabled: &off}); err != nil || got.Disabled {
			t.Fatalf("re-enable: %+v, %v", got, err)
		}
		for _, s := range []string{dk.Secret, dk2.Secret} {
			if p, err := store.Authenticate(ctx, s); err != nil || p.UserID != du.ID || p.Role != pgstore.RoleAgent {
				t.Errorf("key of re-enabled user = %+v, %v", p, err)
			}
		}
	})

	t.Run("role change applies at once", func(t *testing.T) {
		ru := newUser(t, tid, pgstore.RoleAgent)
		rk := newKey(t, tid, ru.ID, nil)
		admin := pgstore.RoleAdmin
		if _, err := store.UpdateUser(ctx, tid, pgstore.Actor{}, ru.ID, pgstore.UserUpdate{Role: &admin}); err != nil {
			t.Fatal(err)
		}
		if p, err := store.Authenticate(ctx, rk.Secret); err != nil || p.Role != pgstore.RoleAdmin {
			t.Errorf("after promotion = %+v, %v; want role admin", p, err)
		}
	})
}

func TestAuthenticateLastUsed(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	k := newKey(t, tid, ct.Admin.ID, nil)
	if k.LastUsedAt != nil {
		t.Fatalf("new key LastUsedAt = %v, want nil", k.LastUsedAt)
	}

	before := time.Now()
	if _, err := store.Authenticate(ctx, k.Secret); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	first, err := store.GetAPIKey(ctx, tid, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The database clock is the same host's; allow a little skew.
	if first.LastUsedAt == nil || first.LastUsedAt.Before(before.Add(-5*time.Second)) || first.LastUsedAt.After(after.Add(5*time.Second)) {
		t.Fatalf("LastUsedAt = %v, want between %v and %v", first.LastUsedAt, before, after)
	}

	// Within a minute, use is not written again.
	if _, err := store.Authenticate(ctx, k.Secret); err != nil {
		t.Fatal(err)
	}
	second, err := store.GetAPIKey(ctx, tid, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !second.LastUsedAt.Equal(*first.LastUsedAt) {
		t.Errorf("LastUsedAt moved from %v to %v within a minute", first.LastUsedAt, second.LastUsedAt)
	}

	// An older last use is refreshed.
	if _, err := pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Authenticate(ctx, k.Secret); err != nil {
		t.Fatal(err)
	}
	third, err := store.GetAPIKey(ctx, tid, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if third.LastUsedAt == nil || time.Since(*third.LastUsedAt) > time.Minute {
		t.Errorf("LastUsedAt = %v, want refreshed to about now", third.LastUsedAt)
	}
}

func TestRevokeAPIKeyTwice(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	k := newKey(t, tid, ct.Admin.ID, nil)

	first, err := store.RevokeAPIKey(ctx, tid, pgstore.Actor{RequestID: "r1"}, k.ID)
	if err != nil {
		t.Fatalf("first RevokeAPIKey: %v", err)
	}
	if first.RevokedAt == nil || first.ID != k.ID {
		t.Fatalf("first revoke = %+v, want RevokedAt set", first)
	}
	time.Sleep(20 * time.Millisecond)
	second, err := store.RevokeAPIKey(ctx, tid, pgstore.Actor{RequestID: "r2"}, k.ID)
	if err != nil {
		t.Fatalf("second RevokeAPIKey: %v", err)
	}
	if second.RevokedAt == nil || !second.RevokedAt.Equal(*first.RevokedAt) {
		t.Errorf("second revoke RevokedAt = %v, want the first %v", second.RevokedAt, first.RevokedAt)
	}
	got, err := store.GetAPIKey(ctx, tid, k.ID)
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(*first.RevokedAt) {
		t.Errorf("GetAPIKey = %+v, %v; want RevokedAt %v", got, err, first.RevokedAt)
	}
	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := store.RevokeAPIKey(ctx, tid, pgstore.Actor{}, id); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("RevokeAPIKey(%q) error = %v, want ErrNotFound", id, err)
		}
		if _, err := store.GetAPIKey(ctx, tid, id); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("GetAPIKey(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func TestListAPIKeys(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	ctx := testContext(t)
	u := newUser(t, tid, pgstore.RoleIntegration)
	k1 := newKey(t, tid, u.ID, nil)
	k2 := newKey(t, tid, u.ID, nil)

	all, err := store.ListAPIKeys(ctx, tid, pgstore.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range all {
		ids = append(ids, k.ID)
	}
	if want := []string{ct.Key.ID, k1.ID, k2.ID}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("ListAPIKeys = %v, want %v", ids, want)
	}
	mine, err := store.ListAPIKeys(ctx, tid, pgstore.KeyFilter{UserID: u.ID, Page: pgstore.Page{Limit: 1}})
	if err != nil || len(mine) != 1 || mine[0].ID != k1.ID {
		t.Errorf("first page of u's keys = %+v, %v; want k1", mine, err)
	}
	next, err := store.ListAPIKeys(ctx, tid, pgstore.KeyFilter{UserID: u.ID, Page: pgstore.Page{Limit: 1, After: k1.ID}})
	if err != nil || len(next) != 1 || next[0].ID != k2.ID {
		t.Errorf("second page of u's keys = %+v, %v; want k2", next, err)
	}
	if len(next) == 1 && next[0] != k2.APIKey {
		t.Errorf("listed key = %+v, want %+v", next[0], k2.APIKey)
	}
}
