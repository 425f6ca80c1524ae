package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// registerHours adds working hours: periods with their holidays, the tenant's
// default (a period's isDefault) and each queue's period. Admins write them;
// supervisors read them.
func (s *Server) registerHours(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/working-hours", s.createWorkingHours, s.authenticate, admin)
	v1.GET("/working-hours", s.listWorkingHours, s.authenticate, readers)
	v1.GET("/working-hours/:id", s.getWorkingHours, s.authenticate, readers)
	v1.PATCH("/working-hours/:id", s.updateWorkingHours, s.authenticate, admin)
	v1.DELETE("/working-hours/:id", s.deleteWorkingHours, s.authenticate, admin)
	v1.GET("/queues/:id/working-hours", s.getQueueWorkingHours, s.authenticate, readers)
	v1.PUT("/queues/:id/working-hours", s.setQueueWorkingHours, s.authenticate, admin)
}

// HoursStatus is where a period stands now.
type HoursStatus struct {
	Open bool `json:"open"`
	// NextOpening and NextClosing are the next changes; null when there is none
	// within three years (no working day, or open around the clock).
	NextOpening *time.Time `json:"nextOpening"`
	NextClosing *time.Time `json:"nextClosing"`
}

// WorkingHoursView is a period as the API answers it: with where it stands now.
type WorkingHoursView struct {
	pgstore.WorkingHours
	Status HoursStatus `json:"status"`
}

// QueueHoursView is a queue's working hours: its period (null: always open) and
// where the queue stands now.
type QueueHoursView struct {
	QueueID      string            `json:"queueId"`
	WorkingHours *WorkingHoursView `json:"workingHours"`
	Status       HoursStatus       `json:"status"`
}

func hoursStatus(w pgstore.WorkingHours, now time.Time) HoursStatus {
	cal, err := w.Calendar()
	if err != nil {
		// A time zone this machine does not know: nothing can be said.
		return HoursStatus{}
	}
	st := HoursStatus{Open: cal.Open(now)}
	if t, ok := cal.NextOpening(now); ok {
		st.NextOpening = &t
	}
	if t, ok := cal.NextClosing(now); ok {
		st.NextClosing = &t
	}
	return st
}

func viewHours(w pgstore.WorkingHours, now time.Time) WorkingHoursView {
	return WorkingHoursView{WorkingHours: w, Status: hoursStatus(w, now)}
}

func (s *Server) createWorkingHours(c echo.Context) error {
	var in pgstore.NewWorkingHours
	if err := decode(c, &in); err != nil {
		return err
	}
	w, err := s.store.CreateWorkingHours(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, viewHours(w, time.Now()))
}

func (s *Server) listWorkingHours(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	ws, err := s.store.ListWorkingHours(c.Request().Context(), principal(c).TenantID, pg)
	if err != nil {
		return err
	}
	now := time.Now()
	views := make([]WorkingHoursView, len(ws))
	for i, w := range ws {
		views[i] = viewHours(w, now)
	}
	return c.JSON(http.StatusOK, newList(views, pg.Limit, func(v WorkingHoursView) string { return v.ID }))
}

func (s *Server) getWorkingHours(c echo.Context) error {
	w, err := s.store.GetWorkingHours(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewHours(w, time.Now()))
}

func (s *Server) updateWorkingHours(c echo.Context) error {
	var in pgstore.WorkingHoursUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	w, err := s.store.UpdateWorkingHours(ctx, tenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	// The queues that use the period follow it at once: their next opening moves.
	s.rearmOpenings(ctx, tenantID, w.QueueIDs...)
	return c.JSON(http.StatusOK, viewHours(w, time.Now()))
}

func (s *Server) deleteWorkingHours(c echo.Context) error {
	if err := s.store.DeleteWorkingHours(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) queueHoursView(ctx context.Context, tenantID, queueID string) (QueueHoursView, error) {
	w, err := s.store.QueueHours(ctx, tenantID, queueID)
	if err != nil {
		return QueueHoursView{}, err
	}
	out := QueueHoursView{QueueID: queueID, Status: HoursStatus{Open: true}}
	if w != nil {
		full, err := s.store.GetWorkingHours(ctx, tenantID, w.ID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return out, nil // unassigned and deleted meanwhile
		}
		if err != nil {
			return QueueHoursView{}, err
		}
		v := viewHours(full, time.Now())
		out.WorkingHours, out.Status = &v, v.Status
	}
	return out, nil
}

func (s *Server) getQueueWorkingHours(c echo.Context) error {
	v, err := s.queueHoursView(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) setQueueWorkingHours(c echo.Context) error {
	var in pgstore.QueueWorkingHours
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx, tenantID := c.Request().Context(), principal(c).TenantID
	q, err := s.store.SetQueueWorkingHours(ctx, tenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	s.rearmOpenings(ctx, tenantID, q.ID)
	v, err := s.queueHoursView(ctx, tenantID, q.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// rearmOpenings tells each queue's queue-hours workflow that its hours changed,
// starting it when it does not run: it reads them again, releases what waits when
// the queue is open now, and sleeps until the next opening. A failure is logged,
// not answered: the waiting interactions also look by themselves after the opening
// they were given.
func (s *Server) rearmOpenings(ctx context.Context, tenantID string, queueIDs ...string) {
	if len(queueIDs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interactionCallTimeout)
	defer cancel()
	for _, q := range queueIDs {
		id := workflows.QueueHoursWorkflowID(tenantID, q)
		_, err := s.temporal.SignalWithStartWorkflow(ctx, id, workflows.QueueHoursChangedSignal, nil, client.StartWorkflowOptions{
			ID: id, TaskQueue: workflows.TaskQueue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(tenantID), workflows.QueueIDKey.ValueSet(q)),
		}, workflows.QueueHours, workflows.QueueHoursInput{TenantID: tenantID, QueueID: q})
		if err != nil {
			s.logger.Warn("queue opening not re-armed after a change of its working hours", "tenant_id", tenantID, "queue", q, "error", err)
		}
	}
	s.slaHoursChanged(ctx, tenantID)
}

// outsideHours answers how a new inbound conversation's queue stands: nil when it
// is open (or has no working hours); else what the workflow needs to answer the
// customer outside the hours. Calls are left to the media: nil.
func (s *Server) outsideHours(ctx context.Context, tenantID, queueID string, ch routing.Channel, now time.Time) (*workflows.OutsideHours, error) {
	if ch == routing.Voice {
		return nil, nil
	}
	w, err := s.store.QueueHours(ctx, tenantID, queueID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && w == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cal, err := w.Calendar()
	if err != nil {
		s.logger.Error("working hours unreadable; the queue is taken as open", "tenant_id", tenantID, "period", w.ID, "error", err)
		return nil, nil
	}
	if cal.Open(now) {
		return nil, nil
	}
	out := &workflows.OutsideHours{PeriodID: w.ID, AwayMessage: w.AwayMessage, Close: w.CloseOutsideHours}
	if t, ok := cal.NextOpening(now); ok {
		t = t.UTC()
		out.OpensAt = &t
	}
	return out, nil
}
