package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
)

// SurveySkipped is the status of a survey not sent because the customer was
// surveyed too recently, or the conversation was reopened.
const SurveySkipped = "skipped"

// SurveyRequest sends a conversation's customer the CSAT survey.
type SurveyRequest struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// SendKey makes the survey go out once.
	SendKey string `json:"sendKey"`
	// AfterSolve: the survey follows the conversation's solve, and is not sent
	// when the conversation was reopened meanwhile.
	AfterSolve bool `json:"afterSolve,omitempty"`
}

// SurveyResult is how the survey went: sent, failed or skipped, with why.
type SurveyResult struct {
	SurveyID string `json:"surveyId,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// SendSurvey sends the survey shortly after a conversation was solved (the Survey
// workflow's activity).
func (a *Activities) SendSurvey(ctx context.Context, in SurveyRequest) (SurveyResult, error) {
	return a.sendSurvey(ctx, in)
}

// sendSurvey sends the customer the survey's message over the conversation's last
// channel, at most once per send key and never sooner after the customer's last
// survey than the tenant's minimum interval. The message goes to the transcript as
// the system's; a channel's refusal marks the survey failed.
func (a *Activities) sendSurvey(ctx context.Context, in SurveyRequest) (SurveyResult, error) {
	cc, err := a.Store.ConversationContext(ctx, in.TenantID, in.InteractionID, pgstore.ContextOptions{Customer: true})
	if errors.Is(err, pgstore.ErrNotFound) {
		return SurveyResult{Status: SurveySkipped, Reason: "the conversation is gone"}, nil
	}
	if err != nil {
		return SurveyResult{}, err
	}
	ix := cc.Interaction
	if ix.Channel == routing.Voice {
		return SurveyResult{Status: SurveySkipped, Reason: "surveys go to chat channels"}, nil
	}
	if in.AfterSolve && ix.ConversationStatus != pgstore.ConversationSolved && ix.ConversationStatus != pgstore.ConversationClosed {
		return SurveyResult{Status: SurveySkipped, Reason: fmt.Sprintf("the conversation was no longer solved (%s)", orWord(string(ix.ConversationStatus), string(ix.Status)))}, nil
	}
	settings, err := a.Store.GetSurveySettings(ctx, in.TenantID)
	if err != nil {
		return SurveyResult{}, err
	}
	customer := orWord(ix.Customer, customerAddress(ix))
	if cc.Customer != nil {
		customer = cc.Customer.ID
	}
	if customer == "" {
		return SurveyResult{Status: SurveySkipped, Reason: "the conversation has no customer to survey"}, nil
	}
	s, err := a.Store.CreateSurvey(ctx, pgstore.NewSurvey{TenantID: in.TenantID, InteractionID: in.InteractionID, SendKey: in.SendKey,
		CustomerKey: customer, AgentID: ix.AgentID, QueueID: ix.QueueID, Channel: ix.Source, Question: settings.Question,
		FollowUpQuestion: settings.FollowUpQuestion, MinInterval: time.Duration(settings.MinIntervalSeconds) * time.Second})
	if errors.Is(err, pgstore.ErrSurveyTooSoon) {
		return SurveyResult{Status: SurveySkipped, Reason: err.Error()}, nil
	}
	if err != nil {
		return SurveyResult{}, err
	}
	if s.Status != pgstore.SurveyPending {
		return SurveyResult{SurveyID: s.ID, Status: s.Status, Reason: s.Error}, nil
	}
	body := s.Question
	if s.FollowUpQuestion != "" {
		body += "\n\n" + s.FollowUpQuestion
	}
	if settings.LinkBaseURL != "" {
		link, err := url.Parse(settings.LinkBaseURL)
		if err == nil {
			q := link.Query()
			q.Set("token", s.Token)
			link.RawQuery = q.Encode()
			body += "\n\n" + link.String()
		}
	}
	msgID := uuid.NewSHA1(uuid.NameSpaceURL, []byte("survey/"+s.ID)).String()
	_, sendErr := a.SendOutboundMessage(ctx, OutboundMessage{TenantID: in.TenantID, InteractionID: in.InteractionID, MessageID: msgID,
		SenderKind: pgstore.SenderSystem, SenderID: "survey", Body: body, CreatedAt: time.Now().UTC()})
	failure := ""
	var app *temporal.ApplicationError
	switch {
	case errors.As(sendErr, &app) && (app.Type() == ErrTypeMessageRejected || app.Type() == ErrTypeInvalidMessage):
		failure = app.Message()
	case sendErr != nil:
		return SurveyResult{}, sendErr
	}
	if failure != "" {
		msgID = ""
	}
	s, err = a.Store.MarkSurveySent(ctx, in.TenantID, s.ID, msgID, failure)
	if err != nil {
		return SurveyResult{}, err
	}
	return SurveyResult{SurveyID: s.ID, Status: s.Status, Reason: s.Error}, nil
}

// StartSurveyFeedback starts the run that tells the rules a survey's answer is
// complete; a run already started for the survey is success.
func StartSurveyFeedback(ctx context.Context, c client.Client, in SurveyFeedbackInput, interactionID string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: SurveyFeedbackWorkflowID(in.SurveyID), TaskQueue: automationTaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    automationAttributes(in.TenantID, interactionID),
	}, SurveyFeedbackWorkflow, in)
	if err != nil && !IsAlreadyStarted(err) {
		return fmt.Errorf("start survey feedback of %s: %w", in.SurveyID, err)
	}
	return nil
}

// PublishSurveyFeedback publishes a completed survey answer on the conversation's
// feed (surveyFeedbackReceived), which runs the rules waiting for it. It is keyed by
// the survey, so it happens once.
func (a *Activities) PublishSurveyFeedback(ctx context.Context, in SurveyFeedbackInput) error {
	s, err := a.Store.GetSurvey(ctx, in.TenantID, in.SurveyID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.CompletedAt == nil {
		return temporal.NewNonRetryableApplicationError("the survey's answer is not complete", ErrTypeActionFailed, nil)
	}
	ix, err := a.Store.GetInteraction(ctx, in.TenantID, s.InteractionID)
	if err != nil {
		return storeError(err)
	}
	e := interactionEvent(ix)
	e.Detail = map[string]any{"surveyId": s.ID, "score": s.Score, "comment": s.Comment}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ev := events.Event{Key: "survey/" + s.ID + "/feedback", Type: events.SurveyFeedbackReceived, TenantID: in.TenantID, At: s.CompletedAt.UTC(),
		InteractionID: s.InteractionID, Agents: nonEmptyAgents(ix.AgentID), Data: data}
	return a.publishEvent(ctx, ev, e)
}

func nonEmptyAgents(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if strings.TrimSpace(id) != "" {
			out = append(out, id)
		}
	}
	return out
}
