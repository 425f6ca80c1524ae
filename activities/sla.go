package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"

	"switchboard/events"
	"switchboard/hours"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sla"
)

// SLAMatchRequest asks which SLA policy applies to a conversation.
type SLAMatchRequest struct {
	TenantID      string        `json:"tenantId"`
	InteractionID string        `json:"interactionId"`
	QueueID       string        `json:"queueId"`
	Facts         routing.Facts `json:"facts"`
	// At is the instant the policies' validity periods are tested at: when the
	// clock started.
	At time.Time `json:"at"`
}

// SLAMatchResult is the policy that applies, under the generation of the policy
// list it was read at, with the working hours of the conversation's queue.
type SLAMatchResult struct {
	Generation int64 `json:"generation"`
	// Match is nil when no policy applies.
	Match *pgstore.SLAMatch `json:"match,omitempty"`
	// Period is the queue's working hours; nil when it has none (always open).
	Period *hours.Period `json:"period,omitempty"`
}

// MatchSLA finds the first of the tenant's policies (in list order, enabled and
// valid at in.At) whose queue scope covers the conversation's queue and whose
// condition its facts satisfy, with the queue's working hours. The generation is
// read first, so a change committed meanwhile is seen as a newer generation later.
func (a *Activities) MatchSLA(ctx context.Context, in SLAMatchRequest) (SLAMatchResult, error) {
	gen, err := a.Store.SLAGeneration(ctx, in.TenantID)
	if err != nil {
		return SLAMatchResult{}, err
	}
	out := SLAMatchResult{Generation: gen}
	p, ok, err := a.Store.MatchSLAPolicy(ctx, in.TenantID, sla.Conversation{Facts: in.Facts, QueueID: in.QueueID, At: in.At})
	if err != nil {
		return SLAMatchResult{}, err
	}
	if ok {
		policy := p.Policy()
		out.Match = &pgstore.SLAMatch{PolicyID: p.ID, PolicyName: p.Name, Severity: policy.DefaultSeverity(), ExcludeAutomated: p.ExcludeAutomated}
	}
	w, err := a.Store.QueueHours(ctx, in.TenantID, in.QueueID)
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		// The queue is gone: always open.
	case err != nil:
		return SLAMatchResult{}, err
	case w != nil:
		period := w.Period
		out.Period = &period
	}
	return out, nil
}

// SLARecordResult is what RecordSLAClock found.
type SLARecordResult struct {
	// Applied: the write was newer than the stored one.
	Applied bool `json:"applied"`
	// Generation is the tenant's policy generation now: a clock matched under an
	// older one matches again.
	Generation int64 `json:"generation"`
}

// SLABreachEvent is the payload of the slaBreached and slaBreachWithdrawn events.
type SLABreachEvent struct {
	pgstore.SLABreach
	// AgentID is the agent who holds (or is offered) the conversation.
	AgentID string `json:"agentId,omitempty"`
}

// RecordSLAClock writes a conversation's clocks to the read model and its breach
// records, then publishes every breach change not published yet (slaBreached,
// slaBreachWithdrawn) to the agent's and supervisors' streams and the webhooks. A
// retry writes nothing twice and publishes only what is missing.
func (a *Activities) RecordSLAClock(ctx context.Context, r pgstore.SLAClockRecord) (SLARecordResult, error) {
	applied, err := a.Store.WriteSLAClock(ctx, r)
	if err != nil {
		return SLARecordResult{}, storeError(err)
	}
	if err := a.publishSLABreaches(ctx, r.TenantID, r.InteractionID); err != nil {
		return SLARecordResult{}, err
	}
	gen, err := a.Store.SLAGeneration(ctx, r.TenantID)
	if err != nil {
		return SLARecordResult{}, err
	}
	return SLARecordResult{Applied: applied, Generation: gen}, nil
}

func (a *Activities) publishSLABreaches(ctx context.Context, tenantID, interactionID string) error {
	pending, err := a.Store.SLABreachesToPublish(ctx, tenantID, interactionID)
	if err != nil || len(pending) == 0 {
		return err
	}
	var agents []string
	ix, err := a.Store.GetInteraction(ctx, tenantID, interactionID)
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
	case err != nil:
		return err
	default:
		for _, id := range []string{ix.AgentID, ix.OfferedAgentID} {
			if id != "" && !slices.Contains(agents, id) {
				agents = append(agents, id)
			}
		}
	}
	for _, b := range pending {
		typ := events.SLABreached
		if b.WithdrawnAt != nil {
			typ = events.SLABreachWithdrawn
		}
		payload := SLABreachEvent{SLABreach: b}
		if len(agents) > 0 {
			payload.AgentID = agents[0]
		}
		if a.Events != nil {
			data, err := json.Marshal(payload)
			if err != nil {
				return err
			}
			ev := events.Event{
				Key:  fmt.Sprintf("sla/%s/%s/%d/%d", interactionID, b.Metric, b.Cycle, b.Version),
				Type: typ, TenantID: tenantID, At: time.Now().UTC(), InteractionID: interactionID, Agents: agents, Data: data,
			}
			if _, err := a.Events.Publish(ctx, ev); err != nil {
				return err
			}
			if err := a.Webhooks.Deliver(ctx, ev); err != nil {
				return err
			}
		}
		if err := a.Store.MarkSLABreachPublished(ctx, tenantID, b); err != nil {
			return err
		}
	}
	return nil
}

// SLARecalcPage is one page of a tenant's recalculation.
type SLARecalcPage struct {
	TenantID   string `json:"tenantId"`
	Generation int64  `json:"generation"`
	// After is the last interaction of the previous page; empty: the first page.
	After string `json:"after,omitempty"`
	Limit int    `json:"limit"`
	// ClockWorkflowID names an interaction's clock workflow, and Signal is the
	// signal that tells it to recalculate (SLARecalculation).
	ClockWorkflowPrefix string `json:"clockWorkflowPrefix"`
	Signal              string `json:"signal"`
}

// SLARecalculation tells a clock that the tenant's policies changed.
type SLARecalculation struct {
	Generation int64 `json:"generation"`
}

// SLARecalcResult is how far a page went.
type SLARecalcResult struct {
	// Last is the last interaction of the page; Done: it was the last page.
	Last     string `json:"last"`
	Signaled int    `json:"signaled"`
	// Gone counts the clocks whose workflow no longer runs: their read model is
	// closed.
	Gone int  `json:"gone"`
	Done bool `json:"done"`
}

// SignalSLAClocks tells the next page of the tenant's open clocks to recalculate
// under the given generation. A clock whose workflow is gone is closed in the read
// model. Signalling a clock twice is harmless: it recalculates once per generation.
func (a *Activities) SignalSLAClocks(ctx context.Context, in SLARecalcPage) (SLARecalcResult, error) {
	ids, err := a.Store.OpenSLAClocks(ctx, in.TenantID, in.After, in.Limit)
	if err != nil {
		return SLARecalcResult{}, err
	}
	out := SLARecalcResult{Last: in.After, Done: len(ids) < in.Limit}
	for _, id := range ids {
		err := a.signal(ctx, in.ClockWorkflowPrefix+id, in.Signal, SLARecalculation{Generation: in.Generation})
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone):
			if err := a.Store.CloseSLAClock(ctx, in.TenantID, id); err != nil {
				return SLARecalcResult{}, err
			}
			out.Gone++
		case err != nil:
			return SLARecalcResult{}, fmt.Errorf("signal the clock of %s: %w", id, err)
		default:
			out.Signaled++
		}
		out.Last = id
	}
	return out, nil
}
