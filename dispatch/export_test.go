package dispatch

import (
	"context"

	"switchboard/pgstore"
	"switchboard/routing"
)

// Candidates exposes the candidates of one decision to the tests.
func (d *Dispatcher) Candidates(ctx context.Context, tenantID string, q pgstore.AssignmentQueue, excluded []string) ([]routing.Candidate, error) {
	return d.candidates(ctx, tenantID, q, excluded, nil)
}
