package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
)

// Defaults of a webhook delivery's retries. The attempts come 1 s, 2 s, 4 s … 512 s
// apart (about 17 minutes for the first ten), then every 10 minutes: twenty attempts
// span about an hour and three quarters, long enough to ride out a CRM's restart or
// short outage, short enough that a dead endpoint's log says so the same day. An
// admin re-sends what failed once the endpoint is fixed.
const (
	WebhookInitialInterval = time.Second
	WebhookMaximumInterval = 10 * time.Minute
	WebhookMaximumAttempts = 20
)

// webhookBookkeeping retries the delivery log's own writes (PostgreSQL) until they
// succeed.
var webhookBookkeeping = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// WebhookDeliveryResult is how a delivery's run ended.
type WebhookDeliveryResult struct {
	// Status is delivered or failed.
	Status string `json:"status"`
	// StatusCode is the endpoint's last answer; 0 when none came.
	StatusCode int `json:"statusCode,omitempty"`
	// Attempts is the delivery's count of attempts when it was delivered.
	Attempts int `json:"attempts,omitempty"`
	// Error is why the last attempt failed.
	Error string `json:"error,omitempty"`
}

// WebhookDelivery delivers one event to one webhook endpoint: it POSTs the delivery
// (activities.SendWebhook records each attempt in the delivery's log) with
// exponential backoff until the endpoint answers 2xx or the attempts run out, and
// then marks the delivery failed. Its ID is activities.WebhookDeliveryWorkflowID; a
// re-send is a new run of the same ID (Resend), which first makes the delivery
// pending again. The retry policy's defaults are above; in.Retry overrides them
// (tests, a test ping's single attempt).
func WebhookDelivery(ctx workflow.Context, in activities.WebhookDeliveryInput) (*WebhookDeliveryResult, error) {
	// The run's TenantId search attribute is set by its start
	// (activities.StartWebhookDelivery).
	var a *activities.Activities
	book := workflow.WithActivityOptions(ctx, webhookBookkeeping)
	if in.Resend {
		var exists bool
		if err := workflow.ExecuteActivity(book, a.ReopenWebhookDelivery, in).Get(ctx, &exists); err != nil {
			return nil, err
		}
		if !exists {
			return &WebhookDeliveryResult{Status: pgstore.WebhookFailed, Error: "the delivery was deleted with its endpoint"}, nil
		}
	}

	r := webhookRetry(in.Retry)
	send := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// The POST's own timeout, and time to read and write the delivery's row.
		StartToCloseTimeout: r.Timeout + 5*time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        r.InitialInterval,
			BackoffCoefficient:     2,
			MaximumInterval:        r.MaximumInterval,
			MaximumAttempts:        r.MaximumAttempts,
			NonRetryableErrorTypes: []string{activities.ErrTypeWebhookStopped},
		},
	})
	var sent activities.WebhookSendResult
	err := workflow.ExecuteActivity(send, a.SendWebhook, activities.WebhookSendRequest{
		TenantID: in.TenantID, DeliveryID: in.DeliveryID, Timeout: r.Timeout, MaximumInterval: r.MaximumInterval,
	}).Get(ctx, &sent)
	if err == nil {
		return &WebhookDeliveryResult{Status: pgstore.WebhookDelivered, StatusCode: sent.StatusCode, Attempts: sent.Attempts}, nil
	}

	// Every attempt recorded its own error; only an attempt that did not finish,
	// or a cancelled run, has nothing in the log to say why.
	reason := ""
	var timeout *temporal.TimeoutError
	switch {
	case temporal.IsCanceledError(err):
		reason = "the delivery was cancelled"
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		book = workflow.WithActivityOptions(ctx, webhookBookkeeping)
	case errors.As(err, &timeout):
		reason = "the last attempt did not finish in time"
	}
	if err := workflow.ExecuteActivity(book, a.FailWebhookDelivery, activities.WebhookFailure{
		TenantID: in.TenantID, DeliveryID: in.DeliveryID, Reason: reason,
	}).Get(ctx, nil); err != nil {
		return nil, err
	}
	out := &WebhookDeliveryResult{Status: pgstore.WebhookFailed, Error: reason}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		out.Error = appErr.Message()
	}
	return out, nil
}

// webhookRetry is r with the defaults filled in.
func webhookRetry(r *activities.WebhookRetry) activities.WebhookRetry {
	var out activities.WebhookRetry
	if r != nil {
		out = *r
	}
	if out.InitialInterval <= 0 {
		out.InitialInterval = WebhookInitialInterval
	}
	if out.MaximumInterval <= 0 {
		out.MaximumInterval = WebhookMaximumInterval
	}
	out.MaximumInterval = max(out.MaximumInterval, out.InitialInterval)
	if out.MaximumAttempts <= 0 {
		out.MaximumAttempts = WebhookMaximumAttempts
	}
	if out.Timeout <= 0 {
		out.Timeout = activities.DefaultWebhookTimeout
	}
	return out
}
