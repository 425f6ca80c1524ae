package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// An outbound interaction is its agent's at once: never offered, connected from the
// start; when the agent cannot take it, it ends as failed without an agent.
func TestOutboundStartsConnected(t *testing.T) {
	for _, ok := range []bool{true, false} {
		d := newDesk(t, bo)
		d.input.Direction, d.input.AgentID = pgstore.Outbound, ana
		var reqs []activities.OutboundRequest
		var a *activities.Activities
		d.env.OnActivity(a.StartOutbound, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OutboundRequest) (activities.OutboundResult, error) {
			reqs = append(reqs, in)
			return activities.OutboundResult{OK: ok, QueueID: in.Interaction.QueueID}, nil
		})
		var first workflows.InteractionState
		d.query(time.Second, &first)
		if ok {
			d.endBy(10*time.Second, ana)
			d.dispose(11*time.Second, as(ana), "Closed", "Resolved")
		}
		st := d.run()
		if len(reqs) != 1 || reqs[0].AgentID != ana || reqs[0].Connected.State.Status != pgstore.InteractionConnected ||
			reqs[0].Connected.State.AgentID != ana || reqs[0].Connected.State.Version != 1 {
			t.Fatalf("start requests %+v", reqs)
		}
		if len(d.offers) != 0 {
			t.Errorf("an outbound interaction was offered: %+v", d.offers)
		}
		if ok {
			if first.Status != pgstore.InteractionConnected || first.AgentID != ana {
				t.Errorf("after the start %+v", first)
			}
			if st.Status != pgstore.InteractionDisposed || st.Outcome != pgstore.OutcomeCompleted || st.AgentID != ana {
				t.Errorf("final %+v", st)
			}
			continue
		}
		if st.Status != pgstore.InteractionAbandoned || st.Outcome != pgstore.OutcomeFailed || st.AgentID != "" {
			t.Errorf("failed start: final %+v", st)
		}
	}
}
