package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
)

// ErrTypeBackfillGone: the backfill a batch names does not exist.
const ErrTypeBackfillGone = "BackfillGone"

// JourneyBatchInput asks for the next batch of a journey backfill.
type JourneyBatchInput struct {
	TenantID   string `json:"tenantId"`
	BackfillID string `json:"backfillId"`
	BatchSize  int    `json:"batchSize"`
	// LinkUpdate is the interaction workflow's update that links a customer: an
	// interaction whose workflow still runs is linked through it, so the workflow
	// keeps the link in the state it writes.
	LinkUpdate string `json:"linkUpdate"`
}

// LinkCustomerArg is the argument of LinkUpdate (the interaction workflow's
// LinkCustomerInput, with no acting user: the journey links it).
type LinkCustomerArg struct {
	TenantID   string `json:"tenantId"`
	CustomerID string `json:"customerId"`
}

// JourneyBackfillBatch walks the next batch of a backfill, from its committed
// position: each interaction carrying one of the backfill's identifiers and linked to
// no customer is linked to the customer with that identifier (created when the
// backfill creates customers). An interaction whose workflow still runs is linked by
// the workflow's update; one that is over, in the read model. The batch's progress
// is committed with those links, so a retry after the commit walks the next batch
// and a retry before it walks this one again, finding the links already made.
func (a *Activities) JourneyBackfillBatch(ctx context.Context, in JourneyBatchInput) (pgstore.JourneyProgress, error) {
	batch, err := a.Store.NextJourneyBatch(ctx, in.TenantID, in.BackfillID, in.BatchSize)
	if errors.Is(err, pgstore.ErrNotFound) {
		return pgstore.JourneyProgress{}, temporal.NewNonRetryableApplicationError("no such backfill", ErrTypeBackfillGone, err)
	}
	if err != nil {
		return pgstore.JourneyProgress{}, err
	}
	b := batch.Backfill
	if b.Status != pgstore.BackfillRunning {
		p := b.JourneyProgress
		p.Done = true
		return p, nil
	}
	var cands []pgstore.JourneyCandidate
	for _, c := range batch.Items {
		if b.Pairs(c) {
			cands = append(cands, c)
		}
	}
	found, err := a.Store.ResolveBackfillCustomers(ctx, b, cands)
	if err != nil {
		return pgstore.JourneyProgress{}, err
	}
	var (
		links []pgstore.JourneyLink
		live  int
	)
	for i, c := range cands {
		link := found[i]
		if link.CustomerID == "" {
			continue
		}
		if c.Status.Final() {
			links = append(links, pgstore.JourneyLink{InteractionID: c.ID, CustomerID: link.CustomerID})
			continue
		}
		ok, over, err := a.linkLive(ctx, in, c, link.CustomerID)
		if err != nil {
			return pgstore.JourneyProgress{}, err
		}
		switch {
		case ok:
			live++
		case over:
			links = append(links, pgstore.JourneyLink{InteractionID: c.ID, CustomerID: link.CustomerID})
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
	}
	var to *pgstore.JourneyPosition
	if n := len(batch.Items); n > 0 {
		to = &pgstore.JourneyPosition{CreatedAt: batch.Items[n-1].CreatedAt, InteractionID: batch.Items[n-1].ID}
	}
	after, err := a.Store.CommitJourneyBatch(ctx, in.TenantID, in.BackfillID, batch.From, to, len(batch.Items), live, links)
	if err != nil {
		return pgstore.JourneyProgress{}, err
	}
	p := after.JourneyProgress
	end := to
	if end == nil {
		end = batch.From
	}
	// Done once the last batch is committed (by this attempt or an earlier one).
	p.Done = batch.Last && samePosition(p.Last, end)
	return p, nil
}

// linkLive links a running interaction through its workflow's update. ok: it is
// linked to the customer (now or by an earlier try). over: its workflow ended first,
// so the link goes to the read model. Neither: it was left alone (linked to another
// customer meanwhile, or a workflow too old to link).
func (a *Activities) linkLive(ctx context.Context, in JourneyBatchInput, c pgstore.JourneyCandidate, customerID string) (ok, over bool, err error) {
	if !activity.IsActivity(ctx) {
		return false, false, errors.New("linking a running interaction needs a worker's Temporal client")
	}
	h, err := activity.GetClient(ctx).UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:     "journey/" + in.BackfillID + "/" + c.ID,
		WorkflowID:   c.WorkflowID,
		UpdateName:   in.LinkUpdate,
		Args:         []any{LinkCustomerArg{TenantID: in.TenantID, CustomerID: customerID}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err == nil {
		return true, false, nil
	}
	// Refused (or the workflow is gone): the read model tells why.
	cur, rerr := a.Store.GetInteraction(ctx, in.TenantID, c.ID)
	if rerr != nil {
		return false, false, fmt.Errorf("link interaction %s: %w (then reading it: %v)", c.ID, err, rerr)
	}
	var (
		app  *temporal.ApplicationError
		gone *serviceerror.NotFound
	)
	switch {
	case cur.CustomerID == customerID:
		return true, false, nil
	case cur.CustomerID != "":
		return false, false, nil
	case cur.Status.Final():
		return false, true, nil
	case errors.As(err, &app) || errors.As(err, &gone):
		// Refused by the workflow (one too old to link), or a workflow that is gone
		// while the read model says otherwise: left alone, not retried for ever.
		activity.GetLogger(ctx).Info("interaction not linked by the journey", "interaction", c.ID, "reason", err.Error())
		return false, false, nil
	}
	return false, false, fmt.Errorf("link interaction %s: %w", c.ID, err)
}

// FinishJourneyInput ends a backfill.
type FinishJourneyInput struct {
	TenantID   string `json:"tenantId"`
	BackfillID string `json:"backfillId"`
	// Failure is why it failed; empty: it completed.
	Failure string `json:"failure,omitempty"`
}

// FinishJourneyBackfill marks a backfill completed or failed and answers its progress.
func (a *Activities) FinishJourneyBackfill(ctx context.Context, in FinishJourneyInput) (pgstore.JourneyProgress, error) {
	b, err := a.Store.FinishJourneyBackfill(ctx, in.TenantID, in.BackfillID, in.Failure)
	if errors.Is(err, pgstore.ErrNotFound) {
		return pgstore.JourneyProgress{}, temporal.NewNonRetryableApplicationError("no such backfill", ErrTypeBackfillGone, err)
	}
	return b.JourneyProgress, err
}

func samePosition(a, b *pgstore.JourneyPosition) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.InteractionID == b.InteractionID && a.CreatedAt.Equal(b.CreatedAt)
}
