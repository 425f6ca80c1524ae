package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"switchboard/pgstore"
	"switchboard/presence"
)

// Presence recovery: Redis holds which agent holds which interaction, and a flush
// (or a failover to an empty replica) loses it, after which agents would be offered
// work past their capacity. Each tenant's held slots are restored from the read model
// (presence.Store.Recover) whenever the tenant's rebuild marker is missing.
//
// Every worker runs KeepPresence: a loop that, at start-up and then every
// recoveryInterval, reads the markers of all tenants in one pipelined round trip and
// recovers the tenants whose marker is gone. A loop per worker rather than a
// workflow because:
//   - the check must run while nothing else does: after a flush no agent is logged
//     in, so the agent-session workflows have ended (their heartbeat check reports
//     the session lost) and could not notice it; interactions held by those agents
//     are still held;
//   - a recurring workflow would write a history event per check for ever, to learn
//     what one Redis read answers;
//   - several replicas are safe and cheap: the marker lets one worker rebuild a
//     tenant while the others wait for it, and a rebuild is idempotent anyway; every
//     replica costing one PostgreSQL read and one Redis round trip every few seconds
//     is no load, and any replica left running keeps watching.
//
// A missing marker is also what a tenant never seen looks like, so a new tenant is
// "recovered" once, from an empty list. The API's login does the same check for the
// agent's tenant before opening a session, so an agent who logs in again after a
// flush, before the next check here, is not offered work on a slot that is in fact
// held.

// recoveryInterval is how often each worker looks for tenants whose presence was
// lost. Between a flush and the next look nobody can be put over capacity (logins
// recover first); the interval only bounds how long held slots are missing from
// supervisors' views.
const recoveryInterval = 5 * time.Second

// maxRecoveryBackoff bounds the wait after failed looks (Redis or PostgreSQL down).
const maxRecoveryBackoff = time.Minute

// recoverTimeout bounds the recovery of one tenant.
const recoverTimeout = 2 * time.Minute

// KeepPresence restores the tenants' held slots in Redis from the read model at
// start-up and whenever Redis lost them, until ctx is done. It returns nil then;
// failures are logged and retried with backoff.
func KeepPresence(ctx context.Context, store *pgstore.Store, ps *presence.Store, logger *slog.Logger) error {
	held := heldSource(store)
	failures := 0
	for {
		err := recoverTenants(ctx, store, ps, held, logger)
		wait := recoveryInterval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			wait = min(time.Second<<min(failures-1, 6), maxRecoveryBackoff)
			logger.Warn("presence recovery check failed; retrying", "error", err, "retry_in", wait.String())
		default:
			failures = 0
		}
		// Jitter keeps replicas started together from looking in step.
		wait += rand.N(wait / 5)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// recoverTenants recovers every tenant whose rebuild marker is missing.
func recoverTenants(ctx context.Context, store *pgstore.Store, ps *presence.Store, held presence.HeldSource, logger *slog.Logger) error {
	var errs []error
	page := pgstore.Page{Limit: 200}
	for {
		tenants, err := store.ListTenants(ctx, page)
		if err != nil {
			return err
		}
		ids := make([]string, len(tenants))
		for i, t := range tenants {
			ids[i] = t.ID
		}
		lost, err := ps.NeedRecovery(ctx, ids)
		if err != nil {
			return err
		}
		for _, tenant := range lost {
			tctx, cancel := context.WithTimeout(ctx, recoverTimeout)
			r, err := ps.Recover(tctx, tenant, held)
			cancel()
			switch {
			case err != nil:
				errs = append(errs, err)
			case r.Rebuilt:
				logger.Info("presence restored from the read model", "tenant_id", tenant, "restored", r.Restored, "stale", r.Stale)
			}
		}
		if len(tenants) < page.Limit {
			return errors.Join(errs...)
		}
		page.After = tenants[len(tenants)-1].ID
	}
}

// heldSource lists the interactions a tenant's agents hold according to the read
// model, as presence.Rebuild takes them.
func heldSource(store *pgstore.Store) presence.HeldSource {
	return func(ctx context.Context, tenant string) ([]presence.Holding, error) {
		rows, err := store.HeldInteractions(ctx, tenant)
		if err != nil {
			return nil, err
		}
		out := make([]presence.Holding, len(rows))
		for i, h := range rows {
			out[i] = presence.Holding{Agent: h.AgentID, Interaction: h.InteractionID, Channel: h.Channel, AssignedAt: h.ConnectedAt}
		}
		return out, nil
	}
}
