package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// Error codes of refused callback actions.
const (
	// CodeCallbackClosed: the callback already fired, was deleted or failed.
	CodeCallbackClosed = "callback_closed"
	// CodeAgentUnavailable: the agent who is to take the call cannot now.
	CodeAgentUnavailable = "agent_unavailable"
	// CodeDoNotCall (api/errors.go): the callback's number is on the do-not-call list.
)

// registerCallbacks adds scheduled callbacks: agents schedule, list and manage their
// own (for them, or scheduled by them); supervisors and admins all of their
// tenant's; integrations schedule them.
func (s *Server) registerCallbacks(v1 *echo.Group) {
	creators := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent, pgstore.RoleIntegration)
	managers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/callbacks", s.createCallback, s.authenticate, creators)
	v1.GET("/callbacks", s.listCallbacks, s.authenticate, managers)
	v1.GET("/callbacks/:id", s.getCallback, s.authenticate, managers)
	v1.POST("/callbacks/:id/reschedule", s.rescheduleCallback, s.authenticate, managers)
	v1.POST("/callbacks/:id/dial", s.dialCallback, s.authenticate, managers)
	v1.DELETE("/callbacks/:id", s.deleteCallback, s.authenticate, managers)
}

// isoDuration is an ISO 8601 duration in weeks, days, hours, minutes and seconds
// (P2D, PT2H, PT90M, P1DT2H30M, PT45S); years and months have no fixed length.
var isoDuration = regexp.MustCompile(`^P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,9})(?:[.,]\d+)?S)?)?$`)

// parseISODuration reads an ISO 8601 duration (isoDuration).
func parseISODuration(v string) (time.Duration, bool) {
	v = strings.ToUpper(strings.TrimSpace(v))
	m := isoDuration.FindStringSubmatch(v)
	if m == nil || v == "P" || strings.HasSuffix(v, "T") {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return 0, false
		}
		if n > int64(pgstore.MaxCallbackAhead/unit) {
			// Past any callback's bound (and safe from overflow): refused by the caller.
			return pgstore.MaxCallbackAhead + unit, true
		}
		d += time.Duration(n) * unit
	}
	return d, true
}

// callbackDue is when a callback is to fire, from at (an ISO 8601 date-time with its
// offset) or in (relative to now: an ISO 8601 duration such as "PT2H", or a number
// of minutes), exactly one of them; prefix is the fields' path ("callback.").
func callbackDue(prefix, at string, in json.RawMessage, now time.Time) (time.Time, error) {
	at = strings.TrimSpace(at)
	relative := len(in) > 0 && string(in) != "null"
	switch {
	case at != "" && relative:
		return time.Time{}, invalidField(prefix+"in", "give either at or in, not both")
	case at == "" && !relative:
		return time.Time{}, invalidField(prefix+"at", "is required: when to call back, as at (2026-11-21T15:30:00+01:00) or in (\"PT2H\", or a number of minutes)")
	}
	var due time.Time
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return time.Time{}, invalidField(prefix+"at", "must be an ISO 8601 date-time with its offset, such as 2026-11-21T15:30:00+01:00 or 2026-11-21T14:30:00Z")
		}
		due = t
	} else {
		var d time.Duration
		var text string
		var minutes json.Number
		switch {
		case json.Unmarshal(in, &text) == nil:
			var ok bool
			if d, ok = parseISODuration(text); !ok {
				return time.Time{}, invalidField(prefix+"in", "must be an ISO 8601 duration in weeks, days, hours, minutes or seconds (\"PT2H\", \"P1DT30M\"), or a number of minutes")
			}
		case json.Unmarshal(in, &minutes) == nil:
			n, err := minutes.Int64()
			if err != nil || n < 0 || n > int64(pgstore.MaxCallbackAhead/time.Minute) {
				return time.Time{}, invalidField(prefix+"in", fmt.Sprintf("a number of minutes is a whole number from 1 to %d", int64(pgstore.MaxCallbackAhead/time.Minute)))
			}
			d = time.Duration(n) * time.Minute
		default:
			return time.Time{}, invalidField(prefix+"in", "must be an ISO 8601 duration (\"PT2H\") or a number of minutes")
		}
		if d <= 0 {
			return time.Time{}, invalidField(prefix+"in", "must be more than zero")
		}
		if d > pgstore.MaxCallbackAhead {
			d = pgstore.MaxCallbackAhead + time.Minute // refused below with the bound
		}
		due = now.Add(d)
	}
	field := prefix + "at"
	if at == "" {
		field = prefix + "in"
	}
	if err := pgstore.ValidateCallbackDue(field, due, now); err != nil {
		return time.Time{}, err
	}
	return due.UTC(), nil
}

// normalPhone normalises a phone number given in field.
func normalPhone(field, raw string) (string, error) {
	p, err := pgstore.NormalizePhone(raw)
	return p, renameField(err, map[string]string{"phone": field})
}

// disposalCallback is the callback part of a disposal's body.
type disposalCallback struct {
	At           string          `json:"at"`
	In           json.RawMessage `json:"in"`
	SelfCallback bool            `json:"selfCallback"`
	// Phone is an alternate number; left out, the interaction's customer number.
	Phone string `json:"phone"`
	Notes string `json:"notes"`
}

// resolve checks the disposal's callback and fixes its time.
func (d *disposalCallback) resolve(now time.Time) (*workflows.DisposalCallback, error) {
	due, err := callbackDue("callback.", d.At, d.In, now)
	if err != nil {
		return nil, err
	}
	out := &workflows.DisposalCallback{DueAt: due, SelfCallback: d.SelfCallback, Notes: d.Notes}
	if strings.TrimSpace(d.Phone) != "" {
		if out.Phone, err = normalPhone("callback.phone", d.Phone); err != nil {
			return nil, err
		}
	}
	if err := pgstore.ValidateCallbackNotes("callback.notes", d.Notes); err != nil {
		return nil, err
	}
	return out, nil
}

// newCallback is the body of POST /v1/callbacks.
type newCallback struct {
	At string          `json:"at"`
	In json.RawMessage `json:"in"`
	// SelfCallback offers it only to AgentID (an agent's own, by default);
	// otherwise it is routed to QueueID, or the campaign's default queue.
	SelfCallback bool   `json:"selfCallback"`
	AgentID      string `json:"agentId"`
	CampaignID   string `json:"campaignId"`
	QueueID      string `json:"queueId"`
	// Phone is the number to call; left out, the customer number of InteractionID.
	Phone string `json:"phone"`
	// InteractionID is the interaction it follows up: its customer number, name
	// and campaign are the defaults.
	InteractionID string `json:"interactionId"`
	CustomerName  string `json:"customerName"`
	Notes         string `json:"notes"`
	// RequestID makes the call idempotent: a repeat answers the first callback.
	RequestID string `json:"requestId"`
}

// callbackView is a callback with its history.
type callbackView struct {
	pgstore.Callback
	History []pgstore.CallbackEvent `json:"history"`
}

func (s *Server) createCallback(c echo.Context) error {
	var in newCallback
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	now := time.Now().UTC()
	cb, err := s.scheduledCallback(ctx, p, &in, now)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, interactionCallTimeout)
	defer cancel()
	start := s.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:        workflows.CallbackWorkflowID(cb.ID),
		TaskQueue: workflows.TaskQueue,
		// A repeated request ID answers the callback its first call scheduled.
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.CallbackSearchAttributes(cb)...),
	}, workflows.Callback, workflows.CallbackInput{Callback: cb})
	h, err := s.temporal.UpdateWithStartWorkflow(sctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{WorkflowID: workflows.CallbackWorkflowID(cb.ID), UpdateName: workflows.CallbackRecordedUpdate,
			Args: []any{workflows.Actor{TenantID: p.TenantID}}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var got pgstore.Callback
	if err == nil {
		err = h.Get(sctx, &got)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started) || temporal.IsWorkflowExecutionAlreadyStartedError(err):
		// A repeat of a request whose callback already fired or closed.
		first, gerr := s.store.GetCallback(ctx, p.TenantID, cb.ID)
		if gerr != nil {
			return gerr
		}
		return c.JSON(http.StatusOK, first)
	case err != nil:
		s.logger.Error("callback not scheduled", "callback", cb.ID, "error", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the callback could not be scheduled (Temporal did not answer); send it again with the same requestId"}
	}
	if !got.CreatedAt.Equal(cb.CreatedAt) {
		return c.JSON(http.StatusOK, got) // a repeat of a running callback's request
	}
	return c.JSON(http.StatusCreated, got)
}

// scheduledCallback checks a new callback for the caller and fills in its defaults.
func (s *Server) scheduledCallback(ctx context.Context, p pgstore.Principal, in *newCallback, now time.Time) (pgstore.Callback, error) {
	cb := pgstore.Callback{TenantID: p.TenantID, SelfCallback: in.SelfCallback, CreatedBy: p.UserID, CreatedAt: now}
	due, err := callbackDue("", in.At, in.In, now)
	if err != nil {
		return cb, err
	}
	cb.DueAt = due
	in.RequestID = strings.TrimSpace(in.RequestID)
	if utf8.RuneCountInString(in.RequestID) > maxRequestIDLen {
		return cb, invalidField("requestId", fmt.Sprintf("must be at most %d characters", maxRequestIDLen))
	}
	if id := strings.TrimSpace(in.InteractionID); id != "" {
		ix, err := s.store.GetInteraction(ctx, p.TenantID, id)
		if errors.Is(err, pgstore.ErrNotFound) || (err == nil && p.Role == pgstore.RoleAgent && !mine(ix, p.UserID)) {
			return cb, invalidField("interactionId", "no such interaction")
		}
		if err != nil {
			return cb, err
		}
		cb.SourceInteractionID, cb.CampaignID, cb.Customer, cb.CustomerName = ix.ID, ix.CampaignID, ix.Customer, ix.CustomerName
		if strings.TrimSpace(in.Phone) == "" {
			in.Phone = ix.CustomerPhone
		}
	}
	if strings.TrimSpace(in.Phone) == "" {
		return cb, invalidField("phone", "is required: the number to call back (or an interactionId with a customer number)")
	}
	if cb.Phone, err = normalPhone("phone", in.Phone); err != nil {
		return cb, err
	}
	if cb.Customer == "" {
		cb.Customer = customerKey(cb.Phone, "")
	}
	if name := strings.TrimSpace(in.CustomerName); name != "" {
		if utf8.RuneCountInString(name) > 200 {
			return cb, invalidField("customerName", "must be at most 200 characters")
		}
		cb.CustomerName = name
	}
	if err := pgstore.ValidateCallbackNotes("notes", in.Notes); err != nil {
		return cb, err
	}
	cb.Notes = in.Notes
	in.AgentID, in.CampaignID, in.QueueID = strings.TrimSpace(in.AgentID), strings.TrimSpace(in.CampaignID), strings.TrimSpace(in.QueueID)
	switch {
	case !in.SelfCallback && in.AgentID != "":
		return cb, invalidField("agentId", "is only for a self-callback: other callbacks go to a queue")
	case in.SelfCallback && in.QueueID != "":
		return cb, invalidField("queueId", "a self-callback goes to its agent, not to a queue")
	case in.SelfCallback && p.Role == pgstore.RoleAgent && in.AgentID != "" && in.AgentID != p.UserID:
		return cb, errForbidden("agents schedule self-callbacks for themselves only")
	case in.SelfCallback && p.Role == pgstore.RoleAgent:
		cb.AgentID = p.UserID
	case in.SelfCallback && in.AgentID == "":
		return cb, invalidField("agentId", "is required for a self-callback: the agent it is for")
	case in.SelfCallback:
		u, err := s.store.GetUser(ctx, p.TenantID, in.AgentID)
		if errors.Is(err, pgstore.ErrNotFound) || (err == nil && (u.Role != pgstore.RoleAgent || u.Disabled)) {
			return cb, invalidField("agentId", "no such active agent")
		}
		if err != nil {
			return cb, err
		}
		cb.AgentID = u.ID
	}
	if in.CampaignID != "" {
		camp, err := s.store.GetCampaign(ctx, p.TenantID, in.CampaignID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return cb, invalidField("campaignId", "no such campaign")
		}
		if err != nil {
			return cb, err
		}
		cb.CampaignID = camp.ID
	}
	if in.QueueID != "" {
		q, err := s.store.GetAssignmentQueue(ctx, p.TenantID, in.QueueID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return cb, invalidField("queueId", "no such queue")
		}
		if err != nil {
			return cb, err
		}
		cb.QueueID = q.QueueID
	}
	cb.ID = uuid.NewString()
	if in.RequestID != "" {
		// The same request ID of the same tenant always names the same callback.
		cb.ID = uuid.NewSHA1(uuid.MustParse(p.TenantID), []byte("callback/"+in.RequestID)).String()
	}
	return cb, nil
}

// callbackParams are the query parameters of GET /v1/callbacks.
var callbackParams = []string{"from", "to", "campaignId", "status", "agentId", "limit", "cursor"}

// listCallbacks answers a page of callbacks, soonest due first: {items, nextCursor}.
// Agents see their own; supervisors and admins the tenant's, or one agent's with
// agentId. Without status, the open ones (scheduled and dialing); status takes
// several separated by commas, or all.
func (s *Server) listCallbacks(c echo.Context) error {
	p := principal(c)
	q := c.QueryParams()
	for name, vs := range q {
		if !slices.Contains(callbackParams, name) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + "; known: " + strings.Join(callbackParams, ", ")}
		}
		if len(vs) > 1 {
			return errMalformed(name, name+" must be given once")
		}
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	get := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := pgstore.CallbackFilter{Owner: get("agentId"), CampaignID: get("campaignId"), Limit: limit, Cursor: get("cursor")}
	if st := get("status"); st == "all" {
		f.Statuses = pgstore.CallbackStatuses
	} else if st != "" {
		for _, v := range strings.Split(st, ",") {
			f.Statuses = append(f.Statuses, pgstore.CallbackStatus(strings.TrimSpace(v)))
		}
	}
	if f.From, err = s.historyTime(c, "from"); err != nil {
		return err
	}
	if f.To, err = s.historyTime(c, "to"); err != nil {
		return err
	}
	if f.Owner == "me" || strings.EqualFold(f.Owner, p.UserID) {
		f.Owner = p.UserID
	}
	if p.Role == pgstore.RoleAgent {
		if f.Owner != "" && f.Owner != p.UserID {
			return errForbidden("agents see only their own callbacks")
		}
		f.Owner = p.UserID
	}
	page, err := s.store.ListCallbacks(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// ownCallback reads a callback the caller may see: an agent's own (for them or
// scheduled by them), any of the tenant's for others. Anything else is not found.
func (s *Server) ownCallback(c echo.Context) (pgstore.Callback, error) {
	p := principal(c)
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return pgstore.Callback{}, errNotFound("no such callback")
	}
	cb, err := s.store.GetCallback(c.Request().Context(), p.TenantID, id)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && p.Role == pgstore.RoleAgent && cb.AgentID != p.UserID && cb.CreatedBy != p.UserID) {
		return pgstore.Callback{}, errNotFound("no such callback")
	}
	return cb, err
}

func (s *Server) getCallback(c echo.Context) error {
	cb, err := s.ownCallback(c)
	if err != nil {
		return err
	}
	history, err := s.store.CallbackHistory(c.Request().Context(), cb.TenantID, cb.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, callbackView{Callback: cb, History: history})
}

// rescheduleRequest is the body of a reschedule.
type rescheduleRequest struct {
	At     string          `json:"at"`
	In     json.RawMessage `json:"in"`
	Reason string          `json:"reason"`
}

func (s *Server) rescheduleCallback(c echo.Context) error {
	var in rescheduleRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	due, err := callbackDue("", in.At, in.In, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := pgstore.ValidateCallbackReason("reason", in.Reason, true); err != nil {
		return err
	}
	return s.updateCallback(c, workflows.RescheduleCallbackUpdate, workflows.RescheduleCallbackInput{
		Actor: actingAs(c), DueAt: due, Reason: strings.TrimSpace(in.Reason)})
}

// deleteRequest is the optional body of a deletion; the reason may come as the
// reason query parameter instead.
type deleteRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) deleteCallback(c echo.Context) error {
	var in deleteRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	reason := strings.TrimSpace(in.Reason)
	if q := strings.TrimSpace(c.QueryParam("reason")); q != "" {
		if reason != "" && reason != q {
			return invalidField("reason", "give the reason once: in the body or as the reason query parameter")
		}
		reason = q
	}
	if err := pgstore.ValidateCallbackReason("reason", reason, true); err != nil {
		return err
	}
	return s.updateCallback(c, workflows.CancelCallbackUpdate, workflows.CancelCallbackInput{Actor: actingAs(c), Reason: reason})
}

// dialCallback fires a callback now: an agent takes the call themselves (whatever
// their status, with room for a call); a supervisor's or admin's dial sends it where
// it would have gone at its time. It answers the callback, completed, with its
// interaction.
func (s *Server) dialCallback(c echo.Context) error {
	return s.updateCallback(c, workflows.DialCallbackUpdate, workflows.DialCallbackInput{Actor: actingAs(c)})
}

// updateCallback runs an update of a callback the caller may see and answers the
// callback after it, or its refusal in the documented error format.
func (s *Server) updateCallback(c echo.Context, name string, arg any) error {
	cb, err := s.ownCallback(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), interactionCallTimeout)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.CallbackWorkflowID(cb.ID), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out pgstore.Callback
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err != nil {
		return s.callbackError(c.Request().Context(), cb, err)
	}
	return c.JSON(http.StatusOK, out)
}

// callbackError maps a refused or failed callback update to an API error.
func (s *Server) callbackError(ctx context.Context, cb pgstore.Callback, err error) error {
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	switch {
	case errors.As(err, &app):
		switch app.Type() {
		case workflows.ErrTypeCallbackNotFound:
			return errNotFound("no such callback")
		case workflows.ErrTypeNotYourCallback:
			return errForbidden(app.Message())
		case workflows.ErrTypeCallbackClosed:
			return &Error{Status: http.StatusConflict, Code: CodeCallbackClosed, Message: app.Message()}
		case workflows.ErrTypeAgentUnavailable:
			return &Error{Status: http.StatusConflict, Code: CodeAgentUnavailable, Message: app.Message()}
		case workflows.ErrTypeDoNotCall:
			return &Error{Status: http.StatusConflict, Code: CodeDoNotCall, Message: app.Message()}
		case workflows.ErrTypeInvalidCallback:
			var field string
			if app.HasDetails() {
				_ = app.Details(&field)
			}
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Message: app.Message()}
		}
	case errors.As(err, &notFound):
		// The workflow is over: the callback fired or closed.
		if now, gerr := s.store.GetCallback(ctx, cb.TenantID, cb.ID); gerr == nil && !now.Status.Open() {
			return &Error{Status: http.StatusConflict, Code: CodeCallbackClosed, Message: fmt.Sprintf("the callback is already %s", now.Status)}
		}
		return errNotFound("no such callback")
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "no worker answered in time; try again"}
	}
	s.logger.Error("callback update failed", "callback", cb.ID, "error", err)
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the callback did not answer; try again"}
}
