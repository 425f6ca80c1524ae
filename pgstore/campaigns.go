package pgstore

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"switchboard/screenpop"
)

// The Default campaign every tenant starts with, and its disposition codes.
const (
	DefaultCampaignName = "Default"
	// DefaultDispositionClass holds the Default campaign's codes.
	DefaultDispositionClass = "Closed"
	// DefaultDispositionCode is the Default campaign's default code.
	DefaultDispositionCode = "Resolved"
	// NoActionDispositionCode is the Default campaign's second code.
	NoActionDispositionCode = "No action"
	// DefaultWrapUpTimeoutSeconds is a new campaign's wrap-up timeout.
	DefaultWrapUpTimeoutSeconds = 60
)

const (
	maxCampaignName        = 100
	maxCampaignDescription = 1000
	maxWrapUpTimeout       = 3600
	maxDispositionName     = 100
	// maxDispositionClasses and maxDispositionCodes bound a campaign's tree: an agent
	// picks from it at the end of every interaction.
	maxDispositionClasses = 50
	maxDispositionCodes   = 100 // per class
)

// callerIDPattern is an E.164 number: a plus, then up to 15 digits, the first not 0.
var callerIDPattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// localePattern is a BCP 47 language tag: a language, then up to three subtags.
var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$`)

// Campaign groups interactions for handling and reporting: the wrap-up that follows
// them, the disposition codes they are closed with and, for outbound calls, the number
// shown and whether they are recorded. Every tenant has one Default campaign, which
// takes interactions that name no other and cannot be deleted or disabled.
type Campaign struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	IsDefault   bool   `json:"isDefault"`
	// Enabled campaigns are offered to agents at login; a disabled one keeps its
	// configuration and history.
	Enabled bool `json:"enabled"`
	// WrapUpTimeoutSeconds is how long the agent may wrap an interaction up before it
	// is disposed with the default code; 0 waits for the agent.
	WrapUpTimeoutSeconds int `json:"wrapUpTimeoutSeconds"`
	// DefaultDispositionCodeID is one of the campaign's codes; nil only while the
	// campaign has none. DefaultDisposition is that code with its class.
	DefaultDispositionCodeID *string      `json:"defaultDispositionCodeId"`
	DefaultDisposition       *Disposition `json:"defaultDisposition"`
	// DefaultQueueID is where the campaign's interactions wait when nothing else
	// decides; nil for the tenant's Default queue.
	DefaultQueueID *string `json:"defaultQueueId"`
	// CallerID is the E.164 number shown to customers on outbound calls.
	CallerID         *string `json:"callerId"`
	RecordingEnabled bool    `json:"recordingEnabled"`
	// ScreenPopURL is the CRM page an agent's desktop opens when an interaction of
	// the campaign rings on or connects to them, and KnowledgeBaseURL the page it
	// opens at login: URL templates with {placeholders} (package screenpop).
	ScreenPopURL     *string `json:"screenPopUrl"`
	KnowledgeBaseURL *string `json:"knowledgeBaseUrl"`
	// Locale is the language the campaign serves its customers in (BCP 47).
	Locale    *string   `json:"locale"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// WrapUpTimeout is the campaign's wrap-up timeout; 0 means none.
func (c Campaign) WrapUpTimeout() time.Duration {
	return time.Duration(c.WrapUpTimeoutSeconds) * time.Second
}

// Disposition is a code of a campaign with its class, as an interaction is disposed
// with it.
type Disposition struct {
	CampaignID string `json:"campaignId"`
	ClassID    string `json:"classId"`
	Class      string `json:"class"`
	CodeID     string `json:"codeId"`
	Code       string `json:"code"`
	// Callback: choosing the code schedules a callback.
	Callback bool `json:"callback"`
	// Blacklist: choosing the code adds the customer's number to the do-not-call list.
	Blacklist bool `json:"blacklist"`
	// Success: the outcome counts as a success in reports.
	Success bool `json:"success"`
}

// cleanName trims a name and checks it is 1..max characters without control characters.
func cleanName(field string, name *string, max int) error {
	*name = strings.TrimSpace(*name)
	if *name == "" || utf8.RuneCountInString(*name) > max || strings.ContainsFunc(*name, unicode.IsControl) {
		return invalid(field, "is required and at most %d characters, without control characters", max)
	}
	return nil
}

func cleanDescription(d *string) error {
	*d = strings.TrimSpace(*d)
	if utf8.RuneCountInString(*d) > maxCampaignDescription {
		return invalid("description", "must be at most %d characters", maxCampaignDescription)
	}
	return nil
}

func checkWrapUpTimeout(n int) error {
	if n < 0 || n > maxWrapUpTimeout {
		return invalid("wrapUpTimeoutSeconds", "must be between 0 (no timeout) and %d", maxWrapUpTimeout)
	}
	return nil
}

func cleanCallerID(id *string) error {
	*id = strings.TrimSpace(*id)
	if !callerIDPattern.MatchString(*id) {
		return invalid("callerId", "must be an E.164 number such as +442071838750")
	}
	return nil
}

// cleanTemplate trims a URL template and checks it (screenpop.Parse) for its kind.
func cleanTemplate(field string, v *string, kind screenpop.Kind) error {
	*v = strings.TrimSpace(*v)
	if *v == "" {
		return invalid(field, "is empty: send null to remove it")
	}
	if _, err := screenpop.Parse(*v, kind); err != nil {
		return invalid(field, "%s", screenpop.Message(err))
	}
	return nil
}

func cleanLocale(v *string) error {
	*v = strings.TrimSpace(*v)
	if !localePattern.MatchString(*v) {
		return invalid("locale", "must be a BCP 47 language tag such as en, en-GB or pt-BR")
	}
	return nil
}

func checkQueueRef(id string) error {
	if !isUUID(id) {
		return invalid("defaultQueueId", "must be a queue ID")
	}
	return nil
}

// NewCampaign is a campaign to create. It starts without disposition codes:
// PUT …/dispositions gives it its tree.
type NewCampaign struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
	// WrapUpTimeoutSeconds defaults to 60; 0 means no timeout.
	WrapUpTimeoutSeconds *int   `json:"wrapUpTimeoutSeconds"`
	DefaultQueueID       string `json:"defaultQueueId"`
	CallerID             string `json:"callerId"`
	RecordingEnabled     bool   `json:"recordingEnabled"`
	ScreenPopURL         string `json:"screenPopUrl"`
	KnowledgeBaseURL     string `json:"knowledgeBaseUrl"`
	Locale               string `json:"locale"`
}

// Validate checks the new campaign and fills in defaults.
func (c *NewCampaign) Validate() error {
	if err := cleanName("name", &c.Name, maxCampaignName); err != nil {
		return err
	}
	if err := cleanDescription(&c.Description); err != nil {
		return err
	}
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	if c.WrapUpTimeoutSeconds == nil {
		n := DefaultWrapUpTimeoutSeconds
		c.WrapUpTimeoutSeconds = &n
	}
	if err := checkWrapUpTimeout(*c.WrapUpTimeoutSeconds); err != nil {
		return err
	}
	if c.DefaultQueueID != "" {
		if err := checkQueueRef(c.DefaultQueueID); err != nil {
			return err
		}
	}
	if c.CallerID != "" {
		if err := cleanCallerID(&c.CallerID); err != nil {
			return err
		}
	}
	return c.cleanScreenPop()
}

func (c *NewCampaign) cleanScreenPop() error {
	if c.ScreenPopURL != "" {
		if err := cleanTemplate("screenPopUrl", &c.ScreenPopURL, screenpop.Interaction); err != nil {
			return err
		}
	}
	if c.KnowledgeBaseURL != "" {
		if err := cleanTemplate("knowledgeBaseUrl", &c.KnowledgeBaseURL, screenpop.Login); err != nil {
			return err
		}
	}
	if c.Locale != "" {
		return cleanLocale(&c.Locale)
	}
	return nil
}

// CampaignUpdate changes the fields that are set; null clears defaultQueueId,
// callerId, screenPopUrl, knowledgeBaseUrl and locale.
type CampaignUpdate struct {
	Name                 *string `json:"name"`
	Description          *string `json:"description"`
	Enabled              *bool   `json:"enabled"`
	WrapUpTimeoutSeconds *int    `json:"wrapUpTimeoutSeconds"`
	// DefaultDispositionCodeID is one of the campaign's codes; it cannot be cleared
	// while the campaign has codes.
	DefaultDispositionCodeID Nullable[string] `json:"defaultDispositionCodeId"`
	DefaultQueueID           Nullable[string] `json:"defaultQueueId"`
	CallerID                 Nullable[string] `json:"callerId"`
	RecordingEnabled         *bool            `json:"recordingEnabled"`
	ScreenPopURL             Nullable[string] `json:"screenPopUrl"`
	KnowledgeBaseURL         Nullable[string] `json:"knowledgeBaseUrl"`
	Locale                   Nullable[string] `json:"locale"`
}

// Validate checks the fields that are set on their own; references are checked by
// UpdateCampaign.
func (u *CampaignUpdate) Validate() error {
	if u.Name != nil {
		if err := cleanName("name", u.Name, maxCampaignName); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := cleanDescription(u.Description); err != nil {
			return err
		}
	}
	if u.WrapUpTimeoutSeconds != nil {
		if err := checkWrapUpTimeout(*u.WrapUpTimeoutSeconds); err != nil {
			return err
		}
	}
	if v := u.DefaultDispositionCodeID.Value; v != nil && !isUUID(*v) {
		return invalid("defaultDispositionCodeId", "must be the ID of one of the campaign's disposition codes")
	}
	if v := u.DefaultQueueID.Value; v != nil {
		if err := checkQueueRef(*v); err != nil {
			return err
		}
	}
	if v := u.CallerID.Value; v != nil {
		if err := cleanCallerID(v); err != nil {
			return err
		}
	}
	if v := u.ScreenPopURL.Value; v != nil {
		if err := cleanTemplate("screenPopUrl", v, screenpop.Interaction); err != nil {
			return err
		}
	}
	if v := u.KnowledgeBaseURL.Value; v != nil {
		if err := cleanTemplate("knowledgeBaseUrl", v, screenpop.Login); err != nil {
			return err
		}
	}
	if v := u.Locale.Value; v != nil {
		if err := cleanLocale(v); err != nil {
			return err
		}
	}
	if u.Name == nil && u.Description == nil && u.Enabled == nil && u.WrapUpTimeoutSeconds == nil && !u.DefaultDispositionCodeID.Set &&
		!u.DefaultQueueID.Set && !u.CallerID.Set && u.RecordingEnabled == nil && !u.ScreenPopURL.Set && !u.KnowledgeBaseURL.Set && !u.Locale.Set {
		return invalid("", "nothing to change: set name, description, enabled, wrapUpTimeoutSeconds, defaultDispositionCodeId, defaultQueueId, callerId, recordingEnabled, screenPopUrl, knowledgeBaseUrl or locale")
	}
	return nil
}

// CampaignFilter selects a tenant's campaigns, in creation order (the Default
// campaign first).
type CampaignFilter struct {
	// EnabledOnly leaves disabled campaigns out (what agents pick from).
	EnabledOnly bool
	Page
}

const campaignSelect = `
	SELECT c.id, c.tenant_id, c.name, c.description, c.is_default, c.enabled, c.wrap_up_timeout_seconds,
	       c.default_code_id::text, c.default_queue_id::text, c.caller_id, c.recording_enabled, c.created_at, c.updated_at,
	       c.screen_pop_url, c.knowledge_base_url, c.locale,
	       k.id::text, k.name, d.name, d.callback, d.blacklist, d.success
	FROM campaigns c
	LEFT JOIN disposition_codes d ON d.tenant_id = c.tenant_id AND d.campaign_id = c.id AND d.id = c.default_code_id
	LEFT JOIN disposition_classes k ON k.tenant_id = d.tenant_id AND k.campaign_id = d.campaign_id AND k.id = d.class_id`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var (
		c               Campaign
		classID, class  *string
		code            *string
		cb, bl, success *bool
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Description, &c.IsDefault, &c.Enabled, &c.WrapUpTimeoutSeconds,
		&c.DefaultDispositionCodeID, &c.DefaultQueueID, &c.CallerID, &c.RecordingEnabled, &c.CreatedAt, &c.UpdatedAt,
		&c.ScreenPopURL, &c.KnowledgeBaseURL, &c.Locale,
		&classID, &class, &code, &cb, &bl, &success)
	if err != nil {
		return c, err
	}
	if c.DefaultDispositionCodeID != nil && classID != nil {
		c.DefaultDisposition = &Disposition{CampaignID: c.ID, ClassID: *classID, Class: *class,
			CodeID: *c.DefaultDispositionCodeID, Code: *code, Callback: *cb, Blacklist: *bl, Success: *success}
	}
	return c, nil
}

func campaignWhat(name string) string { return fmt.Sprintf("campaign %q", name) }

// campaignWriteError turns a driver error of a campaign write into the package's.
func campaignWriteError(err error, name string) error {
	if fkViolation(err, "campaigns_default_queue") {
		return goneRef(err, "defaultQueueId")
	}
	return translate(err, campaignWhat(name))
}

// checkTenantQueue answers 422 on defaultQueueId when id is not a queue of the tenant.
func checkTenantQueue(ctx context.Context, q querier, tenantID, id string) error {
	i, err := missingIDs(ctx, q, sqlTenantQueues, tenantID, []string{id})
	if err != nil || i < 0 {
		return err
	}
	return invalid("defaultQueueId", "no queue %s in this tenant", id)
}

// CreateCampaign adds a campaign without disposition codes; names are unique in the
// tenant ignoring case.
func (s *Store) CreateCampaign(ctx context.Context, tenantID string, actor Actor, in NewCampaign) (Campaign, error) {
	if err := in.Validate(); err != nil {
		return Campaign{}, err
	}
	var out Campaign
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if in.DefaultQueueID != "" {
			if err := checkTenantQueue(ctx, tx, tenantID, in.DefaultQueueID); err != nil {
				return err
			}
		}
		var id string
		err := tx.QueryRow(ctx, `
			INSERT INTO campaigns (tenant_id, name, description, enabled, wrap_up_timeout_seconds, default_queue_id, caller_id, recording_enabled,
				screen_pop_url, knowledge_base_url, locale)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id::text`,
			tenantID, in.Name, in.Description, *in.Enabled, *in.WrapUpTimeoutSeconds, nullUUID(in.DefaultQueueID),
			nullText(in.CallerID), in.RecordingEnabled, nullText(in.ScreenPopURL), nullText(in.KnowledgeBaseURL), nullText(in.Locale)).Scan(&id)
		if err != nil {
			return campaignWriteError(err, in.Name)
		}
		if err := audit(ctx, tx, tenantID, actor, "campaign.created", "campaign", id, in); err != nil {
			return err
		}
		out, err = getCampaign(ctx, tx, tenantID, id, false)
		return err
	})
	return out, err
}

// GetCampaign returns one campaign with its default disposition.
func (s *Store) GetCampaign(ctx context.Context, tenantID, id string) (Campaign, error) {
	return getCampaign(ctx, s.pool, tenantID, id, false)
}

func getCampaign(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (Campaign, error) {
	if !isUUID(id) || !isUUID(tenantID) {
		return Campaign{}, translate(pgx.ErrNoRows, "campaign")
	}
	sql := campaignSelect + ` WHERE c.tenant_id = $1 AND c.id = $2`
	if forUpdate {
		sql += ` FOR UPDATE OF c`
	}
	c, err := scanCampaign(q.QueryRow(ctx, sql, tenantID, id))
	return c, translate(err, "campaign")
}

// FindCampaign returns the campaign named by ref: its ID, or its name ignoring case.
func (s *Store) FindCampaign(ctx context.Context, tenantID, ref string) (Campaign, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || !isUUID(tenantID) {
		return Campaign{}, translate(pgx.ErrNoRows, "campaign")
	}
	c, err := scanCampaign(s.pool.QueryRow(ctx, campaignSelect+`
		WHERE c.tenant_id = $1 AND (c.id::text = lower($2) OR lower(c.name) = lower($2))
		ORDER BY c.id::text = lower($2) DESC LIMIT 1`, tenantID, ref))
	return c, translate(err, fmt.Sprintf("campaign %q", ref))
}

// DefaultCampaignID returns the ID of the tenant's Default campaign, which takes
// interactions that name no other campaign.
func (s *Store) DefaultCampaignID(ctx context.Context, tenantID string) (string, error) {
	if !isUUID(tenantID) {
		return "", translate(pgx.ErrNoRows, "default campaign")
	}
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id::text FROM campaigns WHERE tenant_id = $1 AND is_default`, tenantID).Scan(&id)
	return id, translate(err, "default campaign")
}

// ListCampaigns lists a tenant's campaigns in creation order, the Default campaign
// first.
func (s *Store) ListCampaigns(ctx context.Context, tenantID string, f CampaignFilter) ([]Campaign, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, campaignSelect+`
		WHERE c.tenant_id = $1 AND (c.enabled OR NOT $4)
		  AND ($2::uuid IS NULL OR (c.created_at, c.id) > (SELECT created_at, id FROM campaigns WHERE tenant_id = $1 AND id = $2))
		ORDER BY c.created_at, c.id LIMIT $3`, tenantID, nullUUID(f.After), f.Limit, f.EnabledOnly)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) { return scanCampaign(r) })
}

// UpdateCampaign changes a campaign, the Default campaign included; the Default
// campaign cannot be disabled (ErrConflict).
func (s *Store) UpdateCampaign(ctx context.Context, tenantID string, actor Actor, id string, in CampaignUpdate) (Campaign, error) {
	if err := in.Validate(); err != nil {
		return Campaign{}, err
	}
	var out Campaign
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getCampaign(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		next := cur
		if in.Name != nil {
			next.Name = *in.Name
		}
		if in.Description != nil {
			next.Description = *in.Description
		}
		if in.Enabled != nil {
			next.Enabled = *in.Enabled
		}
		if cur.IsDefault && !next.Enabled {
			return fmt.Errorf("the Default campaign takes interactions that name no other campaign and stays enabled: %w", ErrConflict)
		}
		if in.WrapUpTimeoutSeconds != nil {
			next.WrapUpTimeoutSeconds = *in.WrapUpTimeoutSeconds
		}
		if in.RecordingEnabled != nil {
			next.RecordingEnabled = *in.RecordingEnabled
		}
		if in.DefaultQueueID.Set {
			next.DefaultQueueID = in.DefaultQueueID.Value
			if next.DefaultQueueID != nil {
				if err := checkTenantQueue(ctx, tx, tenantID, *next.DefaultQueueID); err != nil {
					return err
				}
			}
		}
		if in.CallerID.Set {
			next.CallerID = in.CallerID.Value
		}
		if in.ScreenPopURL.Set {
			next.ScreenPopURL = in.ScreenPopURL.Value
		}
		if in.KnowledgeBaseURL.Set {
			next.KnowledgeBaseURL = in.KnowledgeBaseURL.Value
		}
		if in.Locale.Set {
			next.Locale = in.Locale.Value
		}
		if in.DefaultDispositionCodeID.Set {
			code := in.DefaultDispositionCodeID.Value
			n, err := countCodes(ctx, tx, tenantID, cur.ID, code)
			if err != nil {
				return err
			}
			switch {
			case code == nil && n > 0:
				return invalid("defaultDispositionCodeId", "a campaign with disposition codes always has a default one: name another code instead")
			case code != nil && n == 0:
				return invalid("defaultDispositionCodeId", "no disposition code %s in campaign %q (GET …/dispositions)", *code, cur.Name)
			}
			if code != nil {
				lower := strings.ToLower(*code)
				next.DefaultDispositionCodeID = &lower
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE campaigns SET name = $3, description = $4, enabled = $5, wrap_up_timeout_seconds = $6, default_code_id = $7,
				default_queue_id = $8, caller_id = $9, recording_enabled = $10, screen_pop_url = $11, knowledge_base_url = $12, locale = $13,
				updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID, next.Name, next.Description, next.Enabled, next.WrapUpTimeoutSeconds,
			next.DefaultDispositionCodeID, next.DefaultQueueID, next.CallerID, next.RecordingEnabled,
			next.ScreenPopURL, next.KnowledgeBaseURL, next.Locale); err != nil {
			return campaignWriteError(err, next.Name)
		}
		if err := audit(ctx, tx, tenantID, actor, "campaign.updated", "campaign", cur.ID, in); err != nil {
			return err
		}
		out, err = getCampaign(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// countCodes counts the campaign's codes: all of them when code is nil, else the
// one with that ID (0 or 1).
func countCodes(ctx context.Context, q querier, tenantID, campaignID string, code *string) (int, error) {
	var n int
	var id any
	if code != nil {
		id = *code
	}
	err := q.QueryRow(ctx, `
		SELECT count(*) FROM disposition_codes
		WHERE tenant_id = $1 AND campaign_id = $2 AND ($3::uuid IS NULL OR id = $3)`, tenantID, campaignID, id).Scan(&n)
	return n, err
}

// DeleteCampaign removes a campaign with its disposition codes. It refuses
// (ErrConflict) the Default campaign and a campaign with active (queued, offered or
// connected) interactions; ended ones keep the deleted campaign's ID. The count and
// the delete hold the campaign's row lock: whoever records an interaction in a
// campaign first takes a share lock on the campaign's row, so none slips in between.
func (s *Store) DeleteCampaign(ctx context.Context, tenantID string, actor Actor, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getCampaign(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if cur.IsDefault {
			return fmt.Errorf("the Default campaign takes interactions that name no other campaign and cannot be deleted: %w", ErrConflict)
		}
		var active int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM interactions
			WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('queued', 'offered', 'connected', 'on_hold')`, tenantID, cur.ID).Scan(&active); err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("campaign %q has %d active interactions; let them end first: %w", cur.Name, active, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM campaigns WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "campaign.deleted", "campaign", cur.ID, map[string]string{"name": cur.Name})
	})
}

// seedCampaigns gives a new tenant its Default campaign, with the class Closed and its
// codes Resolved (the default) and No action, in the transaction that creates the
// tenant.
func seedCampaigns(ctx context.Context, tx pgx.Tx, tenantID string) error {
	campaign, class, resolved, noAction := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	// The default code is checked at commit, so the campaign names it before it exists.
	if _, err := tx.Exec(ctx, `
		WITH c AS (
			INSERT INTO campaigns (id, tenant_id, name, is_default, default_code_id) VALUES ($2, $1, $3, true, $6)
			RETURNING tenant_id, id
		), k AS (
			INSERT INTO disposition_classes (id, tenant_id, campaign_id, name, position) SELECT $4, tenant_id, id, $5, 1 FROM c
			RETURNING tenant_id, campaign_id, id
		)
		INSERT INTO disposition_codes (id, tenant_id, campaign_id, class_id, name, position, success)
		SELECT v.id, k.tenant_id, k.campaign_id, k.id, v.name, v.position, v.success
		FROM k CROSS JOIN (VALUES ($6::uuid, $7, 1, true), ($8::uuid, $9, 2, false)) AS v (id, name, position, success)`,
		tenantID, campaign, DefaultCampaignName, class, DefaultDispositionClass, resolved, DefaultDispositionCode,
		noAction, NoActionDispositionCode); err != nil {
		return fmt.Errorf("create Default campaign: %w", err)
	}
	return nil
}
