package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

var exportIn = workflows.ExportInput{TenantID: "t1", ExportID: "e1"}

// A completed export is kept until it expires, however long that is, and then its
// file is removed; a run that failed on the way (a worker lost) is run again.
func TestExportKeepsTheFileUntilItExpires(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	start := env.Now()
	expires := start.Add(activities.ExportRetention)
	runs := 0
	env.OnActivity(a.RunExport, mock.Anything, activities.ExportRequest{TenantID: "t1", ExportID: "e1"}).Return(
		func(context.Context, activities.ExportRequest) (activities.ExportResult, error) {
			runs++
			if runs == 1 {
				return activities.ExportResult{}, errors.New("worker lost")
			}
			return activities.ExportResult{Status: pgstore.ExportCompleted, Rows: 42, ExpiresAt: expires}, nil
		})
	var expiredAt time.Time
	env.OnActivity(a.ExpireExport, mock.Anything, activities.ExportRequest{TenantID: "t1", ExportID: "e1"}).Return(
		func(context.Context, activities.ExportRequest) error {
			expiredAt = env.Now()
			return nil
		})
	env.ExecuteWorkflow(workflows.Export, exportIn)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.ExportResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status != pgstore.ExportExpired || got.Rows != 42 || runs != 2 {
		t.Errorf("result %+v after %d runs", got, runs)
	}
	if expiredAt.Before(expires) || expiredAt.After(expires.Add(time.Minute)) {
		t.Errorf("expired at %v, want at %v", expiredAt, expires)
	}
	env.AssertExpectations(t)
}

// A refusal fails the export at once with its reason; a run that keeps failing
// fails it after the retry policy's attempts. The file is never expired.
func TestExportFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		runs   int
		reason string
	}{
		{"refused", temporal.NewNonRetryableApplicationError("no export directory is configured", activities.ErrTypeInvalidExport, nil), 1,
			"no export directory is configured"},
		{"keeps failing", errors.New("disk full"), 5, "disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var a *activities.Activities
			runs := 0
			env.OnActivity(a.RunExport, mock.Anything, mock.Anything).Return(func(context.Context, activities.ExportRequest) (activities.ExportResult, error) {
				runs++
				return activities.ExportResult{}, tc.err
			})
			var failed activities.ExportFailure
			env.OnActivity(a.FailExport, mock.Anything, mock.Anything).Return(func(_ context.Context, f activities.ExportFailure) error {
				failed = f
				return nil
			})
			env.ExecuteWorkflow(workflows.Export, exportIn)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var got workflows.ExportResult
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got.Status != pgstore.ExportFailed || got.Error != tc.reason || runs != tc.runs {
				t.Errorf("result %+v after %d runs, want failed with %q after %d", got, runs, tc.reason, tc.runs)
			}
			if failed != (activities.ExportFailure{TenantID: "t1", ExportID: "e1", Reason: tc.reason}) {
				t.Errorf("recorded failure %+v", failed)
			}
		})
	}
}

// An export found already expired (a repeated run) only makes sure the file is gone.
func TestExportAlreadyExpired(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.OnActivity(a.RunExport, mock.Anything, mock.Anything).Return(activities.ExportResult{Status: pgstore.ExportExpired, Rows: 3}, nil)
	env.OnActivity(a.ExpireExport, mock.Anything, mock.Anything).Return(nil).Once()
	start := env.Now()
	env.ExecuteWorkflow(workflows.Export, exportIn)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if env.Now().Sub(start) > time.Minute {
		t.Errorf("waited %v", env.Now().Sub(start))
	}
	env.AssertExpectations(t)
}
