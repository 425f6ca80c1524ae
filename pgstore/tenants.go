package pgstore

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Tenant is one business using Switchboard; every other row belongs to one.
type Tenant struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	TimeZone  string    `json:"timeZone"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NewTenant is a tenant to create together with its first admin.
type NewTenant struct {
	Slug     string  `json:"slug"`
	Name     string  `json:"name"`
	TimeZone string  `json:"timeZone"`
	Admin    NewUser `json:"admin"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// Validate checks the tenant and its admin.
func (t *NewTenant) Validate() error {
	t.Slug = strings.TrimSpace(t.Slug)
	t.Name = strings.TrimSpace(t.Name)
	if !slugPattern.MatchString(t.Slug) {
		return invalid("slug", "must be 2-63 lower-case letters, digits or dashes, starting with a letter or digit")
	}
	if t.Name == "" || utf8.RuneCountInString(t.Name) > 200 {
		return invalid("name", "is required and at most 200 characters")
	}
	if t.TimeZone == "" {
		t.TimeZone = "UTC"
	}
	// "Local" loads too, as whatever zone the server runs in; it is not an IANA name.
	if _, err := time.LoadLocation(t.TimeZone); err != nil || t.TimeZone == "Local" {
		return invalid("timeZone", "%q is not an IANA time zone", t.TimeZone)
	}
	t.Admin.Role = RoleAdmin
	if err := t.Admin.Validate(); err != nil {
		if v, ok := err.(*ValidationError); ok {
			v.Field = "admin." + v.Field
		}
		return err
	}
	return nil
}

// CreatedTenant is a new tenant, its first admin and that admin's first API key.
type CreatedTenant struct {
	Tenant Tenant     `json:"tenant"`
	Admin  User       `json:"admin"`
	Key    CreatedKey `json:"apiKey"`
}

const tenantColumns = `id, slug, name, time_zone, created_at, updated_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.TimeZone, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// CreateTenant creates a tenant with its first admin user and API key, atomically,
// together with its Default queue, ACD settings, default break reasons and Default
// campaign.
func (s *Store) CreateTenant(ctx context.Context, actor Actor, in NewTenant) (CreatedTenant, error) {
	if err := in.Validate(); err != nil {
		return CreatedTenant{}, err
	}
	var out CreatedTenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = createTenant(ctx, tx, in, false)
		if err != nil {
			return err
		}
		return audit(ctx, tx, out.Tenant.ID, actor, "tenant.created", "tenant", out.Tenant.ID, map[string]string{"slug": in.Slug})
	})
	return out, err
}

func createTenant(ctx context.Context, tx pgx.Tx, in NewTenant, platformAdmin bool) (CreatedTenant, error) {
	var out CreatedTenant
	var err error
	out.Tenant, err = scanTenant(tx.QueryRow(ctx,
		`INSERT INTO tenants (slug, name, time_zone) VALUES ($1, $2, $3) RETURNING `+tenantColumns,
		in.Slug, in.Name, in.TimeZone))
	if err != nil {
		return out, translate(err, "tenant "+in.Slug)
	}
	if err := seedACD(ctx, tx, out.Tenant.ID); err != nil {
		return out, err
	}
	if err := seedCampaigns(ctx, tx, out.Tenant.ID); err != nil {
		return out, err
	}
	out.Admin, err = insertUser(ctx, tx, out.Tenant.ID, in.Admin, platformAdmin)
	if err != nil {
		return out, err
	}
	out.Key, err = insertKey(ctx, tx, out.Tenant.ID, NewAPIKey{UserID: out.Admin.ID, Name: "first admin key"})
	return out, err
}

// GetTenant returns one tenant.
func (s *Store) GetTenant(ctx context.Context, id string) (Tenant, error) {
	if !isUUID(id) {
		return Tenant{}, translate(pgx.ErrNoRows, "tenant")
	}
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return t, translate(err, "tenant")
}

// ListTenants lists all tenants in creation order; only platform admins may see it.
func (s *Store) ListTenants(ctx context.Context, page Page) ([]Tenant, error) {
	if err := page.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+tenantColumns+` FROM tenants
		WHERE $1::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM tenants WHERE id = $1)
		ORDER BY created_at, id LIMIT $2`, nullUUID(page.After), page.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}
