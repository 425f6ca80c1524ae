package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
)

// SLARecalcWorkflowID names the workflow that recalculates a tenant's open SLA
// clocks after a change of its policies.
func SLARecalcWorkflowID(tenantID string) string { return "sla-recalc/" + tenantID }

// SLAPoliciesChangedSignal tells the recalculation that the tenant's policy list
// reached a generation (activities.SLARecalculation). The API sends it with
// signal-with-start after every change of the list.
const SLAPoliciesChangedSignal = "policies-changed"

// slaRecalcPage is how many clocks one activity signals.
const slaRecalcPage = 100

// maxSLARecalcPages bounds the pages of one run before it continues as new.
const maxSLARecalcPages = 200

// SLARecalcInput starts (or continues) a tenant's recalculation.
type SLARecalcInput struct {
	TenantID string `json:"tenantId"`
	// Generation is the generation being applied, and After the last clock of the
	// walk signalled so far (continue-as-new); a new recalculation has neither.
	Generation int64  `json:"generation,omitempty"`
	After      string `json:"after,omitempty"`
	// Clocks counts the clocks signalled by earlier runs.
	Clocks int `json:"clocks,omitempty"`
}

// SLARecalcState is the query's answer and the workflow's result.
type SLARecalcState struct {
	TenantID   string `json:"tenantId"`
	Generation int64  `json:"generation"`
	After      string `json:"after,omitempty"`
	Clocks     int    `json:"clocks"`
	Gone       int    `json:"gone"`
}

// SLARecalc walks a tenant's open SLA clocks in pages (by interaction ID) and tells
// each that the policies changed, so that it matches again and recalculates. A walk
// resumes where it was after any crash (its position is the workflow's state, and
// signalling a clock twice recalculates it once per generation); a change that comes
// during a walk starts it again from the first clock with the newer generation once
// the page at hand is done. It ends when a walk finishes with no newer change
// waiting. No polling: it runs only when the API tells it of a change.
func SLARecalc(ctx workflow.Context, in SLARecalcInput) (*SLARecalcState, error) {
	if in.TenantID == "" {
		return nil, temporal.NewNonRetryableApplicationError("a recalculation needs a tenant", "InvalidInput", nil)
	}
	st := SLARecalcState{TenantID: in.TenantID, Generation: in.Generation, After: in.After, Clocks: in.Clocks}
	if err := workflow.SetQueryHandler(ctx, "state", func() (SLARecalcState, error) { return st, nil }); err != nil {
		return nil, err
	}
	changed := workflow.GetSignalChannel(ctx, SLAPoliciesChangedSignal)
	drain := func() {
		for {
			var r activities.SLARecalculation
			if !changed.ReceiveAsync(&r) {
				return
			}
			if r.Generation > st.Generation {
				// A newer list: every clock must see it, those already told too.
				st.Generation, st.After = r.Generation, ""
			}
		}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *activities.Activities
	for pages := 0; ; pages++ {
		drain()
		if pages >= maxSLARecalcPages || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return nil, workflow.NewContinueAsNewError(ctx, SLARecalc, SLARecalcInput{
				TenantID: in.TenantID, Generation: st.Generation, After: st.After, Clocks: st.Clocks})
		}
		var res activities.SLARecalcResult
		err := workflow.ExecuteActivity(actx, a.SignalSLAClocks, activities.SLARecalcPage{
			TenantID: in.TenantID, Generation: st.Generation, After: st.After, Limit: slaRecalcPage,
			ClockWorkflowPrefix: SLAClockPrefix, Signal: SLARecalculateSignal,
		}).Get(ctx, &res)
		if err != nil {
			return nil, err
		}
		st.Clocks += res.Signaled
		st.Gone += res.Gone
		gen := st.Generation
		drain()
		if st.Generation != gen {
			continue // a newer change: start over
		}
		st.After = res.Last
		if res.Done {
			workflow.GetLogger(ctx).Info("SLA clocks recalculated", "generation", st.Generation, "clocks", st.Clocks, "gone", st.Gone)
			return &st, nil
		}
	}
}
