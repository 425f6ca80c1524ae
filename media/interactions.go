package media

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// TemporalInteractions reaches interactions' workflows through Temporal, with the
// updates and signal the API uses: a phone answering is the agent accepting, a
// phone declining the agent rejecting, a phone hanging up the agent ending the
// interaction, the caller hanging up the hangup signal.
type TemporalInteractions struct {
	Client client.Client
	// Start starts the interaction of an inbound call the way the API starts an
	// inbound interaction (api.Server.StartInboundCall).
	Start func(ctx context.Context, call InboundCall) (string, error)
}

// StartCall starts the call's interaction.
func (t TemporalInteractions) StartCall(ctx context.Context, call InboundCall) (string, error) {
	return t.Start(ctx, call)
}

// PhoneAnswered accepts the offer as the agent.
func (t TemporalInteractions) PhoneAnswered(ctx context.Context, tenantID, interactionID, agentID string) error {
	return t.update(ctx, interactionID, workflows.AcceptUpdate, workflows.AcceptInput{TenantID: tenantID, AgentID: agentID})
}

// PhoneDeclined rejects the offer as the agent.
func (t TemporalInteractions) PhoneDeclined(ctx context.Context, tenantID, interactionID, agentID, reason string) error {
	return t.update(ctx, interactionID, workflows.RejectUpdate, workflows.RejectInput{TenantID: tenantID, AgentID: agentID, Reason: reason})
}

// AgentHungUp ends the interaction as the agent.
func (t TemporalInteractions) AgentHungUp(ctx context.Context, tenantID, interactionID, agentID string) error {
	return t.update(ctx, interactionID, workflows.EndUpdate, workflows.EndInput{TenantID: tenantID, ActorID: agentID, AgentID: agentID,
		Reason: "the agent hung up"})
}

// CallerHungUp signals that the caller left.
func (t TemporalInteractions) CallerHungUp(ctx context.Context, tenantID, interactionID, reason string) error {
	err := t.Client.SignalWorkflow(ctx, workflows.InteractionWorkflowID(interactionID), "", workflows.HangupSignal,
		workflows.HangupInput{TenantID: tenantID, Reason: reason})
	return notApplicable(err)
}

// Outcome signals the channel's outcome of an outbound call.
func (t TemporalInteractions) Outcome(ctx context.Context, tenantID, interactionID string, outcome pgstore.Outcome, detail map[string]string) error {
	err := t.Client.SignalWorkflow(ctx, workflows.InteractionWorkflowID(interactionID), "", workflows.ChannelEventSignal,
		workflows.ChannelEvent{TenantID: tenantID, Type: "outcome", Outcome: outcome, Detail: detail, At: time.Now().UTC()})
	return notApplicable(err)
}

// ConnectedTo asks the interaction whether the agent holds it.
func (t TemporalInteractions) ConnectedTo(ctx context.Context, interactionID, agentID string) (bool, error) {
	v, err := t.Client.QueryWorkflow(ctx, workflows.InteractionWorkflowID(interactionID), "", workflows.InteractionQuery)
	if err != nil {
		return false, notApplicable(err)
	}
	var st workflows.InteractionState
	if err := v.Get(&st); err != nil {
		return false, err
	}
	return st.Status.Held() && st.AgentID == agentID, nil
}

func (t TemporalInteractions) update(ctx context.Context, interactionID, name string, arg any) error {
	h, err := t.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.InteractionWorkflowID(interactionID), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return notApplicable(err)
}

// notApplicable marks the refusals no retry changes: the offer moved on, the
// interaction ended or is gone.
func notApplicable(err error) error {
	if err == nil {
		return nil
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return errors.Join(ErrNotApplicable, err)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case workflows.ErrTypeOfferNotOpen, workflows.ErrTypeNotYourOffer, workflows.ErrTypeInteractionOver,
			workflows.ErrTypeNotYourInteraction, workflows.ErrTypeInteractionNotFound:
			return errors.Join(ErrNotApplicable, err)
		}
	}
	return err
}
