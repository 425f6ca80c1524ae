package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// registerSLA adds service-level agreement policies: an ordered list (the first
// policy that fits a conversation applies). Admins write them; supervisors read them.
func (s *Server) registerSLA(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/sla-policies", s.createSLAPolicy, s.authenticate, admin)
	v1.GET("/sla-policies", s.listSLAPolicies, s.authenticate, readers)
	v1.PUT("/sla-policies/order", s.reorderSLAPolicies, s.authenticate, admin)
	v1.GET("/sla-policies/:id", s.getSLAPolicy, s.authenticate, readers)
	v1.PATCH("/sla-policies/:id", s.updateSLAPolicy, s.authenticate, admin)
	v1.DELETE("/sla-policies/:id", s.deleteSLAPolicy, s.authenticate, admin)
	v1.GET("/interactions/:id/sla", s.getInteractionSLA, s.authenticate)
	v1.GET("/sla/conversations", s.listSLAConversations, s.authenticate, readers)
}

// recalculateSLA tells the tenant's recalculation workflow that the policy list
// changed (signal-with-start): it walks the open conversations and each clock
// matches again and recalculates. A failure is logged, not answered: the change is
// saved, and each clock also finds the newer generation at its next write.
func (s *Server) recalculateSLA(ctx context.Context, tenantID string) {
	if s.temporal == nil {
		return // an API without Temporal runs no clocks to tell
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interactionCallTimeout)
	defer cancel()
	gen, err := s.store.SLAGeneration(ctx, tenantID)
	if err == nil {
		id := workflows.SLARecalcWorkflowID(tenantID)
		_, err = s.temporal.SignalWithStartWorkflow(ctx, id, workflows.SLAPoliciesChangedSignal, activities.SLARecalculation{Generation: gen},
			client.StartWorkflowOptions{
				ID: id, TaskQueue: workflows.TaskQueue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(tenantID)),
			}, workflows.SLARecalc, workflows.SLARecalcInput{TenantID: tenantID})
	}
	if err != nil {
		s.logger.Warn("SLA recalculation not started after a change of the policies", "tenant_id", tenantID, "error", err)
	}
}

// slaHoursChanged recalculates the tenant's open SLA clocks after a change of its
// queues' working hours, which clocks counting working hours only count by: the
// generation moves on, so each clock reads its queue's hours again.
func (s *Server) slaHoursChanged(ctx context.Context, tenantID string) {
	if s.temporal == nil {
		return
	}
	if _, err := s.store.BumpSLAGeneration(context.WithoutCancel(ctx), tenantID); err != nil {
		s.logger.Warn("SLA clocks not recalculated after a change of working hours", "tenant_id", tenantID, "error", err)
		return
	}
	s.recalculateSLA(ctx, tenantID)
}

// getInteractionSLA answers a conversation's SLA counted to now: the policy and
// severity, each metric's state, remaining time and due instant, and its breach
// records. Agents read only conversations they hold or are offered.
func (s *Server) getInteractionSLA(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return errNotFound("no such interaction")
	}
	if p.Role == pgstore.RoleAgent {
		// A conversation with a clock is in the read model.
		in, err := s.store.GetInteraction(ctx, p.TenantID, id)
		if errors.Is(err, pgstore.ErrNotFound) || (err == nil && !mine(in, p.UserID)) {
			return errNotFound("no such interaction")
		}
		if err != nil {
			return err
		}
	}
	v, err := s.store.SLAConversation(ctx, p.TenantID, strings.ToLower(id), time.Now())
	if err != nil {
		return err
	}
	bs, err := s.store.SLABreaches(ctx, p.TenantID, v.InteractionID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, interactionSLA{SLAConversation: v, BreachRecords: bs})
}

// interactionSLA is a conversation's SLA with its breach records (withdrawn ones
// too, for the record).
type interactionSLA struct {
	pgstore.SLAConversation
	BreachRecords []pgstore.SLABreach `json:"breachRecords"`
}

// listSLAConversations lists open conversations whose SLA is breached (a metric
// past its target and not met yet; the longest overdue first) or at risk (a metric
// reaching its target within the window; the soonest first).
func (s *Server) listSLAConversations(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	f := pgstore.SLAConversationFilter{State: c.QueryParam("state"), QueueID: c.QueryParam("queueId"), AgentID: c.QueryParam("agentId"),
		Limit: limit, After: c.QueryParam("after"), Now: time.Now()}
	if w := c.QueryParam("within"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d <= 0 {
			return invalidField("within", "must be a duration such as 90s, 15m or 2h")
		}
		f.Within = d
	} else if f.State == pgstore.SLAAtRisk {
		return invalidField("within", "is required with state at-risk: a duration such as 15m")
	}
	if err := f.Validate(); err != nil {
		return err
	}
	items, err := s.store.ListSLAConversations(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	out := list[pgstore.SLAConversation]{Items: items}
	if n := len(items); n > 0 && n == f.Limit {
		out.NextAfter = pgstore.SLACursor(f.State, items[n-1])
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createSLAPolicy(c echo.Context) error {
	var in pgstore.NewSLAPolicy
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.store.CreateSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	s.recalculateSLA(c.Request().Context(), p.TenantID)
	return c.JSON(http.StatusCreated, p)
}

func (s *Server) listSLAPolicies(c echo.Context) error {
	ps, err := s.store.ListSLAPolicies(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.SLAPolicy]{Items: ps})
}

func (s *Server) getSLAPolicy(c echo.Context) error {
	p, err := s.store.GetSLAPolicy(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) updateSLAPolicy(c echo.Context) error {
	var in pgstore.SLAPolicyUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.store.UpdateSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	s.recalculateSLA(c.Request().Context(), p.TenantID)
	return c.JSON(http.StatusOK, p)
}

func (s *Server) deleteSLAPolicy(c echo.Context) error {
	if err := s.store.DeleteSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	s.recalculateSLA(c.Request().Context(), principal(c).TenantID)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) reorderSLAPolicies(c echo.Context) error {
	var in pgstore.SLAPolicyOrder
	if err := decode(c, &in); err != nil {
		return err
	}
	ps, err := s.store.ReorderSLAPolicies(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	s.recalculateSLA(c.Request().Context(), principal(c).TenantID)
	return c.JSON(http.StatusOK, list[pgstore.SLAPolicy]{Items: ps})
}
