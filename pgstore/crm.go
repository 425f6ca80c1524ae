package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// CRM operations that take a client request ID.
const (
	CRMManualDial     = "manual_dial"
	CRMDispose        = "dispose"
	CRMDisposeAndDial = "dispose_and_dial"
)

// CRMRequest is a CRM request ID as claimed by the first call that used it.
type CRMRequest struct {
	Operation string
	BodyHash  []byte
	// StatusCode and Response are the first call's answer; StatusCode is 0 while it
	// runs.
	StatusCode int
	Response   json.RawMessage
	ClaimedAt  time.Time
}

// Done reports whether the first call has answered.
func (r CRMRequest) Done() bool { return r.StatusCode != 0 }

// ClaimCRMRequest claims requestID of the tenant for a call of operation with a body
// of hash. claimed is true when this call is the first: it must then complete or
// release the claim. Otherwise the existing claim is returned as it stands.
func (s *Store) ClaimCRMRequest(ctx context.Context, tenantID, requestID, operation string, hash []byte, keyID string) (req CRMRequest, claimed bool, err error) {
	for {
		req = CRMRequest{Operation: operation, BodyHash: hash}
		err = s.pool.QueryRow(ctx, `
			INSERT INTO crm_requests (tenant_id, request_id, operation, body_hash, key_id)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, request_id) DO NOTHING
			RETURNING claimed_at`, tenantID, requestID, operation, hash, nullUUID(keyID)).Scan(&req.ClaimedAt)
		if err == nil {
			return req, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return req, false, err
		}
		req, err = s.GetCRMRequest(ctx, tenantID, requestID)
		if errors.Is(err, ErrNotFound) {
			// Released between the two statements: claim it afresh.
			continue
		}
		return req, false, err
	}
}

// GetCRMRequest reads the claim of requestID.
func (s *Store) GetCRMRequest(ctx context.Context, tenantID, requestID string) (CRMRequest, error) {
	var (
		req    CRMRequest
		status *int
	)
	err := s.pool.QueryRow(ctx, `
		SELECT operation, body_hash, status_code, response, claimed_at
		FROM crm_requests WHERE tenant_id = $1 AND request_id = $2`, tenantID, requestID).
		Scan(&req.Operation, &req.BodyHash, &status, &req.Response, &req.ClaimedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return req, ErrNotFound
	}
	if status != nil {
		req.StatusCode = *status
	}
	return req, err
}

// TakeOverCRMRequest claims requestID for this call when the call that claimed it
// seems dead (it has not answered for too long): seen is the claim's ClaimedAt as the
// caller read it, so of several callers taking the same claim over only one succeeds.
// It reports whether the claim is now this call's.
func (s *Store) TakeOverCRMRequest(ctx context.Context, tenantID, requestID string, seen time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE crm_requests SET claimed_at = clock_timestamp()
		WHERE tenant_id = $1 AND request_id = $2 AND status_code IS NULL AND claimed_at = $3`,
		tenantID, requestID, seen)
	return tag.RowsAffected() == 1, err
}

// CompleteCRMRequest stores the answer of the call that holds the claim.
func (s *Store) CompleteCRMRequest(ctx context.Context, tenantID, requestID string, status int, response json.RawMessage) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE crm_requests SET status_code = $3, response = $4, completed_at = now()
		WHERE tenant_id = $1 AND request_id = $2 AND status_code IS NULL`, tenantID, requestID, status, response)
	return err
}

// ReleaseCRMRequest gives an unanswered claim up (the call failed and did nothing), so
// that the ID can be used again.
func (s *Store) ReleaseCRMRequest(ctx context.Context, tenantID, requestID string) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM crm_requests WHERE tenant_id = $1 AND request_id = $2 AND status_code IS NULL`, tenantID, requestID)
	return err
}
