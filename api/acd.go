package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"switchboard/pgstore"
	"switchboard/routing"
)

const (
	// wakeBudget bounds the bulk assignment a configuration change runs for the
	// agents it gave room; what is left undone the waiting interactions' own
	// recheck picks up.
	wakeBudget = 10 * time.Second
	// wakeParallel is how many agents' bulk assignments run at once.
	wakeParallel = 4
)

// configurers may change ACD configuration: queues, skills, routes, statuses, agents
// and the tenant's ACD settings.
var configurers = []pgstore.Role{pgstore.RoleAdmin, pgstore.RoleSupervisor}

// registerACD adds the ACD configuration routes. Reading the configuration is for
// configurers too, except the status catalogue (every role: agents pick from it) and
// an agent's own record.
func (s *Server) registerACD(v1 *echo.Group) {
	cfg := requireRole(configurers...)
	v1.POST("/skills", s.createSkill, s.authenticate, cfg)
	v1.GET("/skills", s.listSkills, s.authenticate, cfg)
	v1.DELETE("/skills/:id", s.deleteSkill, s.authenticate, cfg)

	v1.POST("/queues", s.createQueue, s.authenticate, cfg)
	v1.GET("/queues", s.listQueues, s.authenticate, cfg)
	v1.GET("/queues/:id", s.getQueue, s.authenticate, cfg)
	v1.PATCH("/queues/:id", s.updateQueue, s.authenticate, cfg)
	v1.DELETE("/queues/:id", s.deleteQueue, s.authenticate, cfg)
	v1.PUT("/queues/:id/agents", s.setQueueAgents, s.authenticate, cfg)

	v1.POST("/routes", s.createRoute, s.authenticate, cfg)
	v1.GET("/routes", s.listRoutes, s.authenticate, cfg)
	v1.PUT("/routes/order", s.reorderRoutes, s.authenticate, cfg)
	v1.GET("/routes/:id", s.getRoute, s.authenticate, cfg)
	v1.PATCH("/routes/:id", s.updateRoute, s.authenticate, cfg)
	v1.DELETE("/routes/:id", s.deleteRoute, s.authenticate, cfg)

	v1.GET("/statuses", s.listStatuses, s.authenticate)
	v1.POST("/statuses", s.createStatus, s.authenticate, cfg)
	v1.DELETE("/statuses/:id", s.deleteStatus, s.authenticate, cfg)

	v1.GET("/agents/:id", s.getAgent, s.authenticate, requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent))
	v1.PATCH("/agents/:id", s.updateAgent, s.authenticate, cfg)

	v1.GET("/acd-settings", s.getACDSettings, s.authenticate, cfg)
	v1.PATCH("/acd-settings", s.updateACDSettings, s.authenticate, cfg)
	v1.POST("/acd-settings/reset", s.resetACDSettings, s.authenticate, cfg)
}

func (s *Server) createSkill(c echo.Context) error {
	var in pgstore.NewSkill
	if err := decode(c, &in); err != nil {
		return err
	}
	sk, err := s.store.CreateSkill(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sk)
}

func (s *Server) listSkills(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	sks, err := s.store.ListSkills(c.Request().Context(), principal(c).TenantID, pgstore.SkillFilter{Query: c.QueryParam("q"), Page: pg})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(sks, pg.Limit, func(sk pgstore.Skill) string { return sk.ID }))
}

func (s *Server) deleteSkill(c echo.Context) error {
	if err := s.store.DeleteSkill(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) createQueue(c echo.Context) error {
	var in pgstore.NewQueue
	if err := decode(c, &in); err != nil {
		return err
	}
	q, err := s.store.CreateQueue(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, q)
}

func (s *Server) listQueues(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	qs, err := s.store.ListQueues(c.Request().Context(), principal(c).TenantID, pg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(qs, pg.Limit, func(q pgstore.Queue) string { return q.ID }))
}

func (s *Server) getQueue(c echo.Context) error {
	q, err := s.store.GetQueue(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, q)
}

func (s *Server) updateQueue(c echo.Context) error {
	var in pgstore.QueueUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	// What the queue was decides whether its agents may have work now: read
	// before the change, it can only make a wake-up happen once too often.
	before, beforeErr := s.store.GetQueue(ctx, tenantID, c.Param("id"))
	q, err := s.store.UpdateQueue(ctx, tenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	if q.AutoAssign && (beforeErr != nil || !before.AutoAssign) {
		s.wakeAgents(ctx, tenantID, enabledMembers(q.Agents))
	}
	return c.JSON(http.StatusOK, q)
}

func (s *Server) deleteQueue(c echo.Context) error {
	if err := s.store.DeleteQueue(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) setQueueAgents(c echo.Context) error {
	var in pgstore.QueueAgents
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	before, _ := s.store.GetQueue(ctx, tenantID, c.Param("id"))
	q, err := s.store.SetQueueAgents(ctx, tenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	// The agents added may take the queue's waiting interactions now.
	was := make(map[string]bool, len(before.Agents))
	for _, a := range before.Agents {
		was[a.ID] = true
	}
	added := slices.DeleteFunc(enabledMembers(q.Agents), func(id string) bool { return was[id] })
	s.wakeAgents(ctx, tenantID, added)
	return c.JSON(http.StatusOK, q)
}

func (s *Server) createRoute(c echo.Context) error {
	var in pgstore.NewRoute
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.store.CreateRoute(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) listRoutes(c echo.Context) error {
	rs, err := s.store.ListRoutes(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.Route]{Items: rs})
}

func (s *Server) getRoute(c echo.Context) error {
	r, err := s.store.GetRoute(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) updateRoute(c echo.Context) error {
	var in pgstore.RouteUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.store.UpdateRoute(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) deleteRoute(c echo.Context) error {
	if err := s.store.DeleteRoute(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) reorderRoutes(c echo.Context) error {
	var in pgstore.RouteOrder
	if err := decode(c, &in); err != nil {
		return err
	}
	rs, err := s.store.ReorderRoutes(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.Route]{Items: rs})
}

func (s *Server) listStatuses(c echo.Context) error {
	st, err := s.store.StatusCatalog(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.AgentStatus]{Items: st})
}

func (s *Server) createStatus(c echo.Context) error {
	var in pgstore.NewStatus
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.store.CreateStatus(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, st)
}

func (s *Server) deleteStatus(c echo.Context) error {
	if err := s.store.DeleteStatus(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// agentID resolves the path's agent ID; "me" is the caller.
func agentID(c echo.Context) string {
	if id := c.Param("id"); id != "me" {
		return id
	}
	return principal(c).UserID
}

func (s *Server) getAgent(c echo.Context) error {
	p := principal(c)
	id := agentID(c)
	// Checked before the lookup, so an agent learns nothing about other users' IDs.
	if p.Role == pgstore.RoleAgent && id != p.UserID {
		return errForbidden("agents may only read their own agent record")
	}
	a, err := s.store.GetAgent(c.Request().Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) updateAgent(c echo.Context) error {
	var in pgstore.AgentUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	a, err := s.store.UpdateAgent(ctx, tenantID, actor(c), agentID(c), in)
	if err != nil {
		return err
	}
	// Enabling the agent, giving them queues, skills or capacity may let them
	// take waiting interactions now.
	if a.Enabled && (in.Enabled != nil || in.QueueIDs != nil || in.SkillIDs != nil || in.Capacity != nil) {
		s.wakeAgents(ctx, tenantID, []string{a.ID})
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) getACDSettings(c echo.Context) error {
	st, err := s.store.GetACDSettings(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) updateACDSettings(c echo.Context) error {
	var in pgstore.ACDSettingsUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	before, beforeErr := s.store.GetACDSettings(ctx, tenantID)
	st, err := s.store.UpdateACDSettings(ctx, tenantID, actor(c), in)
	if err != nil {
		return err
	}
	if in.DefaultCapacity != nil && (beforeErr != nil || raised(before.EffectiveCapacity, st.EffectiveCapacity)) {
		s.wakeAgents(ctx, tenantID, nil)
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) resetACDSettings(c echo.Context) error {
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	before, beforeErr := s.store.GetACDSettings(ctx, tenantID)
	st, err := s.store.ResetACDSettings(ctx, tenantID, actor(c))
	if err != nil {
		return err
	}
	if beforeErr != nil || raised(before.EffectiveCapacity, st.EffectiveCapacity) {
		s.wakeAgents(ctx, tenantID, nil)
	}
	return c.JSON(http.StatusOK, st)
}

// raised reports whether after allows more on some channel than before.
func raised(before, after routing.Capacity) bool {
	for _, ch := range routing.Channels() {
		if after[ch] > before[ch] {
			return true
		}
	}
	return false
}

// enabledMembers are the IDs of a queue's enabled agents.
func enabledMembers(agents []pgstore.QueueAgent) []string {
	var out []string
	for _, a := range agents {
		if a.Enabled {
			out = append(out, a.ID)
		}
	}
	return out
}

// wakeAgents runs bulk assignment — what login and a status change to the
// Available group run — for the online agents among agentIDs (every online
// agent of the tenant when agentIDs is nil), after a configuration change gave
// them room or work: a raised capacity, a new queue, an enabled record,
// automatic assignment switched on. Waiting interactions are then offered at
// once rather than at their next safety recheck. It runs after the change
// committed, is bounded by the agents who are online and by wakeBudget, and
// never fails the request: whatever it leaves undone, the interactions' own
// recheck still covers.
func (s *Server) wakeAgents(ctx context.Context, tenantID string, agentIDs []string) {
	if agentIDs != nil && len(agentIDs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wakeBudget)
	defer cancel()
	online, err := s.presence.Online(ctx, tenantID)
	if err != nil {
		s.logger.Warn("bulk assignment after a configuration change skipped", "tenant_id", tenantID, "error", err)
		return
	}
	if agentIDs != nil {
		affected := make(map[string]bool, len(agentIDs))
		for _, id := range agentIDs {
			affected[id] = true
		}
		online = slices.DeleteFunc(online, func(id string) bool { return !affected[id] })
	}
	var g errgroup.Group
	g.SetLimit(wakeParallel)
	for _, agent := range online {
		g.Go(func() error {
			if _, err := s.dispatch.OfferWaiting(ctx, tenantID, agent, s.wake); err != nil {
				s.logger.Warn("bulk assignment after a configuration change incomplete", "tenant_id", tenantID, "agent", agent, "error", err)
			}
			return nil
		})
	}
	_ = g.Wait()
}
