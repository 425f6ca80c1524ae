package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"switchboard/activities"
	"switchboard/workflows"
)

func TestSystemCheck(t *testing.T) {
	cases := []struct {
		name    string
		checks  []activities.DependencyStatus
		healthy bool
	}{
		{"all ok", []activities.DependencyStatus{{Name: "postgres", OK: true}, {Name: "redis", OK: true}}, true},
		{"redis down", []activities.DependencyStatus{{Name: "postgres", OK: true}, {Name: "redis", OK: false, Error: "refused"}}, false},
		{"postgres down", []activities.DependencyStatus{{Name: "postgres", OK: false}, {Name: "redis", OK: true}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var a *activities.Activities
			env.OnActivity(a.CheckDependencies, mock.Anything).Return(activities.DependencyReport{Worker: "w1", Checks: c.checks}, nil)
			env.ExecuteWorkflow(workflows.SystemCheck, workflows.SystemCheckInput{TenantID: "t1", RequestedBy: "u1"})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var got workflows.SystemCheckResult
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got.Healthy != c.healthy || got.Worker != "w1" || len(got.Checks) != len(c.checks) {
				t.Errorf("result %+v, want healthy=%v", got, c.healthy)
			}
		})
	}
}

func TestSystemCheckRetriesThenFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.CheckDependencies, mock.Anything).Return(func(context.Context) (activities.DependencyReport, error) {
		calls++
		return activities.DependencyReport{}, errors.New("worker lost its connection")
	})
	env.ExecuteWorkflow(workflows.SystemCheck, workflows.SystemCheckInput{TenantID: "t1"})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("workflow succeeded without a report")
	}
	if calls != 3 {
		t.Errorf("activity attempts %d, want 3 (the retry policy's maximum)", calls)
	}
}
