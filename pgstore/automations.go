package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/automation"
)

// Automation is a rule of a tenant's ordered automation list.
type Automation struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	// Position is the rule's place in the list (1..n): for one event, rules run in
	// this order, every action of one before the next.
	Position int  `json:"position"`
	Enabled  bool `json:"enabled"`
	automation.Rule
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// MaxAutomations bounds a tenant's automation list, which every event of its
// conversations is matched against.
const MaxAutomations = 500

// NewAutomation is a rule to create.
type NewAutomation struct {
	Name string `json:"name"`
	// Position is where to insert the rule (1 = runs first); 0 appends it.
	Position int `json:"position"`
	// Enabled defaults to true.
	Enabled    *bool                       `json:"enabled"`
	Triggers   []automation.Trigger        `json:"triggers"`
	Conditions []automation.ConditionGroup `json:"conditions"`
	Actions    []automation.Action         `json:"actions"`
}

// Rule is the new automation's rule.
func (n *NewAutomation) Rule() automation.Rule {
	return automation.Rule{Triggers: n.Triggers, Conditions: n.Conditions, Actions: n.Actions}
}

// Validate checks the rule with the automation package's rules and fills in defaults.
// Whether the queues and senders it names are the tenant's is checked by
// CreateAutomation.
func (n *NewAutomation) Validate() error {
	name, err := automation.ValidateName(n.Name)
	if err != nil {
		return fromAutomation(err)
	}
	n.Name = name
	if n.Position < 0 {
		return invalid("position", "must be 1 or more (or left out to append)")
	}
	if n.Enabled == nil {
		on := true
		n.Enabled = &on
	}
	if n.Conditions == nil {
		n.Conditions = []automation.ConditionGroup{}
	}
	r := n.Rule()
	return fromAutomation(r.Validate())
}

// AutomationUpdate changes the fields that are set; triggers, conditions and actions
// each replace the whole list, and Position moves the rule, shifting the rules in
// between.
type AutomationUpdate struct {
	Name       *string                      `json:"name"`
	Position   *int                         `json:"position"`
	Enabled    *bool                        `json:"enabled"`
	Triggers   *[]automation.Trigger        `json:"triggers"`
	Conditions *[]automation.ConditionGroup `json:"conditions"`
	Actions    *[]automation.Action         `json:"actions"`
}

// Validate checks the fields that are set on their own; UpdateAutomation validates
// the resulting rule as a whole.
func (u *AutomationUpdate) Validate() error {
	if u.Name != nil {
		name, err := automation.ValidateName(*u.Name)
		if err != nil {
			return fromAutomation(err)
		}
		u.Name = &name
	}
	if u.Position != nil && *u.Position < 1 {
		return invalid("position", "must be 1 or more")
	}
	if u.Name == nil && u.Position == nil && u.Enabled == nil && u.Triggers == nil && u.Conditions == nil && u.Actions == nil {
		return invalid("", "nothing to change: set name, position, enabled, triggers, conditions or actions")
	}
	return nil
}

// AutomationOrder is the tenant's complete automation list in the new order.
type AutomationOrder struct {
	AutomationIDs []string `json:"automationIds"`
}

// Validate checks the list's shape; ReorderAutomations checks it names exactly the
// tenant's rules.
func (o *AutomationOrder) Validate() error {
	if o.AutomationIDs == nil {
		return invalid("automationIds", "is required: every automation ID, in the new order")
	}
	return checkIDs("automationIds", o.AutomationIDs)
}

// fromAutomation turns the automation package's validation errors into the store's.
func fromAutomation(err error) error {
	var v *automation.ValidationError
	if errors.As(err, &v) {
		return &ValidationError{Field: v.Field, Message: v.Message}
	}
	return err
}

// automationsLockClass is the first key of the advisory lock that serialises writes
// to one tenant's automation list.
const automationsLockClass = 0x4154 // "AT"

var automationList = orderedList{table: "automation_rules", noun: "automation", plural: "automations", lockClass: automationsLockClass}

func lockAutomations(ctx context.Context, tx pgx.Tx, tenantID string) error {
	return automationList.lock(ctx, tx, tenantID)
}

const automationColumns = `id, tenant_id, name, position, enabled, triggers, conditions, actions, created_at, updated_at`

func scanAutomation(row pgx.Row) (Automation, error) {
	var (
		a                             Automation
		triggers, conditions, actions []byte
	)
	if err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Position, &a.Enabled, &triggers, &conditions, &actions, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return a, err
	}
	for _, p := range []struct {
		raw []byte
		v   any
	}{{triggers, &a.Triggers}, {conditions, &a.Conditions}, {actions, &a.Actions}} {
		if err := json.Unmarshal(p.raw, p.v); err != nil {
			return a, fmt.Errorf("automation %s: stored rule: %w", a.ID, err)
		}
	}
	if a.Conditions == nil {
		a.Conditions = []automation.ConditionGroup{}
	}
	return a, nil
}

// checkAutomationRefs answers 422 when the rule names what the tenant does not have:
// a queue, a sender, a form or a form field in its conditions, a tag in its tag
// condition or tag actions (tags come from the tenant's catalogue), a form field
// its actions populate.
func checkAutomationRefs(ctx context.Context, q querier, tenantID string, r automation.Rule) error {
	const (
		sqlSenders = `SELECT id::text FROM channel_senders WHERE tenant_id = $1 AND id = ANY($2::uuid[])`
		sqlForms   = `SELECT id::text FROM forms WHERE tenant_id = $1 AND id = ANY($2::uuid[])`
		sqlFields  = `SELECT id::text FROM form_fields WHERE tenant_id = $1 AND id = ANY($2::uuid[])`
	)
	check := func(field, sql, what string, ids []string) error {
		k, err := missingIDs(ctx, q, sql, tenantID, ids)
		if err != nil {
			return err
		}
		if k >= 0 {
			return invalid(fmt.Sprintf("%s[%d]", field, k), "no %s %s in this tenant", what, ids[k])
		}
		return nil
	}
	for i, g := range r.Conditions {
		for j, c := range g.AnyOf {
			f := fmt.Sprintf("conditions[%d].anyOf[%d]", i, j)
			var err error
			switch c.Attribute {
			case automation.AttrQueue:
				err = check(f+".values", sqlTenantQueues, "queue", c.Values)
			case automation.AttrSender:
				err = check(f+".values", sqlSenders, "sender", c.Values)
			case automation.AttrForm:
				err = check(f+".values", sqlForms, "form", c.Values)
			case automation.AttrTag:
				err = checkCatalogueTags(ctx, q, tenantID, f+".values", c.Values)
			case automation.AttrFormField:
				if k, e := missingIDs(ctx, q, sqlFields, tenantID, []string{c.Field}); e != nil {
					err = e
				} else if k >= 0 {
					err = invalid(f+".field", "no form field %s in this tenant", c.Field)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	for i, a := range r.Actions {
		f := fmt.Sprintf("actions[%d]", i)
		var err error
		switch a.Type {
		case automation.ActionApplyTags, automation.ActionRemoveTags:
			err = checkCatalogueTags(ctx, q, tenantID, f+".tags", a.Tags)
		case automation.ActionPopulateForm:
			ids := make([]string, len(a.Fields))
			for k, fv := range a.Fields {
				ids[k] = fv.FieldID
			}
			if k, e := missingIDs(ctx, q, sqlFields, tenantID, ids); e != nil {
				err = e
			} else if k >= 0 {
				err = invalid(fmt.Sprintf("%s.fields[%d].fieldId", f, k), "no form field %s in this tenant", ids[k])
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkCatalogueTags answers 422 naming the first tag that is not one of the
// tenant's conversation tags (compared without case).
func checkCatalogueTags(ctx context.Context, q querier, tenantID, field string, names []string) error {
	rows, err := q.Query(ctx, `SELECT lower(name) FROM tags WHERE tenant_id = $1 AND kind = 'conversation' AND lower(name) = ANY($2::text[])`,
		tenantID, lowerAll(names))
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for i, n := range names {
		if !slices.Contains(found, strings.ToLower(n)) {
			return invalid(fmt.Sprintf("%s[%d]", field, i), "no conversation tag %q in this tenant's catalogue (/v1/tags)", n)
		}
	}
	return nil
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

func marshalRule(r automation.Rule) (triggers, conditions, actions []byte, err error) {
	if triggers, err = json.Marshal(r.Triggers); err != nil {
		return
	}
	if r.Conditions == nil {
		r.Conditions = []automation.ConditionGroup{}
	}
	if conditions, err = json.Marshal(r.Conditions); err != nil {
		return
	}
	actions, err = json.Marshal(r.Actions)
	return
}

// automationName maps the unique name index's violation to a 409 naming the name.
func automationName(err error, name string) error {
	if err != nil && strings.Contains(err.Error(), "automation_rules_name") {
		return fmt.Errorf("an automation named %q already exists: %w", name, ErrConflict)
	}
	return translate(err, "automation")
}

// CreateAutomation inserts a rule at its position (shifting the later ones down) or
// at the end.
func (s *Store) CreateAutomation(ctx context.Context, tenantID string, actor Actor, in NewAutomation) (Automation, error) {
	if err := in.Validate(); err != nil {
		return Automation{}, err
	}
	triggers, conditions, actions, err := marshalRule(in.Rule())
	if err != nil {
		return Automation{}, err
	}
	var out Automation
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAutomations(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkAutomationRefs(ctx, tx, tenantID, in.Rule()); err != nil {
			return err
		}
		n, err := automationList.count(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if n >= MaxAutomations {
			return fmt.Errorf("a tenant has at most %d automations; delete unused ones first: %w", MaxAutomations, ErrConflict)
		}
		pos, err := automationList.makeRoom(ctx, tx, tenantID, in.Position, n)
		if err != nil {
			return err
		}
		out, err = scanAutomation(tx.QueryRow(ctx, `
			INSERT INTO automation_rules (tenant_id, name, position, enabled, triggers, conditions, actions)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+automationColumns,
			tenantID, in.Name, pos, *in.Enabled, triggers, conditions, actions))
		if err != nil {
			return automationName(err, in.Name)
		}
		return audit(ctx, tx, tenantID, actor, "automation.created", "automation", out.ID, in)
	})
	return out, err
}

// GetAutomation returns one rule.
func (s *Store) GetAutomation(ctx context.Context, tenantID, id string) (Automation, error) {
	return getAutomation(ctx, s.pool, tenantID, id, false)
}

func getAutomation(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (Automation, error) {
	if !isUUID(id) {
		return Automation{}, translate(pgx.ErrNoRows, "automation")
	}
	sql := `SELECT ` + automationColumns + ` FROM automation_rules WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	a, err := scanAutomation(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return Automation{}, translate(err, "automation")
	}
	return a, nil
}

// AutomationFilter narrows a listing of the tenant's rules.
type AutomationFilter struct {
	// Enabled, when set, keeps the enabled (or the disabled) rules only.
	Enabled *bool
}

// ListAutomations returns a tenant's rules in list order.
func (s *Store) ListAutomations(ctx context.Context, tenantID string, f AutomationFilter) ([]Automation, error) {
	return listAutomations(ctx, s.pool, tenantID, f)
}

func listAutomations(ctx context.Context, q querier, tenantID string, f AutomationFilter) ([]Automation, error) {
	rows, err := q.Query(ctx, `SELECT `+automationColumns+` FROM automation_rules
		WHERE tenant_id = $1 AND ($2::boolean IS NULL OR enabled = $2) ORDER BY position`, tenantID, f.Enabled)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Automation, error) { return scanAutomation(r) })
	if out == nil {
		out = []Automation{}
	}
	return out, err
}

// UpdateAutomation changes a rule; the result is validated as a whole, and a new
// position moves it, shifting the rules in between by one.
func (s *Store) UpdateAutomation(ctx context.Context, tenantID string, actor Actor, id string, in AutomationUpdate) (Automation, error) {
	if err := in.Validate(); err != nil {
		return Automation{}, err
	}
	var out Automation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAutomations(ctx, tx, tenantID); err != nil {
			return err
		}
		a, err := getAutomation(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if in.Name != nil {
			a.Name = *in.Name
		}
		if in.Enabled != nil {
			a.Enabled = *in.Enabled
		}
		if in.Triggers != nil {
			a.Triggers = *in.Triggers
		}
		if in.Conditions != nil {
			a.Conditions = *in.Conditions
		}
		if in.Actions != nil {
			a.Actions = *in.Actions
		}
		if err := fromAutomation(a.Rule.Validate()); err != nil {
			return err
		}
		if err := checkAutomationRefs(ctx, tx, tenantID, a.Rule); err != nil {
			return err
		}
		if in.Position != nil && *in.Position != a.Position {
			if err := automationList.move(ctx, tx, tenantID, a.ID, a.Position, *in.Position); err != nil {
				return err
			}
		}
		triggers, conditions, actions, err := marshalRule(a.Rule)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE automation_rules SET name = $3, enabled = $4, triggers = $5, conditions = $6, actions = $7, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, a.ID, a.Name, a.Enabled, triggers, conditions, actions); err != nil {
			return automationName(err, a.Name)
		}
		if err := audit(ctx, tx, tenantID, actor, "automation.updated", "automation", a.ID, in); err != nil {
			return err
		}
		out, err = getAutomation(ctx, tx, tenantID, a.ID, false)
		return err
	})
	return out, err
}

// DeleteAutomation removes a rule with its log and closes the gap it leaves. Its
// periods still running find it gone when they end and do nothing.
func (s *Store) DeleteAutomation(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "automation")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAutomations(ctx, tx, tenantID); err != nil {
			return err
		}
		pos, name, err := automationList.remove(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "automation.deleted", "automation", id, map[string]any{"name": name, "position": pos})
	})
}

// ReorderAutomations gives the rules the order of in.AutomationIDs, which must name
// every rule of the tenant once; a list made from a stale view is refused with
// ErrConflict.
func (s *Store) ReorderAutomations(ctx context.Context, tenantID string, actor Actor, in AutomationOrder) ([]Automation, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.AutomationIDs))
	for i, id := range in.AutomationIDs {
		ids[i] = strings.ToLower(id)
	}
	var out []Automation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAutomations(ctx, tx, tenantID); err != nil {
			return err
		}
		err := automationList.reorder(ctx, tx, tenantID, ids)
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "automations.reordered", "automation_list", tenantID, in); err != nil {
			return err
		}
		out, err = listAutomations(ctx, tx, tenantID, AutomationFilter{})
		return err
	})
	return out, err
}
