package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
)

// JourneyBackfillWorkflowID names the run of one journey backfill.
func JourneyBackfillWorkflowID(id string) string { return "journey-backfill/" + id }

const (
	// JourneyProgressQuery answers a backfill's progress (pgstore.JourneyProgress).
	JourneyProgressQuery = "progress"
	// JourneyProgressMemo is the memo field holding the progress after each batch,
	// shown in the Temporal UI with the run.
	JourneyProgressMemo = "progress"
	// DefaultJourneyBatchSize is how many interactions a batch walks.
	DefaultJourneyBatchSize = 500
	// journeyBatchesPerRun bounds the batches of one run: it continues as new after
	// them (or sooner when Temporal suggests it), carrying its progress.
	journeyBatchesPerRun = 100
	// journeyBatchAttempts bounds the tries of a batch before the backfill fails.
	journeyBatchAttempts = 20
)

// JourneyBackfillInput starts (or continues) a backfill recorded in PostgreSQL.
type JourneyBackfillInput struct {
	TenantID   string `json:"tenantId"`
	BackfillID string `json:"backfillId"`
	// BatchSize defaults to DefaultJourneyBatchSize.
	BatchSize int `json:"batchSize,omitempty"`
	// Progress is carried over continue-as-new; the batches themselves start from
	// the position committed in PostgreSQL.
	Progress pgstore.JourneyProgress `json:"progress"`
	// Runs counts the runs before this one.
	Runs int `json:"runs,omitempty"`
}

// JourneyBackfill links the interactions created before the backfill started to
// their customers by the journey identifiers, batch after batch (each committed with
// its progress by JourneyBackfillBatch), and marks the backfill completed, or failed
// when a batch keeps failing. A restarted worker resumes from the last committed
// position. The progress is answered by the "progress" query and kept in the memo.
func JourneyBackfill(ctx workflow.Context, in JourneyBackfillInput) (pgstore.JourneyProgress, error) {
	if in.TenantID == "" || in.BackfillID == "" {
		return in.Progress, temporal.NewNonRetryableApplicationError("a backfill needs a tenant and an ID", "InvalidInput", nil)
	}
	if in.BatchSize <= 0 {
		in.BatchSize = DefaultJourneyBatchSize
	}
	progress := in.Progress
	if err := workflow.SetQueryHandler(ctx, JourneyProgressQuery, func() (pgstore.JourneyProgress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	if in.Runs == 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, TenantIDKey.ValueSet(in.TenantID),
			StatusKey.ValueSet(pgstore.BackfillRunning)); err != nil {
			return progress, err
		}
	}
	var a *activities.Activities
	batchCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A batch links up to BatchSize interactions, a few through their workflows.
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: journeyBatchAttempts, NonRetryableErrorTypes: []string{activities.ErrTypeBackfillGone},
		},
	})
	finishCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeBackfillGone},
		},
	})
	finish := func(failure string) (pgstore.JourneyProgress, error) {
		var end pgstore.JourneyProgress
		err := workflow.ExecuteActivity(finishCtx, a.FinishJourneyBackfill, activities.FinishJourneyInput{
			TenantID: in.TenantID, BackfillID: in.BackfillID, Failure: failure}).Get(ctx, &end)
		if err != nil {
			return progress, err
		}
		status := pgstore.BackfillCompleted
		if failure != "" {
			status = pgstore.BackfillFailed
		}
		end.Done = failure == ""
		progress = end
		_ = workflow.UpsertMemo(ctx, map[string]any{JourneyProgressMemo: progress})
		if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(status)); err != nil {
			return progress, err
		}
		if failure != "" {
			return progress, temporal.NewNonRetryableApplicationError(failure, "BackfillFailed", nil)
		}
		return progress, nil
	}
	for batches := 0; ; batches++ {
		if batches >= journeyBatchesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := in
			next.Progress, next.Runs = progress, in.Runs+1
			return progress, workflow.NewContinueAsNewError(ctx, JourneyBackfill, next)
		}
		var p pgstore.JourneyProgress
		err := workflow.ExecuteActivity(batchCtx, a.JourneyBackfillBatch, activities.JourneyBatchInput{
			TenantID: in.TenantID, BackfillID: in.BackfillID, BatchSize: in.BatchSize, LinkUpdate: LinkCustomerUpdate,
		}).Get(ctx, &p)
		if err != nil {
			return finish("a batch failed: " + err.Error())
		}
		progress = p
		if err := workflow.UpsertMemo(ctx, map[string]any{JourneyProgressMemo: progress}); err != nil {
			return progress, err
		}
		if p.Done {
			return finish("")
		}
	}
}
