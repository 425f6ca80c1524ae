package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
)

// TestCRMRequestClaims: of calls claiming one request ID at once, exactly one wins;
// the others see the claim unanswered, then the answer once stored; a released claim
// can be claimed again; a stale claim is taken over once; other tenants are apart.
func TestCRMRequestClaims(t *testing.T) {
	ctx := context.Background()
	tid := newTenant(t).Tenant.ID
	hash := make([]byte, 32)
	hash[0] = 1

	const n = 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
	)
	for range n {
		wg.Go(func() {
			req, claimed, err := store.ClaimCRMRequest(ctx, tid, "r-1", pgstore.CRMManualDial, hash, "")
			if err != nil {
				t.Error(err)
				return
			}
			if !claimed && (req.Done() || req.Operation != pgstore.CRMManualDial || req.BodyHash[0] != 1) {
				t.Errorf("a losing claim saw %+v", req)
			}
			mu.Lock()
			defer mu.Unlock()
			if claimed {
				winners++
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d calls claimed one request ID", winners)
	}
	answer := json.RawMessage(`{"interactionId":"x"}`)
	if err := store.CompleteCRMRequest(ctx, tid, "r-1", 201, answer); err != nil {
		t.Fatal(err)
	}
	req, claimed, err := store.ClaimCRMRequest(ctx, tid, "r-1", pgstore.CRMManualDial, hash, "")
	if err != nil || claimed || !req.Done() || req.StatusCode != 201 || string(req.Response) != string(answer) {
		t.Fatalf("after the answer: %+v %v %v", req, claimed, err)
	}
	// An answered claim is neither released nor taken over.
	if err := store.ReleaseCRMRequest(ctx, tid, "r-1"); err != nil {
		t.Fatal(err)
	}
	if took, err := store.TakeOverCRMRequest(ctx, tid, "r-1", req.ClaimedAt); err != nil || took {
		t.Fatalf("took over an answered claim: %v %v", took, err)
	}
	if req, err := store.GetCRMRequest(ctx, tid, "r-1"); err != nil || req.StatusCode != 201 {
		t.Fatalf("answered claim after release: %+v %v", req, err)
	}

	// A released claim is free again.
	if _, claimed, err := store.ClaimCRMRequest(ctx, tid, "r-2", pgstore.CRMDispose, hash, ""); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if err := store.ReleaseCRMRequest(ctx, tid, "r-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetCRMRequest(ctx, tid, "r-2"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("released claim still there: %v", err)
	}
	held, claimed, err := store.ClaimCRMRequest(ctx, tid, "r-2", pgstore.CRMDispose, hash, "")
	if err != nil || !claimed {
		t.Fatal("released ID not claimable:", claimed, err)
	}

	// A takeover names the claim it saw: of concurrent takeovers one wins, and a
	// takeover of a claim already taken over fails.
	if took, err := store.TakeOverCRMRequest(ctx, tid, "r-2", held.ClaimedAt.Add(-time.Second)); err != nil || took {
		t.Fatalf("took over a claim it did not see: %v %v", took, err)
	}
	var took int
	for range 6 {
		wg.Go(func() {
			ok, err := store.TakeOverCRMRequest(ctx, tid, "r-2", held.ClaimedAt)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				took++
			}
		})
	}
	wg.Wait()
	if took != 1 {
		t.Fatalf("%d calls took one stale claim over", took)
	}
	if now, err := store.GetCRMRequest(ctx, tid, "r-2"); err != nil || !now.ClaimedAt.After(held.ClaimedAt) {
		t.Fatalf("the claim taken over: %+v %v", now, err)
	}

	// Another tenant's ID of the same name is its own.
	other := newTenant(t).Tenant.ID
	if _, claimed, err := store.ClaimCRMRequest(ctx, other, "r-1", pgstore.CRMManualDial, hash, ""); err != nil || !claimed {
		t.Fatal("another tenant's request ID:", claimed, err)
	}
}
