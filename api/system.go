package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/workflows"
)

// systemCheckTimeout bounds how long the caller waits for a worker to answer.
const systemCheckTimeout = 20 * time.Second

type systemCheck struct {
	WorkflowID string                       `json:"workflowId"`
	RunID      string                       `json:"runId"`
	Result     *workflows.SystemCheckResult `json:"result"`
}

// runSystemCheck runs the SystemCheck workflow and waits for its result, proving that
// a worker is polling and can reach PostgreSQL and Redis.
func (s *Server) runSystemCheck(c echo.Context) error {
	p := principal(c)
	ctx, cancel := context.WithTimeout(c.Request().Context(), systemCheckTimeout)
	defer cancel()
	id := workflows.SystemCheckWorkflowID(uuid.NewString())
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: time.Minute,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(p.TenantID)),
	}, workflows.SystemCheck, workflows.SystemCheckInput{TenantID: p.TenantID, RequestedBy: p.UserID})
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "Temporal did not accept the check: " + err.Error()}
	}
	var result workflows.SystemCheckResult
	if err := run.Get(ctx, &result); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "no worker finished the check in time; is `switchboard worker` running?"}
		}
		return err
	}
	status := http.StatusOK
	if !result.Healthy {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, systemCheck{WorkflowID: id, RunID: run.GetRunID(), Result: &result})
}
