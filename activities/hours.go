package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"switchboard/hours"
	"switchboard/pgstore"
)

// openParallel is how many agents' bulk assignments a queue's opening runs at once.
const openParallel = 4

// AfterHoursRequest is a new interaction that arrived while its queue was closed.
type AfterHoursRequest struct {
	// Interaction is the interaction as the workflow holds it, written to the read
	// model (queued) so that supervisors see it.
	Interaction pgstore.Interaction `json:"interaction"`
	// Wait: it waits for the queue's opening (it is not closed at once), left out of
	// bulk assignment until then.
	Wait bool `json:"wait,omitempty"`
	// OpensAt is the opening the calendar gave; nil when none is ahead.
	OpensAt *time.Time `json:"opensAt,omitempty"`
}

// AfterHoursResult is what EnterAfterHours wrote.
type AfterHoursResult struct {
	// QueueID is the interaction's queue as stored: the Default queue when the
	// routed queue was deleted before the interaction was written.
	QueueID string `json:"queueId"`
	// Waiting: the interaction waits for its queue's opening. False when it was to
	// wait but landed in the Default queue instead, whose hours were not asked.
	Waiting bool `json:"waiting"`
}

// EnterAfterHours writes a new interaction that arrived outside its queue's working
// hours to the read model, queued. One that waits for the opening is recorded as
// waiting first, so that bulk assignment never sees it before the wait. Repeating it
// changes nothing.
func (a *Activities) EnterAfterHours(ctx context.Context, in AfterHoursRequest) (AfterHoursResult, error) {
	ix := in.Interaction
	if in.Wait {
		if err := a.Store.AddOpeningWait(ctx, pgstore.OpeningWait{TenantID: ix.TenantID, InteractionID: ix.ID, QueueID: ix.QueueID, OpensAt: in.OpensAt}); err != nil {
			return AfterHoursResult{}, storeError(err)
		}
	}
	queueID, err := a.Store.EnqueueInteraction(ctx, ix)
	if err != nil {
		return AfterHoursResult{}, storeError(err)
	}
	if err := a.publishInitiated(ctx, ix, queueID); err != nil {
		return AfterHoursResult{}, err
	}
	out := AfterHoursResult{QueueID: queueID, Waiting: in.Wait}
	if in.Wait && queueID != ix.QueueID {
		if _, err := a.Store.RemoveOpeningWait(ctx, ix.TenantID, ix.ID); err != nil {
			return AfterHoursResult{}, err
		}
		out.Waiting = false
	}
	return out, nil
}

// OpeningRequest names an interaction waiting for its queue's opening.
type OpeningRequest struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	QueueID       string `json:"queueId"`
}

// OpeningVerdict is CheckOpening's answer.
type OpeningVerdict struct {
	// Open: the queue is open now (or has no working hours any more, or is gone);
	// the interaction's wait is over.
	Open bool `json:"open"`
	// OpensAt is the next opening while closed; nil when none is ahead.
	OpensAt *time.Time `json:"opensAt,omitempty"`
}

// CheckOpening looks whether the queue of a waiting interaction is open now, by its
// period as it is now (it may have changed since the interaction arrived). When it
// is, the interaction's wait ends here.
func (a *Activities) CheckOpening(ctx context.Context, in OpeningRequest) (OpeningVerdict, error) {
	open, next, err := a.queueOpen(ctx, in.TenantID, in.QueueID, time.Now())
	if err != nil {
		return OpeningVerdict{}, err
	}
	if !open {
		return OpeningVerdict{OpensAt: next}, nil
	}
	if _, err := a.Store.RemoveOpeningWait(ctx, in.TenantID, in.InteractionID); err != nil {
		return OpeningVerdict{}, err
	}
	return OpeningVerdict{Open: true}, nil
}

// queueOpen tells whether the queue is open at now and, when closed, its next opening.
func (a *Activities) queueOpen(ctx context.Context, tenantID, queueID string, now time.Time) (bool, *time.Time, error) {
	w, err := a.Store.QueueHours(ctx, tenantID, queueID)
	if errors.Is(err, pgstore.ErrNotFound) || (err == nil && w == nil) {
		return true, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	cal, err := w.Calendar()
	if err != nil {
		return false, nil, fmt.Errorf("working hours %s of queue %s: %w", w.ID, queueID, err)
	}
	if cal.Open(now) {
		return true, nil, nil
	}
	if next, ok := cal.NextOpening(now); ok {
		return false, &next, nil
	}
	return false, nil, nil
}

// LeaveOpeningWait ends an interaction's wait for its queue's opening: it ended, or
// moved to another queue. Repeating it changes nothing.
func (a *Activities) LeaveOpeningWait(ctx context.Context, in OpeningRequest) error {
	_, err := a.Store.RemoveOpeningWait(ctx, in.TenantID, in.InteractionID)
	return err
}

// QueueScheduleRequest names a queue.
type QueueScheduleRequest struct {
	TenantID string `json:"tenantId"`
	QueueID  string `json:"queueId"`
}

// QueueSchedule is a queue's working hours as they are now.
type QueueSchedule struct {
	// Exists: the queue is there.
	Exists bool `json:"exists"`
	// PeriodID and Period are its working hours; empty and nil when it has none
	// (always open).
	PeriodID string        `json:"periodId,omitempty"`
	Period   *hours.Period `json:"period,omitempty"`
}

// GetQueueSchedule reads a queue's working hours.
func (a *Activities) GetQueueSchedule(ctx context.Context, in QueueScheduleRequest) (QueueSchedule, error) {
	w, err := a.Store.QueueHours(ctx, in.TenantID, in.QueueID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return QueueSchedule{}, nil
	}
	if err != nil {
		return QueueSchedule{}, err
	}
	out := QueueSchedule{Exists: true}
	if w != nil {
		p := w.Period
		out.PeriodID, out.Period = w.ID, &p
	}
	return out, nil
}

// OpenQueueResult is what a queue's opening did.
type OpenQueueResult struct {
	// Released counts the interactions whose wait for the opening ended.
	Released int64 `json:"released"`
	// Woken are the interactions bulk assignment gave the queue's agents.
	Woken []string `json:"woken,omitempty"`
}

// OpenQueue is a queue's opening: the interactions that waited for it are released,
// and bulk assignment runs for each of the queue's enabled agents who is ready for
// work, in parallel, so that they get what arrived while the queue was closed, by
// priority then age. Repeating it is harmless: what was given is not given again.
func (a *Activities) OpenQueue(ctx context.Context, in QueueScheduleRequest) (OpenQueueResult, error) {
	var out OpenQueueResult
	n, err := a.Store.ReleaseOpeningWaits(ctx, in.TenantID, in.QueueID)
	if err != nil {
		return out, err
	}
	out.Released = n
	q, err := a.Store.GetQueue(ctx, in.TenantID, in.QueueID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	ready, err := a.Presence.Ready(ctx, in.TenantID)
	if err != nil {
		return out, err
	}
	isReady := make(map[string]bool, len(ready))
	for _, r := range ready {
		isReady[r.Agent] = true
	}
	woken := make([][]string, len(q.Agents))
	var g errgroup.Group
	g.SetLimit(openParallel)
	for i, agent := range q.Agents {
		if !agent.Enabled || !isReady[agent.ID] {
			continue
		}
		g.Go(func() error {
			ids, err := a.dispatcher().OfferWaiting(ctx, in.TenantID, agent.ID, a.Wake)
			woken[i] = ids
			if err != nil {
				return fmt.Errorf("bulk assignment for agent %s: %w", agent.ID, err)
			}
			return nil
		})
	}
	err = g.Wait()
	for _, ids := range woken {
		out.Woken = append(out.Woken, ids...)
	}
	return out, err
}
