package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// journeyDB stands for the backfill's row: the committed position and counters that
// JourneyBackfillBatch advances one batch per call, as PostgreSQL does.
type journeyDB struct {
	total, linkEvery int64
	committed        pgstore.JourneyProgress
	calls            int
	// crashAfterCommit makes these calls fail after committing their batch, as a
	// worker that dies before reporting the result.
	crashAfterCommit map[int]bool
	inputs           []activities.JourneyBatchInput
}

func (db *journeyDB) batch(_ context.Context, in activities.JourneyBatchInput) (pgstore.JourneyProgress, error) {
	db.calls++
	db.inputs = append(db.inputs, in)
	p := &db.committed
	n := min(int64(in.BatchSize), db.total-p.Processed)
	for i := int64(0); i < n; i++ {
		if (p.Processed+i)%db.linkEvery == 0 {
			p.Linked++
		}
	}
	p.Processed += n
	p.Batches++
	p.Last = &pgstore.JourneyPosition{CreatedAt: time.Unix(p.Processed, 0).UTC(), InteractionID: fmt.Sprintf("i-%d", p.Processed)}
	p.Done = p.Processed == db.total
	if db.crashAfterCommit[db.calls] {
		return pgstore.JourneyProgress{}, errors.New("worker lost")
	}
	return *p, nil
}

func TestJourneyBackfillProgressAndRetryAfterCommit(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	db := &journeyDB{total: 1250, linkEvery: 5, crashAfterCommit: map[int]bool{2: true}}
	env.OnActivity(a.JourneyBackfillBatch, mock.Anything, mock.Anything).After(time.Second).Return(db.batch)
	var finished []activities.FinishJourneyInput
	env.OnActivity(a.FinishJourneyBackfill, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishJourneyInput) (pgstore.JourneyProgress, error) {
			finished = append(finished, in)
			return db.committed, nil
		})
	var midway pgstore.JourneyProgress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.JourneyProgressQuery)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		if err := v.Get(&midway); err != nil {
			t.Error(err)
		}
	}, 1500*time.Millisecond)

	env.ExecuteWorkflow(workflows.JourneyBackfill, workflows.JourneyBackfillInput{TenantID: "t1", BackfillID: "b1", BatchSize: 500})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got pgstore.JourneyProgress
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	// The second call committed its batch and was lost; its retry walked the third
	// batch from the committed position: nothing walked twice, nothing skipped.
	if got.Processed != 1250 || got.Linked != 250 || got.Batches != 3 || !got.Done || db.calls != 3 {
		t.Errorf("final progress %+v after %d calls; want 1250 walked, 250 linked in 3 batches, 3 calls", got, db.calls)
	}
	if midway.Processed != 500 || midway.Done || midway.Last == nil || midway.Last.InteractionID != "i-500" {
		t.Errorf("progress queried after the first batch: %+v", midway)
	}
	if len(finished) != 1 || finished[0].Failure != "" || finished[0].BackfillID != "b1" {
		t.Errorf("finished %+v, want once, completed", finished)
	}
	for _, in := range db.inputs {
		if in.LinkUpdate != workflows.LinkCustomerUpdate || in.TenantID != "t1" || in.BatchSize != 500 {
			t.Errorf("batch input %+v", in)
		}
	}
	v, err := env.QueryWorkflow(workflows.JourneyProgressQuery)
	var final pgstore.JourneyProgress
	if err == nil {
		err = v.Get(&final)
	}
	if err != nil || final.Processed != 1250 || !final.Done {
		t.Errorf("final query: %+v %v", final, err)
	}
}

// A long backfill continues as new with its progress; the next run resumes from the
// position committed in the database and ends with the whole walk counted once.
func TestJourneyBackfillContinuesAsNewAndResumes(t *testing.T) {
	var a *activities.Activities
	db := &journeyDB{total: 1050, linkEvery: 2}
	var s testsuite.WorkflowTestSuite

	env := s.NewTestWorkflowEnvironment()
	env.OnActivity(a.JourneyBackfillBatch, mock.Anything, mock.Anything).Return(db.batch)
	env.ExecuteWorkflow(workflows.JourneyBackfill, workflows.JourneyBackfillInput{TenantID: "t1", BackfillID: "b1", BatchSize: 10})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("a run of more than 100 batches continues as new; got %v", err)
	}
	var next workflows.JourneyBackfillInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Runs != 1 || next.Progress.Processed != 1000 || next.Progress.Batches != 100 || next.Progress.Last == nil ||
		next.Progress.Last.InteractionID != "i-1000" || next.BatchSize != 10 || next.BackfillID != "b1" {
		raw, _ := json.Marshal(next)
		t.Fatalf("carried input %s", raw)
	}

	// The next run (a restarted worker would run the same) answers the carried
	// progress before its first batch and continues from the committed position.
	env = s.NewTestWorkflowEnvironment()
	env.OnActivity(a.JourneyBackfillBatch, mock.Anything, mock.Anything).After(time.Second).Return(db.batch)
	env.OnActivity(a.FinishJourneyBackfill, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.FinishJourneyInput) (pgstore.JourneyProgress, error) {
			return db.committed, nil
		})
	var before pgstore.JourneyProgress
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(workflows.JourneyProgressQuery); err == nil {
			_ = v.Get(&before)
		}
	}, 500*time.Millisecond)
	env.ExecuteWorkflow(workflows.JourneyBackfill, next)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got pgstore.JourneyProgress
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if before.Processed != 1000 {
		t.Errorf("progress before the resumed run's first batch: %+v", before)
	}
	if got.Processed != 1050 || got.Linked != 525 || got.Batches != 105 || !got.Done {
		t.Errorf("final progress %+v", got)
	}
}

func TestJourneyBackfillFailsWhenABatchKeepsFailing(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.JourneyBackfillBatch, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.JourneyBatchInput) (pgstore.JourneyProgress, error) {
			calls++
			return pgstore.JourneyProgress{}, errors.New("database unreachable")
		})
	var finished []activities.FinishJourneyInput
	env.OnActivity(a.FinishJourneyBackfill, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishJourneyInput) (pgstore.JourneyProgress, error) {
			finished = append(finished, in)
			return pgstore.JourneyProgress{}, nil
		})
	env.ExecuteWorkflow(workflows.JourneyBackfill, workflows.JourneyBackfillInput{TenantID: "t1", BackfillID: "b1"})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("the backfill succeeded without its batches")
	}
	if calls != 20 {
		t.Errorf("a batch is tried 20 times; got %d", calls)
	}
	if len(finished) != 1 || finished[0].Failure == "" {
		t.Errorf("finished %+v, want once with the failure", finished)
	}
}

// The link argument the backfill sends is the interaction workflow's update input.
func TestJourneyLinkArgumentMatchesLinkCustomerInput(t *testing.T) {
	raw, err := json.Marshal(activities.LinkCustomerArg{TenantID: "t1", CustomerID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	var in workflows.LinkCustomerInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	if in.TenantID != "t1" || in.CustomerID != "c1" || in.ActorID != "" || in.AgentID != "" {
		t.Errorf("decoded as %+v", in)
	}
}
