package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// TagKind says what a tag labels.
type TagKind string

// The tag kinds.
const (
	// TagConversation labels interactions: routes, automations, forms' triggers and
	// reports test them, and the history filters by them.
	TagConversation TagKind = "conversation"
	// TagMacro groups macros, so agents find the one they need; it has nothing to
	// do with conversation tags.
	TagMacro TagKind = "macro"
)

// Valid reports whether k is a known kind.
func (k TagKind) Valid() bool { return k == TagConversation || k == TagMacro }

// Tag is an entry of a tenant's tag catalogue.
type Tag struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId"`
	Kind        TagKind   `json:"kind"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// NewTag is a tag to create; Kind defaults to conversation.
type NewTag struct {
	Kind        TagKind `json:"kind"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
}

// TagPatch changes a tag; nil fields stay. A renamed conversation tag is applied
// under its new name from then on; interactions keep the name they were tagged with.
type TagPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// Limits of tags.
const (
	// MaxTagName bounds a tag's name, in characters.
	MaxTagName = 100
	// MaxInteractionTags bounds the tags one interaction carries.
	MaxInteractionTags = 50
	maxTagDescription  = 500
)

// ValidateTagName checks a tag's name: 1 to MaxTagName characters, trimmed, no
// control characters.
func ValidateTagName(field, name string) error {
	if name == "" || name != strings.TrimSpace(name) || utf8.RuneCountInString(name) > MaxTagName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return invalid(field, "must be 1 to %d characters, without control characters or surrounding spaces", MaxTagName)
	}
	return nil
}

func validateTagDescription(d string) error {
	if utf8.RuneCountInString(d) > maxTagDescription {
		return invalid("description", "must be at most %d characters", maxTagDescription)
	}
	return nil
}

// Validate checks the new tag.
func (t *NewTag) Validate() error {
	if t.Kind == "" {
		t.Kind = TagConversation
	}
	if !t.Kind.Valid() {
		return invalid("kind", "must be conversation or macro")
	}
	t.Name, t.Description = strings.TrimSpace(t.Name), strings.TrimSpace(t.Description)
	if err := ValidateTagName("name", t.Name); err != nil {
		return err
	}
	return validateTagDescription(t.Description)
}

// Validate checks the patch.
func (p *TagPatch) Validate() error {
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		p.Name = &n
		if err := ValidateTagName("name", n); err != nil {
			return err
		}
	}
	if p.Description != nil {
		d := strings.TrimSpace(*p.Description)
		p.Description = &d
		return validateTagDescription(d)
	}
	return nil
}

// TagFilter selects tags of a tenant, by name.
type TagFilter struct {
	// Kind keeps one kind; empty keeps both.
	Kind TagKind
	// Query keeps tags whose name contains it, ignoring case.
	Query string
	Page
}

// Validate checks the filter.
func (f *TagFilter) Validate() error {
	if f.Kind != "" && !f.Kind.Valid() {
		return invalid("kind", "must be conversation or macro")
	}
	f.Query = strings.TrimSpace(f.Query)
	if utf8.RuneCountInString(f.Query) > MaxTagName {
		return invalid("q", "must be at most %d characters", MaxTagName)
	}
	return f.Page.Validate()
}

const tagColumns = `id, tenant_id, kind, name, coalesce(description, ''), created_at, updated_at`

func scanTag(row pgx.Row) (Tag, error) {
	var t Tag
	err := row.Scan(&t.ID, &t.TenantID, &t.Kind, &t.Name, &t.Description, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// CreateTag adds a tag; names are unique per tenant and kind, ignoring case.
func (s *Store) CreateTag(ctx context.Context, tenantID string, actor Actor, in NewTag) (Tag, error) {
	if err := in.Validate(); err != nil {
		return Tag{}, err
	}
	var out Tag
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanTag(tx.QueryRow(ctx, `
			INSERT INTO tags (tenant_id, kind, name, description) VALUES ($1, $2, $3, $4) RETURNING `+tagColumns,
			tenantID, in.Kind, in.Name, nullText(in.Description)))
		if err != nil {
			return translate(err, fmt.Sprintf("%s tag %q", in.Kind, in.Name))
		}
		return audit(ctx, tx, tenantID, actor, "tag.created", "tag", out.ID, in)
	})
	return out, err
}

// GetTag returns one tag of the tenant.
func (s *Store) GetTag(ctx context.Context, tenantID, id string) (Tag, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return Tag{}, translate(pgx.ErrNoRows, "tag")
	}
	t, err := scanTag(s.pool.QueryRow(ctx, `SELECT `+tagColumns+` FROM tags WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return t, translate(err, "tag")
}

// ListTags lists a tenant's tags by name (conversation tags first when both kinds are
// listed).
func (s *Store) ListTags(ctx context.Context, tenantID string, f TagFilter) ([]Tag, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+tagColumns+` FROM tags
		WHERE tenant_id = $1
		  AND ($2 = '' OR kind = $2)
		  AND ($3 = '' OR strpos(lower(name), lower($3)) > 0)
		  AND ($4::uuid IS NULL OR (kind, lower(name), id) > (SELECT kind, lower(name), id FROM tags WHERE tenant_id = $1 AND id = $4))
		ORDER BY kind, lower(name), id LIMIT $5`, tenantID, string(f.Kind), f.Query, nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tag, error) { return scanTag(r) })
}

// UpdateTag renames a tag or changes its description.
func (s *Store) UpdateTag(ctx context.Context, tenantID string, actor Actor, id string, p TagPatch) (Tag, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return Tag{}, translate(pgx.ErrNoRows, "tag")
	}
	if err := p.Validate(); err != nil {
		return Tag{}, err
	}
	var out Tag
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanTag(tx.QueryRow(ctx, `
			UPDATE tags SET name = coalesce($3, name),
				description = CASE WHEN $4 THEN nullif($5, '') ELSE description END, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+tagColumns,
			tenantID, id, p.Name, p.Description != nil, deref(p.Description)))
		if err != nil {
			return translate(err, "tag")
		}
		return audit(ctx, tx, tenantID, actor, "tag.updated", "tag", id, p)
	})
	return out, err
}

// DeleteTag removes a tag. A macro tag leaves the macros it grouped; interactions keep
// a conversation tag's name they were tagged with.
func (s *Store) DeleteTag(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) || !isUUID(tenantID) {
		return translate(pgx.ErrNoRows, "tag")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		var kind TagKind
		err := tx.QueryRow(ctx, `DELETE FROM tags WHERE tenant_id = $1 AND id = $2 RETURNING name, kind`, tenantID, id).Scan(&name, &kind)
		if err != nil {
			return translate(err, "tag")
		}
		return audit(ctx, tx, tenantID, actor, "tag.deleted", "tag", id, map[string]string{"name": name, "kind": string(kind)})
	})
}

// ResolveTags names the conversation tags refs refers to, each by its ID or its name
// (ignoring case), as the catalogue spells them, in order and once each. A ref the
// catalogue does not have is refused, naming field[i].
func (s *Store) ResolveTags(ctx context.Context, tenantID, field string, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	if len(refs) > MaxInteractionTags {
		return nil, invalid(field, "at most %d tags", MaxInteractionTags)
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = strings.TrimSpace(r)
		if err := ValidateTagName(fmt.Sprintf("%s[%d]", field, i), keys[i]); err != nil {
			return nil, err
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT r.ord, t.name FROM unnest($2::text[]) WITH ORDINALITY AS r (ref, ord)
		LEFT JOIN LATERAL (
			SELECT name FROM tags
			WHERE tenant_id = $1 AND kind = 'conversation'
			  AND (lower(name) = lower(r.ref) OR (r.ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AND id = r.ref::uuid))
			ORDER BY lower(name) = lower(r.ref) DESC LIMIT 1) t ON true
		ORDER BY r.ord`, tenantID, keys)
	if err != nil {
		return nil, err
	}
	var (
		ord  int
		name *string
	)
	seen := map[string]bool{}
	_, err = pgx.ForEachRow(rows, []any{&ord, &name}, func() error {
		if name == nil {
			return invalid(fmt.Sprintf("%s[%d]", field, ord-1), "no conversation tag %q in this tenant", keys[ord-1])
		}
		if !seen[*name] {
			seen[*name] = true
			out = append(out, *name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
