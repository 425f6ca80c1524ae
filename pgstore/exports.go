package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// ExportStatus is where an export of the interaction history stands.
type ExportStatus string

// The export statuses: queued → running → completed or failed; completed → expired
// once its file is removed.
const (
	ExportQueued    ExportStatus = "queued"
	ExportRunning   ExportStatus = "running"
	ExportCompleted ExportStatus = "completed"
	ExportFailed    ExportStatus = "failed"
	ExportExpired   ExportStatus = "expired"
)

// ExportFilter is the history search an export runs: HistoryFilter's fields without
// its paging, as the export keeps them.
type ExportFilter struct {
	Q                  string            `json:"q,omitempty"`
	From               *time.Time        `json:"from,omitempty"`
	To                 *time.Time        `json:"to,omitempty"`
	CampaignID         string            `json:"campaignId,omitempty"`
	QueueID            string            `json:"queueId,omitempty"`
	DispositionCodeID  string            `json:"dispositionCodeId,omitempty"`
	DispositionClassID string            `json:"dispositionClassId,omitempty"`
	Channel            routing.Channel   `json:"channel,omitempty"`
	Status             InteractionStatus `json:"status,omitempty"`
	Direction          Direction         `json:"direction,omitempty"`
	AgentID            string            `json:"agentId,omitempty"`
	// VisibleTo limits an agent's export to their own history, as the history
	// search does for them.
	VisibleTo string `json:"visibleTo,omitempty"`
}

// History is the history search of the filter, one page of limit rows.
func (f ExportFilter) History(limit int) HistoryFilter {
	h := HistoryFilter{Q: f.Q, CampaignID: f.CampaignID, QueueID: f.QueueID, DispositionCodeID: f.DispositionCodeID,
		DispositionClassID: f.DispositionClassID, Channel: f.Channel, Status: f.Status, Direction: f.Direction,
		AgentID: f.AgentID, VisibleTo: f.VisibleTo, Limit: limit}
	if f.From != nil {
		h.From = *f.From
	}
	if f.To != nil {
		h.To = *f.To
	}
	return h
}

// Validate checks the filter as the history search does and normalizes it.
func (f *ExportFilter) Validate() error {
	h := f.History(0)
	if err := h.Validate(); err != nil {
		return err
	}
	f.Q, f.CampaignID, f.QueueID, f.DispositionCodeID, f.DispositionClassID, f.AgentID, f.VisibleTo =
		h.Q, h.CampaignID, h.QueueID, h.DispositionCodeID, h.DispositionClassID, h.AgentID, h.VisibleTo
	for _, t := range []**time.Time{&f.From, &f.To} {
		if *t != nil {
			if (*t).IsZero() {
				*t = nil
			} else {
				u := (*t).UTC()
				*t = &u
			}
		}
	}
	return nil
}

// Export is an export of the interaction history to a CSV file.
type Export struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// RequestedBy is the user who asked for it; agents see only their own.
	RequestedBy string       `json:"requestedBy"`
	Filter      ExportFilter `json:"filter"`
	Status      ExportStatus `json:"status"`
	// RowCount is the interactions written so far (the header excluded).
	RowCount  int64  `json:"rowCount"`
	SizeBytes *int64 `json:"sizeBytes,omitempty"`
	// FileName is the file under the exports directory (completed only).
	FileName string `json:"-"`
	// Error says why it failed.
	Error string `json:"error,omitempty"`
	// Attempts counts the runs of the export so far; a run after a crash counts.
	Attempts    int        `json:"attempts"`
	CreatedAt   time.Time  `json:"createdAt"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	// ExpiresAt is when a completed export's file is removed.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// NewExport is an export to create.
type NewExport struct {
	// ID is chosen by the caller, so that the export's workflow can be named
	// before the row exists.
	ID          string
	RequestedBy string
	Filter      ExportFilter
}

// maxExportError bounds the error message kept with a failed export.
const maxExportError = 2000

const exportColumns = `id::text, tenant_id::text, requested_by::text, filter, status, row_count, size_bytes,
	coalesce(file_name, ''), coalesce(error, ''), attempts, created_at, started_at, completed_at, expires_at, updated_at`

func scanExport(row pgx.Row) (Export, error) {
	var e Export
	var filter []byte
	err := row.Scan(&e.ID, &e.TenantID, &e.RequestedBy, &filter, &e.Status, &e.RowCount, &e.SizeBytes, &e.FileName,
		&e.Error, &e.Attempts, &e.CreatedAt, &e.StartedAt, &e.CompletedAt, &e.ExpiresAt, &e.UpdatedAt)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(filter, &e.Filter); err != nil {
		return e, fmt.Errorf("export %s: filter: %w", e.ID, err)
	}
	return e, nil
}

// CreateExport records a queued export; its workflow then produces it.
func (s *Store) CreateExport(ctx context.Context, tenantID string, actor Actor, in NewExport) (Export, error) {
	if !isUUID(in.ID) {
		return Export{}, invalid("id", "must be an export ID")
	}
	if !isUUID(in.RequestedBy) {
		return Export{}, invalid("requestedBy", "must be a user ID")
	}
	if err := in.Filter.Validate(); err != nil {
		return Export{}, err
	}
	filter, err := json.Marshal(in.Filter)
	if err != nil {
		return Export{}, err
	}
	var out Export
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		out, err = scanExport(tx.QueryRow(ctx, `
			INSERT INTO interaction_exports (tenant_id, id, requested_by, filter) VALUES ($1, $2, $3, $4)
			RETURNING `+exportColumns, tenantID, in.ID, in.RequestedBy, filter))
		if err != nil {
			return translate(err, "export "+in.ID)
		}
		return audit(ctx, tx, tenantID, actor, "export.requested", "interaction_export", out.ID, in.Filter)
	})
	return out, err
}

// GetExport reads one export of the tenant.
func (s *Store) GetExport(ctx context.Context, tenantID, id string) (Export, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Export{}, translate(pgx.ErrNoRows, "export")
	}
	e, err := scanExport(s.pool.QueryRow(ctx, `SELECT `+exportColumns+` FROM interaction_exports WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return e, translate(err, "export")
}

// ExportListFilter selects a tenant's exports, newest first.
type ExportListFilter struct {
	// RequestedBy keeps one user's exports (an agent's own).
	RequestedBy string
	Page
}

// ListExports lists the tenant's exports, newest first; Page.After is the last ID of
// the previous page.
func (s *Store) ListExports(ctx context.Context, tenantID string, f ExportListFilter) ([]Export, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	if f.RequestedBy != "" && !isUUID(f.RequestedBy) {
		return nil, invalid("requestedBy", "must be a user ID")
	}
	if !isUUID(tenantID) {
		return []Export{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+exportColumns+` FROM interaction_exports
		WHERE tenant_id = $1 AND ($2::uuid IS NULL OR requested_by = $2)
		  AND ($3::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM interaction_exports WHERE tenant_id = $1 AND id = $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`, tenantID, nullUUID(f.RequestedBy), nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
	if out == nil {
		out = []Export{}
	}
	return out, err
}

// StartExport begins a run of the export: a queued or running one becomes running
// and counts the attempt, which the run's completion names. An export that is
// already over is answered as it is, unchanged.
func (s *Store) StartExport(ctx context.Context, tenantID, id string) (Export, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Export{}, translate(pgx.ErrNoRows, "export")
	}
	e, err := scanExport(s.pool.QueryRow(ctx, `
		UPDATE interaction_exports SET status = 'running', attempts = attempts + 1, row_count = 0,
			started_at = coalesce(started_at, now()), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')
		RETURNING `+exportColumns, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s.GetExport(ctx, tenantID, id)
	}
	return e, translate(err, "export")
}

// ExportProgress records how many rows the run has written so far.
func (s *Store) ExportProgress(ctx context.Context, tenantID, id string, attempt int, rows int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE interaction_exports SET row_count = $4, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3`, tenantID, id, attempt, rows)
	return err
}

// ExportFile is the file a run of an export wrote.
type ExportFile struct {
	// Attempt is the run's attempt (Export.Attempts as StartExport answered it).
	Attempt   int
	FileName  string
	Rows      int64
	SizeBytes int64
	ExpiresAt time.Time
}

// CompleteExport records the run's file: the export is completed. Only the latest
// run of a running export completes it; another (a run given up for a newer one)
// gets ErrConflict, and its file is not the export's.
func (s *Store) CompleteExport(ctx context.Context, tenantID, id string, f ExportFile) (Export, error) {
	if f.FileName == "" || utf8.RuneCountInString(f.FileName) > 300 {
		return Export{}, invalid("fileName", "is required and at most 300 characters")
	}
	e, err := scanExport(s.pool.QueryRow(ctx, `
		UPDATE interaction_exports SET status = 'completed', file_name = $4, row_count = $5, size_bytes = $6,
			completed_at = now(), expires_at = $7, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3
		RETURNING `+exportColumns, tenantID, id, f.Attempt, f.FileName, f.Rows, f.SizeBytes, f.ExpiresAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, fmt.Errorf("export %s is no longer run by attempt %d: %w", id, f.Attempt, ErrConflict)
	}
	return e, translate(err, "export")
}

// FailExport records why the export failed; an export already over stays as it is.
func (s *Store) FailExport(ctx context.Context, tenantID, id, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "the export failed"
	}
	if utf8.RuneCountInString(reason) > maxExportError {
		reason = string([]rune(reason)[:maxExportError-1]) + "…"
	}
	_, err := s.pool.Exec(ctx, `UPDATE interaction_exports SET status = 'failed', error = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')`, tenantID, id, reason)
	return err
}

// ExpireExport marks a completed export expired and answers its file name, for the
// caller to remove; "" when it was not completed (expired already, or failed).
func (s *Store) ExpireExport(ctx context.Context, tenantID, id string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `UPDATE interaction_exports SET status = 'expired', updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status IN ('completed', 'expired') RETURNING file_name`, tenantID, id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// ExportRow is one interaction as an export writes it: its state with the names of
// its queue, campaign and agent as they are now, and how many notes it has.
type ExportRow struct {
	Interaction
	QueueName    string
	CampaignName string
	AgentName    string
	Notes        int
}

// ExportPageSize is how many interactions an export reads at a time.
const ExportPageSize = maxPageSize

// ExportRows reads the interactions of the filter, newest first, a page at a time
// (the history search's pages, so the export holds exactly what the search shows),
// and hands each page to fn before reading the next. The pages are read one after
// another, not as one snapshot: an interaction that changes meanwhile is written as
// its page read it, and one created meanwhile is newer than the first page and left
// out.
func (s *Store) ExportRows(ctx context.Context, tenantID string, f ExportFilter, fn func([]ExportRow) error) error {
	h := f.History(ExportPageSize)
	for {
		page, err := s.SearchHistory(ctx, tenantID, h)
		if err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return nil
		}
		rows, err := s.exportDetails(ctx, tenantID, page.Items)
		if err != nil {
			return err
		}
		if err := fn(rows); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		h.Cursor = page.NextCursor
	}
}

// exportDetails adds the names and note counts of a page of interactions, in one
// query.
func (s *Store) exportDetails(ctx context.Context, tenantID string, items []Interaction) ([]ExportRow, error) {
	ids := make([]string, len(items))
	for i, in := range items {
		ids[i] = in.ID
	}
	rows, err := s.pool.Query(ctx, `
		SELECT i.id::text, coalesce(q.name, ''), coalesce(c.name, ''), coalesce(u.name, ''),
		       (SELECT count(*) FROM interaction_notes n WHERE n.tenant_id = i.tenant_id AND n.interaction_id = i.id)
		FROM interactions i
		LEFT JOIN queues q ON q.tenant_id = i.tenant_id AND q.id = i.queue_id
		LEFT JOIN campaigns c ON c.tenant_id = i.tenant_id AND c.id = i.campaign_id
		LEFT JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.agent_id
		WHERE i.tenant_id = $1 AND i.id = ANY($2::uuid[])`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("export details: %w", err)
	}
	type names struct {
		queue, campaign, agent string
		notes                  int
	}
	byID := map[string]names{}
	for rows.Next() {
		var id string
		var n names
		if err := rows.Scan(&id, &n.queue, &n.campaign, &n.agent, &n.notes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("export details: %w", err)
		}
		byID[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export details: %w", err)
	}
	out := make([]ExportRow, len(items))
	for i, in := range items {
		n := byID[in.ID]
		out[i] = ExportRow{Interaction: in, QueueName: n.queue, CampaignName: n.campaign, AgentName: n.agent, Notes: n.notes}
	}
	return out, nil
}
