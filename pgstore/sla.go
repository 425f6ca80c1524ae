package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/sla"
)

// SLAPolicy is a service-level agreement policy. Policies are tried by ascending
// Position (1..n, no gaps, 1 the most important); the first enabled policy valid at
// the time whose queue scope and condition fit the conversation applies.
type SLAPolicy struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	Position int    `json:"position"`
	Enabled  bool   `json:"enabled"`
	// ValidFrom (inclusive) and ValidTo (exclusive) bound the validity period; null is
	// unbounded.
	ValidFrom        *time.Time        `json:"validFrom"`
	ValidTo          *time.Time        `json:"validTo"`
	Condition        routing.Condition `json:"condition"`
	Queues           sla.Queues        `json:"queues"`
	Severities       []sla.Severity    `json:"severities"`
	ExcludeAutomated bool              `json:"excludeAutomated"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

// Policy is the policy as the sla package matches it.
func (p SLAPolicy) Policy() sla.Policy {
	return sla.Policy{
		ID: p.ID, Enabled: p.Enabled, ValidFrom: p.ValidFrom, ValidTo: p.ValidTo, Condition: p.Condition,
		Queues:     sla.Queues{Mode: p.Queues.Mode, QueueIDs: slices.Clone(p.Queues.QueueIDs)},
		Severities: slices.Clone(p.Severities), ExcludeAutomated: p.ExcludeAutomated,
	}
}

// MaxSLAPolicies bounds a tenant's policy list, which is evaluated for every
// conversation and returned whole.
const MaxSLAPolicies = 200

// NewSLAPolicy is a policy to create.
type NewSLAPolicy struct {
	Name string `json:"name"`
	// Position is where to insert the policy (1 = the top); 0 appends it.
	Position int `json:"position"`
	// Enabled defaults to true.
	Enabled   *bool              `json:"enabled"`
	ValidFrom *time.Time         `json:"validFrom"`
	ValidTo   *time.Time         `json:"validTo"`
	Condition *routing.Condition `json:"condition"`
	// Queues defaults to every queue.
	Queues           *sla.Queues    `json:"queues"`
	Severities       []sla.Severity `json:"severities"`
	ExcludeAutomated bool           `json:"excludeAutomated"`
}

// Validate checks the policy and fills in defaults; that the queues are the tenant's
// is checked by CreateSLAPolicy.
func (n *NewSLAPolicy) Validate() error {
	if err := validSLAName(&n.Name); err != nil {
		return err
	}
	if n.Position < 0 {
		return invalid("position", "must be 1 or more (or left out to append)")
	}
	if n.Enabled == nil {
		on := true
		n.Enabled = &on
	}
	if n.Queues == nil {
		n.Queues = &sla.Queues{Mode: sla.AnyQueue}
	}
	if n.Condition == nil {
		return invalid("condition", "is required: at least one condition")
	}
	for i, s := range n.Severities {
		if s.ID != "" {
			return invalid(fmt.Sprintf("severities[%d].id", i), "a new policy's severities have no IDs yet")
		}
	}
	return validSLAPolicy(n.policy())
}

func (n *NewSLAPolicy) policy() sla.Policy {
	p := sla.Policy{ValidFrom: n.ValidFrom, ValidTo: n.ValidTo, Severities: n.Severities, ExcludeAutomated: n.ExcludeAutomated}
	if n.Enabled != nil {
		p.Enabled = *n.Enabled
	}
	if n.Condition != nil {
		p.Condition = *n.Condition
	}
	if n.Queues != nil {
		p.Queues = *n.Queues
	}
	return p
}

// SLAValidity is a policy's validity period; a null bound is unbounded.
type SLAValidity struct {
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
}

// SLAPolicyUpdate changes the fields that are set. Validity replaces both bounds,
// Severities the whole list (a severity given with the ID of one of the policy's keeps
// that ID), and Position moves the policy, shifting the policies in between.
type SLAPolicyUpdate struct {
	Name             *string            `json:"name"`
	Position         *int               `json:"position"`
	Enabled          *bool              `json:"enabled"`
	Validity         *SLAValidity       `json:"validity"`
	Condition        *routing.Condition `json:"condition"`
	Queues           *sla.Queues        `json:"queues"`
	Severities       *[]sla.Severity    `json:"severities"`
	ExcludeAutomated *bool              `json:"excludeAutomated"`
}

// Validate checks the fields that are set on their own; UpdateSLAPolicy validates the
// resulting policy as a whole.
func (u *SLAPolicyUpdate) Validate() error {
	if u.Name != nil {
		if err := validSLAName(u.Name); err != nil {
			return err
		}
	}
	if u.Position != nil && *u.Position < 1 {
		return invalid("position", "must be 1 or more")
	}
	if u.Name == nil && u.Position == nil && u.Enabled == nil && u.Validity == nil && u.Condition == nil &&
		u.Queues == nil && u.Severities == nil && u.ExcludeAutomated == nil {
		return invalid("", "nothing to change: set name, position, enabled, validity, condition, queues, severities or excludeAutomated")
	}
	return nil
}

// SLAPolicyOrder is the tenant's complete policy list in the new order.
type SLAPolicyOrder struct {
	PolicyIDs []string `json:"policyIds"`
}

// Validate checks the list's shape; ReorderSLAPolicies checks it names exactly the
// tenant's policies.
func (o *SLAPolicyOrder) Validate() error {
	if o.PolicyIDs == nil {
		return invalid("policyIds", "is required: every policy ID, in the new order")
	}
	return checkIDs("policyIds", o.PolicyIDs)
}

func validSLAName(name *string) error {
	*name = strings.TrimSpace(*name)
	if *name == "" || utf8.RuneCountInString(*name) > sla.MaxNameLength {
		return invalid("name", "is required and at most %d characters", sla.MaxNameLength)
	}
	return nil
}

// validSLAPolicy runs the sla package's validation, with queue IDs that must be IDs.
func validSLAPolicy(p sla.Policy) error {
	if err := p.Validate(); err != nil {
		var v *sla.ValidationError
		if errors.As(err, &v) {
			return &ValidationError{Field: v.Field, Message: v.Message}
		}
		return err
	}
	if err := checkIDs("queues.queueIds", p.Queues.QueueIDs); err != nil {
		return err
	}
	for i := range p.Severities {
		p.Severities[i].Name = strings.TrimSpace(p.Severities[i].Name)
	}
	return nil
}

// slaLockClass is the first key of the advisory lock that serialises writes to one
// tenant's policy list; the second is derived from the tenant ID.
const slaLockClass = 0x534C // "SL"

var slaPolicyList = orderedList{table: "sla_policies", noun: "sla policy", plural: "SLA policies", lockClass: slaLockClass}

func lockSLAPolicies(ctx context.Context, tx pgx.Tx, tenantID string) error {
	return slaPolicyList.lock(ctx, tx, tenantID)
}

// bumpSLAGeneration moves the tenant's policy list to its next generation, in the
// transaction of the change: clocks matched under an older one match again.
func bumpSLAGeneration(ctx context.Context, tx pgx.Tx, tenantID string) (int64, error) {
	var g int64
	err := tx.QueryRow(ctx, `
		INSERT INTO sla_policy_generations (tenant_id, generation) VALUES ($1, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET generation = sla_policy_generations.generation + 1
		RETURNING generation`, tenantID).Scan(&g)
	return g, err
}

// BumpSLAGeneration moves the tenant's SLA setup to its next generation outside a
// change of the policies: its queues' working hours changed, which the clocks count
// by.
func (s *Store) BumpSLAGeneration(ctx context.Context, tenantID string) (int64, error) {
	var g int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		g, err = bumpSLAGeneration(ctx, tx, tenantID)
		return err
	})
	return g, err
}

// SLAGeneration is the generation of the tenant's policy list: 0 before its first
// change, then one more with every change.
func (s *Store) SLAGeneration(ctx context.Context, tenantID string) (int64, error) {
	return slaGeneration(ctx, s.pool, tenantID)
}

func slaGeneration(ctx context.Context, q querier, tenantID string) (int64, error) {
	var g int64
	err := q.QueryRow(ctx, `SELECT coalesce((SELECT generation FROM sla_policy_generations WHERE tenant_id = $1), 0)`, tenantID).Scan(&g)
	return g, err
}

const slaColumns = `id, tenant_id, name, position, enabled, valid_from, valid_to, condition, queue_mode, exclude_automated, created_at, updated_at`

func scanSLAPolicy(row pgx.Row) (SLAPolicy, error) {
	var (
		p    SLAPolicy
		cond []byte
		mode string
	)
	if err := row.Scan(&p.ID, &p.TenantID, &p.Name, &p.Position, &p.Enabled, &p.ValidFrom, &p.ValidTo, &cond, &mode,
		&p.ExcludeAutomated, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return p, err
	}
	if err := json.Unmarshal(cond, &p.Condition); err != nil {
		return p, fmt.Errorf("sla policy %s: stored condition: %w", p.ID, err)
	}
	p.Queues = sla.Queues{Mode: sla.QueueMode(mode), QueueIDs: []string{}}
	p.Severities = []sla.Severity{}
	return p, nil
}

// loadSLADetails fills in the queues and severities of ps.
func loadSLADetails(ctx context.Context, q querier, tenantID string, ps []SLAPolicy) error {
	if len(ps) == 0 {
		return nil
	}
	index := make(map[string]int, len(ps))
	ids := make([]string, 0, len(ps))
	for i, p := range ps {
		index[p.ID] = i
		ids = append(ids, p.ID)
	}
	rows, err := q.Query(ctx, `
		SELECT policy_id, queue_id::text FROM sla_policy_queues
		WHERE tenant_id = $1 AND policy_id = ANY($2::uuid[]) ORDER BY policy_id, ordinal`, tenantID, ids)
	if err != nil {
		return err
	}
	var policyID, queueID string
	if _, err := pgx.ForEachRow(rows, []any{&policyID, &queueID}, func() error {
		i := index[policyID]
		ps[i].Queues.QueueIDs = append(ps[i].Queues.QueueIDs, queueID)
		return nil
	}); err != nil {
		return err
	}
	rows, err = q.Query(ctx, `
		SELECT policy_id, id, name, is_default, first_response_minutes, next_reply_minutes, resolution_minutes,
			first_response_seconds, next_reply_seconds, resolution_seconds, counting
		FROM sla_severities WHERE tenant_id = $1 AND policy_id = ANY($2::uuid[]) ORDER BY policy_id, position`, tenantID, ids)
	if err != nil {
		return err
	}
	var (
		s        sla.Severity
		counting string
	)
	_, err = pgx.ForEachRow(rows, []any{&policyID, &s.ID, &s.Name, &s.Default, &s.FirstResponseMinutes, &s.NextReplyMinutes, &s.ResolutionMinutes,
		&s.FirstResponseSeconds, &s.NextReplySeconds, &s.ResolutionSeconds, &counting}, func() error {
		s.Counting = sla.Counting(counting)
		i := index[policyID]
		ps[i].Severities = append(ps[i].Severities, s)
		return nil
	})
	return err
}

// checkSLAQueues answers 422 naming the first queue that is not the tenant's.
func checkSLAQueues(ctx context.Context, q querier, tenantID string, ids []string) error {
	i, err := missingIDs(ctx, q, sqlTenantQueues, tenantID, ids)
	if err != nil || i < 0 {
		return err
	}
	return invalid(fmt.Sprintf("queues.queueIds[%d]", i), "no queue %s in this tenant", ids[i])
}

// writeSLADetails replaces the policy's queues and severities. Severities keep the IDs
// they carry (checked to be this policy's by the caller).
func writeSLADetails(ctx context.Context, tx pgx.Tx, tenantID, policyID string, queues []string, sevs []sla.Severity) error {
	if _, err := tx.Exec(ctx, `DELETE FROM sla_policy_queues WHERE tenant_id = $1 AND policy_id = $2`, tenantID, policyID); err != nil {
		return err
	}
	if len(queues) > 0 {
		if _, err := tx.Exec(ctx, `
			INSERT INTO sla_policy_queues (tenant_id, policy_id, queue_id, ordinal)
			SELECT $1, $2, q, i FROM unnest($3::uuid[]) WITH ORDINALITY AS t (q, i)`, tenantID, policyID, queues); err != nil {
			if fkViolation(err, "sla_policy_queues_queue") {
				return invalid("queues.queueIds", "a queue was just deleted")
			}
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sla_severities WHERE tenant_id = $1 AND policy_id = $2`, tenantID, policyID); err != nil {
		return err
	}
	for i, s := range sevs {
		if _, err := tx.Exec(ctx, `
			INSERT INTO sla_severities (id, tenant_id, policy_id, position, name, is_default,
				first_response_minutes, next_reply_minutes, resolution_minutes,
				first_response_seconds, next_reply_seconds, resolution_seconds, counting)
			VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			nullUUID(s.ID), tenantID, policyID, i+1, strings.TrimSpace(s.Name), s.Default,
			s.FirstResponseMinutes, s.NextReplyMinutes, s.ResolutionMinutes,
			s.FirstResponseSeconds, s.NextReplySeconds, s.ResolutionSeconds, string(s.Counting)); err != nil {
			return err
		}
	}
	return nil
}

func slaNameTaken(err error) error {
	if uniqueViolation(err, "sla_policies_name") {
		return fmt.Errorf("an SLA policy with this name already exists: %w", ErrConflict)
	}
	return err
}

// CreateSLAPolicy inserts a policy at its position (shifting the later ones down) or
// at the end. Its queues must be the tenant's (422 naming the field); a name already
// used in the tenant is a conflict.
func (s *Store) CreateSLAPolicy(ctx context.Context, tenantID string, actor Actor, in NewSLAPolicy) (SLAPolicy, error) {
	if err := in.Validate(); err != nil {
		return SLAPolicy{}, err
	}
	cond, err := json.Marshal(in.Condition)
	if err != nil {
		return SLAPolicy{}, err
	}
	var out SLAPolicy
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSLAPolicies(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkSLAQueues(ctx, tx, tenantID, in.Queues.QueueIDs); err != nil {
			return err
		}
		n, err := slaPolicyList.count(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if n >= MaxSLAPolicies {
			return fmt.Errorf("a tenant has at most %d SLA policies; delete unused ones first: %w", MaxSLAPolicies, ErrConflict)
		}
		pos, err := slaPolicyList.makeRoom(ctx, tx, tenantID, in.Position, n)
		if err != nil {
			return err
		}
		p, err := scanSLAPolicy(tx.QueryRow(ctx, `
			INSERT INTO sla_policies (tenant_id, name, position, enabled, valid_from, valid_to, condition, queue_mode, exclude_automated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+slaColumns,
			tenantID, in.Name, pos, *in.Enabled, in.ValidFrom, in.ValidTo, cond, string(in.Queues.Mode), in.ExcludeAutomated))
		if err != nil {
			return slaNameTaken(err)
		}
		if err := writeSLADetails(ctx, tx, tenantID, p.ID, in.Queues.QueueIDs, in.Severities); err != nil {
			return err
		}
		if _, err := bumpSLAGeneration(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "sla_policy.created", "sla_policy", p.ID, in); err != nil {
			return err
		}
		out, err = getSLAPolicy(ctx, tx, tenantID, p.ID, false)
		return err
	})
	return out, err
}

// GetSLAPolicy returns one policy.
func (s *Store) GetSLAPolicy(ctx context.Context, tenantID, id string) (SLAPolicy, error) {
	return getSLAPolicy(ctx, s.pool, tenantID, id, false)
}

func getSLAPolicy(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (SLAPolicy, error) {
	if !isUUID(id) {
		return SLAPolicy{}, translate(pgx.ErrNoRows, "sla policy")
	}
	sql := `SELECT ` + slaColumns + ` FROM sla_policies WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	p, err := scanSLAPolicy(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return SLAPolicy{}, translate(err, "sla policy")
	}
	ps := []SLAPolicy{p}
	if err := loadSLADetails(ctx, q, tenantID, ps); err != nil {
		return SLAPolicy{}, err
	}
	return ps[0], nil
}

// ListSLAPolicies returns all of a tenant's policies in list order.
func (s *Store) ListSLAPolicies(ctx context.Context, tenantID string) ([]SLAPolicy, error) {
	return listSLAPolicies(ctx, s.pool, tenantID)
}

func listSLAPolicies(ctx context.Context, q querier, tenantID string) ([]SLAPolicy, error) {
	rows, err := q.Query(ctx, `SELECT `+slaColumns+` FROM sla_policies WHERE tenant_id = $1 ORDER BY position`, tenantID)
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SLAPolicy, error) { return scanSLAPolicy(r) })
	if err != nil {
		return nil, err
	}
	if ps == nil {
		ps = []SLAPolicy{}
	}
	return ps, loadSLADetails(ctx, q, tenantID, ps)
}

// UpdateSLAPolicy changes a policy; the result is validated as a whole, and a new
// position moves it, shifting the policies in between by one.
func (s *Store) UpdateSLAPolicy(ctx context.Context, tenantID string, actor Actor, id string, in SLAPolicyUpdate) (SLAPolicy, error) {
	if err := in.Validate(); err != nil {
		return SLAPolicy{}, err
	}
	var out SLAPolicy
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSLAPolicies(ctx, tx, tenantID); err != nil {
			return err
		}
		p, err := getSLAPolicy(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if in.Name != nil {
			p.Name = *in.Name
		}
		if in.Enabled != nil {
			p.Enabled = *in.Enabled
		}
		if in.Validity != nil {
			p.ValidFrom, p.ValidTo = in.Validity.From, in.Validity.To
		}
		if in.Condition != nil {
			p.Condition = *in.Condition
		}
		if in.Queues != nil {
			p.Queues = *in.Queues
			if p.Queues.QueueIDs == nil {
				p.Queues.QueueIDs = []string{}
			}
		}
		if in.ExcludeAutomated != nil {
			p.ExcludeAutomated = *in.ExcludeAutomated
		}
		if in.Severities != nil {
			own := make(map[string]bool, len(p.Severities))
			for _, s := range p.Severities {
				own[s.ID] = true
			}
			next := slices.Clone(*in.Severities)
			for i := range next {
				next[i].ID = strings.ToLower(next[i].ID)
				if next[i].ID != "" && !own[next[i].ID] {
					return invalid(fmt.Sprintf("severities[%d].id", i), "no severity %s in this policy (leave the ID out for a new one)", next[i].ID)
				}
				if next[i].ID != "" && slices.ContainsFunc(next[:i], func(o sla.Severity) bool { return o.ID == next[i].ID }) {
					return invalid(fmt.Sprintf("severities[%d].id", i), "severity %s is listed twice", next[i].ID)
				}
			}
			p.Severities = next
		}
		if err := validSLAPolicy(p.Policy()); err != nil {
			return err
		}
		if err := checkSLAQueues(ctx, tx, tenantID, p.Queues.QueueIDs); err != nil {
			return err
		}
		if in.Position != nil && *in.Position != p.Position {
			if err := slaPolicyList.move(ctx, tx, tenantID, p.ID, p.Position, *in.Position); err != nil {
				return err
			}
		}
		cond, err := json.Marshal(p.Condition)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE sla_policies SET name = $3, enabled = $4, valid_from = $5, valid_to = $6, condition = $7,
				queue_mode = $8, exclude_automated = $9, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, p.ID, p.Name, p.Enabled, p.ValidFrom, p.ValidTo, cond, string(p.Queues.Mode), p.ExcludeAutomated); err != nil {
			return slaNameTaken(err)
		}
		if in.Queues != nil || in.Severities != nil {
			if err := writeSLADetails(ctx, tx, tenantID, p.ID, p.Queues.QueueIDs, p.Severities); err != nil {
				return err
			}
		}
		if _, err := bumpSLAGeneration(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "sla_policy.updated", "sla_policy", p.ID, in); err != nil {
			return err
		}
		out, err = getSLAPolicy(ctx, tx, tenantID, p.ID, false)
		return err
	})
	return out, err
}

// DeleteSLAPolicy removes a policy and closes the gap it leaves.
func (s *Store) DeleteSLAPolicy(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "sla policy")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSLAPolicies(ctx, tx, tenantID); err != nil {
			return err
		}
		pos, name, err := slaPolicyList.remove(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if _, err := bumpSLAGeneration(ctx, tx, tenantID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "sla_policy.deleted", "sla_policy", id, map[string]any{"name": name, "position": pos})
	})
}

// ReorderSLAPolicies gives the policies the order of in.PolicyIDs, which must name
// every policy of the tenant once; a list made from a stale view is refused with
// ErrConflict.
func (s *Store) ReorderSLAPolicies(ctx context.Context, tenantID string, actor Actor, in SLAPolicyOrder) ([]SLAPolicy, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.PolicyIDs))
	for i, id := range in.PolicyIDs {
		ids[i] = strings.ToLower(id)
	}
	var out []SLAPolicy
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSLAPolicies(ctx, tx, tenantID); err != nil {
			return err
		}
		err := slaPolicyList.reorder(ctx, tx, tenantID, ids)
		if err != nil {
			return err
		}
		if _, err := bumpSLAGeneration(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "sla_policies.reordered", "sla_policy_list", tenantID, in); err != nil {
			return err
		}
		out, err = listSLAPolicies(ctx, tx, tenantID)
		return err
	})
	return out, err
}

// MatchSLAPolicy returns the tenant's policy that applies to the conversation, if any.
func (s *Store) MatchSLAPolicy(ctx context.Context, tenantID string, c sla.Conversation) (SLAPolicy, bool, error) {
	ps, err := s.ListSLAPolicies(ctx, tenantID)
	if err != nil {
		return SLAPolicy{}, false, err
	}
	rules := make([]sla.Policy, len(ps))
	for i, p := range ps {
		rules[i] = p.Policy()
	}
	m, ok := sla.Match(rules, c)
	if !ok {
		return SLAPolicy{}, false, nil
	}
	i := slices.IndexFunc(ps, func(p SLAPolicy) bool { return p.ID == m.ID })
	return ps[i], true, nil
}
