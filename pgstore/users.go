package pgstore

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Role is what a user may do inside their tenant.
type Role string

// The roles of a contact center.
const (
	RoleAgent       Role = "agent"
	RoleSupervisor  Role = "supervisor"
	RoleAdmin       Role = "admin"
	RoleIntegration Role = "integration"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAgent, RoleSupervisor, RoleAdmin, RoleIntegration:
		return true
	}
	return false
}

// User is a person (or, with the integration role, a system such as a CRM) in a tenant.
type User struct {
	ID            string    `json:"id"`
	TenantID      string    `json:"tenantId"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Role          Role      `json:"role"`
	PlatformAdmin bool      `json:"platformAdmin"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// NewUser is a user to create.
type NewUser struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
}

// Validate checks the new user's fields.
func (u *NewUser) Validate() error {
	u.Email = strings.TrimSpace(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	if addr, err := mail.ParseAddress(u.Email); err != nil || addr.Address != u.Email || len(u.Email) > 320 {
		return invalid("email", "must be a plain e-mail address such as ana@example.com")
	}
	if u.Name == "" || utf8.RuneCountInString(u.Name) > 200 {
		return invalid("name", "is required and at most 200 characters")
	}
	if !u.Role.Valid() {
		return invalid("role", "must be one of agent, supervisor, admin, integration")
	}
	return nil
}

// UserUpdate changes the fields that are set.
type UserUpdate struct {
	Name     *string `json:"name"`
	Role     *Role   `json:"role"`
	Disabled *bool   `json:"disabled"`
}

// Validate checks the fields that are set.
func (u *UserUpdate) Validate() error {
	if u.Name != nil {
		n := strings.TrimSpace(*u.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 {
			return invalid("name", "must not be empty and at most 200 characters")
		}
		u.Name = &n
	}
	if u.Role != nil && !u.Role.Valid() {
		return invalid("role", "must be one of agent, supervisor, admin, integration")
	}
	if u.Name == nil && u.Role == nil && u.Disabled == nil {
		return invalid("", "nothing to change: set name, role or disabled")
	}
	return nil
}

// UserFilter selects users of a tenant.
type UserFilter struct {
	Role Role
	Page
}

const userColumns = `id, tenant_id, email, name, role, platform_admin, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.Role, &u.PlatformAdmin, &u.Disabled, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

func insertUser(ctx context.Context, tx pgx.Tx, tenantID string, in NewUser, platformAdmin bool) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `
		INSERT INTO users (tenant_id, email, name, role, platform_admin) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+userColumns, tenantID, in.Email, in.Name, in.Role, platformAdmin))
	return u, translate(err, "user "+in.Email)
}

// CreateUser adds a user to a tenant.
func (s *Store) CreateUser(ctx context.Context, tenantID string, actor Actor, in NewUser) (User, error) {
	if err := in.Validate(); err != nil {
		return User{}, err
	}
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, tenantID, in, false); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "user.created", "user", u.ID, map[string]string{"email": u.Email, "role": string(u.Role)})
	})
	return u, err
}

// GetUser returns one user of a tenant.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (User, error) {
	if !isUUID(id) {
		return User{}, translate(pgx.ErrNoRows, "user")
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return u, translate(err, "user")
}

// ListUsers lists a tenant's users in creation order.
func (s *Store) ListUsers(ctx context.Context, tenantID string, f UserFilter) ([]User, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	if f.Role != "" && !f.Role.Valid() {
		return nil, invalid("role", "must be one of agent, supervisor, admin, integration")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+userColumns+` FROM users
		WHERE tenant_id = $1
		  AND ($2 = '' OR role = $2)
		  AND ($3::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM users WHERE tenant_id = $1 AND id = $3))
		ORDER BY created_at, id LIMIT $4`, tenantID, string(f.Role), nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// UpdateUser changes a user's name, role or disabled flag. Disabling a user makes all
// of their API keys stop working at once.
func (s *Store) UpdateUser(ctx context.Context, tenantID string, actor Actor, id string, in UserUpdate) (User, error) {
	if err := in.Validate(); err != nil {
		return User{}, err
	}
	if !isUUID(id) {
		return User{}, translate(pgx.ErrNoRows, "user")
	}
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `
			UPDATE users SET name = coalesce($3, name), role = coalesce($4, role),
			       disabled = coalesce($5, disabled), updated_at = now()
			WHERE tenant_id = $1 AND id = $2
			RETURNING `+userColumns, tenantID, id, in.Name, in.Role, in.Disabled))
		if err != nil {
			return translate(err, "user")
		}
		return audit(ctx, tx, tenantID, actor, "user.updated", "user", u.ID, in)
	})
	return u, err
}
