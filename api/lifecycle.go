package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"switchboard/channels"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// Error codes of refused lifecycle actions.
const (
	// CodeActionNotAllowed: the action does not fit the interaction's state.
	CodeActionNotAllowed = "action_not_allowed"
	// CodeTargetUnavailable: the agent a transfer names cannot take it now.
	CodeTargetUnavailable = "target_unavailable"
	// CodeFormIncomplete: a mandatory field of the conversation's form is empty,
	// so it cannot be solved or closed; the field is values.<fieldId>.
	CodeFormIncomplete = "form_incomplete"
)

// registerLifecycle adds the agent actions on an interaction an agent holds (agents
// act on their own; supervisors and admins on any of their tenant's) and the
// customer-side events a channel gateway reports (integrations).
func (s *Server) registerLifecycle(v1 *echo.Group) {
	actors := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	channel := requireRole(pgstore.RoleAdmin, pgstore.RoleIntegration)
	v1.POST("/interactions/:id/hold", s.holdInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/unhold", s.unholdInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/transfer", s.transferInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/transfer/complete", s.completeTransfer, s.authenticate, actors)
	v1.POST("/interactions/:id/transfer/cancel", s.cancelTransfer, s.authenticate, actors)
	v1.POST("/interactions/:id/conference", s.conferenceInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/conference/leave", s.leaveConference, s.authenticate, actors)
	v1.POST("/interactions/:id/notes", s.addNote, s.authenticate, actors)
	v1.POST("/interactions/:id/messages", s.sendMessage, s.authenticate, actors)
	v1.PUT("/interactions/:id/conversation-status", s.setConversationStatus, s.authenticate, actors)
	v1.PUT("/interactions/:id/customer", s.linkCustomer, s.authenticate, actors)
	v1.DELETE("/interactions/:id/customer", s.unlinkCustomer, s.authenticate, actors)
	v1.POST("/interactions/:id/dispose", s.disposeInteraction, s.authenticate, actors)
	v1.POST("/interactions/:id/inbound-messages", s.inboundMessage, s.authenticate, channel)
	v1.POST("/interactions/:id/hangup", s.hangupInteraction, s.authenticate, channel)
	v1.POST("/interactions/:id/channel-events", s.channelEvent, s.authenticate, channel)
}

// actingAs is the caller acting on an interaction: an agent may act only on what they
// hold, which the workflow checks.
func actingAs(c echo.Context) workflows.Actor {
	p := principal(c)
	a := workflows.Actor{TenantID: p.TenantID, ActorID: p.UserID}
	if p.Role == pgstore.RoleAgent {
		a.AgentID = p.UserID
	}
	return a
}

func (s *Server) holdInteraction(c echo.Context) error {
	return s.updateInteraction(c, workflows.HoldUpdate, workflows.HoldInput{Actor: actingAs(c)})
}

func (s *Server) unholdInteraction(c echo.Context) error {
	return s.updateInteraction(c, workflows.UnholdUpdate, workflows.HoldInput{Actor: actingAs(c)})
}

// transferRequest is the body of a transfer.
type transferRequest struct {
	Mode   string         `json:"mode"`
	Target transferTarget `json:"target"`
	Reason string         `json:"reason"`
}

// transferTarget is a transfer's target as sent: ContactID, instead of Number, names
// an internal contact whose number an external transfer dials.
type transferTarget struct {
	workflows.TransferTarget
	ContactID string `json:"contactId"`
}

func (s *Server) transferInteraction(c echo.Context) error {
	var in transferRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	in.Mode, in.Reason = strings.TrimSpace(in.Mode), strings.TrimSpace(in.Reason)
	in.Target.Kind, in.Target.ID, in.Target.Number = strings.TrimSpace(in.Target.Kind), strings.TrimSpace(in.Target.ID), strings.TrimSpace(in.Target.Number)
	if in.Target.ContactID != "" {
		if in.Target.Kind == "" {
			in.Target.Kind = "external"
		}
		n, err := s.contactTarget(c, "target.", in.Target.Kind, in.Target.Number, in.Target.ContactID)
		if err != nil {
			return err
		}
		in.Target.Number = n
	}
	switch {
	case in.Mode != "" && in.Mode != "cold" && in.Mode != "warm":
		return invalidField("mode", "must be cold or warm")
	case in.Mode == "warm" && in.Target.Kind != "agent":
		return invalidField("target.kind", "a warm transfer consults an agent: kind must be agent")
	case in.Target.Kind == "":
		return invalidField("target.kind", "is required: agent, queue, campaign or external")
	case utf8.RuneCountInString(in.Reason) > 500:
		return invalidField("reason", "must be at most 500 characters")
	}
	p := principal(c)
	ctx := c.Request().Context()
	switch in.Target.Kind {
	case "queue":
		if _, err := s.store.GetAssignmentQueue(ctx, p.TenantID, in.Target.ID); err != nil {
			if errors.Is(err, pgstore.ErrNotFound) {
				return invalidField("target.id", "no such queue")
			}
			return err
		}
	case "campaign":
		if _, err := s.store.GetCampaign(ctx, p.TenantID, in.Target.ID); err != nil {
			if errors.Is(err, pgstore.ErrNotFound) {
				return invalidField("target.id", "no such campaign")
			}
			return err
		}
	case "agent":
		if u, err := s.store.GetUser(ctx, p.TenantID, in.Target.ID); err != nil || u.Role != pgstore.RoleAgent || u.Disabled {
			if err == nil || errors.Is(err, pgstore.ErrNotFound) {
				return invalidField("target.id", "no such active agent")
			}
			return err
		}
	}
	if in.Mode == "" {
		in.Mode = "cold"
	}
	return s.updateInteraction(c, workflows.TransferUpdate, workflows.TransferInput{Actor: actingAs(c), Mode: in.Mode, Target: in.Target.TransferTarget, Reason: in.Reason})
}

func (s *Server) completeTransfer(c echo.Context) error {
	return s.updateInteraction(c, workflows.CompleteTransferUpdate, workflows.HoldInput{Actor: actingAs(c)})
}

func (s *Server) cancelTransfer(c echo.Context) error {
	return s.updateInteraction(c, workflows.CancelTransferUpdate, workflows.HoldInput{Actor: actingAs(c)})
}

// conferenceRequest is the body of a conference or leave request. ContactID,
// instead of Number, names an internal contact by the number it is dialed on.
type conferenceRequest struct {
	Kind      pgstore.ParticipantKind `json:"kind"`
	UserID    string                  `json:"userId"`
	Number    string                  `json:"number"`
	ContactID string                  `json:"contactId"`
}

func (s *Server) conferenceInteraction(c echo.Context) error {
	var in conferenceRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.ContactID != "" {
		if in.Kind == "" {
			in.Kind = pgstore.ParticipantExternal
		}
		n, err := s.contactTarget(c, "", string(in.Kind), in.Number, in.ContactID)
		if err != nil {
			return err
		}
		in.Number = n
	}
	if !in.Kind.Valid() {
		return invalidField("kind", "must be agent, supervisor or external")
	}
	return s.updateInteraction(c, workflows.ConferenceUpdate, workflows.ConferenceInput{Actor: actingAs(c), Kind: in.Kind,
		UserID: strings.TrimSpace(in.UserID), Number: strings.TrimSpace(in.Number)})
}

func (s *Server) leaveConference(c echo.Context) error {
	var in conferenceRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.ContactID != "" {
		n, err := s.contactTarget(c, "", string(pgstore.ParticipantExternal), in.Number, in.ContactID)
		if err != nil {
			return err
		}
		in.Number = n
	}
	in.UserID, in.Number = strings.TrimSpace(in.UserID), strings.TrimSpace(in.Number)
	if in.UserID == "" && in.Number == "" {
		return invalidField("userId", "name the participant by userId or number")
	}
	return s.updateInteraction(c, workflows.LeaveConferenceUpdate, workflows.LeaveConferenceInput{Actor: actingAs(c), UserID: in.UserID, Number: in.Number})
}

// noteRequest is the body of a note; ID, when given, makes a repeat harmless.
type noteRequest struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

func (s *Server) addNote(c echo.Context) error {
	var in noteRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	id, err := clientID("id", in.ID)
	if err != nil {
		return err
	}
	if err := pgstore.ValidateNoteBody("body", in.Body); err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.AddNoteUpdate, workflows.NoteInput{Actor: actingAs(c), NoteID: id, Body: in.Body})
}

// clientID is a caller's idempotency ID (a UUID), or a new one.
func clientID(field, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return uuid.NewString(), nil
	}
	if uuid.Validate(id) != nil {
		return "", invalidField(field, "must be a UUID")
	}
	return strings.ToLower(id), nil
}

// messageRequest is the body of a message sent or received.
type messageRequest struct {
	ID          string                `json:"id"`
	From        string                `json:"from"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments"`
}

func (m *messageRequest) validate() (string, error) {
	id, err := clientID("id", m.ID)
	if err != nil {
		return "", err
	}
	switch n := utf8.RuneCountInString(m.Body); {
	case strings.TrimSpace(m.Body) == "" && len(m.Attachments) == 0:
		return "", invalidField("body", "a message needs a body or an attachment")
	case n > 10000:
		return "", invalidField("body", "must be at most 10000 characters")
	case len(m.Attachments) > 20:
		return "", invalidField("attachments", "at most 20 attachments")
	}
	return id, nil
}

func (s *Server) sendMessage(c echo.Context) error {
	var in messageRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	id, err := in.validate()
	if err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.SendMessageUpdate, workflows.SendMessageInput{Actor: actingAs(c), MessageID: id, Body: in.Body, Attachments: in.Attachments})
}

// conversationStatusRequest is the body of a conversation status change.
type conversationStatusRequest struct {
	Status pgstore.ConversationStatus `json:"status"`
}

func (s *Server) setConversationStatus(c echo.Context) error {
	var in conversationStatusRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if !in.Status.Valid() {
		return invalidField("status", "must be open, waiting, solved or closed")
	}
	return s.updateInteraction(c, workflows.ConversationStatusUpdate, workflows.ConversationStatusInput{Actor: actingAs(c), Status: in.Status})
}

// customerRequest is the body of a customer link.
type customerRequest struct {
	CustomerID string `json:"customerId"`
}

func (s *Server) linkCustomer(c echo.Context) error {
	var in customerRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	in.CustomerID = strings.TrimSpace(in.CustomerID)
	if in.CustomerID == "" || len(in.CustomerID) > 200 {
		return invalidField("customerId", "must be 1 to 200 characters")
	}
	// A customer of the tenant, named by its ID or external ID; the link keeps its ID.
	id, err := s.customerToLink(c, in.CustomerID)
	if err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.LinkCustomerUpdate, workflows.LinkCustomerInput{Actor: actingAs(c), CustomerID: id})
}

func (s *Server) unlinkCustomer(c echo.Context) error {
	return s.updateInteraction(c, workflows.UnlinkCustomerUpdate, workflows.LinkCustomerInput{Actor: actingAs(c)})
}

// disposeRequest is the body of a disposal.
type disposeRequest struct {
	Class string `json:"dispositionClass"`
	Code  string `json:"dispositionCode"`
	Notes string `json:"notes"`
	// Callback schedules a callback; the code must have the callback flag, and a
	// callback code needs it.
	Callback *disposalCallback `json:"callback"`
}

func (s *Server) disposeInteraction(c echo.Context) error {
	var in disposeRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	in.Class, in.Code = strings.TrimSpace(in.Class), strings.TrimSpace(in.Code)
	switch {
	case in.Code == "":
		return invalidField("dispositionCode", "is required: a code of the interaction's campaign, by ID or name")
	case in.Class == "" && uuid.Validate(in.Code) != nil:
		return invalidField("dispositionClass", "is required to name a code by its name")
	}
	d := workflows.DisposeInput{Actor: actingAs(c), Class: in.Class, Code: in.Code}
	if strings.TrimSpace(in.Notes) != "" {
		if err := pgstore.ValidateNoteBody("notes", in.Notes); err != nil {
			return err
		}
		d.Notes, d.NoteID = in.Notes, uuid.NewString()
	}
	if in.Callback != nil {
		cb, err := in.Callback.resolve(time.Now().UTC())
		if err != nil {
			return err
		}
		d.Callback = cb
	}
	return s.updateInteraction(c, workflows.DisposeUpdate, d)
}

func (s *Server) inboundMessage(c echo.Context) error {
	var in messageRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	id, err := in.validate()
	if err != nil {
		return err
	}
	p := principal(c)
	return s.signalInteraction(c, workflows.InboundMessageSignal, workflows.InboundMessageInput{TenantID: p.TenantID,
		MessageID: id, From: strings.TrimSpace(in.From), Body: in.Body, Attachments: in.Attachments, ReceivedAt: time.Now().UTC()},
		map[string]string{"messageId": id})
}

func (s *Server) hangupInteraction(c echo.Context) error {
	var in answerRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	p := principal(c)
	return s.signalInteraction(c, workflows.HangupSignal, workflows.HangupInput{TenantID: p.TenantID, Reason: in.Reason}, nil)
}

// channelEventRequest is the body of a channel event.
type channelEventRequest struct {
	Type    string            `json:"type"`
	Outcome pgstore.Outcome   `json:"outcome"`
	Detail  map[string]string `json:"detail"`
}

func (s *Server) channelEvent(c echo.Context) error {
	var in channelEventRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	in.Type = strings.TrimSpace(in.Type)
	switch {
	case in.Type == "" || len(in.Type) > 100:
		return invalidField("type", "must be 1 to 100 characters")
	case in.Type == "outcome" && (!in.Outcome.Valid() || in.Outcome == pgstore.OutcomeCompleted || in.Outcome == pgstore.OutcomeAbandoned):
		return invalidField("outcome", "must be failed, busy, no_answer or voicemail")
	case len(in.Detail) > 20:
		return invalidField("detail", "at most 20 entries")
	}
	p := principal(c)
	return s.signalInteraction(c, workflows.ChannelEventSignal, workflows.ChannelEvent{TenantID: p.TenantID, Type: in.Type,
		Outcome: in.Outcome, Detail: in.Detail, At: time.Now().UTC()}, nil)
}

// signalInteraction delivers a customer-side event to an interaction of the caller's
// tenant that is not over, and answers 202 with what identifies it.
func (s *Server) signalInteraction(c echo.Context, name string, arg any, answer map[string]string) error {
	p := principal(c)
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return errNotFound("no such interaction")
	}
	ctx := c.Request().Context()
	in, err := s.store.GetInteraction(ctx, p.TenantID, id)
	if errors.Is(err, pgstore.ErrNotFound) {
		return errNotFound("no such interaction")
	}
	if err != nil {
		return err
	}
	if in.Status.Final() {
		return &Error{Status: http.StatusConflict, Code: CodeInteractionOver, Message: "the interaction is already " + string(in.Status)}
	}
	sctx, cancel := context.WithTimeout(ctx, interactionCallTimeout)
	defer cancel()
	if err := s.temporal.SignalWorkflow(sctx, workflows.InteractionWorkflowID(id), "", name, arg); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return &Error{Status: http.StatusConflict, Code: CodeInteractionOver, Message: "the interaction is over"}
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the interaction did not answer; try again"}
	}
	if answer == nil {
		answer = map[string]string{}
	}
	answer["interactionId"] = id
	return c.JSON(http.StatusAccepted, answer)
}

func invalidField(field, msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Message: msg}
}

// lifecycleError maps a refused lifecycle action; ok is false for other errors.
func lifecycleError(app *temporal.ApplicationError) (*Error, bool) {
	var field string
	if app.HasDetails() {
		_ = app.Details(&field)
	}
	switch app.Type() {
	case workflows.ErrTypeNotAllowed:
		return &Error{Status: http.StatusConflict, Code: CodeActionNotAllowed, Message: app.Message()}, true
	case workflows.ErrTypeInvalidAction, workflows.ErrTypeUnknownTarget, workflows.ErrTypeInvalidDisposition:
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Message: app.Message()}, true
	case workflows.ErrTypeFormIncomplete:
		return &Error{Status: http.StatusConflict, Code: CodeFormIncomplete, Field: field, Message: app.Message()}, true
	case workflows.ErrTypeTargetUnavailable:
		return &Error{Status: http.StatusConflict, Code: CodeTargetUnavailable, Field: "target.id", Message: app.Message()}, true
	}
	return nil, false
}
