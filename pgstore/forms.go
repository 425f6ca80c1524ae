package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/forms"
	"switchboard/routing"
)

// FormField is an input field of the tenant: its values belong to each interaction.
type FormField struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenantId"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Type        forms.FieldType `json:"type"`
	// Options are a dropdown's values, each a path of levels ("Clothing: Shirts").
	Options []string `json:"options,omitempty"`
	// Pattern is a regex field's regular expression (RE2), matched against the
	// whole value.
	Pattern   string    `json:"pattern,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (f FormField) rule() forms.Field {
	return forms.Field{ID: f.ID, Name: f.Name, Type: f.Type, Options: f.Options, Pattern: f.Pattern}
}

// NewFormField is an input field to create.
type NewFormField struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Type        forms.FieldType `json:"type"`
	Options     []string        `json:"options"`
	Pattern     string          `json:"pattern"`
}

const (
	maxFormName        = 200
	maxFormDescription = 500
)

func validateFormName(field, name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxFormName || strings.ContainsFunc(name, unicode.IsControl) {
		return invalid(field, "must be 1 to %d characters on one line", maxFormName)
	}
	return nil
}

func validateFormDescription(d string) error {
	if utf8.RuneCountInString(d) > maxFormDescription {
		return invalid("description", "must be at most %d characters", maxFormDescription)
	}
	return nil
}

// fromForms turns the forms package's errors into the store's.
func fromForms(err error) error {
	var e *forms.Error
	if errors.As(err, &e) {
		return &ValidationError{Field: e.Field, Message: e.Message}
	}
	return err
}

// Validate checks the new field and writes its options in their canonical form.
func (n *NewFormField) Validate() error {
	n.Name, n.Description = strings.TrimSpace(n.Name), strings.TrimSpace(n.Description)
	if err := validateFormName("name", n.Name); err != nil {
		return err
	}
	if err := validateFormDescription(n.Description); err != nil {
		return err
	}
	if !n.Type.Valid() {
		return invalid("type", "must be text, multiline, checkbox, dropdown, integer, decimal, datetime or regex")
	}
	return checkFieldShape(n.Type, &n.Options, &n.Pattern)
}

func checkFieldShape(t forms.FieldType, options *[]string, pattern *string) error {
	if t == forms.Dropdown {
		opts, err := forms.NormalizeOptions("options", *options)
		if err != nil {
			return fromForms(err)
		}
		*options = opts
	} else if len(*options) > 0 {
		return invalid("options", "only a dropdown has options")
	}
	if t == forms.Regex {
		if _, err := forms.CompilePattern("pattern", *pattern); err != nil {
			return fromForms(err)
		}
	} else if *pattern != "" {
		return invalid("pattern", "only a regex field has a pattern")
	}
	return nil
}

// FormFieldPatch changes a field; its type is fixed. Values entered before keep
// their form when options or pattern change.
type FormFieldPatch struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Options     *[]string `json:"options"`
	Pattern     *string   `json:"pattern"`
}

const formFieldColumns = `id, tenant_id, name, coalesce(description, ''), type, options, coalesce(pattern, ''), created_at, updated_at`

func scanFormField(row pgx.Row) (FormField, error) {
	var f FormField
	err := row.Scan(&f.ID, &f.TenantID, &f.Name, &f.Description, &f.Type, &f.Options, &f.Pattern, &f.CreatedAt, &f.UpdatedAt)
	if len(f.Options) == 0 {
		f.Options = nil
	}
	return f, err
}

// formLockClass is the first key of the advisory lock that serialises writes to a
// tenant's fields and forms (the field count, the forms' positions and default).
const formLockClass = 7020

func lockForms(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, formLockClass, tenantID)
	return err
}

// CreateFormField adds an input field; a tenant has at most forms.MaxFieldsPerTenant,
// with names unique ignoring case.
func (s *Store) CreateFormField(ctx context.Context, tenantID string, actor Actor, in NewFormField) (FormField, error) {
	if err := in.Validate(); err != nil {
		return FormField{}, err
	}
	var out FormField
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForms(ctx, tx, tenantID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM form_fields WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n >= forms.MaxFieldsPerTenant {
			return fmt.Errorf("the account already has %d input fields, the most it may have: %w", n, ErrConflict)
		}
		var err error
		out, err = scanFormField(tx.QueryRow(ctx, `
			INSERT INTO form_fields (tenant_id, name, description, type, options, pattern)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+formFieldColumns,
			tenantID, in.Name, nullText(in.Description), in.Type, nonNil(in.Options), nullText(in.Pattern)))
		if err != nil {
			return translate(err, fmt.Sprintf("input field %q", in.Name))
		}
		return audit(ctx, tx, tenantID, actor, "form_field.created", "form_field", out.ID, in)
	})
	return out, err
}

// GetFormField returns one input field of the tenant.
func (s *Store) GetFormField(ctx context.Context, tenantID, id string) (FormField, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return FormField{}, translate(pgx.ErrNoRows, "input field")
	}
	f, err := scanFormField(s.pool.QueryRow(ctx, `SELECT `+formFieldColumns+` FROM form_fields WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return f, translate(err, "input field")
}

// FormFieldFilter selects input fields by name.
type FormFieldFilter struct {
	Query string
	Type  forms.FieldType
	Page
}

// ListFormFields lists the tenant's input fields by name.
func (s *Store) ListFormFields(ctx context.Context, tenantID string, f FormFieldFilter) ([]FormField, error) {
	f.Query = strings.TrimSpace(f.Query)
	if utf8.RuneCountInString(f.Query) > maxFormName {
		return nil, invalid("q", "must be at most %d characters", maxFormName)
	}
	if f.Type != "" && !f.Type.Valid() {
		return nil, invalid("type", "unknown field type %q", f.Type)
	}
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+formFieldColumns+` FROM form_fields
		WHERE tenant_id = $1 AND ($2 = '' OR strpos(lower(name), lower($2)) > 0) AND ($3 = '' OR type = $3)
		  AND ($4::uuid IS NULL OR (lower(name), id) > (SELECT lower(name), id FROM form_fields WHERE tenant_id = $1 AND id = $4))
		ORDER BY lower(name), id LIMIT $5`, tenantID, f.Query, string(f.Type), nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FormField, error) { return scanFormField(r) })
}

// UpdateFormField renames a field or changes its description, options or pattern.
func (s *Store) UpdateFormField(ctx context.Context, tenantID string, actor Actor, id string, p FormFieldPatch) (FormField, error) {
	var out FormField
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanFormField(tx.QueryRow(ctx, `SELECT `+formFieldColumns+` FROM form_fields WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			tenantID, nullUUID(id)))
		if err != nil {
			return translate(err, "input field")
		}
		next := cur
		if p.Name != nil {
			next.Name = strings.TrimSpace(*p.Name)
			if err := validateFormName("name", next.Name); err != nil {
				return err
			}
		}
		if p.Description != nil {
			next.Description = strings.TrimSpace(*p.Description)
			if err := validateFormDescription(next.Description); err != nil {
				return err
			}
		}
		if p.Options != nil {
			next.Options = *p.Options
		}
		if p.Pattern != nil {
			next.Pattern = strings.TrimSpace(*p.Pattern)
		}
		if err := checkFieldShape(next.Type, &next.Options, &next.Pattern); err != nil {
			return err
		}
		out, err = scanFormField(tx.QueryRow(ctx, `
			UPDATE form_fields SET name = $3, description = $4, options = $5, pattern = $6, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+formFieldColumns,
			tenantID, id, next.Name, nullText(next.Description), nonNil(next.Options), nullText(next.Pattern)))
		if err != nil {
			return translate(err, fmt.Sprintf("input field %q", next.Name))
		}
		return audit(ctx, tx, tenantID, actor, "form_field.updated", "form_field", id, p)
	})
	return out, err
}

// DeleteFormField removes a field with the values interactions had for it. A field a
// form places is kept (ErrConflict): take it off the forms first.
func (s *Store) DeleteFormField(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(tenantID) || !isUUID(id) {
		return translate(pgx.ErrNoRows, "input field")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForms(ctx, tx, tenantID); err != nil {
			return err
		}
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM form_fields WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&name); err != nil {
			return translate(err, "input field")
		}
		users, err := routeNames(ctx, tx, `
			SELECT DISTINCT f.name FROM forms f JOIN form_items i ON i.tenant_id = f.tenant_id AND i.form_id = f.id
			WHERE i.tenant_id = $1 AND i.field_id = $2 ORDER BY f.name`, tenantID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("input field %q is on form %s; take it off first: %w", name, strings.Join(users, ", "), ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM form_fields WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "form_field.deleted", "form_field", id, map[string]string{"name": name})
	})
	if fkViolation(err, "form_items_field") {
		return fmt.Errorf("the input field was just placed on a form: %w", ErrConflict)
	}
	return err
}

// Form is a conversation form: which input fields show on the interactions it is
// chosen for, which are mandatory, and when it is chosen.
type Form struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// IsDefault: the form of interactions whose facts no form's trigger matches;
	// one form at most.
	IsDefault bool `json:"isDefault"`
	// Position orders the forms' triggers (1 first).
	Position int `json:"position"`
	// Trigger chooses the form for new interactions whose facts it matches (the
	// conditions of routes); nil never does.
	Trigger   *routing.Condition `json:"trigger,omitempty"`
	Items     []forms.Item       `json:"items"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

// NewForm is a form to create. Position 0 appends it.
type NewForm struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	IsDefault   bool               `json:"isDefault"`
	Position    int                `json:"position"`
	Trigger     *routing.Condition `json:"trigger"`
	Items       []forms.Item       `json:"items"`
}

// FormPatch changes a form; absent fields stay, a null trigger removes it.
type FormPatch struct {
	Name        *string                     `json:"name"`
	Description *string                     `json:"description"`
	IsDefault   *bool                       `json:"isDefault"`
	Position    *int                        `json:"position"`
	Trigger     Nullable[routing.Condition] `json:"trigger"`
	Items       *[]forms.Item               `json:"items"`
}

func validateTrigger(c *routing.Condition) error {
	if c == nil {
		return nil
	}
	return fromRouting("trigger", c.Validate())
}

// Validate checks what can be checked without the tenant's fields.
func (n *NewForm) Validate() error {
	n.Name, n.Description = strings.TrimSpace(n.Name), strings.TrimSpace(n.Description)
	if err := validateFormName("name", n.Name); err != nil {
		return err
	}
	if err := validateFormDescription(n.Description); err != nil {
		return err
	}
	if n.Position < 0 {
		return invalid("position", "must be 1 or more (or left out to append)")
	}
	return validateTrigger(n.Trigger)
}

// fieldRules loads the tenant's fields among ids as the forms package needs them.
func fieldRules(ctx context.Context, q querier, tenantID string, ids []string) (map[string]forms.Field, error) {
	var valid []string
	for _, id := range ids {
		if isUUID(id) {
			valid = append(valid, strings.ToLower(id))
		}
	}
	out := map[string]forms.Field{}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+formFieldColumns+` FROM form_fields WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, valid)
	if err != nil {
		return nil, err
	}
	fs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FormField, error) { return scanFormField(r) })
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out[f.ID] = f.rule()
	}
	return out, nil
}

// checkItems validates a form's items against the tenant's fields.
func checkItems(ctx context.Context, q querier, tenantID string, items []forms.Item) error {
	ids := make([]string, 0, len(items)*2)
	for i := range items {
		items[i].FieldID = strings.ToLower(strings.TrimSpace(items[i].FieldID))
		ids = append(ids, items[i].FieldID)
		if c := items[i].ShowWhen; c != nil {
			c.FieldID = strings.ToLower(strings.TrimSpace(c.FieldID))
			ids = append(ids, c.FieldID)
		}
	}
	fields, err := fieldRules(ctx, q, tenantID, ids)
	if err != nil {
		return err
	}
	return fromForms(forms.ValidateItems(items, fields))
}

const formColumns = `id, tenant_id, name, coalesce(description, ''), is_default, position, trigger, created_at, updated_at`

func scanForm(row pgx.Row) (Form, error) {
	var (
		f       Form
		trigger []byte
	)
	if err := row.Scan(&f.ID, &f.TenantID, &f.Name, &f.Description, &f.IsDefault, &f.Position, &trigger, &f.CreatedAt, &f.UpdatedAt); err != nil {
		return f, err
	}
	if trigger != nil {
		f.Trigger = &routing.Condition{}
		if err := json.Unmarshal(trigger, f.Trigger); err != nil {
			return f, fmt.Errorf("trigger of form %s: %w", f.ID, err)
		}
	}
	return f, nil
}

// loadItems fills the forms' items.
func loadItems(ctx context.Context, q querier, tenantID string, fs []Form) error {
	if len(fs) == 0 {
		return nil
	}
	ids := make([]string, len(fs))
	at := map[string]int{}
	for i, f := range fs {
		ids[i], at[f.ID] = f.ID, i
		fs[i].Items = []forms.Item{}
	}
	rows, err := q.Query(ctx, `
		SELECT form_id::text, field_id::text, required, show_when FROM form_items
		WHERE tenant_id = $1 AND form_id = ANY($2::uuid[]) ORDER BY form_id, ordinal`, tenantID, ids)
	if err != nil {
		return err
	}
	var (
		formID string
		it     forms.Item
		show   []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&formID, &it.FieldID, &it.Required, &show}, func() error {
		item := forms.Item{FieldID: it.FieldID, Required: it.Required}
		if show != nil {
			item.ShowWhen = &forms.Condition{}
			if err := json.Unmarshal(show, item.ShowWhen); err != nil {
				return err
			}
		}
		fs[at[formID]].Items = append(fs[at[formID]].Items, item)
		return nil
	})
	return err
}

func writeItems(ctx context.Context, tx pgx.Tx, tenantID, formID string, items []forms.Item) error {
	if _, err := tx.Exec(ctx, `DELETE FROM form_items WHERE tenant_id = $1 AND form_id = $2`, tenantID, formID); err != nil {
		return err
	}
	for i, it := range items {
		var show []byte
		if it.ShowWhen != nil {
			c := *it.ShowWhen
			for j, v := range c.Values {
				c.Values[j] = strings.TrimSpace(v)
			}
			var err error
			if show, err = json.Marshal(c); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO form_items (tenant_id, form_id, ordinal, field_id, required, show_when) VALUES ($1, $2, $3, $4, $5, $6)`,
			tenantID, formID, i+1, it.FieldID, it.Required, show); err != nil {
			if fkViolation(err, "form_items_field") {
				return invalid(fmt.Sprintf("items[%d].fieldId", i), "no such input field in this tenant")
			}
			return err
		}
	}
	return nil
}

func (s *Store) getForm(ctx context.Context, q querier, tenantID, id string, lock bool) (Form, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Form{}, translate(pgx.ErrNoRows, "form")
	}
	sql := `SELECT ` + formColumns + ` FROM forms WHERE tenant_id = $1 AND id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	f, err := scanForm(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return Form{}, translate(err, "form")
	}
	fs := []Form{f}
	if err := loadItems(ctx, q, tenantID, fs); err != nil {
		return Form{}, err
	}
	return fs[0], nil
}

// GetForm returns one form of the tenant with its items.
func (s *Store) GetForm(ctx context.Context, tenantID, id string) (Form, error) {
	return s.getForm(ctx, s.pool, tenantID, id, false)
}

// ListForms lists the tenant's forms in trigger order.
func (s *Store) ListForms(ctx context.Context, tenantID string) ([]Form, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+formColumns+` FROM forms WHERE tenant_id = $1 ORDER BY position`, tenantID)
	if err != nil {
		return nil, err
	}
	fs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Form, error) { return scanForm(r) })
	if err != nil {
		return nil, err
	}
	if err := loadItems(ctx, s.pool, tenantID, fs); err != nil {
		return nil, err
	}
	if fs == nil {
		fs = []Form{}
	}
	return fs, nil
}

// CreateForm adds a form at its position (shifting the later ones down) or last.
// Marked default, it takes the place of the tenant's default form.
func (s *Store) CreateForm(ctx context.Context, tenantID string, actor Actor, in NewForm) (Form, error) {
	if err := in.Validate(); err != nil {
		return Form{}, err
	}
	if in.Items == nil {
		in.Items = []forms.Item{}
	}
	var out Form
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForms(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkItems(ctx, tx, tenantID, in.Items); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM forms WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		pos := in.Position
		if pos == 0 {
			pos = n + 1
		}
		if pos > n+1 {
			return invalid("position", "must be between 1 and %d", n+1)
		}
		if _, err := tx.Exec(ctx, `UPDATE forms SET position = position + 1 WHERE tenant_id = $1 AND position >= $2`, tenantID, pos); err != nil {
			return err
		}
		if in.IsDefault {
			if _, err := tx.Exec(ctx, `UPDATE forms SET is_default = false, updated_at = now() WHERE tenant_id = $1 AND is_default`, tenantID); err != nil {
				return err
			}
		}
		trigger, err := marshalTrigger(in.Trigger)
		if err != nil {
			return err
		}
		var id string
		err = tx.QueryRow(ctx, `
			INSERT INTO forms (tenant_id, name, description, is_default, position, trigger) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING id`, tenantID, in.Name, nullText(in.Description), in.IsDefault, pos, trigger).Scan(&id)
		if err != nil {
			return translate(err, fmt.Sprintf("form %q", in.Name))
		}
		if err := writeItems(ctx, tx, tenantID, id, in.Items); err != nil {
			return err
		}
		if out, err = s.getForm(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "form.created", "form", id, in)
	})
	return out, err
}

func marshalTrigger(c *routing.Condition) ([]byte, error) {
	if c == nil {
		return nil, nil
	}
	return json.Marshal(c)
}

// UpdateForm changes a form; a new position moves it, shifting the forms in between.
func (s *Store) UpdateForm(ctx context.Context, tenantID string, actor Actor, id string, p FormPatch) (Form, error) {
	var out Form
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForms(ctx, tx, tenantID); err != nil {
			return err
		}
		cur, err := s.getForm(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		next := cur
		if p.Name != nil {
			next.Name = strings.TrimSpace(*p.Name)
			if err := validateFormName("name", next.Name); err != nil {
				return err
			}
		}
		if p.Description != nil {
			next.Description = strings.TrimSpace(*p.Description)
			if err := validateFormDescription(next.Description); err != nil {
				return err
			}
		}
		if p.Trigger.Set {
			next.Trigger = p.Trigger.Value
			if err := validateTrigger(next.Trigger); err != nil {
				return err
			}
		}
		if p.Items != nil {
			next.Items = *p.Items
			if next.Items == nil {
				next.Items = []forms.Item{}
			}
			if err := checkItems(ctx, tx, tenantID, next.Items); err != nil {
				return err
			}
			if err := writeItems(ctx, tx, tenantID, id, next.Items); err != nil {
				return err
			}
		}
		if p.IsDefault != nil {
			next.IsDefault = *p.IsDefault
			if next.IsDefault {
				if _, err := tx.Exec(ctx, `UPDATE forms SET is_default = false, updated_at = now() WHERE tenant_id = $1 AND is_default AND id <> $2`, tenantID, id); err != nil {
					return err
				}
			}
		}
		if p.Position != nil && *p.Position != cur.Position {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM forms WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
				return err
			}
			if *p.Position < 1 || *p.Position > n {
				return invalid("position", "must be between 1 and %d", n)
			}
			if _, err := tx.Exec(ctx, `
				UPDATE forms SET position = CASE
					WHEN id = $2 THEN $4
					WHEN $4 < $3 THEN position + 1
					ELSE position - 1 END
				WHERE tenant_id = $1 AND position BETWEEN least($3::int, $4::int) AND greatest($3::int, $4::int)`,
				tenantID, id, cur.Position, *p.Position); err != nil {
				return err
			}
		}
		trigger, err := marshalTrigger(next.Trigger)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE forms SET name = $3, description = $4, is_default = $5, trigger = $6, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, next.Name, nullText(next.Description), next.IsDefault, trigger); err != nil {
			return translate(err, fmt.Sprintf("form %q", next.Name))
		}
		if out, err = s.getForm(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "form.updated", "form", id, p)
	})
	return out, err
}

// DeleteForm removes a form; interactions it was chosen for keep their values and
// show the default form.
func (s *Store) DeleteForm(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(tenantID) || !isUUID(id) {
		return translate(pgx.ErrNoRows, "form")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForms(ctx, tx, tenantID); err != nil {
			return err
		}
		var (
			name string
			pos  int
		)
		err := tx.QueryRow(ctx, `DELETE FROM forms WHERE tenant_id = $1 AND id = $2 RETURNING name, position`, tenantID, id).Scan(&name, &pos)
		if err != nil {
			return translate(err, "form")
		}
		if _, err := tx.Exec(ctx, `UPDATE forms SET position = position - 1 WHERE tenant_id = $1 AND position > $2`, tenantID, pos); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "form.deleted", "form", id, map[string]string{"name": name})
	})
}

// ChooseForm is the form of a new interaction with these facts: the first form in
// position order whose trigger matches, else the default form; empty when there is
// neither.
func (s *Store) ChooseForm(ctx context.Context, tenantID string, facts routing.Facts) (string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, trigger, is_default FROM forms
		WHERE tenant_id = $1 AND (trigger IS NOT NULL OR is_default) ORDER BY position`, tenantID)
	if err != nil {
		return "", err
	}
	var (
		id, fallback string
		raw          []byte
		isDefault    bool
		chosen       string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &raw, &isDefault}, func() error {
		if isDefault {
			fallback = id
		}
		if chosen != "" || raw == nil {
			return nil
		}
		var c routing.Condition
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("trigger of form %s: %w", id, err)
		}
		if c.Matches(facts) {
			chosen = id
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if chosen == "" {
		chosen = fallback
	}
	return chosen, nil
}

// FormValue is a value entered on an interaction.
type FormValue struct {
	FieldID   string          `json:"fieldId"`
	Name      string          `json:"name"`
	Type      forms.FieldType `json:"type"`
	Value     json.RawMessage `json:"value"`
	UpdatedBy string          `json:"updatedBy,omitempty"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// FormValueChange is a value set or cleared by a write (Value null: cleared).
type FormValueChange struct {
	FieldID string          `json:"fieldId"`
	Name    string          `json:"name"`
	Value   json.RawMessage `json:"value"`
}

func formValues(ctx context.Context, q querier, tenantID, interactionID string) ([]FormValue, error) {
	rows, err := q.Query(ctx, `
		SELECT v.field_id::text, f.name, f.type, v.value, coalesce(v.updated_by::text, ''), v.updated_at
		FROM interaction_form_values v JOIN form_fields f ON f.tenant_id = v.tenant_id AND f.id = v.field_id
		WHERE v.tenant_id = $1 AND v.interaction_id = $2 ORDER BY lower(f.name), f.id`, tenantID, interactionID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FormValue, error) {
		var v FormValue
		err := r.Scan(&v.FieldID, &v.Name, &v.Type, &v.Value, &v.UpdatedBy, &v.UpdatedAt)
		return v, err
	})
	if out == nil {
		out = []FormValue{}
	}
	return out, err
}

// RecordFormValues writes form values of an interaction with the workflow's state
// change u (whose first timeline entry gets the changes as data.fields), in one
// transaction; a write that changes no value writes the state without the entry.
// values maps field IDs to values (JSON null or "" clears one); each
// is checked against its field's type, and an interaction keeps values for at most
// forms.MaxFieldsPerConversation fields. A value is rewritten only by a write of a
// version not below its own, so a retried or late write never rolls a newer one
// back. It returns the values that changed.
func (s *Store) RecordFormValues(ctx context.Context, u InteractionUpdate, values map[string]json.RawMessage) ([]FormValueChange, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if len(u.Events) == 0 {
		return nil, invalid("events", "a form values change has its timeline entry")
	}
	if len(values) == 0 {
		return nil, invalid("values", "set or clear at least one value")
	}
	if len(values) > forms.MaxFieldsPerConversation {
		return nil, invalid("values", "at most %d values at once", forms.MaxFieldsPerConversation)
	}
	ids := make([]string, 0, len(values))
	for id := range values {
		if !isUUID(id) {
			return nil, invalid("values."+id, "must be keyed by input field ID")
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var changes []FormValueChange
	actor := u.Events[0].ActorID
	at := u.Events[0].At
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		fields, err := fieldRules(ctx, tx, u.TenantID, ids)
		if err != nil {
			return err
		}
		var stored int
		cur := map[string]json.RawMessage{}
		rows, err := tx.Query(ctx, `
			SELECT field_id::text, value, version FROM interaction_form_values
			WHERE tenant_id = $1 AND interaction_id = $2 FOR UPDATE`, u.TenantID, u.InteractionID)
		if err != nil {
			return err
		}
		versions := map[string]int64{}
		var (
			id  string
			raw json.RawMessage
			ver int64
		)
		if _, err := pgx.ForEachRow(rows, []any{&id, &raw, &ver}, func() error {
			cur[id], versions[id] = slices.Clone(raw), ver
			stored++
			return nil
		}); err != nil {
			return err
		}
		changes = changes[:0]
		for _, id := range ids {
			key := strings.ToLower(id)
			f, ok := fields[key]
			if !ok {
				return invalid("values."+id, "no such input field in this tenant")
			}
			v, err := forms.Normalize(f, "values."+id, values[id])
			if err != nil {
				return fromForms(err)
			}
			old, had := cur[key]
			if had && versions[key] > u.State.Version {
				continue // a newer write set it
			}
			switch {
			case v == nil && !had:
				continue
			case v == nil:
				if _, err := tx.Exec(ctx, `DELETE FROM interaction_form_values WHERE tenant_id = $1 AND interaction_id = $2 AND field_id = $3`,
					u.TenantID, u.InteractionID, key); err != nil {
					return err
				}
				stored--
			default:
				if had && jsonEqual(old, v) {
					continue
				}
				if !had {
					stored++
				}
				if _, err := tx.Exec(ctx, `
					INSERT INTO interaction_form_values (tenant_id, interaction_id, field_id, value, version, updated_by, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7)
					ON CONFLICT (tenant_id, interaction_id, field_id) DO UPDATE SET value = excluded.value, version = excluded.version,
						updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
					u.TenantID, u.InteractionID, key, v, u.State.Version, nullUUID(actor), at); err != nil {
					return translate(err, "interaction "+u.InteractionID)
				}
			}
			out := v
			if out == nil {
				out = json.RawMessage("null")
			}
			changes = append(changes, FormValueChange{FieldID: key, Name: f.Name, Value: out})
		}
		if stored > forms.MaxFieldsPerConversation {
			return invalid("values", "an interaction keeps values for at most %d input fields", forms.MaxFieldsPerConversation)
		}
		if len(changes) == 0 {
			u.Events = nil // nothing changed: the state's version only
		} else {
			ev := slices.Clone(u.Events)
			data := map[string]any{}
			for k, v := range ev[0].Data {
				data[k] = v
			}
			data["fields"] = changes
			ev[0].Data = data
			u.Events = ev
		}
		_, err = recordInteraction(ctx, tx, u, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return nonNilChanges(changes), nil
}

func nonNilChanges(c []FormValueChange) []FormValueChange {
	if c == nil {
		return []FormValueChange{}
	}
	return c
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// InteractionForm is the conversation form of an interaction as an agent sees it.
type InteractionForm struct {
	// Form is the form chosen for the interaction, else the tenant's default form;
	// nil when there is neither.
	Form *Form `json:"form"`
	// Fields are the form's fields once each, in order, with whether they show,
	// are mandatory and filled, and their value.
	Fields []InteractionFormField `json:"fields"`
	// Values are every value the interaction has, on the form or not.
	Values []FormValue `json:"values"`
	// Missing are the mandatory fields that show and are empty: while there are
	// any, the conversation cannot be marked solved or closed.
	Missing []MissingField `json:"missing"`
}

// InteractionFormField is a field of an interaction's form.
type InteractionFormField struct {
	FormField
	forms.Shown
	Value json.RawMessage `json:"value"`
}

// MissingField names a mandatory field left empty.
type MissingField struct {
	FieldID string `json:"fieldId"`
	Name    string `json:"name"`
}

// InteractionForm reads the form of an interaction (formID, as the workflow holds it;
// empty means the tenant's default form) with its values and what is missing.
func (s *Store) InteractionForm(ctx context.Context, tenantID, interactionID, formID string) (InteractionForm, error) {
	out := InteractionForm{Fields: []InteractionFormField{}, Values: []FormValue{}, Missing: []MissingField{}}
	if !isUUID(tenantID) || !isUUID(interactionID) {
		return out, translate(pgx.ErrNoRows, "interaction")
	}
	var f Form
	var err error
	if formID != "" {
		f, err = s.GetForm(ctx, tenantID, formID)
		if errors.Is(err, ErrNotFound) {
			formID = "" // deleted since: the default form shows
		} else if err != nil {
			return out, err
		}
	}
	if formID == "" {
		err := s.pool.QueryRow(ctx, `SELECT id::text FROM forms WHERE tenant_id = $1 AND is_default`, tenantID).Scan(&formID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return out, err
		}
		if formID != "" {
			if f, err = s.GetForm(ctx, tenantID, formID); err != nil && !errors.Is(err, ErrNotFound) {
				return out, err
			}
		}
	}
	if out.Values, err = formValues(ctx, s.pool, tenantID, interactionID); err != nil {
		return out, err
	}
	if f.ID == "" {
		return out, nil
	}
	out.Form = &f
	ids := make([]string, len(f.Items))
	for i, it := range f.Items {
		ids[i] = it.FieldID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+formFieldColumns+` FROM form_fields WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, ids)
	if err != nil {
		return out, err
	}
	defs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FormField, error) { return scanFormField(r) })
	if err != nil {
		return out, err
	}
	byID := map[string]FormField{}
	rules := map[string]forms.Field{}
	for _, d := range defs {
		byID[d.ID], rules[d.ID] = d, d.rule()
	}
	values := map[string]json.RawMessage{}
	for _, v := range out.Values {
		values[v.FieldID] = v.Value
	}
	for _, sh := range forms.Evaluate(f.Items, rules, values) {
		out.Fields = append(out.Fields, InteractionFormField{FormField: byID[sh.FieldID], Shown: sh, Value: values[sh.FieldID]})
		if sh.Visible && sh.Required && !sh.Filled {
			out.Missing = append(out.Missing, MissingField{FieldID: sh.FieldID, Name: byID[sh.FieldID].Name})
		}
	}
	return out, nil
}

// CheckFormValues checks values (by input field ID) against the tenant's fields
// without writing them, so that bad input is refused before it reaches a workflow.
func (s *Store) CheckFormValues(ctx context.Context, tenantID string, values map[string]json.RawMessage) error {
	if len(values) == 0 {
		return invalid("values", "set or clear at least one value, keyed by input field ID")
	}
	if len(values) > forms.MaxFieldsPerConversation {
		return invalid("values", "at most %d values at once", forms.MaxFieldsPerConversation)
	}
	ids := make([]string, 0, len(values))
	for id := range values {
		if !isUUID(id) {
			return invalid("values."+id, "values are keyed by input field ID")
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fields, err := fieldRules(ctx, s.pool, tenantID, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		f, ok := fields[strings.ToLower(id)]
		if !ok {
			return invalid("values."+id, "no such input field in this tenant")
		}
		if _, err := forms.Normalize(f, "values."+id, values[id]); err != nil {
			return fromForms(err)
		}
	}
	return nil
}
