package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
)

// ExportWorkflowID names the run that produces an export of the interaction history.
func ExportWorkflowID(id string) string { return "export/" + id }

// ExportInput names the export to produce; its filter is in its record.
type ExportInput struct {
	TenantID string `json:"tenantId"`
	ExportID string `json:"exportId"`
}

// ExportResult is how the export ended.
type ExportResult struct {
	Status pgstore.ExportStatus `json:"status"`
	Rows   int64                `json:"rows"`
	Error  string               `json:"error,omitempty"`
}

// Bounds of an export's run: the writing activity heartbeats every page, so a
// worker that dies is noticed within exportHeartbeat and the run starts over on
// another; exportAttempts runs in all before the export fails.
const (
	exportRunTimeout = 2 * time.Hour
	exportHeartbeat  = time.Minute
	exportAttempts   = 5
)

// Export produces an export of the interaction history (activities.RunExport),
// records a failure once the runs are exhausted, and keeps the file until it
// expires, when it is removed (a durable timer, however long the workers are down).
func Export(ctx workflow.Context, in ExportInput) (*ExportResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, TenantIDKey.ValueSet(in.TenantID)); err != nil {
		return nil, err
	}
	var a *activities.Activities
	req := activities.ExportRequest{TenantID: in.TenantID, ExportID: in.ExportID}
	runCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: exportRunTimeout,
		HeartbeatTimeout:    exportHeartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        exportAttempts,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidExport},
		},
	})
	// The bookkeeping activities are short and retried until PostgreSQL answers.
	shortCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var res activities.ExportResult
	if err := workflow.ExecuteActivity(runCtx, a.RunExport, req).Get(ctx, &res); err != nil {
		reason := exportFailure(err)
		workflow.GetLogger(ctx).Error("export failed", "export", in.ExportID, "error", err)
		if err := workflow.ExecuteActivity(shortCtx, a.FailExport, activities.ExportFailure{
			TenantID: in.TenantID, ExportID: in.ExportID, Reason: reason}).Get(ctx, nil); err != nil {
			return nil, err
		}
		return &ExportResult{Status: pgstore.ExportFailed, Error: reason}, nil
	}
	if res.Status != pgstore.ExportCompleted && res.Status != pgstore.ExportExpired {
		return &ExportResult{Status: res.Status, Rows: res.Rows}, nil
	}
	if wait := res.ExpiresAt.Sub(workflow.Now(ctx)); wait > 0 && res.Status == pgstore.ExportCompleted {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if err := workflow.ExecuteActivity(shortCtx, a.ExpireExport, req).Get(ctx, nil); err != nil {
		return nil, err
	}
	return &ExportResult{Status: pgstore.ExportExpired, Rows: res.Rows}, nil
}

// exportFailure is the reason a user is shown: the activity's own message, without
// the SDK's wrapping.
func exportFailure(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "the export did not finish in time"
	}
	return err.Error()
}
