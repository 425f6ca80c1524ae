package activities

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
)

// ErrTypeInvalidExport marks an export that cannot be produced as asked (its filter
// is refused, it no longer exists, or no export directory is configured); retrying
// cannot help.
const ErrTypeInvalidExport = "InvalidExport"

// ExportRetention is how long a completed export's file is kept.
const ExportRetention = 7 * 24 * time.Hour

// ExportColumns is the header row of an export, one column per field of an
// interaction; times are RFC 3339 in UTC and durations whole seconds.
var ExportColumns = []string{
	"interactionId", "createdAt", "channel", "source", "direction", "status", "outcome",
	"queueId", "queue", "campaignId", "campaign", "agentId", "agent",
	"customerName", "customerPhone", "customerId",
	"queuedAt", "connectedAt", "endedAt", "waitSeconds", "talkSeconds", "holdSeconds", "wrapUpSeconds",
	"offers", "transfers", "dispositionClass", "dispositionCode", "dispositionAuto", "dispositionNotes",
	"notes", "endReason", "tags",
}

// ExportRecord is an interaction's row of an export, in the order of ExportColumns,
// every cell safe to open in a spreadsheet (csvCell).
func ExportRecord(r pgstore.ExportRow) []string {
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	secs := func(from, to *time.Time, minus int) string {
		if from == nil || to == nil {
			return ""
		}
		return strconv.FormatInt(max(int64(to.Sub(*from)/time.Second)-int64(minus), 0), 10)
	}
	queued := r.QueuedAt
	// The wait ends when an agent took it, or when it ended without one.
	waitEnd := r.ConnectedAt
	if waitEnd == nil && r.AgentID == "" {
		waitEnd = r.EndedAt
	}
	var class, code, auto, dnotes string
	if d := r.Disposition; d != nil {
		class, code, auto, dnotes = d.Class, d.Code, strconv.FormatBool(d.Auto), d.Notes
	}
	rec := []string{
		r.ID, ts(&r.CreatedAt), string(r.Channel), r.Source, string(r.Direction), string(r.Status), string(r.Outcome),
		r.QueueID, r.QueueName, r.CampaignID, r.CampaignName, r.AgentID, r.AgentName,
		r.CustomerName, r.CustomerPhone, r.CustomerID,
		ts(&queued), ts(r.ConnectedAt), ts(r.EndedAt), secs(&queued, waitEnd, 0), secs(r.ConnectedAt, r.EndedAt, r.HoldSeconds),
		strconv.Itoa(r.HoldSeconds), secs(r.EndedAt, r.DisposedAt, 0),
		strconv.Itoa(r.Offers), strconv.Itoa(r.Transfers), class, code, auto, dnotes,
		strconv.Itoa(r.Notes), r.EndReason, strings.Join(r.Tags, ";"),
	}
	for i, v := range rec {
		rec[i] = csvCell(v)
	}
	return rec
}

// csvCell makes a value safe to open in a spreadsheet: one that starts like a
// formula (=, +, -, @, or a tab or carriage return before one) is prefixed with an
// apostrophe, so that it is shown as text and never evaluated (CSV injection).
// Quoting is the CSV writer's.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// exportProgressEvery is how often a run records its row count so far.
const exportProgressEvery = 2 * time.Second

// ExportRequest names an export of a tenant.
type ExportRequest struct {
	TenantID string `json:"tenantId"`
	ExportID string `json:"exportId"`
}

// ExportResult is how a run of an export ended.
type ExportResult struct {
	Status    pgstore.ExportStatus `json:"status"`
	Rows      int64                `json:"rows"`
	SizeBytes int64                `json:"sizeBytes"`
	// ExpiresAt is when the file is removed (completed only).
	ExpiresAt time.Time `json:"expiresAt"`
}

// exportRefused makes an error that retrying cannot help non-retryable.
func exportRefused(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidExport, err)
}

// RunExport produces an export: it reads the interactions of the export's filter
// from PostgreSQL a page at a time and writes them as CSV to a file of this run,
// <exports dir>/<tenant>/<export>.<attempt>.csv, through a temporary name renamed
// once the file is complete and synced, so a file under the final name is always
// whole. Each run counts as an attempt and starts over: a run after a crash writes
// its own file, and only the latest run completes the export (the record names its
// file). An export that is over is answered as it is.
func (a *Activities) RunExport(ctx context.Context, in ExportRequest) (ExportResult, error) {
	ex, err := a.Store.StartExport(ctx, in.TenantID, in.ExportID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return ExportResult{}, exportRefused(err)
	}
	if err != nil {
		return ExportResult{}, err
	}
	if ex.Status != pgstore.ExportRunning {
		out := ExportResult{Status: ex.Status, Rows: ex.RowCount}
		if ex.SizeBytes != nil {
			out.SizeBytes = *ex.SizeBytes
		}
		if ex.ExpiresAt != nil {
			out.ExpiresAt = *ex.ExpiresAt
		}
		return out, nil
	}
	if a.ExportDir == "" {
		return ExportResult{}, exportRefused(errors.New("no export directory is configured (SWITCHBOARD_DATA_DIR)"))
	}
	name := filepath.Join(in.TenantID, fmt.Sprintf("%s.%d.csv", in.ExportID, ex.Attempts))
	final := filepath.Join(a.ExportDir, name)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return ExportResult{}, fmt.Errorf("export directory: %w", err)
	}
	rows, size, err := a.writeExport(ctx, ex, final)
	var invalid *pgstore.ValidationError
	if errors.As(err, &invalid) {
		return ExportResult{}, exportRefused(err)
	}
	if err != nil {
		return ExportResult{}, err
	}
	expires := time.Now().Add(ExportRetention).UTC()
	done, err := a.Store.CompleteExport(ctx, in.TenantID, in.ExportID, pgstore.ExportFile{
		Attempt: ex.Attempts, FileName: filepath.ToSlash(name), Rows: rows, SizeBytes: size, ExpiresAt: expires})
	if err != nil {
		// A newer run took over (this one was given up for lost): its file is
		// the export's, not this one's.
		os.Remove(final)
		if errors.Is(err, pgstore.ErrConflict) {
			return ExportResult{}, exportRefused(err)
		}
		return ExportResult{}, err
	}
	return ExportResult{Status: done.Status, Rows: done.RowCount, SizeBytes: size, ExpiresAt: *done.ExpiresAt}, nil
}

// writeExport writes the export's CSV file at path (through path+".part") and
// answers its rows and size.
func (a *Activities) writeExport(ctx context.Context, ex pgstore.Export, path string) (rows, size int64, err error) {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("create export file: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	buf := bufio.NewWriterSize(f, 64<<10)
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	if err := w.Write(ExportColumns); err != nil {
		return 0, 0, err
	}
	// The record's row count is progress for whoever polls the export; written
	// every exportProgressEvery, not every page, as each write is a commit.
	lastProgress := time.Now()
	err = a.Store.ExportRows(ctx, ex.TenantID, ex.Filter, func(page []pgstore.ExportRow) error {
		for _, r := range page {
			if err := w.Write(ExportRecord(r)); err != nil {
				return fmt.Errorf("write export file: %w", err)
			}
		}
		rows += int64(len(page))
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("write export file: %w", err)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, rows)
		}
		if time.Since(lastProgress) >= exportProgressEvery {
			lastProgress = time.Now()
			if err := a.Store.ExportProgress(ctx, ex.TenantID, ex.ID, ex.Attempts, rows); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, 0, err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, 0, fmt.Errorf("write export file: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return 0, 0, fmt.Errorf("write export file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, 0, fmt.Errorf("sync export file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, fmt.Errorf("close export file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, fmt.Errorf("rename export file: %w", err)
	}
	renamed = true
	// The rename is durable once the directory is synced.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return rows, st.Size(), nil
}

// ExportFailure records why an export failed.
type ExportFailure struct {
	TenantID string `json:"tenantId"`
	ExportID string `json:"exportId"`
	Reason   string `json:"reason"`
}

// FailExport marks the export failed with the reason; one that is over stays as it
// is.
func (a *Activities) FailExport(ctx context.Context, in ExportFailure) error {
	return a.Store.FailExport(ctx, in.TenantID, in.ExportID, in.Reason)
}

// ExpireExport marks a completed export expired and removes its file; repeating it
// changes nothing.
func (a *Activities) ExpireExport(ctx context.Context, in ExportRequest) error {
	name, err := a.Store.ExpireExport(ctx, in.TenantID, in.ExportID)
	if err != nil || name == "" || a.ExportDir == "" {
		return err
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return exportRefused(fmt.Errorf("export %s names a file outside the exports directory: %q", in.ExportID, name))
	}
	if err := os.Remove(filepath.Join(a.ExportDir, filepath.FromSlash(name))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove export file: %w", err)
	}
	return nil
}
