package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// Agent is a user with the agent role together with their ACD settings. Agents have
// every default until a supervisor changes something.
type Agent struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	// Enabled agents take interactions; a disabled one keeps their login but gets none.
	Enabled   bool   `json:"enabled"`
	Title     string `json:"title"`
	Phone     string `json:"phone"`
	Extension string `json:"extension"`
	// QueueIDs are the queues the agent works, the Default queue (implicit) first.
	QueueIDs []string `json:"queueIds"`
	// SkillIDs are the agent's skills, by skill name.
	SkillIDs []string `json:"skillIds"`
	// Capacity is the agent's override; a channel left out inherits the tenant default.
	Capacity routing.Capacity `json:"capacity"`
	// EffectiveCapacity is what assignment uses: the override over the tenant default.
	EffectiveCapacity routing.Capacity `json:"effectiveCapacity"`
	// WrapUpSeconds is the agent's override, null to inherit the tenant default.
	WrapUpSeconds          *int      `json:"wrapUpSeconds"`
	EffectiveWrapUpSeconds int       `json:"effectiveWrapUpSeconds"`
	UpdatedAt              time.Time `json:"updatedAt"`
}

// AgentUpdate changes the fields that are set. Empty strings clear the title, phone and
// extension; Capacity replaces the whole override ({} clears it); WrapUpSeconds null
// returns to the tenant default; QueueIDs and SkillIDs replace the agent's lists (the
// Default queue may be listed but is always kept).
type AgentUpdate struct {
	Enabled       *bool             `json:"enabled"`
	Title         *string           `json:"title"`
	Phone         *string           `json:"phone"`
	Extension     *string           `json:"extension"`
	QueueIDs      *[]string         `json:"queueIds"`
	SkillIDs      *[]string         `json:"skillIds"`
	Capacity      *routing.Capacity `json:"capacity"`
	WrapUpSeconds Nullable[int]     `json:"wrapUpSeconds"`
}

var (
	phonePattern     = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{1,30}$`)
	extensionPattern = regexp.MustCompile(`^[0-9*#]{1,16}$`)
)

const maxAgentTitle = 100

// Validate checks the fields that are set.
func (u *AgentUpdate) Validate() error {
	trim := func(p *string) {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(u.Title)
	trim(u.Phone)
	trim(u.Extension)
	if u.Title != nil && utf8.RuneCountInString(*u.Title) > maxAgentTitle {
		return invalid("title", "must be at most %d characters", maxAgentTitle)
	}
	if u.Phone != nil && *u.Phone != "" && !phonePattern.MatchString(*u.Phone) {
		return invalid("phone", "must be a phone number such as +385 1 234 5678")
	}
	if u.Extension != nil && *u.Extension != "" && !extensionPattern.MatchString(*u.Extension) {
		return invalid("extension", "must be 1-16 digits, * or #")
	}
	if u.QueueIDs != nil {
		if err := checkIDs("queueIds", *u.QueueIDs); err != nil {
			return err
		}
	}
	if u.SkillIDs != nil {
		if err := checkIDs("skillIds", *u.SkillIDs); err != nil {
			return err
		}
	}
	if u.Capacity != nil {
		if err := u.Capacity.Validate(); err != nil {
			return fromRouting("capacity", err)
		}
	}
	if u.WrapUpSeconds.Value != nil {
		if err := validWrapUp("wrapUpSeconds", *u.WrapUpSeconds.Value); err != nil {
			return err
		}
	}
	if u.Enabled == nil && u.Title == nil && u.Phone == nil && u.Extension == nil && u.QueueIDs == nil &&
		u.SkillIDs == nil && u.Capacity == nil && !u.WrapUpSeconds.Set {
		return invalid("", "nothing to change: set enabled, title, phone, extension, queueIds, skillIds, capacity or wrapUpSeconds")
	}
	return nil
}

// GetAgent returns an agent of the tenant; users with another role are not agents
// (ErrNotFound).
func (s *Store) GetAgent(ctx context.Context, tenantID, userID string) (Agent, error) {
	return getAgent(ctx, s.pool, tenantID, userID, false)
}

func getAgent(ctx context.Context, q querier, tenantID, userID string, lock bool) (Agent, error) {
	if !isUUID(userID) {
		return Agent{}, translate(pgx.ErrNoRows, "agent")
	}
	sql := `
		SELECT u.id, u.tenant_id, u.name, u.email, coalesce(s.enabled, true), coalesce(s.title, ''), coalesce(s.phone, ''),
		       coalesce(s.extension, ''), coalesce(s.capacity, '{}'), s.wrap_up_seconds, coalesce(s.updated_at, u.updated_at)
		FROM users u LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE u.tenant_id = $1 AND u.id = $2 AND u.role = 'agent'`
	if lock {
		// Keeps the user an agent (and in existence) until the settings are written.
		sql += ` FOR SHARE OF u`
	}
	var (
		a   Agent
		raw []byte
	)
	err := q.QueryRow(ctx, sql, tenantID, userID).Scan(&a.ID, &a.TenantID, &a.Name, &a.Email, &a.Enabled, &a.Title, &a.Phone,
		&a.Extension, &raw, &a.WrapUpSeconds, &a.UpdatedAt)
	if err != nil {
		return Agent{}, translate(err, "agent")
	}
	if a.Capacity, err = decodeCapacity(raw); err != nil {
		return Agent{}, err
	}
	settings, err := getACDSettings(ctx, q, tenantID)
	if err != nil {
		return Agent{}, err
	}
	if a.EffectiveCapacity, err = routing.EffectiveCapacity(settings.DefaultCapacity, a.Capacity); err != nil {
		return Agent{}, fmt.Errorf("agent %s: %w", a.ID, err)
	}
	a.EffectiveWrapUpSeconds = settings.WrapUpSeconds
	if a.WrapUpSeconds != nil {
		a.EffectiveWrapUpSeconds = *a.WrapUpSeconds
	}
	if a.QueueIDs, err = agentQueueIDs(ctx, q, tenantID, a.ID); err != nil {
		return Agent{}, err
	}
	rows, err := q.Query(ctx, `
		SELECT sk.id::text FROM agent_skills ak JOIN skills sk ON sk.tenant_id = ak.tenant_id AND sk.id = ak.skill_id
		WHERE ak.tenant_id = $1 AND ak.user_id = $2 ORDER BY lower(sk.name), sk.id`, tenantID, a.ID)
	if err != nil {
		return Agent{}, err
	}
	if a.SkillIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return Agent{}, err
	}
	if a.SkillIDs == nil {
		a.SkillIDs = []string{}
	}
	return a, nil
}

// UpdateAgent changes an agent's settings, queues and skills in one transaction.
func (s *Store) UpdateAgent(ctx context.Context, tenantID string, actor Actor, userID string, in AgentUpdate) (Agent, error) {
	if err := in.Validate(); err != nil {
		return Agent{}, err
	}
	var capacity []byte
	if in.Capacity != nil {
		var err error
		if capacity, err = json.Marshal(in.Capacity); err != nil {
			return Agent{}, err
		}
	}
	var out Agent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getAgent(ctx, tx, tenantID, userID, true)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO agent_settings (tenant_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, tenantID, cur.ID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE agent_settings SET
				enabled = coalesce($3, enabled),
				title = CASE WHEN $4::text IS NULL THEN title ELSE nullif($4, '') END,
				phone = CASE WHEN $5::text IS NULL THEN phone ELSE nullif($5, '') END,
				extension = CASE WHEN $6::text IS NULL THEN extension ELSE nullif($6, '') END,
				capacity = coalesce($7, capacity),
				wrap_up_seconds = CASE WHEN $8 THEN $9 ELSE wrap_up_seconds END,
				updated_at = now()
			WHERE tenant_id = $1 AND user_id = $2`,
			tenantID, cur.ID, in.Enabled, in.Title, in.Phone, in.Extension, capacity, in.WrapUpSeconds.Set, in.WrapUpSeconds.Value)
		if uniqueViolation(err, "agent_settings_extension") {
			return fmt.Errorf("extension %s is already another agent's: %w", *in.Extension, ErrConflict)
		}
		if err != nil {
			return err
		}
		if in.QueueIDs != nil {
			if err := setAgentQueues(ctx, tx, tenantID, cur.ID, *in.QueueIDs); err != nil {
				return err
			}
		}
		if in.SkillIDs != nil {
			if err := setAgentSkills(ctx, tx, tenantID, cur.ID, *in.SkillIDs); err != nil {
				return err
			}
		}
		if err := audit(ctx, tx, tenantID, actor, "agent.updated", "agent", cur.ID, in); err != nil {
			return err
		}
		out, err = getAgent(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// setAgentQueues makes queueIDs the agent's explicit queues. The Default queue may be
// listed (clients write back what they read) and is skipped: membership there is implicit.
func setAgentQueues(ctx context.Context, tx pgx.Tx, tenantID, userID string, queueIDs []string) error {
	if i, err := missingIDs(ctx, tx, sqlTenantQueues, tenantID, queueIDs); err != nil {
		return err
	} else if i >= 0 {
		return invalid(fmt.Sprintf("queueIds[%d]", i), "no queue %s in this tenant", queueIDs[i])
	}
	if queueIDs == nil {
		queueIDs = []string{}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM queue_agents WHERE tenant_id = $1 AND user_id = $2 AND NOT queue_id = ANY($3::uuid[])`,
		tenantID, userID, queueIDs); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO queue_agents (tenant_id, queue_id, user_id)
		SELECT $1, q.id, $2 FROM queues q
		WHERE q.tenant_id = $1 AND q.id = ANY($3::uuid[]) AND NOT q.is_default
		ON CONFLICT DO NOTHING`, tenantID, userID, queueIDs)
	return goneRef(err, "queueIds")
}

func setAgentSkills(ctx context.Context, tx pgx.Tx, tenantID, userID string, skillIDs []string) error {
	if err := checkSkills(ctx, tx, tenantID, "skillIds", skillIDs); err != nil {
		return err
	}
	if skillIDs == nil {
		skillIDs = []string{}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM agent_skills WHERE tenant_id = $1 AND user_id = $2 AND NOT skill_id = ANY($3::uuid[])`,
		tenantID, userID, skillIDs); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO agent_skills (tenant_id, user_id, skill_id)
		SELECT $1, $2, s FROM unnest($3::uuid[]) AS s ON CONFLICT DO NOTHING`, tenantID, userID, skillIDs)
	return goneRef(err, "skillIds")
}

// AgentCapacity returns an agent's effective capacity (the override over the tenant
// default) in one query, for showing the agent's workload next to their presence.
func (s *Store) AgentCapacity(ctx context.Context, tenantID, userID string) (routing.Capacity, error) {
	if !isUUID(tenantID) || !isUUID(userID) {
		return nil, translate(pgx.ErrNoRows, "agent")
	}
	var override, def []byte
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(s.capacity, '{}'), a.default_capacity
		FROM users u JOIN acd_settings a ON a.tenant_id = u.tenant_id
		LEFT JOIN agent_settings s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
		WHERE u.tenant_id = $1 AND u.id = $2 AND u.role = 'agent'`, tenantID, userID).Scan(&override, &def)
	if err != nil {
		return nil, translate(err, "agent")
	}
	o, err := decodeCapacity(override)
	if err != nil {
		return nil, err
	}
	d, err := decodeCapacity(def)
	if err != nil {
		return nil, err
	}
	c, err := routing.EffectiveCapacity(d, o)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", userID, err)
	}
	return c, nil
}

// HeldInteraction is an interaction an agent holds according to the read model.
type HeldInteraction struct {
	AgentID       string          `json:"agentId"`
	InteractionID string          `json:"interactionId"`
	Channel       routing.Channel `json:"channel"`
	ConnectedAt   time.Time       `json:"connectedAt"`
}

// HeldInteractions lists every interaction the tenant's agents hold according to the
// read model — the connected ones, with their agent and channel — ordered by agent
// and interaction. Presence is rebuilt from it after Redis lost its data. The read
// model takes an interaction after presence does and lets go of it before, so the
// list never shows a hold that presence has not had.
func (s *Store) HeldInteractions(ctx context.Context, tenantID string) ([]HeldInteraction, error) {
	if !isUUID(tenantID) {
		return []HeldInteraction{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT agent_id::text, id::text, channel, coalesce(connected_at, updated_at)
		FROM interactions
		WHERE tenant_id = $1 AND status IN ('connected', 'on_hold') AND agent_id IS NOT NULL
		ORDER BY agent_id, id`, tenantID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HeldInteraction, error) {
		var h HeldInteraction
		err := r.Scan(&h.AgentID, &h.InteractionID, &h.Channel, &h.ConnectedAt)
		return h, err
	})
	if out == nil {
		out = []HeldInteraction{}
	}
	return out, err
}
