package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// bootstrapLock serialises first-run set-up across processes starting together.
const bootstrapLock = 0x5357_4254 // "SWBT"

// Bootstrap creates a demo tenant with a platform admin and an API key when the
// database has no tenant yet. It returns nil when there was nothing to do.
func (s *Store) Bootstrap(ctx context.Context) (*CreatedTenant, error) {
	var out *CreatedTenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, bootstrapLock); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants)`).Scan(&any); err != nil || any {
			return err
		}
		in := NewTenant{
			Slug: "demo", Name: "Demo", TimeZone: "UTC",
			Admin: NewUser{Email: "admin@demo.invalid", Name: "Administrator", Role: RoleAdmin},
		}
		if err := in.Validate(); err != nil {
			return err
		}
		created, err := createTenant(ctx, tx, in, true)
		if err != nil {
			return err
		}
		out = &created
		return audit(ctx, tx, created.Tenant.ID, Actor{}, "tenant.bootstrapped", "tenant", created.Tenant.ID, nil)
	})
	return out, err
}
