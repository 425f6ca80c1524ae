package pgstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"switchboard/pgstore"
)

func TestDigestHA1(t *testing.T) {
	// The user, realm and password of RFC 7616 §3.9.1, hashed by another implementation.
	for _, tc := range []struct{ alg, want string }{
		{pgstore.DigestMD5, "3d78807defe7de2157e2b0b6573a855f"},
		{pgstore.DigestSHA256, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"},
	} {
		got, ok := pgstore.DigestHA1(tc.alg, "Mufasa", "http-auth@example.org", "Circle of Life")
		if !ok || got != tc.want {
			t.Errorf("DigestHA1(%s) = %q, %v; want %q", tc.alg, got, ok, tc.want)
		}
	}
	if _, ok := pgstore.DigestHA1("SHA-512-256", "a", "b", "c"); ok {
		t.Error("an unknown algorithm has an HA1")
	}
}

func TestSIPCredentials(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tenant := ct.Tenant.ID
	agent := newUser(t, tenant, pgstore.RoleAgent)
	other := newUser(t, tenant, pgstore.RoleAgent)
	admin := newUser(t, tenant, pgstore.RoleAdmin)

	bad := []struct {
		in    pgstore.SIPCredentialInput
		field string
	}{
		{pgstore.SIPCredentialInput{Extension: "", Password: "long enough pw"}, "extension"},
		{pgstore.SIPCredentialInput{Extension: "10 01", Password: "long enough pw"}, "extension"},
		{pgstore.SIPCredentialInput{Extension: "-1001", Password: "long enough pw"}, "extension"},
		{pgstore.SIPCredentialInput{Extension: strings.Repeat("1", 33), Password: "long enough pw"}, "extension"},
		{pgstore.SIPCredentialInput{Extension: "1001", Password: "short"}, "password"},
		{pgstore.SIPCredentialInput{Extension: "1001", Password: strings.Repeat("p", 129)}, "password"},
		{pgstore.SIPCredentialInput{Extension: "1001", Password: "pässwörd-long"}, "password"},
		{pgstore.SIPCredentialInput{Extension: "1001", Password: "with\ttab-long"}, "password"},
		{pgstore.SIPCredentialInput{Extension: "alice.smith", Password: "ALICE.SMITH"}, "password"},
	}
	for _, tc := range bad {
		_, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, agent.ID, tc.in)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("SetSIPCredential(%+v) = %v; want a validation error on %s", tc.in, err, tc.field)
		}
	}
	if _, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, admin.ID, pgstore.SIPCredentialInput{Extension: "1001", Password: "secret-password"}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("an admin got a SIP credential: %v; want not found (agents only)", err)
	}

	got, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, agent.ID, pgstore.SIPCredentialInput{Extension: "1001", Password: "secret-password"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Extension != "1001" || got.Realm != ct.Tenant.Slug || got.AgentID != agent.ID || len(got.Algorithms) != 2 {
		t.Fatalf("credential = %+v", got)
	}
	if _, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, other.ID, pgstore.SIPCredentialInput{Extension: "1001", Password: "other-password"}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("a second agent took extension 1001: %v; want conflict", err)
	}

	// Only hashes are at rest, and they are the ones the registrar needs.
	var md5, sha string
	if err := pool.QueryRow(ctx, `SELECT ha1_md5, ha1_sha256 FROM sip_credentials WHERE tenant_id = $1 AND user_id = $2`, tenant, agent.ID).Scan(&md5, &sha); err != nil {
		t.Fatal(err)
	}
	wantMD5, _ := pgstore.DigestHA1(pgstore.DigestMD5, "1001", ct.Tenant.Slug, "secret-password")
	wantSHA, _ := pgstore.DigestHA1(pgstore.DigestSHA256, "1001", ct.Tenant.Slug, "secret-password")
	if md5 != wantMD5 || sha != wantSHA {
		t.Errorf("stored HA1s %s %s; want %s %s", md5, sha, wantMD5, wantSHA)
	}
	var leaked int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND details::text LIKE '%secret-password%'`, tenant).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("the password is in the audit log (%d rows, %v)", leaked, err)
	}

	tenantOf, err := store.SIPTenant(ctx, ct.Tenant.Slug+".sip.example.com")
	if err != nil || tenantOf.ID != tenant {
		t.Fatalf("SIPTenant = %+v, %v", tenantOf, err)
	}
	if _, err := store.SIPTenant(ctx, "no-such-tenant-here"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("SIPTenant of an unknown domain: %v", err)
	}
	sec, err := store.SIPSecretFor(ctx, tenant, "1001")
	if err != nil || sec.AgentID != agent.ID || sec.HA1[pgstore.DigestSHA256] != wantSHA || sec.HA1[pgstore.DigestMD5] != wantMD5 || sec.Realm != ct.Tenant.Slug {
		t.Fatalf("SIPSecretFor = %+v, %v", sec, err)
	}
	if _, err := store.SIPSecretFor(ctx, newTenant(t).Tenant.ID, "1001"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant's extension 1001 found: %v", err)
	}

	// A disabled agent's phone cannot register.
	disabled := false
	if _, err := store.UpdateAgent(ctx, tenant, pgstore.Actor{}, agent.ID, pgstore.AgentUpdate{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SIPSecretFor(ctx, tenant, "1001"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("a disabled agent's credential found: %v", err)
	}

	// A new password replaces the old one; the extension moves with it.
	if _, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, agent.ID, pgstore.SIPCredentialInput{Extension: "1002", Password: "another-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetSIPCredential(ctx, tenant, pgstore.Actor{}, other.ID, pgstore.SIPCredentialInput{Extension: "1001", Password: "other-password"}); err != nil {
		t.Errorf("extension 1001 is free again but: %v", err)
	}
	if err := store.DeleteSIPCredential(ctx, tenant, pgstore.Actor{}, agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSIPCredential(ctx, tenant, agent.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("deleted credential: %v", err)
	}
	if err := store.DeleteSIPCredential(ctx, tenant, pgstore.Actor{}, agent.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}

func TestVoiceNumbers(t *testing.T) {
	ctx := testContext(t)
	a, b := newTenant(t), newTenant(t)
	num := "+1555" + fmtDigits(7)

	if _, _, err := store.PutVoiceNumber(ctx, a.Tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: "call me"}); !isField(err, "number") {
		t.Errorf("bad number: %v", err)
	}
	if _, _, err := store.PutVoiceNumber(ctx, a.Tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: num, CampaignID: "00000000-0000-0000-0000-000000000000"}); !isField(err, "campaignId") {
		t.Errorf("unknown campaign: %v", err)
	}
	v, created, err := store.PutVoiceNumber(ctx, a.Tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: num[:2] + " " + num[2:], Name: "Support line"})
	if err != nil || !created || v.Number != num || v.Name != "Support line" {
		t.Fatalf("PutVoiceNumber = %+v, %v, %v", v, created, err)
	}
	if _, created, err = store.PutVoiceNumber(ctx, a.Tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: num, Name: "Sales"}); err != nil || created {
		t.Fatalf("second put: created %v, %v", created, err)
	}
	if _, _, err := store.PutVoiceNumber(ctx, b.Tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: num}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("another tenant took the number: %v", err)
	}
	for _, dialled := range []string{num, strings.TrimPrefix(num, "+"), "00" + strings.TrimPrefix(num, "+")} {
		got, err := store.VoiceNumberFor(ctx, dialled)
		if err != nil || got.TenantID != a.Tenant.ID || got.Name != "Sales" {
			t.Errorf("VoiceNumberFor(%q) = %+v, %v", dialled, got, err)
		}
	}
	if _, err := store.VoiceNumberFor(ctx, "+1555"+fmtDigits(7)); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("unknown number: %v", err)
	}
	list, err := store.ListVoiceNumbers(ctx, a.Tenant.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := store.DeleteVoiceNumber(ctx, b.Tenant.ID, pgstore.Actor{}, num); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant deleted the number: %v", err)
	}
	if err := store.DeleteVoiceNumber(ctx, a.Tenant.ID, pgstore.Actor{}, num); err != nil {
		t.Fatal(err)
	}
	if _, err := store.VoiceNumberFor(context.Background(), num); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("deleted number found: %v", err)
	}
}

func isField(err error, field string) bool {
	var v *pgstore.ValidationError
	return errors.As(err, &v) && v.Field == field
}

// fmtDigits is n random digits, so numbers of concurrent tests never meet.
func fmtDigits(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + rand.IntN(10)))
	}
	return b.String()
}
