package workflows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/pgstore"
)

// An outbound call whose number the start finds on the do-not-call list is not
// retried: the interaction ends at once as failed, without an agent, with the
// refusal as its reason.
func TestOutboundToListedNumberEndsFailed(t *testing.T) {
	d := newDesk(t, bo)
	d.input.Direction, d.input.AgentID = pgstore.Outbound, ana
	starts := 0
	var a *activities.Activities
	d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OutboundRequest) (activities.OutboundResult, error) {
		starts++
		return activities.OutboundResult{}, temporal.NewNonRetryableApplicationError("+385915550199 is on the do-not-call list: the call was not placed", activities.ErrTypeDoNotCall, nil, "to")
	})
	st := d.run()
	if starts != 1 {
		t.Errorf("StartOutbound ran %d times; a refusal is final", starts)
	}
	if st.Status != pgstore.InteractionAbandoned || st.Outcome != pgstore.OutcomeFailed || st.AgentID != "" || !strings.Contains(st.EndReason, "do-not-call list") {
		t.Errorf("final %+v; want failed, with the refusal as its reason", st)
	}
}
