package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Skill is something an agent knows (Billing, Spanish…); routes may require skills, and
// only agents holding all of them are offered the interaction.
type Skill struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NewSkill is a skill to create.
type NewSkill struct {
	Name string `json:"name"`
}

// maxSkillName bounds skill names, which appear in pickers and chips.
const maxSkillName = 100

// Validate checks the new skill's name.
func (s *NewSkill) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || utf8.RuneCountInString(s.Name) > maxSkillName {
		return invalid("name", "is required and at most %d characters", maxSkillName)
	}
	return nil
}

// SkillFilter selects skills of a tenant, in alphabetical order.
type SkillFilter struct {
	// Query keeps skills whose name contains it, ignoring case.
	Query string
	Page
}

// Validate checks the filter.
func (f *SkillFilter) Validate() error {
	f.Query = strings.TrimSpace(f.Query)
	if utf8.RuneCountInString(f.Query) > maxSkillName {
		return invalid("q", "must be at most %d characters", maxSkillName)
	}
	return f.Page.Validate()
}

const skillColumns = `id, tenant_id, name, created_at, updated_at`

func scanSkill(row pgx.Row) (Skill, error) {
	var s Skill
	err := row.Scan(&s.ID, &s.TenantID, &s.Name, &s.CreatedAt, &s.UpdatedAt)
	return s, err
}

// CreateSkill adds a skill; names are unique in the tenant ignoring case.
func (s *Store) CreateSkill(ctx context.Context, tenantID string, actor Actor, in NewSkill) (Skill, error) {
	if err := in.Validate(); err != nil {
		return Skill{}, err
	}
	var out Skill
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanSkill(tx.QueryRow(ctx, `INSERT INTO skills (tenant_id, name) VALUES ($1, $2) RETURNING `+skillColumns, tenantID, in.Name))
		if err != nil {
			return translate(err, fmt.Sprintf("skill %q", in.Name))
		}
		return audit(ctx, tx, tenantID, actor, "skill.created", "skill", out.ID, in)
	})
	return out, err
}

// ListSkills lists a tenant's skills by name. Substring search scans the tenant's
// skills, which number in the tens or hundreds; the (tenant, name) index bounds it.
func (s *Store) ListSkills(ctx context.Context, tenantID string, f SkillFilter) ([]Skill, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+skillColumns+` FROM skills
		WHERE tenant_id = $1
		  AND ($2 = '' OR strpos(lower(name), lower($2)) > 0)
		  AND ($3::uuid IS NULL OR (lower(name), id) > (SELECT lower(name), id FROM skills WHERE tenant_id = $1 AND id = $3))
		ORDER BY lower(name), id LIMIT $4`, tenantID, f.Query, nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Skill, error) { return scanSkill(r) })
}

// DeleteSkill removes a skill and takes it away from every agent. A skill that a route
// requires is kept (ErrConflict): dropping it from the route silently would send the
// route's interactions to agents without it.
func (s *Store) DeleteSkill(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "skill")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM skills WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&name); err != nil {
			return translate(err, "skill")
		}
		routes, err := routeNames(ctx, tx, `
			SELECT r.name FROM routes r JOIN route_skills rs ON rs.tenant_id = r.tenant_id AND rs.route_id = r.id
			WHERE rs.tenant_id = $1 AND rs.skill_id = $2 ORDER BY r.position`, tenantID, id)
		if err != nil {
			return err
		}
		if len(routes) > 0 {
			return fmt.Errorf("skill %q is required by %s; remove it from them first: %w", name, describeRoutes(routes), ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM skills WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "skill.deleted", "skill", id, map[string]string{"name": name})
	})
	// The row lock above makes the check exact; the foreign key, checked at commit, is
	// the backstop.
	if fkViolation(err, "route_skills_skill") {
		return fmt.Errorf("the skill was just made required by a route: %w", ErrConflict)
	}
	return err
}

func routeNames(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// describeRoutes names up to three routes for an error message.
func describeRoutes(names []string) string {
	quoted := make([]string, 0, 3)
	for _, n := range names[:min(3, len(names))] {
		quoted = append(quoted, fmt.Sprintf("%q", n))
	}
	s := "route " + quoted[0]
	if len(names) > 1 {
		s = fmt.Sprintf("%d routes (%s", len(names), strings.Join(quoted, ", "))
		if len(names) > 3 {
			s += ", …"
		}
		s += ")"
	}
	return s
}
