package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// webhookEnv is a test environment with the delivery workflow registered under the
// name the fan-out starts it by.
func webhookEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.WebhookDelivery)
	return env
}

func deliveryResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.WebhookDeliveryResult {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var out workflows.WebhookDeliveryResult
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func refused(code int) error {
	return temporal.NewApplicationError("the endpoint answered "+http500(code), activities.ErrTypeWebhookRefused)
}

func http500(code int) string {
	if code == 500 {
		return "500 Internal Server Error"
	}
	return "503 Service Unavailable"
}

// The fan-out starts the workflow by name on Switchboard's task queue: both must be
// the workflow's.
func TestWebhookDeliveryNames(t *testing.T) {
	if activities.WebhookTaskQueue != workflows.TaskQueue {
		t.Errorf("webhook task queue %q, workflows run on %q", activities.WebhookTaskQueue, workflows.TaskQueue)
	}
	if activities.WebhookTenantAttribute != workflows.TenantIDKey.GetName() {
		t.Errorf("webhook tenant attribute %q, workflows use %q", activities.WebhookTenantAttribute, workflows.TenantIDKey.GetName())
	}
	env := webhookEnv(t)
	var a *activities.Activities
	env.OnActivity(a.SendWebhook, mock.Anything, mock.Anything).Return(activities.WebhookSendResult{StatusCode: 204, Attempts: 1}, nil)
	env.ExecuteWorkflow(activities.WebhookDeliveryWorkflow, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1"})
	if got := deliveryResult(t, env); got.Status != pgstore.WebhookDelivered || got.StatusCode != 204 {
		t.Errorf("result %+v", got)
	}
}

// A refused attempt is retried after the initial interval, then doubling; the first
// 2xx delivers, and the delivery is not marked failed.
func TestWebhookDeliveryRetriesThenDelivers(t *testing.T) {
	env := webhookEnv(t)
	var a *activities.Activities
	var calls []time.Time
	var reqs []activities.WebhookSendRequest
	env.OnActivity(a.SendWebhook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.WebhookSendRequest) (activities.WebhookSendResult, error) {
			calls = append(calls, env.Now())
			reqs = append(reqs, in)
			if len(calls) < 3 {
				return activities.WebhookSendResult{}, refused(500 + 3*(len(calls)-1))
			}
			return activities.WebhookSendResult{StatusCode: 200, Attempts: len(calls)}, nil
		})
	// FailWebhookDelivery is not mocked: the test environment fails the run if it
	// is called.
	env.ExecuteWorkflow(workflows.WebhookDelivery, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1",
		Retry: &activities.WebhookRetry{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, Timeout: 3 * time.Second}})
	got := deliveryResult(t, env)
	if got.Status != pgstore.WebhookDelivered || got.StatusCode != 200 || got.Attempts != 3 {
		t.Errorf("result %+v, want delivered at the third attempt", got)
	}
	if len(calls) != 3 {
		t.Fatalf("%d attempts, want 3", len(calls))
	}
	if gap := calls[1].Sub(calls[0]); gap < 2*time.Second || gap > 3*time.Second {
		t.Errorf("first retry after %v, want the initial 2s", gap)
	}
	if gap := calls[2].Sub(calls[1]); gap < 4*time.Second || gap > 5*time.Second {
		t.Errorf("second retry after %v, want 4s (doubled)", gap)
	}
	for _, r := range reqs {
		if r.TenantID != "t1" || r.DeliveryID != "d1" || r.Timeout != 3*time.Second || r.MaximumInterval != time.Minute {
			t.Errorf("attempt asked %+v", r)
		}
	}
}

// When every attempt is refused, the attempts stop at the maximum and the delivery
// is marked failed, keeping the last attempt's error in its log.
func TestWebhookDeliveryExhaustedFails(t *testing.T) {
	env := webhookEnv(t)
	var a *activities.Activities
	attempts := 0
	env.OnActivity(a.SendWebhook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.WebhookSendRequest) (activities.WebhookSendResult, error) {
			attempts++
			return activities.WebhookSendResult{}, refused(503)
		})
	var failed []activities.WebhookFailure
	env.OnActivity(a.FailWebhookDelivery, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.WebhookFailure) error {
		failed = append(failed, in)
		return nil
	})
	start := env.Now()
	env.ExecuteWorkflow(workflows.WebhookDelivery, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1",
		Retry: &activities.WebhookRetry{InitialInterval: time.Second, MaximumInterval: 4 * time.Second, MaximumAttempts: 5}})
	got := deliveryResult(t, env)
	if got.Status != pgstore.WebhookFailed || got.Error != "the endpoint answered 503 Service Unavailable" {
		t.Errorf("result %+v", got)
	}
	if attempts != 5 {
		t.Errorf("%d attempts, want 5", attempts)
	}
	// 1 + 2 + 4 + 4 (capped) seconds between the five attempts.
	if took := env.Now().Sub(start); took < 11*time.Second || took > 13*time.Second {
		t.Errorf("the attempts took %v, want about 11s", took)
	}
	if len(failed) != 1 || failed[0] != (activities.WebhookFailure{TenantID: "t1", DeliveryID: "d1"}) {
		t.Errorf("failures recorded %+v, want one without a reason of its own", failed)
	}
}

// An error retrying cannot help (410 Gone, a refused address) stops at once.
func TestWebhookDeliveryStoppedIsNotRetried(t *testing.T) {
	env := webhookEnv(t)
	var a *activities.Activities
	attempts := 0
	env.OnActivity(a.SendWebhook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.WebhookSendRequest) (activities.WebhookSendResult, error) {
			attempts++
			return activities.WebhookSendResult{}, temporal.NewNonRetryableApplicationError("the endpoint answered 410 Gone", activities.ErrTypeWebhookStopped, nil)
		})
	env.OnActivity(a.FailWebhookDelivery, mock.Anything, mock.Anything).Return(nil).Once()
	env.ExecuteWorkflow(workflows.WebhookDelivery, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1"})
	got := deliveryResult(t, env)
	if got.Status != pgstore.WebhookFailed || attempts != 1 {
		t.Errorf("result %+v after %d attempts, want failed after 1", got, attempts)
	}
	env.AssertExpectations(t)
}

// A re-send makes the delivery pending again before attempting; a delivery deleted
// meanwhile (with its endpoint) is not attempted.
func TestWebhookDeliveryResend(t *testing.T) {
	t.Run("reopens then sends", func(t *testing.T) {
		env := webhookEnv(t)
		var a *activities.Activities
		var order []string
		env.OnActivity(a.ReopenWebhookDelivery, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.WebhookDeliveryInput) (bool, error) {
			if !in.Resend || in.DeliveryID != "d1" {
				t.Errorf("reopen asked %+v", in)
			}
			order = append(order, "reopen")
			return true, nil
		})
		env.OnActivity(a.SendWebhook, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.WebhookSendRequest) (activities.WebhookSendResult, error) {
			order = append(order, "send")
			return activities.WebhookSendResult{StatusCode: 200, Attempts: 3}, nil
		})
		env.ExecuteWorkflow(workflows.WebhookDelivery, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1", Resend: true})
		if got := deliveryResult(t, env); got.Status != pgstore.WebhookDelivered || got.Attempts != 3 {
			t.Errorf("result %+v", got)
		}
		if len(order) != 2 || order[0] != "reopen" || order[1] != "send" {
			t.Errorf("activities ran %v, want reopen then send", order)
		}
	})
	t.Run("gone", func(t *testing.T) {
		env := webhookEnv(t)
		var a *activities.Activities
		env.OnActivity(a.ReopenWebhookDelivery, mock.Anything, mock.Anything).Return(false, nil)
		env.ExecuteWorkflow(workflows.WebhookDelivery, activities.WebhookDeliveryInput{TenantID: "t1", DeliveryID: "d1", Resend: true})
		if got := deliveryResult(t, env); got.Status != pgstore.WebhookFailed {
			t.Errorf("result %+v", got)
		}
	})
}
