package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// APIKey is a bearer credential of one user; its secret is never stored.
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenantId"`
	UserID     string     `json:"userId"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// CreatedKey is a new key with its secret, which is shown this once only.
type CreatedKey struct {
	APIKey
	Secret string `json:"secret"`
}

// NewAPIKey is a key to issue to a user.
type NewAPIKey struct {
	UserID    string     `json:"userId"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// Validate checks the new key's fields.
func (k *NewAPIKey) Validate(now time.Time) error {
	k.Name = strings.TrimSpace(k.Name)
	if !isUUID(k.UserID) {
		return invalid("userId", "must be the ID of a user of this tenant")
	}
	if k.Name == "" || utf8.RuneCountInString(k.Name) > 200 {
		return invalid("name", "is required and at most 200 characters")
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return invalid("expiresAt", "must be in the future")
	}
	return nil
}

// Principal is the authenticated caller behind a request.
type Principal struct {
	TenantID      string
	UserID        string
	KeyID         string
	Role          Role
	PlatformAdmin bool
}

// keyScheme starts every Switchboard key so that leaked keys are easy to recognise.
const keyScheme = "sbk_"

var prefixEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns a key of the form sbk_<prefix>_<secret>: the prefix finds the row,
// the whole string is hashed and compared.
func newSecret() (prefix, secret string, err error) {
	var p [10]byte
	var s [32]byte
	if _, err = rand.Read(p[:]); err != nil {
		return "", "", err
	}
	if _, err = rand.Read(s[:]); err != nil {
		return "", "", err
	}
	prefix = strings.ToLower(prefixEncoding.EncodeToString(p[:]))
	return prefix, keyScheme + prefix + "_" + base64.RawURLEncoding.EncodeToString(s[:]), nil
}

// hashSecret is a plain SHA-256: keys carry 256 random bits, so a slow password hash
// would add latency to every request without adding safety.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func parsePrefix(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, keyScheme)
	if !ok {
		return "", false
	}
	prefix, _, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) != 16 {
		return "", false
	}
	// Only what newSecret makes (lower-case base32) may reach the query: other bytes,
	// such as invalid UTF-8 or NUL, make PostgreSQL fail instead of find nothing.
	for _, c := range []byte(prefix) {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	return prefix, true
}

const keyColumns = `id, tenant_id, user_id, name, prefix, expires_at, revoked_at, last_used_at, created_at`

func scanKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.TenantID, &k.UserID, &k.Name, &k.Prefix, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.CreatedAt)
	return k, err
}

func insertKey(ctx context.Context, tx pgx.Tx, tenantID string, in NewAPIKey) (CreatedKey, error) {
	prefix, secret, err := newSecret()
	if err != nil {
		return CreatedKey{}, err
	}
	k, err := scanKey(tx.QueryRow(ctx, `
		INSERT INTO api_keys (tenant_id, user_id, name, prefix, secret_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+keyColumns,
		tenantID, in.UserID, in.Name, prefix, hashSecret(secret), in.ExpiresAt))
	if err != nil {
		return CreatedKey{}, translate(err, "user "+in.UserID)
	}
	return CreatedKey{APIKey: k, Secret: secret}, nil
}

// CreateAPIKey issues a key to a user of the tenant.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID string, actor Actor, in NewAPIKey) (CreatedKey, error) {
	if err := in.Validate(time.Now()); err != nil {
		return CreatedKey{}, err
	}
	var out CreatedKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = insertKey(ctx, tx, tenantID, in); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "api_key.created", "api_key", out.ID, map[string]string{"userId": in.UserID, "name": in.Name})
	})
	return out, err
}

// KeyFilter selects API keys of a tenant.
type KeyFilter struct {
	UserID string
	Page
}

// ListAPIKeys lists a tenant's keys (without secrets) in creation order.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string, f KeyFilter) ([]APIKey, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	if f.UserID != "" && !isUUID(f.UserID) {
		return nil, invalid("userId", "must be a user ID")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+keyColumns+` FROM api_keys
		WHERE tenant_id = $1
		  AND ($2::uuid IS NULL OR user_id = $2)
		  AND ($3::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM api_keys WHERE tenant_id = $1 AND id = $3))
		ORDER BY created_at, id LIMIT $4`, tenantID, nullUUID(f.UserID), nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanKey(r) })
}

// RevokeAPIKey stops a key from working; revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID string, actor Actor, id string) (APIKey, error) {
	if !isUUID(id) {
		return APIKey{}, translate(pgx.ErrNoRows, "api key")
	}
	var k APIKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `
			UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
			WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns, tenantID, id))
		if err != nil {
			return translate(err, "api key")
		}
		return audit(ctx, tx, tenantID, actor, "api_key.revoked", "api_key", k.ID, nil)
	})
	return k, err
}

// lastUsedGranularity bounds how often a busy key's last-used time is written.
const lastUsedGranularity = time.Minute

// Authenticate resolves a presented key to its principal. Unknown, malformed, revoked
// and expired keys, and keys of disabled users, all give ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, secret string) (Principal, error) {
	prefix, ok := parsePrefix(secret)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	var (
		p        Principal
		hash     []byte
		expires  *time.Time
		revoked  *time.Time
		lastUsed *time.Time
		disabled bool
	)
	err := s.pool.QueryRow(ctx, `
		SELECT k.id, k.tenant_id, k.user_id, u.role, u.platform_admin, u.disabled,
		       k.secret_hash, k.expires_at, k.revoked_at, k.last_used_at
		FROM api_keys k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
		WHERE k.prefix = $1`, prefix).
		Scan(&p.KeyID, &p.TenantID, &p.UserID, &p.Role, &p.PlatformAdmin, &disabled, &hash, &expires, &revoked, &lastUsed)
	if err != nil {
		if err == pgx.ErrNoRows {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, err
	}
	now := time.Now()
	if subtle.ConstantTimeCompare(hash, hashSecret(secret)) != 1 || disabled || revoked != nil || (expires != nil && !expires.After(now)) {
		return Principal{}, ErrUnauthenticated
	}
	if lastUsed == nil || now.Sub(*lastUsed) > lastUsedGranularity {
		if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, p.KeyID); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// GetAPIKey returns one key of the tenant, without its secret.
func (s *Store) GetAPIKey(ctx context.Context, tenantID, id string) (APIKey, error) {
	if !isUUID(id) {
		return APIKey{}, translate(pgx.ErrNoRows, "api key")
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return k, translate(err, "api key")
}
