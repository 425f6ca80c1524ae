package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
	"switchboard/timesheet"
)

const (
	// monitorThrottle is the shortest time between two snapshots of a monitor
	// stream: a burst of events makes one snapshot at its end, not one each.
	monitorThrottle = 500 * time.Millisecond
	// monitorRefresh sends a snapshot even without events, for what changes
	// without one (a heartbeat that lapses).
	monitorRefresh = 30 * time.Second
	// presenceReads bounds the presence reads of one snapshot in flight at once.
	presenceReads = 16
)

// registerMonitor adds the supervisor's live monitor (/v1/monitor…) and the agents'
// self-monitoring figures (/v1/agents/me/stats, /v1/agents/{id}/stats).
func (s *Server) registerMonitor(v1 *echo.Group) {
	sup := requireRole(configurers...)
	v1.GET("/monitor", s.getMonitor, s.authenticate, sup)
	v1.GET("/monitor/stream", s.streamMonitor, s.authenticate, sup)
	v1.GET("/monitor/agents/:id", s.getMonitorAgent, s.authenticate, sup)
	v1.GET("/agents/me/stats", s.getAgentStats, s.authenticate, requireRole(pgstore.RoleAgent))
	v1.GET("/agents/:id/stats", s.getAgentStats, s.authenticate, sup)
}

// monitorView is the live monitor of a scope at one instant.
type monitorView struct {
	// At is the instant of the snapshot (the presence clock); every elapsed time
	// is measured to it.
	At           time.Time            `json:"at"`
	Scope        pgstore.MonitorScope `json:"scope"`
	Interactions interactionSummary   `json:"interactions"`
	AgentSummary agentSummary         `json:"agentSummary"`
	Agents       []monitorAgent       `json:"agents"`
}

// interactionSummary counts the live interactions by state. The states are
// disjoint: each interaction is counted once.
type interactionSummary struct {
	// Connected: with an agent.
	Connected stateCount `json:"connected"`
	// Queued: waiting for an agent.
	Queued stateCount `json:"queued"`
	// Ringing: offered to an agent who has not answered yet; still waiting, so
	// the reference's Queued bar is Queued plus Ringing.
	Ringing stateCount `json:"ringing"`
	// Hold: its agent put it on hold.
	Hold stateCount `json:"hold"`
	// HungUp: ended, with the agent wrapping it up until it is disposed.
	HungUp stateCount `json:"hungUp"`
	// IVR: in an IVR before reaching a queue. Switchboard has no IVR yet, so it
	// is always 0; the key is there for dashboards to draw the bar.
	IVR stateCount `json:"ivr"`
}

// stateCount is how many interactions are in one state, in all, per channel
// (every channel present) and per sub-channel (the channel's name when an
// interaction has none).
type stateCount struct {
	Total     int                     `json:"total"`
	ByChannel map[routing.Channel]int `json:"byChannel"`
	BySource  map[string]int          `json:"bySource"`
}

func newStateCount() stateCount {
	c := stateCount{ByChannel: map[routing.Channel]int{}, BySource: map[string]int{}}
	for _, ch := range routing.Channels() {
		c.ByChannel[ch] = 0
	}
	return c
}

func (c *stateCount) add(l pgstore.LiveCount) {
	c.Total += l.Count
	c.ByChannel[l.Channel] += l.Count
	src := l.Source
	if src == "" {
		src = string(l.Channel)
	}
	c.BySource[src] += l.Count
}

// agentSummary aggregates the listed agents.
type agentSummary struct {
	Total    int `json:"total"`
	LoggedIn int `json:"loggedIn"`
	// Ready: logged in in an Available-group status.
	Ready int `json:"ready"`
	Busy  int `json:"busy"`
	// OnBreak: logged in in an Away-group status (the break reasons and Away).
	OnBreak  int            `json:"onBreak"`
	AutoMode autoModeMatrix `json:"autoMode"`
}

// autoModeMatrix splits the logged-in agents by Auto Call mode and by whether they
// are connected (hold at least one interaction, connected or on hold).
type autoModeMatrix struct {
	On  autoModeCounts `json:"on"`
	Off autoModeCounts `json:"off"`
}

// autoModeCounts are the agents of one Auto Call mode: connected on any channel or
// not, and per channel connected on it or not.
type autoModeCounts struct {
	Connected    int                             `json:"connected"`
	NotConnected int                             `json:"notConnected"`
	ByChannel    map[routing.Channel]connections `json:"byChannel"`
}

type connections struct {
	Connected    int `json:"connected"`
	NotConnected int `json:"notConnected"`
}

func newAutoModeCounts() autoModeCounts {
	c := autoModeCounts{ByChannel: map[routing.Channel]connections{}}
	for _, ch := range routing.Channels() {
		c.ByChannel[ch] = connections{}
	}
	return c
}

func (c *autoModeCounts) add(held routing.Occupancy) {
	connected := false
	for _, ch := range routing.Channels() {
		n := c.ByChannel[ch]
		if held[ch] > 0 {
			n.Connected++
			connected = true
		} else {
			n.NotConnected++
		}
		c.ByChannel[ch] = n
	}
	if connected {
		c.Connected++
	} else {
		c.NotConnected++
	}
}

// monitorAgent is one line of the monitor's agent list.
type monitorAgent struct {
	AgentID string `json:"agentId"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// LoggedIn and Status are as in presence: a lapsed session reads as logged
	// out, in Offline.
	LoggedIn bool               `json:"loggedIn"`
	Status   timesheet.Status   `json:"status"`
	Voice    routing.VoiceState `json:"voice,omitempty"`
	// StatusSince is the last status change (login, change, logout), and
	// StatusSeconds the whole seconds since, to At.
	StatusSince   *time.Time `json:"statusSince,omitempty"`
	StatusSeconds int64      `json:"statusSeconds"`
	Campaign      string     `json:"campaign,omitempty"`
	// AutoMode is the agent's Auto Call mode (always off without a session).
	AutoMode bool `json:"autoMode"`
	// AvailableCapacity is 100 minus WorkloadPercent, within 0..100; 0 when the
	// agent is not logged in.
	AvailableCapacity int                   `json:"availableCapacity"`
	WorkloadPercent   int                   `json:"workloadPercent"`
	CapacityState     routing.CapacityState `json:"capacityState"`
	// InProgress counts per channel the interactions the agent holds, connected
	// or on hold; Ringing and WrapUp count those ringing on them and those they
	// are wrapping up.
	InProgress routing.Occupancy `json:"inProgress"`
	Ringing    int               `json:"ringing"`
	WrapUp     int               `json:"wrapUp"`
}

// monitorInteraction is one interaction of an agent's drill-down.
type monitorInteraction struct {
	pgstore.AgentInteraction
	// AgentState is the agent's state in the interaction: ringing, connected,
	// hold or wrap_up.
	AgentState string `json:"agentState"`
	// ElapsedSeconds is the time in that state, to At.
	ElapsedSeconds int64 `json:"elapsedSeconds"`
}

// monitorAgentView is the drill-down of one agent.
type monitorAgentView struct {
	At           time.Time            `json:"at"`
	Agent        monitorAgent         `json:"agent"`
	Interactions []monitorInteraction `json:"interactions"`
}

var agentStates = map[pgstore.InteractionStatus]string{
	pgstore.InteractionOffered:   "ringing",
	pgstore.InteractionConnected: "connected",
	pgstore.InteractionOnHold:    "hold",
	pgstore.InteractionEnded:     "wrap_up",
}

// monitorScope reads and checks the scope of a monitor request: queueId and
// campaignId, each optional, must name the tenant's own.
func (s *Server) monitorScope(c echo.Context) (pgstore.MonitorScope, error) {
	q := c.QueryParams()
	for name := range q {
		if name != "queueId" && name != "campaignId" {
			return pgstore.MonitorScope{}, &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + " (queueId and campaignId narrow the monitor)"}
		}
	}
	scope := pgstore.MonitorScope{QueueID: strings.TrimSpace(q.Get("queueId")), CampaignID: strings.TrimSpace(q.Get("campaignId"))}
	if err := scope.Validate(); err != nil {
		return scope, asMalformed(err)
	}
	ctx := c.Request().Context()
	tenant := principal(c).TenantID
	if scope.QueueID != "" {
		if _, err := s.store.GetQueue(ctx, tenant, scope.QueueID); err != nil {
			return scope, err
		}
	}
	if scope.CampaignID != "" {
		if _, err := s.store.GetCampaign(ctx, tenant, scope.CampaignID); err != nil {
			return scope, err
		}
	}
	return scope, nil
}

// asMalformed answers a validation error of query parameters as 400 naming the
// parameter, as the API does for malformed query values.
func asMalformed(err error) error {
	var v *pgstore.ValidationError
	if errors.As(err, &v) {
		return errMalformed(v.Field, v.Field+" "+v.Message)
	}
	return err
}

// getMonitor is the live monitor of the caller's tenant, or of one queue or
// campaign of it.
func (s *Server) getMonitor(c echo.Context) error {
	scope, err := s.monitorScope(c)
	if err != nil {
		return err
	}
	v, err := s.monitorSnapshot(c.Request().Context(), principal(c).TenantID, scope)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// monitorSnapshot builds the monitor of scope: interactions from the read model,
// agents from the read model and presence. The agents of a queue are its members;
// of a campaign, those logged in to it.
func (s *Server) monitorSnapshot(ctx context.Context, tenantID string, scope pgstore.MonitorScope) (monitorView, error) {
	now, err := s.presence.Now(ctx)
	if err != nil {
		return monitorView{}, err
	}
	v := monitorView{At: now, Scope: scope}
	v.Interactions = interactionSummary{Connected: newStateCount(), Queued: newStateCount(), Ringing: newStateCount(),
		Hold: newStateCount(), HungUp: newStateCount(), IVR: newStateCount()}
	counts, err := s.store.LiveCounts(ctx, tenantID, scope)
	if err != nil {
		return monitorView{}, err
	}
	for _, l := range counts {
		switch l.Status {
		case pgstore.InteractionQueued:
			v.Interactions.Queued.add(l)
		case pgstore.InteractionOffered:
			v.Interactions.Ringing.add(l)
		case pgstore.InteractionConnected:
			v.Interactions.Connected.add(l)
		case pgstore.InteractionOnHold:
			v.Interactions.Hold.add(l)
		case pgstore.InteractionEnded:
			v.Interactions.HungUp.add(l)
		}
	}
	agents, err := s.monitorAgents(ctx, tenantID, pgstore.MonitorAgentFilter{QueueID: scope.QueueID}, now)
	if err != nil {
		return monitorView{}, err
	}
	v.Agents = []monitorAgent{}
	sum := agentSummary{AutoMode: autoModeMatrix{On: newAutoModeCounts(), Off: newAutoModeCounts()}}
	for _, a := range agents {
		if scope.CampaignID != "" && (a.Campaign != scope.CampaignID || !a.LoggedIn) {
			continue
		}
		v.Agents = append(v.Agents, a)
		sum.Total++
		if !a.LoggedIn {
			continue
		}
		sum.LoggedIn++
		switch a.Status.Group {
		case routing.GroupAvailable:
			sum.Ready++
		case routing.GroupBusy:
			sum.Busy++
		case routing.GroupAway:
			sum.OnBreak++
		}
		if a.AutoMode {
			sum.AutoMode.On.add(a.InProgress)
		} else {
			sum.AutoMode.Off.add(a.InProgress)
		}
	}
	v.AgentSummary = sum
	return v, nil
}

// livePresence is what presence says of one agent.
type livePresence struct {
	presence.Presence
	autoCall  bool
	occupancy routing.Occupancy
}

// monitorAgents lists the agents of f with their presence, measured at now. It reads
// the status catalogue once and presence for every agent (occupancy in one pipeline,
// presence and Auto Call per agent, a bounded number at a time), rather than
// assembling each line as GET …/session does, whose lookups are per agent.
func (s *Server) monitorAgents(ctx context.Context, tenantID string, f pgstore.MonitorAgentFilter, now time.Time) ([]monitorAgent, error) {
	agents, err := s.store.MonitorAgents(ctx, tenantID, f)
	if err != nil {
		return nil, err
	}
	catalog, err := s.store.StatusCatalog(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	live := make([]livePresence, len(agents))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(presenceReads)
	g.Go(func() error {
		states, err := s.presence.Snapshot(gctx, tenantID, ids)
		if err != nil {
			return err
		}
		for i, st := range states {
			live[i].occupancy = st.Occupancy
		}
		return nil
	})
	for i, id := range ids {
		g.Go(func() error {
			pr, err := s.presence.Get(gctx, tenantID, id)
			if err != nil {
				return err
			}
			live[i].Presence = pr
			if !pr.LoggedIn {
				return nil // Auto Call is off without a live session
			}
			ac, err := s.presence.AutoCall(gctx, tenantID, id)
			live[i].autoCall = ac.Enabled
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]monitorAgent, len(agents))
	for i, a := range agents {
		out[i] = agentLine(a, live[i], catalog, now)
	}
	return out, nil
}

// agentLine is one agent of the list: the read model's part and presence's.
func agentLine(a pgstore.MonitorAgent, p livePresence, catalog []pgstore.AgentStatus, now time.Time) monitorAgent {
	m := monitorAgent{
		AgentID: a.ID, Name: a.Name, Enabled: a.Enabled, LoggedIn: p.LoggedIn,
		Status: catalogStatus(catalog, p.Status), Voice: p.Voice, Campaign: p.Campaign,
		AutoMode: p.autoCall, InProgress: routing.Occupancy{},
	}
	if since := timeOrNil(p.ChangedAt); since != nil {
		m.StatusSince = since
		m.StatusSeconds = max(0, int64(now.Sub(*since)/time.Second))
	}
	for _, ch := range routing.Channels() {
		m.InProgress[ch] = a.Count(pgstore.InteractionConnected, ch) + a.Count(pgstore.InteractionOnHold, ch)
		m.Ringing += a.Count(pgstore.InteractionOffered, ch)
		m.WrapUp += a.Count(pgstore.InteractionEnded, ch)
	}
	m.WorkloadPercent = routing.CombinedPercentage(p.occupancy, a.Capacity)
	m.CapacityState = routing.CapacityStateOf(p.occupancy, a.Capacity)
	if p.LoggedIn {
		m.AvailableCapacity = min(100, max(0, 100-m.WorkloadPercent))
	}
	return m
}

// catalogStatus is a presence status with its catalogue entry, as the session view
// shows it: a status deleted since keeps its name and group only.
func catalogStatus(catalog []pgstore.AgentStatus, st routing.Status) timesheet.Status {
	for _, e := range catalog {
		if strings.EqualFold(e.Name, st.Name) && e.Group == st.Group {
			return e.Sheet()
		}
	}
	return timesheet.Status{Name: st.Name, Group: st.Group}
}

// getMonitorAgent is the drill-down of one agent: their line of the monitor and the
// interactions they have in hand.
func (s *Server) getMonitorAgent(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	agent, err := s.store.GetAgent(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	now, err := s.presence.Now(ctx)
	if err != nil {
		return err
	}
	lines, err := s.monitorAgents(ctx, p.TenantID, pgstore.MonitorAgentFilter{AgentID: agent.ID}, now)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return errNotFound("agent: not found (disabled users are not monitored)")
	}
	ixs, err := s.store.AgentInteractions(ctx, p.TenantID, agent.ID)
	if err != nil {
		return err
	}
	v := monitorAgentView{At: now, Agent: lines[0], Interactions: make([]monitorInteraction, len(ixs))}
	for i, x := range ixs {
		v.Interactions[i] = monitorInteraction{AgentInteraction: x, AgentState: agentStates[x.Status],
			ElapsedSeconds: max(0, int64(now.Sub(x.Since)/time.Second))}
	}
	return c.JSON(http.StatusOK, v)
}

// streamMonitor pushes the monitor as Server-Sent Events: a snapshot at once, then a
// new one after events of the tenant's feed (at most one per monitorThrottle, the
// last event of a burst always followed by one), one every monitorRefresh anyway,
// and a comment when idle. Every event of the tenant counts: whether it changes
// this scope is known only by counting again.
func (s *Server) streamMonitor(c echo.Context) error {
	scope, err := s.monitorScope(c)
	if err != nil {
		return err
	}
	if s.events == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the realtime feed is not configured"}
	}
	p := principal(c)
	ctx := c.Request().Context()
	sub, err := s.events.Subscribe(ctx, p.TenantID, "", nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	first, err := s.monitorSnapshot(ctx, p.TenantID, scope)
	if err != nil {
		return err
	}

	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", streamRetry.Milliseconds()); err != nil {
		return nil
	}
	send := func(v monitorView) bool {
		body, err := json.Marshal(v)
		if err == nil {
			_, err = fmt.Fprintf(w, "event: monitor\ndata: %s\n\n", body)
		}
		if err != nil {
			return false
		}
		w.Flush()
		return true
	}
	if !send(first) {
		return nil
	}
	last := time.Now()
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	refresh := time.NewTicker(monitorRefresh)
	defer refresh.Stop()
	throttle := time.NewTimer(0)
	<-throttle.C
	pending := false
	snapshot := func() bool {
		v, err := s.monitorSnapshot(ctx, p.TenantID, scope)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			// The next event or refresh tries again; the client keeps its last view.
			s.logger.Warn("monitor snapshot failed", "tenant_id", p.TenantID, "error", err)
			pending = false
			return true
		}
		last, pending = time.Now(), false
		refresh.Reset(monitorRefresh)
		return send(v)
	}
	for {
		select {
		case <-s.closing:
			return nil
		case <-ctx.Done():
			return nil
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case _, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); err != nil {
					s.logger.Warn("monitor stream ended", "tenant_id", p.TenantID, "user_id", p.UserID, "error", err)
				}
				return nil // the client reconnects and gets a fresh snapshot
			}
			if !pending {
				pending = true
				throttle.Reset(max(0, monitorThrottle-time.Since(last)))
			}
		case <-throttle.C:
			if !snapshot() {
				return nil
			}
		case <-refresh.C:
			if !pending && !snapshot() {
				return nil
			}
		}
	}
}

// statsDay is the length of the default window of the agents' figures: a day.
const statsDay = 24 * time.Hour

// getAgentStats is an agent's self-monitoring figures over from..to: the caller's on
// /me, an agent of the tenant's on /{id} (supervisors, admins). Either bound may be
// an RFC 3339 time or a date (midnight in the tenant's time zone, as in the
// history); the default is today in the tenant's time zone, and one bound alone
// makes a day from it.
func (s *Server) getAgentStats(c echo.Context) error {
	agent, _, err := s.target(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	for name := range q {
		if !slices.Contains([]string{"from", "to"}, name) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + " (from and to bound the window)"}
		}
	}
	from, err := s.historyTime(c, "from")
	if err != nil {
		return err
	}
	to, err := s.historyTime(c, "to")
	if err != nil {
		return err
	}
	from, to = from.UTC(), to.UTC()
	now := time.Now().UTC()
	switch {
	case from.IsZero() && to.IsZero():
		loc, err := s.tenantLocation(c)
		if err != nil {
			return err
		}
		local := now.In(loc)
		from = time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc).UTC()
		to = from.Add(statsDay)
	case to.IsZero():
		to = from.Add(statsDay)
	case from.IsZero():
		from = to.Add(-statsDay)
	}
	f := pgstore.StatsFilter{AgentID: agent, From: from, To: to, Now: now}
	if err := f.Validate(); err != nil {
		return asMalformed(err)
	}
	stats, err := s.store.AgentStats(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, stats)
}
