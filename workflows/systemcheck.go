package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
)

// SystemCheckWorkflowID names the run of one system check.
func SystemCheckWorkflowID(id string) string { return "system-check/" + id }

// SystemCheckInput asks a worker to check its own dependencies.
type SystemCheckInput struct {
	TenantID    string `json:"tenantId"`
	RequestedBy string `json:"requestedBy"`
}

// SystemCheckResult is what the worker that ran the check saw.
type SystemCheckResult struct {
	Worker     string                        `json:"worker"`
	Healthy    bool                          `json:"healthy"`
	Checks     []activities.DependencyStatus `json:"checks"`
	StartedAt  time.Time                     `json:"startedAt"`
	FinishedAt time.Time                     `json:"finishedAt"`
}

// SystemCheck proves the whole path API → Temporal → worker → PostgreSQL and Redis →
// back: an admin runs it to see that the worker side of an installation is healthy.
func SystemCheck(ctx workflow.Context, in SystemCheckInput) (*SystemCheckResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, TenantIDKey.ValueSet(in.TenantID)); err != nil {
		return nil, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumAttempts:    3,
		},
	})
	result := &SystemCheckResult{StartedAt: workflow.Now(ctx)}
	var a *activities.Activities
	var report activities.DependencyReport
	if err := workflow.ExecuteActivity(ctx, a.CheckDependencies).Get(ctx, &report); err != nil {
		return nil, err
	}
	result.Worker = report.Worker
	result.Checks = report.Checks
	result.Healthy = true
	for _, c := range report.Checks {
		result.Healthy = result.Healthy && c.OK
	}
	result.FinishedAt = workflow.Now(ctx)
	return result, nil
}
