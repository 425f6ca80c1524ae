package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaxJourneyIdentifiers bounds the identifier keys of a tenant's journey settings.
const MaxJourneyIdentifiers = 10

// JourneySettings are a tenant's rules for linking interactions to customers.
type JourneySettings struct {
	// Identifiers are the interaction metadata keys (an account number, a CRM
	// contact ID) whose values name a customer, tried in this order: a new
	// interaction carrying one is linked to the customer with that identifier.
	Identifiers []string `json:"identifiers"`
	// CreateOnFirstContact creates the customer of a new interaction that names
	// none that exists, and links it: an inbound interaction from a phone number no
	// customer has, or an interaction carrying identifiers no customer has. It
	// also links an inbound interaction to the one customer with its phone number.
	CreateOnFirstContact bool `json:"createOnFirstContact"`
	// UpdatedAt is nil while the tenant has the defaults.
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

// JourneySettingsUpdate changes the fields that are set.
type JourneySettingsUpdate struct {
	Identifiers          *[]string `json:"identifiers"`
	CreateOnFirstContact *bool     `json:"createOnFirstContact"`
}

// Validate checks the identifier keys: interaction metadata keys, without repeats.
func (u *JourneySettingsUpdate) Validate() error {
	if u.Identifiers == nil {
		return nil
	}
	ids := *u.Identifiers
	if len(ids) > MaxJourneyIdentifiers {
		return invalid("identifiers", "at most %d identifiers", MaxJourneyIdentifiers)
	}
	clean := make([]string, 0, len(ids))
	for i, k := range ids {
		k = strings.TrimSpace(k)
		if !customerKeyPattern.MatchString(k) {
			return invalid(fmt.Sprintf("identifiers[%d]", i), "must be an interaction metadata key: letters, digits, '_' and '-', starting with a letter or '_', at most 64")
		}
		if k == IntentMetadataKey {
			return invalid(fmt.Sprintf("identifiers[%d]", i), "%q says why the customer made contact, not who they are", IntentMetadataKey)
		}
		if slices.Contains(clean, k) {
			return invalid(fmt.Sprintf("identifiers[%d]", i), "%q is listed twice", k)
		}
		clean = append(clean, k)
	}
	*u.Identifiers = clean
	return nil
}

// JourneySettings reads the tenant's journey settings (the defaults when never set).
func (s *Store) JourneySettings(ctx context.Context, tenantID string) (JourneySettings, error) {
	return journeySettings(ctx, s.pool, tenantID)
}

func journeySettings(ctx context.Context, q querier, tenantID string) (JourneySettings, error) {
	out := JourneySettings{Identifiers: []string{}}
	if !isUUID(tenantID) {
		return out, nil
	}
	var at time.Time
	err := q.QueryRow(ctx, `SELECT journey_identifiers, create_on_first_contact, updated_at FROM customer_settings WHERE tenant_id = $1`,
		tenantID).Scan(&out.Identifiers, &out.CreateOnFirstContact, &at)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return out, nil
	case err != nil:
		return out, fmt.Errorf("journey settings: %w", err)
	}
	out.UpdatedAt = &at
	return out, nil
}

// UpdateJourneySettings changes the tenant's journey settings; the change is audited
// as journey.updated. It applies to interactions created from then on; a backfill
// applies it to earlier ones.
func (s *Store) UpdateJourneySettings(ctx context.Context, tenantID string, actor Actor, u JourneySettingsUpdate) (JourneySettings, error) {
	if err := u.Validate(); err != nil {
		return JourneySettings{}, err
	}
	if !isUUID(tenantID) {
		return JourneySettings{}, translate(pgx.ErrNoRows, "tenant")
	}
	var out JourneySettings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO customer_settings (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, tenantID); err != nil {
			return translate(err, "tenant")
		}
		var ids any
		if u.Identifiers != nil {
			ids = *u.Identifiers
		}
		if _, err := tx.Exec(ctx, `
			UPDATE customer_settings SET journey_identifiers = coalesce($2::text[], journey_identifiers),
				create_on_first_contact = coalesce($3, create_on_first_contact), updated_at = now()
			WHERE tenant_id = $1`, tenantID, ids, u.CreateOnFirstContact); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "journey.updated", "journey_settings", tenantID, u); err != nil {
			return err
		}
		var err error
		out, err = journeySettings(ctx, tx, tenantID)
		return err
	})
	return out, err
}

// CustomerMatch is what a new interaction tells of its customer.
type CustomerMatch struct {
	// Phone is the customer's number as given; one that does not normalise is
	// not used.
	Phone string
	// Name names a customer created for the interaction.
	Name string
	// Metadata is the interaction's metadata, where the journey identifiers are.
	Metadata map[string]string
	// Inbound: the customer made contact; only then does the phone link or create.
	Inbound bool
}

// CustomerLink is the customer an interaction is linked to.
type CustomerLink struct {
	CustomerID string
	// Created: the customer was created for the interaction.
	Created bool
}

// ResolveInteractionCustomer finds the customer of a new interaction by the tenant's
// journey settings: the customer whose identifier the metadata carries (in the
// order of the configured keys), else, for an inbound interaction when
// CreateOnFirstContact is on, the one customer with its phone number (several: none,
// the agent picks). When none is found and CreateOnFirstContact is on, a customer is
// created with the identifiers, phone and name. A found customer receives the
// identifiers it lacks. An empty link means no customer; a tenant without settings
// costs one read.
func (s *Store) ResolveInteractionCustomer(ctx context.Context, tenantID string, m CustomerMatch) (CustomerLink, error) {
	settings, err := s.JourneySettings(ctx, tenantID)
	if err != nil {
		return CustomerLink{}, err
	}
	phone := ""
	if m.Inbound && settings.CreateOnFirstContact && m.Phone != "" {
		if n, err := NormalizePhone(m.Phone); err == nil {
			phone = n
		}
	}
	pairs := identifierPairs(settings.Identifiers, m.Metadata)
	if len(pairs) == 0 && phone == "" {
		return CustomerLink{}, nil
	}
	var link CustomerLink
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		link, err = resolveCustomer(ctx, tx, tenantID, pairs, phone, m.Name, settings.CreateOnFirstContact)
		return err
	})
	return link, err
}

// identifierPair is a journey identifier an interaction carries.
type identifierPair struct{ key, value string }

// identifierPairs are the configured keys the metadata carries a usable value for, in
// the keys' order.
func identifierPairs(keys []string, metadata map[string]string) []identifierPair {
	var out []identifierPair
	for _, k := range keys {
		if v := strings.TrimSpace(metadata[k]); v != "" && validIdentifierValue(v) {
			out = append(out, identifierPair{k, v})
		}
	}
	return out
}

// resolveCustomer is ResolveInteractionCustomer's work inside tx. A customer that
// exists is found without locks; creating one takes the advisory locks of the
// identifiers and the phone and looks again under them, so that concurrent first
// contacts of one customer create one record.
func resolveCustomer(ctx context.Context, tx pgx.Tx, tenantID string, pairs []identifierPair, phone, name string, create bool) (CustomerLink, error) {
	id, shared, err := findCustomerFor(ctx, tx, tenantID, pairs, phone)
	if err != nil {
		return CustomerLink{}, err
	}
	if id == "" && (!create || shared && len(pairs) == 0) {
		// Nobody, or several customers share the number: the agent picks.
		return CustomerLink{}, nil
	}
	if id == "" {
		keys := make([]string, 0, len(pairs)+1)
		for _, p := range pairs {
			keys = append(keys, "id:"+p.key+"="+p.value)
		}
		if phone != "" {
			keys = append(keys, "phone:"+phone)
		}
		if err := lockCustomerKeys(ctx, tx, tenantID, keys); err != nil {
			return CustomerLink{}, err
		}
		if id, shared, err = findCustomerFor(ctx, tx, tenantID, pairs, phone); err != nil {
			return CustomerLink{}, err
		}
		if id == "" && shared && len(pairs) == 0 {
			return CustomerLink{}, nil
		}
	}
	if id != "" {
		// The customer learns the identifiers it lacks; one that names another
		// customer, or a key it already has another value for, is left alone.
		for _, p := range pairs {
			if _, err := tx.Exec(ctx, `
				INSERT INTO customer_identifiers (tenant_id, customer_id, key, value) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, tenantID, id, p.key, p.value); err != nil {
				return CustomerLink{}, fmt.Errorf("customer identifier: %w", err)
			}
		}
		return CustomerLink{CustomerID: id}, nil
	}
	_ = cleanCustomerName(&name)
	in := NewCustomer{Name: name, Identifiers: map[string]string{}}
	for _, p := range pairs {
		if _, taken := in.Identifiers[p.key]; !taken {
			in.Identifiers[p.key] = p.value
		}
	}
	if phone != "" {
		in.Phones = []string{phone}
	}
	id, err = insertCustomer(ctx, tx, tenantID, in)
	if err != nil {
		return CustomerLink{}, err
	}
	if err := audit(ctx, tx, tenantID, Actor{}, "customer.created", "customer", id, map[string]string{"source": "first_contact"}); err != nil {
		return CustomerLink{}, err
	}
	return CustomerLink{CustomerID: id, Created: true}, nil
}

// findCustomerFor finds the customer of an identifier (the first of pairs that names
// one), else the one customer with the phone; shared reports a phone several
// customers have.
func findCustomerFor(ctx context.Context, q querier, tenantID string, pairs []identifierPair, phone string) (id string, shared bool, err error) {
	for _, p := range pairs {
		err := q.QueryRow(ctx, `SELECT customer_id::text FROM customer_identifiers WHERE tenant_id = $1 AND key = $2 AND value = $3`,
			tenantID, p.key, p.value).Scan(&id)
		if err == nil {
			return id, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("customer by identifier: %w", err)
		}
	}
	if phone == "" {
		return "", false, nil
	}
	ids, err := customersByPhone(ctx, q, tenantID, phone, 2)
	if err != nil {
		return "", false, fmt.Errorf("customer by phone: %w", err)
	}
	if len(ids) == 1 {
		return ids[0], false, nil
	}
	return "", len(ids) > 1, nil
}

// Journey backfill statuses.
const (
	BackfillRunning   = "running"
	BackfillCompleted = "completed"
	BackfillFailed    = "failed"
)

// JourneyPosition is the last interaction a backfill walked.
type JourneyPosition struct {
	CreatedAt     time.Time `json:"createdAt"`
	InteractionID string    `json:"interactionId"`
}

// JourneyProgress is how far a backfill is.
type JourneyProgress struct {
	// Total is the interactions to walk, counted at the start.
	Total int64 `json:"total"`
	// Processed were walked, Linked of them linked to a customer, for which
	// CustomersCreated customers were created.
	Processed        int64 `json:"processed"`
	Linked           int64 `json:"linked"`
	CustomersCreated int64 `json:"customersCreated"`
	Batches          int   `json:"batches"`
	// Last is the position the next batch starts after; nil before the first.
	Last *JourneyPosition `json:"lastPosition,omitempty"`
	// Done: the walk reached the end.
	Done bool `json:"done"`
}

// JourneyBackfill is a run linking the interactions created before it started.
type JourneyBackfill struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	WorkflowID string `json:"workflowId"`
	// Status is running, completed or failed.
	Status          string   `json:"status"`
	Identifiers     []string `json:"identifiers"`
	CreateCustomers bool     `json:"createCustomers"`
	// Cutoff: the interactions created before it are walked.
	Cutoff time.Time `json:"cutoff"`
	JourneyProgress
	Error       string     `json:"error,omitempty"`
	StartedBy   string     `json:"startedBy,omitempty"`
	StartedAt   time.Time  `json:"startedAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

const backfillColumns = `id::text, tenant_id::text, workflow_id, status, identifiers, create_customers, cutoff, total,
	processed, linked, customers_created, batches, last_created_at, coalesce(last_interaction_id::text, ''),
	coalesce(error, ''), coalesce(started_by::text, ''), started_at, updated_at, completed_at`

func scanBackfill(row pgx.Row) (JourneyBackfill, error) {
	var (
		b      JourneyBackfill
		lastAt *time.Time
		lastID string
	)
	err := row.Scan(&b.ID, &b.TenantID, &b.WorkflowID, &b.Status, &b.Identifiers, &b.CreateCustomers, &b.Cutoff, &b.Total,
		&b.Processed, &b.Linked, &b.CustomersCreated, &b.Batches, &lastAt, &lastID, &b.Error, &b.StartedBy, &b.StartedAt,
		&b.UpdatedAt, &b.CompletedAt)
	if lastAt != nil {
		b.Last = &JourneyPosition{CreatedAt: *lastAt, InteractionID: lastID}
	}
	b.Done = b.Status == BackfillCompleted
	if b.Identifiers == nil {
		b.Identifiers = []string{}
	}
	return b, err
}

func getBackfill(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (JourneyBackfill, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return JourneyBackfill{}, translate(pgx.ErrNoRows, "backfill")
	}
	sql := `SELECT ` + backfillColumns + ` FROM journey_backfills WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	b, err := scanBackfill(q.QueryRow(ctx, sql, tenantID, strings.ToLower(id)))
	return b, translate(err, "backfill")
}

// GetJourneyBackfill reads one backfill of the tenant.
func (s *Store) GetJourneyBackfill(ctx context.Context, tenantID, id string) (JourneyBackfill, error) {
	return getBackfill(ctx, s.pool, tenantID, id, false)
}

// ListJourneyBackfills answers the tenant's backfills, the latest first.
func (s *Store) ListJourneyBackfills(ctx context.Context, tenantID string, limit int) ([]JourneyBackfill, error) {
	if limit == 0 {
		limit = defaultPageSize
	}
	if limit < 1 || limit > maxPageSize {
		return nil, invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+backfillColumns+` FROM journey_backfills WHERE tenant_id = $1
		ORDER BY started_at DESC, id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("list backfills: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyBackfill, error) { return scanBackfill(r) })
	if out == nil {
		out = []JourneyBackfill{}
	}
	return out, err
}

// StartJourneyBackfill records a new running backfill with the tenant's journey
// settings and the count of interactions it will walk (those created before now),
// and audits it as journey.backfill_started. While another one runs, that one is
// answered with started false: a tenant runs one backfill at a time. workflowID
// names the run's workflow from the backfill's ID.
func (s *Store) StartJourneyBackfill(ctx context.Context, tenantID string, actor Actor, id string, workflowID func(id string) string) (JourneyBackfill, bool, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return JourneyBackfill{}, false, invalid("id", "must be a UUID")
	}
	var (
		out     JourneyBackfill
		started bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		settings, err := journeySettings(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if len(settings.Identifiers) == 0 {
			return invalid("identifiers", "the journey has no identifiers to link interactions by: set them with PUT /v1/journey first")
		}
		cutoff := time.Now().UTC()
		var total int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM interactions WHERE tenant_id = $1 AND created_at < $2`,
			tenantID, cutoff).Scan(&total); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO journey_backfills (tenant_id, id, workflow_id, status, identifiers, create_customers, cutoff, total, started_by)
			VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8)`,
			tenantID, id, workflowID(id), settings.Identifiers, settings.CreateOnFirstContact, cutoff, total, nullUUID(actor.UserID))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.ConstraintName == "journey_backfills_running" {
			return errBackfillRunning
		}
		if err != nil {
			return translate(err, "backfill")
		}
		if err := audit(ctx, tx, tenantID, actor, "journey.backfill_started", "journey_backfill", id,
			map[string]any{"identifiers": settings.Identifiers, "createCustomers": settings.CreateOnFirstContact, "total": total}); err != nil {
			return err
		}
		started = true
		out, err = getBackfill(ctx, tx, tenantID, id, false)
		return err
	})
	if errors.Is(err, errBackfillRunning) {
		out, err = s.RunningJourneyBackfill(ctx, tenantID)
		if errors.Is(err, ErrNotFound) {
			// It ended between the insert and this read: start again.
			return s.StartJourneyBackfill(ctx, tenantID, actor, id, workflowID)
		}
		return out, false, err
	}
	return out, started, err
}

var errBackfillRunning = errors.New("a backfill is running")

// RunningJourneyBackfill answers the tenant's running backfill, or ErrNotFound.
func (s *Store) RunningJourneyBackfill(ctx context.Context, tenantID string) (JourneyBackfill, error) {
	b, err := scanBackfill(s.pool.QueryRow(ctx, `SELECT `+backfillColumns+` FROM journey_backfills
		WHERE tenant_id = $1 AND status = 'running'`, tenantID))
	return b, translate(err, "running backfill")
}

// FinishJourneyBackfill ends a running backfill: completed, or failed with the reason.
// Ending one that already ended changes nothing.
func (s *Store) FinishJourneyBackfill(ctx context.Context, tenantID, id string, failure string) (JourneyBackfill, error) {
	status := BackfillCompleted
	if failure != "" {
		status = BackfillFailed
	}
	var out JourneyBackfill
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getBackfill(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if cur.Status == BackfillRunning {
			if _, err := tx.Exec(ctx, `
				UPDATE journey_backfills SET status = $3, error = $4, completed_at = now(), updated_at = now()
				WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID, status, nullText(failure)); err != nil {
				return err
			}
			if err := audit(ctx, tx, tenantID, Actor{}, "journey.backfill_"+status, "journey_backfill", cur.ID,
				map[string]any{"processed": cur.Processed, "linked": cur.Linked, "error": failure}); err != nil {
				return err
			}
		}
		out, err = getBackfill(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// JourneyCandidate is an interaction a backfill batch walks.
type JourneyCandidate struct {
	ID         string
	WorkflowID string
	Status     InteractionStatus
	CustomerID string
	Phone      string
	Name       string
	Metadata   map[string]string
	CreatedAt  time.Time
}

// JourneyBatch is the next batch of a backfill: the interactions after its committed
// position, with what the backfill links them by.
type JourneyBatch struct {
	Backfill JourneyBackfill
	// From is the committed position the batch starts after (nil: the start).
	From  *JourneyPosition
	Items []JourneyCandidate
	// Last: no interaction is left after these.
	Last bool
}

// NextJourneyBatch reads up to limit interactions after the backfill's committed
// position, oldest first. The position is the database's, so a batch retried after
// its commit reads the next one.
func (s *Store) NextJourneyBatch(ctx context.Context, tenantID, backfillID string, limit int) (JourneyBatch, error) {
	if limit < 1 || limit > 5000 {
		return JourneyBatch{}, invalid("limit", "must be between 1 and 5000")
	}
	b, err := getBackfill(ctx, s.pool, tenantID, backfillID, false)
	if err != nil {
		return JourneyBatch{}, err
	}
	out := JourneyBatch{Backfill: b, From: b.Last}
	if b.Status != BackfillRunning {
		out.Last = true
		return out, nil
	}
	after, afterID := time.Time{}, "00000000-0000-0000-0000-000000000000"
	if b.Last != nil {
		after, afterID = b.Last.CreatedAt, b.Last.InteractionID
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, workflow_id, status, coalesce(customer_id, ''), coalesce(customer_phone, ''),
			coalesce(customer_name, ''), metadata, created_at
		FROM interactions
		WHERE tenant_id = $1 AND created_at < $2 AND (created_at, id) > ($3, $4::uuid)
		ORDER BY created_at, id LIMIT $5`, tenantID, b.Cutoff, after, afterID, limit+1)
	if err != nil {
		return JourneyBatch{}, fmt.Errorf("backfill batch: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyCandidate, error) {
		var c JourneyCandidate
		err := r.Scan(&c.ID, &c.WorkflowID, &c.Status, &c.CustomerID, &c.Phone, &c.Name, &c.Metadata, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return JourneyBatch{}, fmt.Errorf("backfill batch: %w", err)
	}
	out.Last = len(items) <= limit
	if !out.Last {
		items = items[:limit]
	}
	out.Items = items
	return out, nil
}

// Pairs reports whether the candidate carries one of the backfill's identifiers and
// is not linked yet: whether the backfill links it.
func (b JourneyBackfill) Pairs(c JourneyCandidate) bool {
	return c.CustomerID == "" && len(identifierPairs(b.Identifiers, c.Metadata)) > 0
}

// backfillResolveChunk bounds the candidates resolved in one transaction, and so the
// advisory locks one transaction holds.
const backfillResolveChunk = 100

// ResolveBackfillCustomers finds (or, when the backfill creates customers, creates)
// the customer of each candidate by the identifiers it carries, as a new
// interaction's customer is found but without the phone; the links answered are in
// the candidates' order (empty: no customer). Candidates are resolved in order, a
// hundred to a transaction, so a customer created for one is found for the next; the
// customers created are counted in the backfill's progress in the same transactions.
func (s *Store) ResolveBackfillCustomers(ctx context.Context, b JourneyBackfill, cands []JourneyCandidate) ([]CustomerLink, error) {
	out := make([]CustomerLink, len(cands))
	for from := 0; from < len(cands); from += backfillResolveChunk {
		chunk := cands[from:min(from+backfillResolveChunk, len(cands))]
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			created := 0
			for i, c := range chunk {
				pairs := identifierPairs(b.Identifiers, c.Metadata)
				if len(pairs) == 0 {
					out[from+i] = CustomerLink{}
					continue
				}
				link, err := resolveCustomer(ctx, tx, b.TenantID, pairs, "", c.Name, b.CreateCustomers)
				if err != nil {
					return fmt.Errorf("customer of interaction %s: %w", c.ID, err)
				}
				out[from+i] = link
				if link.Created {
					created++
				}
			}
			if created == 0 {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE journey_backfills SET customers_created = customers_created + $3, updated_at = now()
				WHERE tenant_id = $1 AND id = $2`, b.TenantID, b.ID, created)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// JourneyLink links an interaction whose workflow is over to a customer.
type JourneyLink struct {
	InteractionID string `json:"interactionId"`
	CustomerID    string `json:"customerId"`
}

// CommitJourneyBatch records a batch's walk: the links of interactions that are over
// (disposed or abandoned, whose workflows no longer write), written to the read model
// with a timeline entry, and the progress (processed, linked: linkedLive linked
// through their workflows plus those written here, the new position). It commits only
// when the backfill's position is still from: a batch already committed (a retry)
// changes nothing. It answers the backfill's progress.
func (s *Store) CommitJourneyBatch(ctx context.Context, tenantID, backfillID string, from, to *JourneyPosition, processed int, linkedLive int, links []JourneyLink) (JourneyBackfill, error) {
	var out JourneyBackfill
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getBackfill(ctx, tx, tenantID, backfillID, true)
		if err != nil {
			return err
		}
		if cur.Status != BackfillRunning || !samePosition(cur.Last, from) {
			out = cur
			return nil
		}
		linked := int64(linkedLive)
		if len(links) > 0 {
			ids, customers := make([]string, len(links)), make([]string, len(links))
			for i, l := range links {
				ids[i], customers[i] = l.InteractionID, l.CustomerID
			}
			// One statement links them all (skipping any linked meanwhile, or not over
			// after all) with their timeline entries.
			var n int64
			if err := tx.QueryRow(ctx, `
				WITH l AS (SELECT * FROM unnest($3::uuid[], $4::text[]) AS l (id, customer_id)),
				u AS (
					UPDATE interactions i SET customer_id = l.customer_id, updated_at = now()
					FROM l WHERE i.tenant_id = $1 AND i.id = l.id AND i.customer_id IS NULL
						AND i.status IN ('disposed', 'abandoned')
					RETURNING i.id, i.version, i.status, i.agent_id, i.customer_id),
				e AS (
					INSERT INTO interaction_events (tenant_id, interaction_id, version, type, at, agent_id, status, data)
					SELECT $1, u.id, u.version, 'customerLinkedToInteraction', now(), u.agent_id, u.status,
						jsonb_build_object('customerId', u.customer_id, 'journeyBackfillId', $2::text)
					FROM u ON CONFLICT DO NOTHING)
				SELECT count(*) FROM u`, tenantID, cur.ID, ids, customers).Scan(&n); err != nil {
				return fmt.Errorf("link interactions: %w", err)
			}
			linked += n
		}
		var lastAt any
		var lastID any
		if to != nil {
			lastAt, lastID = to.CreatedAt, to.InteractionID
		}
		if _, err := tx.Exec(ctx, `
			UPDATE journey_backfills SET processed = processed + $3, linked = linked + $4, batches = batches + 1,
				last_created_at = coalesce($5, last_created_at), last_interaction_id = coalesce($6::uuid, last_interaction_id),
				updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID, processed, linked, lastAt, lastID); err != nil {
			return err
		}
		out, err = getBackfill(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

func samePosition(a, b *JourneyPosition) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.InteractionID == b.InteractionID && a.CreatedAt.Equal(b.CreatedAt)
}
