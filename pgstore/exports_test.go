package pgstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
)

// exportRows collects what ExportRows hands over, page by page.
func exportRows(t *testing.T, tenantID string, f pgstore.ExportFilter) (rows []pgstore.ExportRow, pages int) {
	t.Helper()
	err := store.ExportRows(testContext(t), tenantID, f, func(page []pgstore.ExportRow) error {
		pages++
		rows = append(rows, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, pages
}

func rowIDs(x *historyFixture, rows []pgstore.ExportRow) string {
	items := make([]pgstore.Interaction, len(rows))
	for i, r := range rows {
		items[i] = r.Interaction
	}
	return x.ids(items)
}

// An export holds exactly what the history search with its filter shows, newest
// first, with the names of the queue, campaign and agent and the note count.
func TestExportRowsFollowTheHistoryFilter(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	x := newHistoryFixture(t)
	for i := range 3 {
		if _, err := store.AddNote(ctx, pgstore.Note{ID: uuid.NewString(), TenantID: x.tid, InteractionID: x.a.ID, AuthorID: x.ana.ID,
			Body: "note", CreatedAt: x.t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	from, to := x.c.CreatedAt, x.e.CreatedAt
	for _, tc := range []struct {
		name string
		f    pgstore.ExportFilter
		want string
	}{
		{"everything", pgstore.ExportFilter{}, "f,e,d,c,b,a"},
		{"campaign", pgstore.ExportFilter{CampaignID: x.renewals.ID}, "d,a"},
		{"queue", pgstore.ExportFilter{QueueID: x.sales.ID}, "c,a"},
		{"channel", pgstore.ExportFilter{Channel: routing.Voice}, "f,d,a"},
		{"disposition", pgstore.ExportFilter{DispositionCodeID: x.sale.Codes[0].ID}, "a"},
		{"agent", pgstore.ExportFilter{AgentID: x.bo.ID}, "f,d,b"},
		{"an agent's own", pgstore.ExportFilter{VisibleTo: x.ana.ID}, "f,d,b,a"},
		{"range", pgstore.ExportFilter{From: &from, To: &to}, "d,c"},
		{"search", pgstore.ExportFilter{Q: "ana"}, "c,a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, _ := exportRows(t, x.tid, tc.f)
			if got := rowIDs(x, rows); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	rows, _ := exportRows(t, x.tid, pgstore.ExportFilter{Q: x.a.ID})
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	if r := rows[0]; r.QueueName != "Sales" || r.CampaignName != "Renewals" || r.AgentName != x.ana.Name || r.Notes != 3 ||
		r.Disposition == nil || r.Disposition.Code != "Renewed" {
		t.Errorf("a's row: queue %q, campaign %q, agent %q, %d notes, disposition %+v", r.QueueName, r.CampaignName, r.AgentName, r.Notes, r.Disposition)
	}
	rows, _ = exportRows(t, x.tid, pgstore.ExportFilter{Q: x.e.ID})
	if r := rows[0]; r.QueueName != "Default" || r.CampaignName != "Default" || r.AgentName != "" || r.Notes != 0 {
		t.Errorf("e's row: queue %q, campaign %q, agent %q, %d notes", r.QueueName, r.CampaignName, r.AgentName, r.Notes)
	}
}

// More interactions than a page are read in pages, each once, in order.
func TestExportRowsPages(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	n := pgstore.ExportPageSize*2 + 7
	// Written in one statement: the export reads them, however they were written.
	if _, err := pool.Exec(ctx, `
		INSERT INTO interactions (tenant_id, id, workflow_id, channel, direction, queue_id, priority, status, queued_at, version, created_at)
		SELECT $1, gen_random_uuid(), 'interaction/x' || g, 'email', 'inbound', $2, 0, 'queued', $3::timestamptz + g * interval '1 second', 1,
		       $3::timestamptz + g * interval '1 second'
		FROM generate_series(1, $4) g`, tid, q, t0, n); err != nil {
		t.Fatal(err)
	}
	rows, pages := exportRows(t, tid, pgstore.ExportFilter{})
	if len(rows) != n || pages != 3 {
		t.Fatalf("%d rows in %d pages, want %d in 3", len(rows), pages, n)
	}
	seen := map[string]bool{}
	for i, r := range rows {
		if seen[r.ID] {
			t.Fatalf("row %d: %s twice", i, r.ID)
		}
		seen[r.ID] = true
		if i > 0 && !r.CreatedAt.Before(rows[i-1].CreatedAt) {
			t.Fatalf("row %d is not older than the one before", i)
		}
	}
	// A failing consumer stops the reading.
	boom := errors.New("disk full")
	calls := 0
	err := store.ExportRows(ctx, tid, pgstore.ExportFilter{}, func([]pgstore.ExportRow) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("ExportRows with a failing consumer: %v after %d pages", err, calls)
	}
}

// An export's record goes queued → running → completed → expired, each run counted;
// only the latest run completes it, and one that is over stays as it is.
func TestExportRecord(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	from := time.Date(2026, 11, 2, 0, 0, 0, 0, time.FixedZone("CET", 3600))

	_, err := store.CreateExport(ctx, tid, pgstore.Actor{}, pgstore.NewExport{ID: uuid.NewString(), RequestedBy: agent.ID,
		Filter: pgstore.ExportFilter{Channel: "fax"}})
	var v *pgstore.ValidationError
	if !errors.As(err, &v) || v.Field != "channel" {
		t.Errorf("an unknown channel: %v", err)
	}
	_, err = store.CreateExport(ctx, tid, pgstore.Actor{}, pgstore.NewExport{ID: uuid.NewString(), RequestedBy: agent.ID,
		Filter: pgstore.ExportFilter{QueueID: "sales"}})
	if !errors.As(err, &v) || v.Field != "queueId" {
		t.Errorf("a queue that is no ID: %v", err)
	}

	id := uuid.NewString()
	e, err := store.CreateExport(ctx, tid, pgstore.Actor{UserID: agent.ID}, pgstore.NewExport{ID: id, RequestedBy: agent.ID,
		Filter: pgstore.ExportFilter{VisibleTo: strings.ToUpper(agent.ID), Q: "  ana ", From: &from}})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != id || e.Status != pgstore.ExportQueued || e.RequestedBy != agent.ID || e.Filter.VisibleTo != agent.ID || e.Filter.Q != "ana" ||
		e.Filter.From == nil || !e.Filter.From.Equal(from) || e.Filter.From.Location() != time.UTC || e.Attempts != 0 {
		t.Errorf("created %+v", e)
	}
	if _, err := store.CreateExport(ctx, tid, pgstore.Actor{}, pgstore.NewExport{ID: id, RequestedBy: agent.ID}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("the same ID again: %v", err)
	}
	other := newTenant(t).Tenant.ID
	if _, err := store.GetExport(ctx, other, id); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant reads it: %v", err)
	}
	supID := uuid.NewString()
	if _, err := store.CreateExport(ctx, tid, pgstore.Actor{}, pgstore.NewExport{ID: supID, RequestedBy: sup.ID}); err != nil {
		t.Fatal(err)
	}
	list := func(f pgstore.ExportListFilter) []string {
		t.Helper()
		es, err := store.ListExports(ctx, tid, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		return ids
	}
	if got := list(pgstore.ExportListFilter{}); len(got) != 2 || got[0] != supID || got[1] != id {
		t.Errorf("the tenant's exports, newest first: %v", got)
	}
	if got := list(pgstore.ExportListFilter{RequestedBy: agent.ID}); len(got) != 1 || got[0] != id {
		t.Errorf("the agent's own: %v", got)
	}
	if got := list(pgstore.ExportListFilter{Page: pgstore.Page{Limit: 1, After: supID}}); len(got) != 1 || got[0] != id {
		t.Errorf("the page after the newest: %v", got)
	}
	if es, err := store.ListExports(ctx, other, pgstore.ExportListFilter{}); err != nil || len(es) != 0 {
		t.Errorf("another tenant's list: %v, %v", es, err)
	}

	first, err := store.StartExport(ctx, tid, id)
	if err != nil || first.Status != pgstore.ExportRunning || first.Attempts != 1 || first.StartedAt == nil {
		t.Fatalf("started %+v, %v", first, err)
	}
	if err := store.ExportProgress(ctx, tid, id, 1, 40); err != nil {
		t.Fatal(err)
	}
	// A crash: the next run starts over and is attempt 2.
	second, err := store.StartExport(ctx, tid, id)
	if err != nil || second.Attempts != 2 || second.RowCount != 0 || !second.StartedAt.Equal(*first.StartedAt) {
		t.Fatalf("restarted %+v, %v", second, err)
	}
	expires := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := store.CompleteExport(ctx, tid, id, pgstore.ExportFile{Attempt: 1, FileName: "old.csv", Rows: 1, SizeBytes: 10, ExpiresAt: expires}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("the abandoned run completing: %v", err)
	}
	if err := store.ExportProgress(ctx, tid, id, 1, 99); err != nil {
		t.Fatal(err)
	}
	done, err := store.CompleteExport(ctx, tid, id, pgstore.ExportFile{Attempt: 2, FileName: tid + "/" + id + ".2.csv", Rows: 12, SizeBytes: 3456, ExpiresAt: expires})
	if err != nil || done.Status != pgstore.ExportCompleted || done.RowCount != 12 || done.SizeBytes == nil || *done.SizeBytes != 3456 ||
		done.FileName != tid+"/"+id+".2.csv" || done.CompletedAt == nil || done.ExpiresAt == nil || !done.ExpiresAt.Equal(expires) {
		t.Fatalf("completed %+v, %v", done, err)
	}
	// Over: a late run, a failure or a start change nothing.
	if again, err := store.StartExport(ctx, tid, id); err != nil || again.Status != pgstore.ExportCompleted || again.Attempts != 2 {
		t.Errorf("starting a completed export: %+v, %v", again, err)
	}
	if err := store.FailExport(ctx, tid, id, "late"); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetExport(ctx, tid, id); got.Status != pgstore.ExportCompleted || got.Error != "" {
		t.Errorf("a completed export failed late: %+v", got)
	}
	for range 2 {
		name, err := store.ExpireExport(ctx, tid, id)
		if err != nil || name != done.FileName {
			t.Errorf("expire: %q, %v", name, err)
		}
	}
	if got, _ := store.GetExport(ctx, tid, id); got.Status != pgstore.ExportExpired {
		t.Errorf("expired %+v", got)
	}

	// A failure keeps its reason, bounded.
	if err := store.FailExport(ctx, tid, supID, strings.Repeat("x", 3000)); err != nil {
		t.Fatal(err)
	}
	failed, _ := store.GetExport(ctx, tid, supID)
	if failed.Status != pgstore.ExportFailed || len([]rune(failed.Error)) != 2000 {
		t.Errorf("failed %+v", failed.Status)
	}
	if name, err := store.ExpireExport(ctx, tid, supID); err != nil || name != "" {
		t.Errorf("expiring a failed export: %q, %v", name, err)
	}
	if _, err := store.CompleteExport(ctx, tid, supID, pgstore.ExportFile{Attempt: 0, FileName: "x.csv", ExpiresAt: expires}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("completing a failed export: %v", err)
	}
	var audited int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'export.requested' AND object_id = $2
		AND actor_user = $3`, tid, id, agent.ID).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("audited requests: %d, %v", audited, err)
	}
}
