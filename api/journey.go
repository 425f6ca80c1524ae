package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// registerJourney adds the journey: the tenant's rules for linking interactions to
// customers (identifier keys, creation on first contact) and the backfills that apply
// them to earlier interactions. Admins and supervisors change them; integrations read
// the settings too.
func (s *Server) registerJourney(v1 *echo.Group) {
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration)
	managers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.GET("/journey", s.getJourney, s.authenticate, readers)
	v1.PUT("/journey", s.updateJourney, s.authenticate, managers)
	v1.POST("/journey/backfills", s.startBackfill, s.authenticate, managers)
	v1.GET("/journey/backfills", s.listBackfills, s.authenticate, managers)
	v1.GET("/journey/backfills/:id", s.getBackfill, s.authenticate, managers)
}

func (s *Server) getJourney(c echo.Context) error {
	out, err := s.store.JourneySettings(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateJourney(c echo.Context) error {
	var in pgstore.JourneySettingsUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateJourneySettings(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// startBackfill starts a backfill over the interactions created until now, answering
// 201 with it; while one runs, that one is answered with 200 instead (a tenant runs
// one at a time, and asking again is safe).
func (s *Server) startBackfill(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	for range 2 {
		b, started, err := s.store.StartJourneyBackfill(ctx, p.TenantID, actor(c), uuid.NewString(), workflows.JourneyBackfillWorkflowID)
		if err != nil {
			return err
		}
		ended, err := s.runBackfill(ctx, b)
		switch {
		case ended:
			// Recorded as running, but its workflow is over without finishing it (an
			// engineer terminated it): it failed; the next try starts a new one.
			if _, err := s.store.FinishJourneyBackfill(ctx, p.TenantID, b.ID, "its workflow ended without finishing the backfill"); err != nil {
				return err
			}
			continue
		case err != nil && started:
			s.logger.Error("journey backfill workflow not started", "backfill", b.ID, "error", err)
			if _, ferr := s.store.FinishJourneyBackfill(ctx, p.TenantID, b.ID, "its workflow could not be started"); ferr != nil {
				s.logger.Error("journey backfill not marked failed", "backfill", b.ID, "error", ferr)
			}
			return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the backfill could not be started (Temporal did not answer); try again"}
		case err != nil:
			return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the running backfill could not be checked (Temporal did not answer); try again"}
		case started:
			return c.JSON(http.StatusCreated, b)
		}
		return c.JSON(http.StatusOK, b)
	}
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "a backfill is being started meanwhile: try again"}
}

// runBackfill makes sure the backfill's workflow runs: it starts it, or finds it
// running (the start is idempotent by workflow ID). ended reports a workflow of
// that ID that is already over.
func (s *Server) runBackfill(ctx context.Context, b pgstore.JourneyBackfill) (ended bool, err error) {
	sctx, cancel := context.WithTimeout(ctx, interactionCallTimeout)
	defer cancel()
	_, err = s.temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID:                                       b.WorkflowID,
		TaskQueue:                                workflows.TaskQueue,
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(b.TenantID),
			workflows.StatusKey.ValueSet(pgstore.BackfillRunning)),
		Memo: map[string]any{workflows.JourneyProgressMemo: b.JourneyProgress},
	}, workflows.JourneyBackfill, workflows.JourneyBackfillInput{TenantID: b.TenantID, BackfillID: b.ID})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return true, nil
	}
	return false, err
}

func (s *Server) listBackfills(c echo.Context) error {
	if err := strictQuery(c, "limit"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	items, err := s.store.ListJourneyBackfills(c.Request().Context(), principal(c).TenantID, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// getBackfill answers a backfill with its progress as its batches committed it.
func (s *Server) getBackfill(c echo.Context) error {
	out, err := s.store.GetJourneyBackfill(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
