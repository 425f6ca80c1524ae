package workflows

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/timesheet"
)

// AgentSessionWorkflowID names the session workflow of an agent. One runs per
// agent at a time, so callers reach it by ID alone, across continue-as-new.
func AgentSessionWorkflowID(tenant, agent string) string { return "agent/" + tenant + "/" + agent }

// Signals and query of the agent-session workflow.
const (
	// AgentLoginSignal opens a session, or resumes the open one; the API
	// sends it with SignalWithStart, which starts the workflow if needed.
	AgentLoginSignal = "agent-login"
	// AgentStatusSignal reports a status change (AgentStatusChange).
	AgentStatusSignal = "agent-status"
	// AgentVoiceSignal reports a voice sub-state change (AgentVoiceChange).
	AgentVoiceSignal = "agent-voice"
	// AgentLogoutSignal reports a logout (AgentLogout).
	AgentLogoutSignal = "agent-logout"
	// AgentAutoCallSignal reports an Auto Call change (AgentAutoCallChange).
	AgentAutoCallSignal = "agent-auto-call"
	// AgentSessionQuery answers the AgentSessionState of the open session,
	// or of the last one once it ended.
	AgentSessionQuery = "session"
)

// historyLimit bounds the status history kept in the workflow (and carried
// over continue-as-new); PostgreSQL keeps all of it.
const historyLimit = 50

// loginWait is how long a run started without a login waits for one.
// SignalWithStart always delivers the login with the start; a run started by
// hand (from the Temporal UI, say) ends after this if nothing comes.
const loginWait = time.Minute

// minCheckInterval keeps a tiny heartbeat TTL from turning the lapse check
// into a busy loop.
const minCheckInterval = time.Second

// AgentSessionInput starts, or continues as new, an agent's session workflow.
type AgentSessionInput struct {
	TenantID string `json:"tenantId"`
	AgentID  string `json:"agentId"`
	// HeartbeatTTL is the presence heartbeat lifetime; the workflow checks
	// presence for a lapse at that cadence (30 s when zero).
	HeartbeatTTL time.Duration `json:"heartbeatTtl"`
	// Carried is the open session handed over by continue-as-new. A fresh
	// start has none: the login signal delivered with it opens the session.
	Carried *AgentSessionState `json:"carried,omitempty"`
}

// AgentLogin opens a session (a new presence session ID) or resumes the open
// one (the same ID, maybe with a new status or campaign).
type AgentLogin struct {
	Session  int64            `json:"session"`
	Status   timesheet.Status `json:"status"`
	Campaign string           `json:"campaign,omitempty"`
	// At is the instant of the login by the presence clock.
	At time.Time `json:"at"`
	// Lapsed is the earlier session this login replaced because its heartbeat
	// had expired; it ended at Lapsed.ExpiredAt.
	Lapsed       *AgentLapse   `json:"lapsed,omitempty"`
	HeartbeatTTL time.Duration `json:"heartbeatTtl"`
	ActorID      string        `json:"actorId,omitempty"`
}

// AgentLapse is a session that ended because its heartbeat expired.
type AgentLapse struct {
	Session   int64     `json:"session"`
	ExpiredAt time.Time `json:"expiredAt"`
}

// AgentStatusChange is a status change of a session, dated by the presence
// clock; a change older than the current status is ignored.
type AgentStatusChange struct {
	Session int64            `json:"session"`
	Status  timesheet.Status `json:"status"`
	At      time.Time        `json:"at"`
	ActorID string           `json:"actorId,omitempty"`
}

// AgentVoiceChange is a voice sub-state change (ringing, in call, wrapping,
// back to idle), as the interaction workflows' activities set it in presence,
// dated by the presence clock; a change older than the current sub-state is
// ignored. Session 0 means whichever session is open.
type AgentVoiceChange = activities.VoiceChange

// AgentLogout ends a session at At.
type AgentLogout struct {
	Session int64     `json:"session"`
	At      time.Time `json:"at"`
	// Reason is one of the pgstore.Logout* constants.
	Reason  string `json:"reason"`
	ActorID string `json:"actorId,omitempty"`
}

// AgentAutoCallChange is an agent's Auto Call mode switched within a session,
// dated by the presence clock: whether the agent takes part in auto-dialed
// calls, and why (presence.AutoCallAgentSet or AutoCallSupervisorSet). Every
// session starts with it on, for the cause presence.AutoCallLogin.
type AgentAutoCallChange struct {
	Session int64                  `json:"session"`
	Enabled bool                   `json:"enabled"`
	Cause   presence.AutoCallCause `json:"cause"`
	At      time.Time              `json:"at"`
	ActorID string                 `json:"actorId,omitempty"`
}

// AutoCallEntry is one line of a session's Auto Call history: the mode from
// At on, like the reference's userAvailabilityStatusChanged (autoCallStatus,
// autoCallStateChangeCause).
type AutoCallEntry struct {
	At      time.Time              `json:"at"`
	Enabled bool                   `json:"enabled"`
	Cause   presence.AutoCallCause `json:"cause"`
	ActorID string                 `json:"actorId,omitempty"`
}

// StatusEntry is one line of a session's status history.
type StatusEntry struct {
	At      time.Time        `json:"at"`
	Status  timesheet.Status `json:"status"`
	ActorID string           `json:"actorId,omitempty"`
}

// AgentSessionState is one session as the workflow keeps it: the query's
// answer, the workflow's result and what continue-as-new carries.
type AgentSessionState struct {
	TenantID     string     `json:"tenantId"`
	AgentID      string     `json:"agentId"`
	Session      int64      `json:"session"`
	Open         bool       `json:"open"`
	Campaign     string     `json:"campaign,omitempty"`
	LoginAt      time.Time  `json:"loginAt"`
	LogoutAt     *time.Time `json:"logoutAt,omitempty"`
	LogoutReason string     `json:"logoutReason,omitempty"`
	// Seq is the number of events recorded for the session so far.
	Seq int64 `json:"seq"`
	// Sheet holds the current status and voice sub-state and the totals
	// accounted up to the last event (up to the logout once ended).
	Sheet timesheet.Sheet `json:"sheet"`
	// History is the latest status changes, oldest first, at most 50.
	History []StatusEntry `json:"history"`
	// AutoCall is the session's Auto Call mode and AutoCallHistory its
	// latest changes, oldest first, at most 50, the login's first.
	AutoCall        AutoCallEntry   `json:"autoCall"`
	AutoCallHistory []AutoCallEntry `json:"autoCallHistory,omitempty"`
}

// TotalsAt returns the session's totals at t: accounted up to t while the
// session is open, final once it ended. Callers pass their own clock, as a
// query cannot know the time.
func (s AgentSessionState) TotalsAt(t time.Time) timesheet.Totals {
	if !s.Open {
		return s.Sheet.Totals.Clone()
	}
	return s.Sheet.At(t)
}

// offlineStatus is the status a session ends in.
var offlineStatus = timesheet.Status{ID: strings.ToLower(routing.StatusOffline), Name: routing.StatusOffline, Group: routing.GroupUnavailable}

// AgentSession keeps one agent's sessions for reporting: the status history
// and the durations (logged in, per status, per break reason, talk, idle),
// each change written to PostgreSQL as it happens. Signals drive it, each
// dated by the caller with the presence clock. A durable timer at the
// heartbeat cadence checks presence, so a desktop that stopped heart-beating
// is logged out and its session recorded as ended when the heartbeat lapsed.
// It continues as new when Temporal suggests it and ends with the session.
func AgentSession(ctx workflow.Context, in AgentSessionInput) (*AgentSessionState, error) {
	w := &agentSession{in: in, ttl: in.HeartbeatTTL}
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	return w.run(ctx)
}

type agentSession struct {
	in                           AgentSessionInput
	ttl                          time.Duration
	state                        AgentSessionState
	login, status, voice, logout workflow.ReceiveChannel
	autoCall                     workflow.ReceiveChannel
}

// sessionEvent is one received signal, so that signals that arrived together
// can be applied in the order they happened.
type sessionEvent struct {
	at     time.Time
	order  int
	login  *AgentLogin
	status *AgentStatusChange
	voice  *AgentVoiceChange
	logout *AgentLogout
	auto   *AgentAutoCallChange
}

func (w *agentSession) setup(ctx workflow.Context) error {
	if w.in.TenantID == "" || w.in.AgentID == "" {
		return temporal.NewNonRetryableApplicationError("agent session needs a tenant and an agent", "InvalidInput", nil)
	}
	w.state = AgentSessionState{TenantID: w.in.TenantID, AgentID: w.in.AgentID}
	if w.in.Carried != nil {
		w.state = *w.in.Carried
		if w.state.Open && w.state.AutoCall.Cause == "" {
			// Carried from a run that kept no Auto Call: the session's own.
			w.state.AutoCall = AutoCallEntry{At: w.state.LoginAt, Enabled: true, Cause: presence.AutoCallLogin}
		}
	}
	if err := workflow.SetQueryHandler(ctx, AgentSessionQuery, func() (AgentSessionState, error) { return w.state, nil }); err != nil {
		return err
	}
	w.login = workflow.GetSignalChannel(ctx, AgentLoginSignal)
	w.status = workflow.GetSignalChannel(ctx, AgentStatusSignal)
	w.voice = workflow.GetSignalChannel(ctx, AgentVoiceSignal)
	w.logout = workflow.GetSignalChannel(ctx, AgentLogoutSignal)
	w.autoCall = workflow.GetSignalChannel(ctx, AgentAutoCallSignal)
	attrs := []temporal.SearchAttributeUpdate{TenantIDKey.ValueSet(w.in.TenantID), AgentIDKey.ValueSet(w.in.AgentID)}
	if w.in.Carried != nil {
		// A fresh start gets its Status with the login.
		attrs = append(attrs, StatusKey.ValueSet(w.statusAttr()))
	}
	return workflow.UpsertTypedSearchAttributes(ctx, attrs...)
}

func (w *agentSession) run(ctx workflow.Context) (*AgentSessionState, error) {
	if w.in.Carried == nil && w.login.Len() == 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, loginWait, func() bool { return w.login.Len() > 0 }); err != nil {
			return nil, err
		}
	}
	var timer workflow.Future
	for {
		w.apply(ctx, w.pending())
		if !w.state.Open && w.anyPending() {
			// Signals that came while the end was being recorded — a login right
			// after the logout, and what follows it — would go with this run.
			continue
		}
		if !w.state.Open {
			return &w.state, nil
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return w.continueAsNew(ctx)
		}
		if timer == nil {
			timer = workflow.NewTimer(ctx, w.checkEvery())
		}
		fired := false
		sel := workflow.NewSelector(ctx)
		for _, ch := range []workflow.ReceiveChannel{w.login, w.status, w.voice, w.logout, w.autoCall} {
			// The value stays in the channel for pending, which takes
			// everything that arrived and orders it.
			sel.AddReceive(ch, func(workflow.ReceiveChannel, bool) {})
		}
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.Select(ctx)
		if fired {
			timer = nil
			w.check(ctx)
		}
	}
}

// continueAsNew hands the open session to a new run once every signal
// delivered so far is applied.
func (w *agentSession) continueAsNew(ctx workflow.Context) (*AgentSessionState, error) {
	w.apply(ctx, w.pending())
	for w.anyPending() { // what came while those were being recorded
		w.apply(ctx, w.pending())
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	if !w.state.Open {
		return &w.state, nil
	}
	carried := w.state
	return nil, workflow.NewContinueAsNewError(ctx, AgentSession, AgentSessionInput{
		TenantID: w.in.TenantID, AgentID: w.in.AgentID, HeartbeatTTL: w.ttl, Carried: &carried,
	})
}

func (w *agentSession) checkEvery() time.Duration {
	d := w.ttl
	if d <= 0 {
		d = presence.DefaultHeartbeatTTL
	}
	return max(d, minCheckInterval)
}

// anyPending reports whether a signal is waiting to be applied.
func (w *agentSession) anyPending() bool {
	for _, ch := range []workflow.ReceiveChannel{w.login, w.status, w.voice, w.logout, w.autoCall} {
		if ch.Len() > 0 {
			return true
		}
	}
	return false
}

// pending takes every signal already delivered, ordered by when it happened
// (a login before what follows it at the same instant, a logout last).
func (w *agentSession) pending() []sessionEvent {
	var evs []sessionEvent
	evs = takeAll(w.login, evs, func(v AgentLogin) sessionEvent { return sessionEvent{at: v.At, order: 0, login: &v} })
	evs = takeAll(w.status, evs, func(v AgentStatusChange) sessionEvent { return sessionEvent{at: v.At, order: 1, status: &v} })
	evs = takeAll(w.autoCall, evs, func(v AgentAutoCallChange) sessionEvent { return sessionEvent{at: v.At, order: 1, auto: &v} })
	evs = takeAll(w.voice, evs, func(v AgentVoiceChange) sessionEvent { return sessionEvent{at: v.At, order: 2, voice: &v} })
	evs = takeAll(w.logout, evs, func(v AgentLogout) sessionEvent { return sessionEvent{at: v.At, order: 3, logout: &v} })
	slices.SortStableFunc(evs, func(a, b sessionEvent) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.order, b.order)) })
	return evs
}

func takeAll[T any](c workflow.ReceiveChannel, into []sessionEvent, wrap func(T) sessionEvent) []sessionEvent {
	for {
		var v T
		if !c.ReceiveAsync(&v) {
			return into
		}
		into = append(into, wrap(v))
	}
}

func (w *agentSession) apply(ctx workflow.Context, evs []sessionEvent) {
	for _, ev := range evs {
		switch {
		case ev.login != nil:
			w.onLogin(ctx, *ev.login)
		case ev.status != nil:
			w.onStatus(ctx, *ev.status)
		case ev.voice != nil:
			w.onVoice(ctx, *ev.voice)
		case ev.logout != nil:
			w.onLogout(ctx, *ev.logout)
		case ev.auto != nil:
			w.onAutoCall(ctx, *ev.auto)
		}
	}
}

func (w *agentSession) onLogin(ctx workflow.Context, l AgentLogin) {
	if l.HeartbeatTTL > 0 {
		w.ttl = l.HeartbeatTTL
	}
	st := &w.state
	switch {
	case st.Open && l.Session == st.Session:
		// Resumed: the same session, maybe in another status or campaign.
		changed := st.Sheet.SetStatus(l.At, l.Status)
		if !changed && l.Campaign == st.Campaign {
			return
		}
		st.Campaign = l.Campaign
		if changed {
			w.statusChanged(ctx, l.ActorID)
		}
		w.record(ctx, pgstore.SessionStatus, l.ActorID, "")
	case l.Session > st.Session:
		if st.Open {
			end, reason := l.At, pgstore.LogoutReplaced
			if l.Lapsed != nil && l.Lapsed.Session == st.Session {
				end, reason = l.Lapsed.ExpiredAt, pgstore.LogoutHeartbeatLapsed
			}
			w.end(ctx, end, reason, "")
		}
		*st = AgentSessionState{
			TenantID: w.in.TenantID, AgentID: w.in.AgentID, Session: l.Session, Open: true,
			Campaign: l.Campaign, LoginAt: l.At, Sheet: timesheet.Start(l.At, l.Status),
		}
		w.autoCallChanged(AutoCallEntry{At: l.At, Enabled: true, Cause: presence.AutoCallLogin, ActorID: l.ActorID})
		w.statusChanged(ctx, l.ActorID)
		w.record(ctx, pgstore.SessionLogin, l.ActorID, "")
	default:
		workflow.GetLogger(ctx).Info("stale login ignored", "session", l.Session, "current", st.Session, "open", st.Open)
	}
}

func (w *agentSession) onStatus(ctx workflow.Context, c AgentStatusChange) {
	st := &w.state
	if !st.Open || c.Session != st.Session || c.At.Before(st.Sheet.StatusSince) {
		workflow.GetLogger(ctx).Info("stale status change ignored", "session", c.Session, "status", c.Status.Name, "at", c.At)
		return
	}
	w.setStatus(ctx, c.At, c.Status, c.ActorID)
}

func (w *agentSession) setStatus(ctx workflow.Context, at time.Time, s timesheet.Status, actor string) {
	if !w.state.Sheet.SetStatus(at, s) {
		return
	}
	w.statusChanged(ctx, actor)
	w.record(ctx, pgstore.SessionStatus, actor, "")
}

func (w *agentSession) onVoice(ctx workflow.Context, v AgentVoiceChange) {
	st := &w.state
	// Calls report their changes as presence made them; one that arrives after a
	// later change (two calls of the agent overlapping) is stale.
	if !st.Open || (v.Session != 0 && v.Session != st.Session) || !v.State.Valid() || v.At.Before(st.Sheet.VoiceSince) {
		workflow.GetLogger(ctx).Info("voice change ignored", "session", v.Session, "state", v.State, "at", v.At)
		return
	}
	if st.Sheet.SetVoice(v.At, v.State) {
		w.record(ctx, pgstore.SessionVoice, "", "")
	}
}

// onAutoCall applies an Auto Call change of the open session. It is kept in
// the workflow (its query, its history of signals) and not written as a
// session event: the mode does not change the session's durations.
func (w *agentSession) onAutoCall(ctx workflow.Context, c AgentAutoCallChange) {
	st := &w.state
	if !st.Open || c.Session != st.Session || c.At.Before(st.AutoCall.At) || !c.Cause.Valid() {
		workflow.GetLogger(ctx).Info("stale auto call change ignored", "session", c.Session, "enabled", c.Enabled, "at", c.At)
		return
	}
	if c.Enabled == st.AutoCall.Enabled {
		return
	}
	w.autoCallChanged(AutoCallEntry{At: c.At, Enabled: c.Enabled, Cause: c.Cause, ActorID: c.ActorID})
}

func (w *agentSession) autoCallChanged(e AutoCallEntry) {
	st := &w.state
	st.AutoCall = e
	st.AutoCallHistory = append(st.AutoCallHistory, e)
	if n := len(st.AutoCallHistory); n > historyLimit {
		st.AutoCallHistory = slices.Clone(st.AutoCallHistory[n-historyLimit:])
	}
}

func (w *agentSession) onLogout(ctx workflow.Context, l AgentLogout) {
	if !w.state.Open || l.Session != w.state.Session {
		workflow.GetLogger(ctx).Info("stale logout ignored", "session", l.Session, "current", w.state.Session)
		return
	}
	reason := l.Reason
	if !pgstore.KnownLogoutReason(reason) {
		reason = pgstore.LogoutUnrecorded
	}
	w.end(ctx, l.At, reason, l.ActorID)
}

// end closes the open session at at (or at the last accounted instant, if
// that is later) and records the logout.
func (w *agentSession) end(ctx workflow.Context, at time.Time, reason, actor string) {
	st := &w.state
	st.Sheet.Advance(at)
	st.Sheet.SetStatus(st.Sheet.Through, offlineStatus)
	st.Open = false
	logout := st.Sheet.Through
	st.LogoutAt, st.LogoutReason = &logout, reason
	w.statusChanged(ctx, actor)
	w.record(ctx, pgstore.SessionLogout, actor, reason)
}

// statusChanged adds the sheet's status to the history and to the Status
// search attribute.
func (w *agentSession) statusChanged(ctx workflow.Context, actor string) {
	st := &w.state
	st.History = append(st.History, StatusEntry{At: st.Sheet.StatusSince, Status: st.Sheet.Status, ActorID: actor})
	if n := len(st.History); n > historyLimit {
		st.History = slices.Clone(st.History[n-historyLimit:])
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(w.statusAttr())); err != nil {
		workflow.GetLogger(ctx).Warn("status search attribute not set", "error", err)
	}
}

func (w *agentSession) statusAttr() string {
	if !w.state.Open {
		return offlineStatus.Name
	}
	return w.state.Sheet.Status.Name
}

// record writes the session's newest event, numbered in the workflow so that
// a retried write lands on the same key.
func (w *agentSession) record(ctx workflow.Context, kind pgstore.SessionEventKind, actor, reason string) {
	st := &w.state
	st.Seq++
	ev := pgstore.SessionEvent{
		TenantID: st.TenantID, AgentID: st.AgentID, Session: st.Session, Seq: st.Seq, Kind: kind,
		At: st.Sheet.Through, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, LoginAt: st.LoginAt,
		Status: st.Sheet.Status, Voice: st.Sheet.Voice, Campaign: st.Campaign,
		LogoutReason: reason, ActorID: actor, Totals: st.Sheet.Totals.Clone(),
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		// PostgreSQL being down delays reporting, it must not lose it: retry
		// until it answers.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *activities.Activities
	if err := workflow.ExecuteActivity(actx, a.RecordAgentSessionEvent, ev).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("session event not recorded", "seq", ev.Seq, "kind", kind, "error", err)
	}
}

// check asks presence whether the session is still live, ends it if its
// heartbeat lapsed (or presence ended it without telling), catches up with a
// status change whose signal never came, and takes the agent back to idle
// when presence showed a call ringing or in progress that holds no slot.
func (w *agentSession) check(ctx workflow.Context) {
	st := &w.state
	session := st.Session
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	var a *activities.Activities
	var v activities.PresenceVerdict
	err := workflow.ExecuteActivity(actx, a.CheckAgentPresence, activities.PresenceCheck{
		TenantID: st.TenantID, AgentID: st.AgentID, Session: session, Status: st.Sheet.Status,
	}).Get(ctx, &v)
	if err != nil {
		// The next tick tries again; presence itself already treats a lapsed
		// agent as Offline, so routing is never misled meanwhile.
		workflow.GetLogger(ctx).Warn("presence check failed", "error", err)
		return
	}
	// Signals that arrived meanwhile go first: they may be the very logout or
	// status change the check saw, with its actor and reason.
	w.apply(ctx, w.pending())
	if !st.Open || st.Session != session {
		return
	}
	switch {
	case v.Ended:
		w.end(ctx, v.EndedAt, v.Reason, "")
	case v.Status != nil && !v.StatusAt.Before(st.Sheet.StatusSince):
		w.setStatus(ctx, v.StatusAt, *v.Status, "")
	}
	if v.Voice != nil && st.Open {
		w.onVoice(ctx, *v.Voice)
	}
}
