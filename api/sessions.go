package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/timesheet"
	"switchboard/workflows"
)

const (
	// temporalCallTimeout bounds each start or signal of a session workflow.
	temporalCallTimeout = 5 * time.Second
	// totalsQueryTimeout bounds the query behind a session's totals; the
	// totals are an extra, presence is the answer.
	totalsQueryTimeout = 2 * time.Second
	// recoverPresenceTimeout bounds how long a login waits for the tenant's
	// held slots to be restored after Redis lost them.
	recoverPresenceTimeout = 10 * time.Second
)

// registerSessions adds agent presence: agents log in, out, change status and
// heart-beat on /v1/agents/me/…; supervisors and admins read an agent's
// session, log an agent out and change an agent's status on /v1/agents/{id}/….
func (s *Server) registerSessions(v1 *echo.Group) {
	agent := requireRole(pgstore.RoleAgent)
	sup := requireRole(configurers...)
	v1.POST("/agents/me/session", s.login, s.authenticate, agent)
	v1.GET("/agents/me/session", s.getSession, s.authenticate, agent)
	v1.DELETE("/agents/me/session", s.logout, s.authenticate, agent)
	v1.PUT("/agents/me/status", s.setStatus, s.authenticate, agent)
	v1.POST("/agents/me/heartbeat", s.heartbeat, s.authenticate, agent)
	v1.GET("/agents/:id/session", s.getSession, s.authenticate, sup)
	v1.DELETE("/agents/:id/session", s.logout, s.authenticate, sup)
	v1.PUT("/agents/:id/status", s.setStatus, s.authenticate, sup)
	v1.PUT("/agents/me/auto-call", s.setAutoCall, s.authenticate, agent)
	v1.PUT("/agents/:id/auto-call", s.setAutoCall, s.authenticate, sup)
}

// loginRequest is the optional body of a login.
type loginRequest struct {
	// Status is a catalogue ID or name; empty means Available.
	Status string `json:"status"`
	// Campaign is an enabled campaign's ID or name; the session keeps its ID.
	Campaign string `json:"campaign"`
}

// statusRequest is the body of a status change.
type statusRequest struct {
	// Status is a catalogue ID or name.
	Status string `json:"status"`
}

// autoCallRequest is the body of an Auto Call switch.
type autoCallRequest struct {
	Enabled *bool `json:"enabled"`
}

// sessionView is an agent's presence as the API shows it.
type sessionView struct {
	AgentID  string             `json:"agentId"`
	Session  int64              `json:"session,omitempty"`
	LoggedIn bool               `json:"loggedIn"`
	Expired  bool               `json:"expired"`
	Status   timesheet.Status   `json:"status"`
	Voice    routing.VoiceState `json:"voice"`
	Campaign string             `json:"campaign,omitempty"`
	LoginAt  *time.Time         `json:"loginAt,omitempty"`
	// ChangedAt is the last status change (or the logout).
	ChangedAt   *time.Time `json:"changedAt,omitempty"`
	HeartbeatAt *time.Time `json:"heartbeatAt,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	// HeartbeatTTLSeconds tells the desktop its heartbeat budget; beat
	// about every third of it.
	HeartbeatTTLSeconds float64 `json:"heartbeatTtlSeconds"`
	Resumed             bool    `json:"resumed,omitempty"`
	WorkflowID          string  `json:"workflowId"`
	// AutoCall: the agent takes part in auto-dialed calls. On at every login,
	// switched with PUT …/auto-call, off without a live session.
	// AutoCallCause says why: login, agent_set or supervisor_set.
	AutoCall          bool       `json:"autoCall"`
	AutoCallCause     string     `json:"autoCallCause,omitempty"`
	AutoCallChangedAt *time.Time `json:"autoCallChangedAt,omitempty"`
	// Occupancy counts, per channel, the interactions the agent holds or is
	// being offered; Capacity is the agent's effective capacity.
	Occupancy routing.Occupancy `json:"occupancy"`
	Capacity  routing.Capacity  `json:"capacity"`
	// WorkloadPercent is the combined workload over email, live messaging and
	// live chat (occupancy over capacity, summed, whole percent);
	// CapacityState is full_capacity from 90 on, under_capacity below, as
	// the agent's load changes.
	WorkloadPercent int                   `json:"workloadPercent"`
	CapacityState   routing.CapacityState `json:"capacityState"`
	// Totals are the session's durations so far (final once it ended), from
	// the session workflow; left out when it did not answer in time.
	Totals *timesheet.Totals `json:"totals,omitempty"`
}

// target is the agent a session request is about: the caller on /me routes,
// the path's agent otherwise (which must be an agent of the caller's tenant).
func (s *Server) target(c echo.Context) (string, bool, error) {
	p := principal(c)
	id := c.Param("id")
	if id == "" {
		return p.UserID, true, nil
	}
	a, err := s.store.GetAgent(c.Request().Context(), p.TenantID, id)
	if err != nil {
		return "", false, err
	}
	return a.ID, false, nil
}

// findStatus resolves a status named by a request to its catalogue entry.
// Offline is not chosen but reached by logging out.
func (s *Server) findStatus(ctx context.Context, tenantID, ref string) (pgstore.AgentStatus, error) {
	if strings.TrimSpace(ref) == "" {
		return pgstore.AgentStatus{}, &pgstore.ValidationError{Field: "status", Message: "name a status of GET /v1/statuses by ID or name"}
	}
	st, err := s.store.FindStatus(ctx, tenantID, ref)
	if errors.Is(err, pgstore.ErrNotFound) {
		return st, &pgstore.ValidationError{Field: "status", Message: fmt.Sprintf("no status %q in this tenant's catalogue (GET /v1/statuses)", ref)}
	}
	if err != nil {
		return st, err
	}
	if st.System && st.Group == routing.GroupUnavailable {
		return st, &pgstore.ValidationError{Field: "status", Message: st.Name + " is not chosen: log out instead (DELETE …/session)"}
	}
	return st, nil
}

func (s *Server) login(c echo.Context) error {
	var in loginRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	agent, err := s.store.GetAgent(ctx, p.TenantID, p.UserID)
	if err != nil {
		return err
	}
	if !agent.Enabled {
		return &Error{Status: http.StatusConflict, Code: CodeAgentDisabled, Message: "your agent record is disabled: a supervisor enables it with PATCH /v1/agents/{id}"}
	}
	ref := in.Status
	if ref == "" {
		ref = strings.ToLower(routing.StatusAvailable)
	}
	st, err := s.findStatus(ctx, p.TenantID, ref)
	if err != nil {
		return err
	}
	campaign, err := s.loginCampaign(ctx, p.TenantID, in.Campaign)
	if err != nil {
		return err
	}

	if err := s.recoverPresence(ctx, p.TenantID); err != nil {
		return err
	}
	res, err := s.presence.Login(ctx, p.TenantID, p.UserID, presence.LoginInput{Status: st.Status(), Campaign: campaign})
	if err != nil {
		return err
	}
	login := workflows.AgentLogin{
		Session: res.Presence.Session, Status: st.Sheet(), Campaign: campaign,
		// The login instant (a new session) or the resume instant, when a
		// changed status took effect: presence stamps both as the heartbeat.
		At:           res.Presence.HeartbeatAt,
		HeartbeatTTL: s.presence.HeartbeatTTL(),
		ActorID:      p.UserID,
	}
	if res.Lapsed != nil {
		login.Lapsed = &workflows.AgentLapse{Session: res.Lapsed.Session, ExpiredAt: res.Lapsed.ExpiredAt}
	}
	if err := s.startSession(ctx, p.TenantID, p.UserID, login); err != nil {
		// An unrecorded session is not opened: the desktop retries the login
		// (which resumes a live session, so retrying is always safe).
		if !res.Resumed {
			if _, lerr := s.presence.Logout(context.WithoutCancel(ctx), p.TenantID, p.UserID); lerr != nil {
				s.logger.Warn("undo login after a failed session start", "agent", p.UserID, "error", lerr)
			}
		}
		s.logger.Error("agent session workflow not started", "agent", p.UserID, "error", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the session could not be recorded (Temporal did not answer); log in again"}
	}
	if res.Presence.Status.Group.ReceivesNew() {
		s.offerWaiting(ctx, p.TenantID, p.UserID)
	}
	v, err := s.view(ctx, p.TenantID, res.Presence, &st)
	if err != nil {
		return err
	}
	v.Resumed = res.Resumed
	s.publishAgentStatus(ctx, p.TenantID, res.Presence.Session, res.Presence.ChangedAt, agentEvent{AgentID: p.UserID, LoggedIn: true, Presence: &v})
	status := http.StatusCreated
	if res.Resumed {
		status = http.StatusOK
	}
	return c.JSON(status, v)
}

// startSession delivers a login to the agent's session workflow, starting it
// when none runs.
func (s *Server) startSession(ctx context.Context, tenantID, agentID string, l workflows.AgentLogin) error {
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	id := workflows.AgentSessionWorkflowID(tenantID, agentID)
	_, err := s.temporal.SignalWithStartWorkflow(ctx, id, workflows.AgentLoginSignal, l, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(tenantID),
			workflows.AgentIDKey.ValueSet(agentID), workflows.StatusKey.ValueSet(l.Status.Name)),
	}, workflows.AgentSession, workflows.AgentSessionInput{TenantID: tenantID, AgentID: agentID, HeartbeatTTL: s.presence.HeartbeatTTL()})
	return err
}

// signalSession tells the agent's session workflow about a change presence
// already made. A lost signal loses nothing: the workflow compares itself with
// presence at every heartbeat tick and catches up.
func (s *Server) signalSession(ctx context.Context, tenantID, agentID, name string, arg any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), temporalCallTimeout)
	defer cancel()
	err := s.temporal.SignalWorkflow(ctx, workflows.AgentSessionWorkflowID(tenantID, agentID), "", name, arg)
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
	case errors.As(err, &notFound):
		s.logger.Debug("no session workflow to signal", "agent", agentID, "signal", name)
	default:
		s.logger.Warn("session workflow not signalled; it catches up at its next presence check", "agent", agentID, "signal", name, "error", err)
	}
}

func (s *Server) logout(c echo.Context) error {
	agent, self, err := s.target(c)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	before, err := s.presence.Get(ctx, p.TenantID, agent)
	if err != nil {
		return err
	}
	if before.Expired {
		// The session is already over: record it as ended when it lapsed,
		// not now.
		ok, err := s.presence.LogoutExpired(ctx, p.TenantID, agent, before.Session)
		if err != nil {
			return err
		}
		if ok {
			s.signalSession(ctx, p.TenantID, agent, workflows.AgentLogoutSignal, workflows.AgentLogout{
				Session: before.Session, At: before.ExpiresAt, Reason: pgstore.LogoutHeartbeatLapsed,
			})
			return c.NoContent(http.StatusNoContent)
		}
	}
	var after presence.Presence
	reason := pgstore.LogoutByAgent
	if self {
		after, err = s.presence.Logout(ctx, p.TenantID, agent)
	} else {
		reason = pgstore.LogoutForced
		after, err = s.presence.ForceLogout(ctx, p.TenantID, agent)
	}
	if err != nil {
		return err
	}
	if before.LoggedIn || before.Expired {
		s.signalSession(ctx, p.TenantID, agent, workflows.AgentLogoutSignal, workflows.AgentLogout{
			Session: after.Session, At: after.ChangedAt, Reason: reason, ActorID: p.UserID,
		})
		s.publishAgentStatus(ctx, p.TenantID, after.Session, after.ChangedAt, agentEvent{AgentID: agent, Reason: string(reason)})
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) setStatus(c echo.Context) error {
	var in statusRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	agent, _, err := s.target(c)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	st, err := s.findStatus(ctx, p.TenantID, in.Status)
	if err != nil {
		return err
	}
	pr, err := s.presence.SetStatus(ctx, p.TenantID, agent, st.Status())
	if err != nil {
		return err
	}
	s.signalSession(ctx, p.TenantID, agent, workflows.AgentStatusSignal, workflows.AgentStatusChange{
		Session: pr.Session, Status: st.Sheet(), At: pr.ChangedAt, ActorID: p.UserID,
	})
	if pr.Status.Group.ReceivesNew() {
		s.offerWaiting(ctx, p.TenantID, agent)
	}
	v, err := s.view(ctx, p.TenantID, pr, &st)
	if err != nil {
		return err
	}
	s.publishAgentStatus(ctx, p.TenantID, pr.Session, pr.ChangedAt, agentEvent{AgentID: agent, LoggedIn: true, Presence: &v})
	return c.JSON(http.StatusOK, v)
}

func (s *Server) heartbeat(c echo.Context) error {
	p := principal(c)
	if _, err := s.presence.Heartbeat(c.Request().Context(), p.TenantID, p.UserID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getSession(c echo.Context) error {
	agent, _, err := s.target(c)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	pr, err := s.presence.Get(ctx, p.TenantID, agent)
	if err != nil {
		return err
	}
	v, err := s.view(ctx, p.TenantID, pr, nil)
	if err != nil {
		return err
	}
	if pr.Session != 0 {
		v.Totals = s.sessionTotals(ctx, p.TenantID, pr)
	}
	return c.JSON(http.StatusOK, v)
}

// sessionTotals are the durations of pr's session: final from PostgreSQL once
// the session workflow recorded its end, otherwise from the workflow's query,
// brought up to the presence clock. Nil when neither answers.
func (s *Server) sessionTotals(ctx context.Context, tenantID string, pr presence.Presence) *timesheet.Totals {
	if !pr.LoggedIn && !pr.Expired {
		rec, err := s.store.GetAgentSession(ctx, tenantID, pr.Agent, pr.Session)
		if err == nil && rec.LogoutAt != nil {
			return &rec.Totals
		}
	}
	state, ok := s.querySession(ctx, tenantID, pr.Agent)
	if !ok || state.Session != pr.Session {
		return nil
	}
	t := state.TotalsAt(pr.At)
	return &t
}

// querySession asks the agent's session workflow for its state.
func (s *Server) querySession(ctx context.Context, tenantID, agentID string) (workflows.AgentSessionState, bool) {
	ctx, cancel := context.WithTimeout(ctx, totalsQueryTimeout)
	defer cancel()
	var state workflows.AgentSessionState
	res, err := s.temporal.QueryWorkflow(ctx, workflows.AgentSessionWorkflowID(tenantID, agentID), "", workflows.AgentSessionQuery)
	if err == nil {
		err = res.Get(&state)
	}
	if err != nil {
		s.logger.Debug("session totals not available", "agent", agentID, "error", err)
		return state, false
	}
	return state, true
}

// view shows pr with its status's catalogue entry — known when the caller just
// resolved it, looked up by name otherwise (a status deleted since keeps its
// name and group only) — the agent's Auto Call mode, and their workload: live
// occupancy from presence over effective capacity from the agent's settings.
func (s *Server) view(ctx context.Context, tenantID string, pr presence.Presence, known *pgstore.AgentStatus) (sessionView, error) {
	v := sessionView{
		AgentID: pr.Agent, Session: pr.Session, LoggedIn: pr.LoggedIn, Expired: pr.Expired,
		Status: timesheet.Status{Name: pr.Status.Name, Group: pr.Status.Group},
		Voice:  pr.Voice, Campaign: pr.Campaign,
		LoginAt: timeOrNil(pr.LoginAt), ChangedAt: timeOrNil(pr.ChangedAt), HeartbeatAt: timeOrNil(pr.HeartbeatAt),
		HeartbeatTTLSeconds: s.presence.HeartbeatTTL().Seconds(),
		WorkflowID:          workflows.AgentSessionWorkflowID(tenantID, pr.Agent),
	}
	if pr.LoggedIn {
		v.ExpiresAt = timeOrNil(pr.ExpiresAt)
	}
	switch {
	case known != nil && known.Sheet().Same(v.Status):
		v.Status = known.Sheet()
	case pr.Status.System:
		v.Status.ID = strings.ToLower(pr.Status.Name)
	default:
		if st, err := s.store.FindStatus(ctx, tenantID, pr.Status.Name); err == nil && st.Group == pr.Status.Group {
			v.Status = st.Sheet()
		}
	}
	ac, err := s.presence.AutoCall(ctx, tenantID, pr.Agent)
	if err != nil {
		return v, err
	}
	v.AutoCall = ac.Enabled
	if ac.Cause != "" {
		v.AutoCallCause, v.AutoCallChangedAt = string(ac.Cause), timeOrNil(ac.ChangedAt)
	}
	occ, err := s.presence.Occupancy(ctx, tenantID, pr.Agent)
	if err != nil {
		return v, err
	}
	capacity, err := s.store.AgentCapacity(ctx, tenantID, pr.Agent)
	if err != nil {
		return v, err
	}
	v.Occupancy, v.Capacity = routing.Occupancy{}, capacity
	for _, ch := range routing.Channels() {
		v.Occupancy[ch] = occ[ch]
	}
	v.WorkloadPercent = routing.CombinedPercentage(occ, capacity)
	v.CapacityState = routing.CapacityStateOf(occ, capacity)
	return v, nil
}

// setAutoCall switches the agent's participation in auto-dialed calls for the
// live session: the agent's own switch on /me, a supervisor's or admin's on
// /{id}. A change is told to the agent's session workflow, which keeps it in
// the session's history with its cause.
func (s *Server) setAutoCall(c echo.Context) error {
	var in autoCallRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return &pgstore.ValidationError{Field: "enabled", Message: "is required: true takes part in auto-dialed calls, false stays out of them"}
	}
	agent, self, err := s.target(c)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	cause := presence.AutoCallSupervisorSet
	if self {
		cause = presence.AutoCallAgentSet
	}
	ac, changed, err := s.presence.SetAutoCall(ctx, p.TenantID, agent, *in.Enabled, cause)
	if err != nil {
		return err
	}
	if changed {
		s.signalSession(ctx, p.TenantID, agent, workflows.AgentAutoCallSignal, workflows.AgentAutoCallChange{
			Session: ac.Session, Enabled: ac.Enabled, Cause: ac.Cause, At: ac.ChangedAt, ActorID: p.UserID,
		})
	}
	pr, err := s.presence.Get(ctx, p.TenantID, agent)
	if err != nil {
		return err
	}
	v, err := s.view(ctx, p.TenantID, pr, nil)
	if err != nil {
		return err
	}
	if changed {
		s.publishAgentStatus(ctx, p.TenantID, ac.Session, ac.ChangedAt, agentEvent{AgentID: agent, LoggedIn: true, Reason: "auto_call", Presence: &v})
	}
	return c.JSON(http.StatusOK, v)
}

// recoverPresence makes sure the tenant's held slots are in presence before an
// agent of the tenant logs in: after Redis lost its data nobody is logged in, so
// restoring them here — or waiting while a worker does — means nobody is offered
// work on a slot that is in fact held. When presence is intact this is one read.
func (s *Server) recoverPresence(ctx context.Context, tenantID string) error {
	ctx, cancel := context.WithTimeout(ctx, recoverPresenceTimeout)
	defer cancel()
	r, err := s.presence.Recover(ctx, tenantID, s.heldInteractions)
	if err != nil {
		s.logger.Error("presence not restored", "tenant_id", tenantID, "error", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "agent presence is being restored after Redis lost it; log in again in a moment"}
	}
	if r.Rebuilt {
		s.logger.Info("presence restored from the read model", "tenant_id", tenantID, "restored", r.Restored, "stale", r.Stale)
	}
	return nil
}

// heldInteractions lists what the tenant's agents hold according to the read
// model, as presence rebuilds it.
func (s *Server) heldInteractions(ctx context.Context, tenantID string) ([]presence.Holding, error) {
	rows, err := s.store.HeldInteractions(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]presence.Holding, len(rows))
	for i, h := range rows {
		out[i] = presence.Holding{Agent: h.AgentID, Interaction: h.InteractionID, Channel: h.Channel, AssignedAt: h.ConnectedAt}
	}
	return out, nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
