package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/activities"
	"switchboard/pgstore"
)

// webhookPingWait bounds how long a test ping waits for its one attempt: the POST's
// own timeout and a little more. A ping not finished by then answers 202, pending.
const webhookPingWait = activities.DefaultWebhookTimeout + 5*time.Second

// registerWebhooks adds the tenant's webhook endpoints, which receive interactions'
// lifecycle events signed with their secret, and their delivery logs. Admins manage
// them; supervisors read them (never the secret, which only creation and rotation
// answer).
func (s *Server) registerWebhooks(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/webhooks", s.createWebhook, s.authenticate, admin)
	v1.GET("/webhooks", s.listWebhooks, s.authenticate, readers)
	v1.GET("/webhooks/:id", s.getWebhook, s.authenticate, readers)
	v1.PATCH("/webhooks/:id", s.updateWebhook, s.authenticate, admin)
	v1.DELETE("/webhooks/:id", s.deleteWebhook, s.authenticate, admin)
	v1.POST("/webhooks/:id/rotate-secret", s.rotateWebhookSecret, s.authenticate, admin)
	v1.POST("/webhooks/:id/ping", s.pingWebhook, s.authenticate, admin)
	v1.GET("/webhooks/:id/deliveries", s.listWebhookDeliveries, s.authenticate, readers)
	v1.GET("/webhooks/:id/deliveries/:deliveryId", s.getWebhookDelivery, s.authenticate, readers)
	v1.POST("/webhooks/:id/deliveries/:deliveryId/resend", s.resendWebhookDelivery, s.authenticate, admin)
}

func (s *Server) createWebhook(c echo.Context) error {
	var in pgstore.NewWebhookEndpoint
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateWebhookEndpoint(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listWebhooks(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	out, err := s.store.ListWebhookEndpoints(c.Request().Context(), principal(c).TenantID, pg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.Limit, func(e pgstore.WebhookEndpoint) string { return e.ID }))
}

func (s *Server) getWebhook(c echo.Context) error {
	out, err := s.store.GetWebhookEndpoint(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateWebhook(c echo.Context) error {
	var in pgstore.WebhookEndpointUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateWebhookEndpoint(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	if err := s.store.DeleteWebhookEndpoint(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) rotateWebhookSecret(c echo.Context) error {
	out, err := s.store.RotateWebhookSecret(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// pingWebhook sends the endpoint a test delivery (type ping) with a single attempt,
// and answers its log entry: 200 once the attempt is over (delivered or failed,
// with the endpoint's answer), 202 while it is still pending.
func (s *Server) pingWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	ep, err := s.store.GetWebhookEndpoint(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	if !ep.Enabled {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the endpoint is disabled: enable it to ping it"}
	}
	data, err := json.Marshal(map[string]string{"endpointId": ep.ID, "requestedBy": p.UserID})
	if err != nil {
		return err
	}
	made, err := s.store.CreateWebhookDeliveries(ctx, p.TenantID, []string{ep.ID}, pgstore.WebhookEvent{
		Key: "ping/" + uuid.NewString(), Type: pgstore.WebhookPing, At: time.Now().UTC(), Data: data})
	if err != nil {
		return err
	}
	if len(made) == 0 {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the endpoint was disabled or deleted meanwhile"}
	}
	id := made[0].ID
	run, err := activities.StartWebhookDelivery(ctx, s.temporal, activities.WebhookDeliveryInput{
		TenantID: p.TenantID, DeliveryID: id, Retry: &activities.WebhookRetry{MaximumAttempts: 1}})
	if err != nil {
		// Nothing will attempt it: the log says why.
		_ = s.store.FailWebhookDelivery(context.WithoutCancel(ctx), p.TenantID, id, "the ping could not be started")
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "Temporal did not accept the ping: " + err.Error()}
	}
	waitCtx, cancel := context.WithTimeout(ctx, webhookPingWait)
	defer cancel()
	finished := run.Get(waitCtx, nil) == nil
	d, err := s.store.GetWebhookDelivery(ctx, p.TenantID, ep.ID, id)
	if err != nil {
		return err
	}
	if !finished || d.Status == pgstore.WebhookPending {
		return c.JSON(http.StatusAccepted, d)
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) listWebhookDeliveries(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	f := pgstore.WebhookDeliveryFilter{Status: c.QueryParam("status"), Page: pg}
	out, err := s.store.ListWebhookDeliveries(c.Request().Context(), principal(c).TenantID, c.Param("id"), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.Limit, func(d pgstore.WebhookDelivery) string { return d.ID }))
}

func (s *Server) getWebhookDelivery(c echo.Context) error {
	out, err := s.store.GetWebhookDelivery(c.Request().Context(), principal(c).TenantID, c.Param("id"), c.Param("deliveryId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// webhookResend is the answer to a re-send: the run that attempts the delivery
// again, under the same delivery ID.
type webhookResend struct {
	DeliveryID string `json:"deliveryId"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
}

// errDeliveryInProgress refuses a re-send of a delivery that is still attempted.
var errDeliveryInProgress = &Error{Status: http.StatusConflict, Code: CodeConflict,
	Message: "the delivery is still being attempted: re-send it once it is delivered or failed"}

// resendWebhookDelivery attempts a finished delivery (delivered or failed) again:
// a new run of its workflow, with the same delivery ID, new attempts and the
// endpoint's URL and secret as they are now.
func (s *Server) resendWebhookDelivery(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	d, err := s.store.GetWebhookDelivery(ctx, p.TenantID, c.Param("id"), c.Param("deliveryId"))
	if err != nil {
		return err
	}
	if d.Status == pgstore.WebhookPending {
		return errDeliveryInProgress
	}
	run, err := activities.StartWebhookDelivery(ctx, s.temporal, activities.WebhookDeliveryInput{TenantID: p.TenantID, DeliveryID: d.ID, Resend: true})
	if activities.IsAlreadyStarted(err) {
		return errDeliveryInProgress
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "Temporal did not accept the re-send: " + err.Error()}
	}
	return c.JSON(http.StatusAccepted, webhookResend{DeliveryID: d.ID, WorkflowID: run.GetID(), RunID: run.GetRunID()})
}
