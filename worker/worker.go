// Package worker registers Switchboard's workflows and activities on their task queue
// and runs the Temporal worker.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"switchboard/activities"
	"switchboard/workflows"
)

// New returns a worker for the Switchboard task queue with every workflow and activity
// registered.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, Options())
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
	return w
}

// Options are the worker's options; the benchmarks give their floor workers the same.
func Options() sdkworker.Options {
	return sdkworker.Options{
		// Every interaction waits on short activities and answers agents'
		// updates: more pollers than the SDK's two keep tasks from queueing on
		// the poll round trip.
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
	}
}

// RegisterWorkflows adds Switchboard's workflows to r; the replay tests use it too so
// they check exactly what production runs.
func RegisterWorkflows(r sdkworker.WorkflowRegistry) {
	r.RegisterWorkflow(workflows.SystemCheck)
	r.RegisterWorkflow(workflows.AgentSession)
	r.RegisterWorkflow(workflows.Interaction)
	r.RegisterWorkflow(workflows.Export)
	r.RegisterWorkflow(workflows.Callback)
	r.RegisterWorkflow(workflows.WebhookDelivery)
	r.RegisterWorkflow(workflows.JourneyBackfill)
	r.RegisterWorkflow(workflows.QueueHours)
	r.RegisterWorkflow(workflows.SLAClock)
	r.RegisterWorkflow(workflows.SLARecalc)
	r.RegisterWorkflow(workflows.AutomationRun)
	r.RegisterWorkflow(workflows.AutomationTimer)
	r.RegisterWorkflow(workflows.Survey)
	r.RegisterWorkflow(workflows.SurveyFeedback)
}

// Run runs the worker until ctx is done. Callers register the search attributes first
// (EnsureSearchAttributes), since the workflows set them.
func Run(ctx context.Context, c client.Client, acts *activities.Activities) error {
	w := New(c, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// EnsureSearchAttributes adds the custom search attributes the workflows use to the
// namespace, leaving alone those already there. It fails if one exists with another type.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	op := c.OperatorService()
	existing, err := listSearchAttributes(ctx, op, namespace)
	if err != nil {
		return err
	}
	missing := map[string]enums.IndexedValueType{}
	for _, key := range workflows.SearchAttributes {
		have, ok := existing.GetCustomAttributes()[key.GetName()]
		switch {
		case !ok:
			missing[key.GetName()] = key.GetValueType()
		case have != key.GetValueType():
			return fmt.Errorf("search attribute %s exists in namespace %s as %s, Switchboard needs %s",
				key.GetName(), namespace, have, key.GetValueType())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("add search attributes to namespace %s: %w", namespace, err)
	}
	return nil
}

// namespaceWait covers the server's namespace cache refresh: a namespace registered a
// moment ago is unknown to the operator API for a couple of seconds.
const namespaceWait = 30 * time.Second

func listSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient, namespace string) (*operatorservice.ListSearchAttributesResponse, error) {
	deadline := time.Now().Add(namespaceWait)
	for {
		res, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		var notFound *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &notFound) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
