package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// Error codes of the CRM voice APIs.
const (
	// CodeRequestIDReused: the requestId was used before for another request.
	CodeRequestIDReused = "request_id_reused"
	// CodeRequestInProgress: the first call with this requestId is still running.
	CodeRequestInProgress = "request_in_progress"
)

// How long a repeat waits for the first call with its request ID to answer, and when
// a first call that never answered (its process died) is taken over. A first call
// makes at most a few Temporal calls of interactionCallTimeout each.
const (
	crmRepeatWait = 30 * time.Second
	crmStaleClaim = 45 * time.Second
	crmPoll       = 50 * time.Millisecond
)

// registerCRM adds the CRM voice APIs: manual dial, dispose, and dispose-and-dial. An
// integration key acts on behalf of a logged-in agent named in agentId; an agent's own
// key acts for themselves. Each call carries the client's requestId: a repeat answers
// what the first call answered without doing anything again.
func (s *Server) registerCRM(v1 *echo.Group) {
	callers := requireRole(pgstore.RoleIntegration, pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/voice/manual-dial", s.crmManualDial, s.authenticate, callers)
	v1.POST("/voice/dispose", s.crmDispose, s.authenticate, callers)
	v1.POST("/voice/dispose-and-dial", s.crmDisposeAndDial, s.authenticate, callers)
}

// crmDial is what a manual dial (alone or after a disposal) dials.
type crmDial struct {
	CampaignID string `json:"campaignId"`
	Phone      string `json:"phone"`
	// CreateCustomer creates the customer record for the number when none exists.
	CreateCustomer bool   `json:"createCustomer,omitempty"`
	CustomerName   string `json:"customerName,omitempty"`
	// AdditionalParams is custom metadata kept with the interaction.
	AdditionalParams map[string]string `json:"additionalParams,omitempty"`
}

// crmDisposal is how a CRM disposes an interaction: the code by ID, or by class and
// code name.
type crmDisposal struct {
	InteractionID     string `json:"interactionId"`
	DispositionCodeID string `json:"dispositionCodeId,omitempty"`
	DispositionClass  string `json:"dispositionClass,omitempty"`
	DispositionCode   string `json:"dispositionCode,omitempty"`
	Notes             string `json:"notes,omitempty"`
	// DispositionParams are custom attributes of the disposal, kept in its
	// timeline entry.
	DispositionParams map[string]string `json:"dispositionParams,omitempty"`
	// Callback schedules a callback, as POST /v1/interactions/{id}/dispose does:
	// the code must have the callback flag, and a callback code needs it.
	Callback *disposalCallback `json:"callback,omitempty"`
}

// crmCaller is what every CRM call names: its request ID and the agent it acts for.
type crmCaller struct {
	RequestID string `json:"requestId"`
	AgentID   string `json:"agentId"`
}

func (k *crmCaller) caller() *crmCaller { return k }

type crmManualDialRequest struct {
	crmCaller
	crmDial
}

type crmDisposeRequest struct {
	crmCaller
	crmDisposal
}

type crmDisposeAndDialRequest struct {
	crmCaller
	crmDisposal
	crmDial
}

// decodeCRM reads a CRM call's body into in and settles its request ID and agent.
func decodeCRM(c echo.Context, in interface{ caller() *crmCaller }) (pgstore.Principal, error) {
	p := principal(c)
	if err := decode(c, in); err != nil {
		return p, err
	}
	k := in.caller()
	if err := validateRequestID(&k.RequestID); err != nil {
		return p, err
	}
	return p, crmAgent(p, &k.AgentID)
}

// crmDialResult answers a manual dial.
type crmDialResult struct {
	RequestID     string              `json:"requestId"`
	InteractionID string              `json:"interactionId"`
	Interaction   pgstore.Interaction `json:"interaction"`
}

// crmDisposeResult answers a disposal.
type crmDisposeResult struct {
	RequestID     string              `json:"requestId"`
	InteractionID string              `json:"interactionId"`
	Interaction   pgstore.Interaction `json:"interaction"`
}

// crmDisposeAndDialResult answers a dispose-and-dial: the disposed interaction and the
// one dialled next.
type crmDisposeAndDialResult struct {
	RequestID string              `json:"requestId"`
	Disposed  pgstore.Interaction `json:"disposed"`
	Dialed    pgstore.Interaction `json:"dialed"`
}

// validateRequestID checks the client's request ID, which every CRM call needs.
func validateRequestID(id *string) error {
	*id = strings.TrimSpace(*id)
	if *id == "" {
		return invalidField("requestId", "is required: a unique ID of this request, chosen by the client, which makes retries safe")
	}
	if len(*id) > maxRequestIDLen {
		return invalidField("requestId", "must be at most 200 characters")
	}
	return nil
}

// crmAgent is the agent the call acts for: the caller when an agent, else agentId.
func crmAgent(p pgstore.Principal, agentID *string) error {
	*agentID = strings.TrimSpace(*agentID)
	switch {
	case p.Role == pgstore.RoleAgent && *agentID != "" && *agentID != p.UserID:
		return errForbidden("agents act for themselves only")
	case p.Role == pgstore.RoleAgent:
		*agentID = p.UserID
	case *agentID == "":
		return invalidField("agentId", "is required: the logged-in agent the CRM acts for")
	case uuid.Validate(*agentID) != nil:
		return invalidField("agentId", "must be an agent ID")
	}
	return nil
}

// validate checks the dial and turns it into a new outbound voice interaction.
func (d *crmDial) validate(agentID, requestID string) (NewInteraction, error) {
	d.CampaignID, d.Phone, d.CustomerName = strings.TrimSpace(d.CampaignID), strings.TrimSpace(d.Phone), strings.TrimSpace(d.CustomerName)
	switch {
	case d.CampaignID == "":
		return NewInteraction{}, invalidField("campaignId", "is required: the campaign the call belongs to")
	case uuid.Validate(d.CampaignID) != nil:
		return NewInteraction{}, invalidField("campaignId", "must be a campaign ID")
	case d.Phone == "":
		return NewInteraction{}, invalidField("phone", "is required: the number to dial")
	}
	phone, err := pgstore.NormalizePhone(d.Phone)
	if err != nil {
		var v *pgstore.ValidationError
		if errors.As(err, &v) {
			return NewInteraction{}, invalidField("phone", v.Message)
		}
		return NewInteraction{}, invalidField("phone", err.Error())
	}
	d.Phone = phone
	n := NewInteraction{Channel: "call", Direction: string(pgstore.Outbound), AgentID: agentID, To: phone,
		RequestID: requestID, CampaignID: d.CampaignID, Metadata: d.AdditionalParams}
	if d.CustomerName != "" {
		n.Customer = &CustomerFields{Name: d.CustomerName}
	}
	if err := n.Validate(); err != nil {
		return NewInteraction{}, renameField(err, map[string]string{"to": "phone", "metadata": "additionalParams", "customer.name": "customerName"})
	}
	return n, nil
}

// renameField names a field as this API's body calls it.
func renameField(err error, names map[string]string) error {
	rename := func(field string) (string, bool) {
		for from, to := range names {
			if field == from || strings.HasPrefix(field, from+".") {
				return to + strings.TrimPrefix(field, from), true
			}
		}
		return field, false
	}
	var v *pgstore.ValidationError
	var apiErr *Error
	switch {
	case errors.As(err, &v):
		if f, ok := rename(v.Field); ok {
			return &pgstore.ValidationError{Field: f, Message: v.Message}
		}
	case errors.As(err, &apiErr):
		if f, ok := rename(apiErr.Field); ok {
			named := *apiErr
			named.Field = f
			return &named
		}
	}
	return err
}

// validateParams checks custom string attributes as interaction metadata is checked.
func validateParams(field string, params map[string]string) error {
	return renameField((&NewInteraction{Channel: "call", Metadata: params}).Validate(), map[string]string{"metadata": field})
}

// validate checks the disposal and turns it into the workflow's dispose input.
func (d *crmDisposal) validate(p pgstore.Principal, agentID, requestID string) (workflows.DisposeInput, error) {
	d.InteractionID = strings.TrimSpace(d.InteractionID)
	d.DispositionCodeID = strings.TrimSpace(d.DispositionCodeID)
	d.DispositionClass, d.DispositionCode = strings.TrimSpace(d.DispositionClass), strings.TrimSpace(d.DispositionCode)
	in := workflows.DisposeInput{Actor: workflows.Actor{TenantID: p.TenantID, ActorID: p.UserID, AgentID: agentID}}
	switch {
	case d.InteractionID == "":
		return in, invalidField("interactionId", "is required: the interaction to dispose")
	case uuid.Validate(d.InteractionID) != nil:
		return in, invalidField("interactionId", "must be an interaction ID")
	case d.DispositionCodeID != "" && (d.DispositionClass != "" || d.DispositionCode != ""):
		return in, invalidField("dispositionCodeId", "name the code either by ID or by class and code name, not both")
	case d.DispositionCodeID != "" && uuid.Validate(d.DispositionCodeID) != nil:
		return in, invalidField("dispositionCodeId", "must be a disposition code ID")
	case d.DispositionCodeID == "" && d.DispositionCode == "":
		return in, invalidField("dispositionCodeId", "is required: a disposition code of the interaction's campaign (or dispositionClass and dispositionCode by name)")
	case d.DispositionCodeID == "" && d.DispositionClass == "":
		return in, invalidField("dispositionClass", "is required to name a code by its name")
	}
	in.Class, in.Code = d.DispositionClass, d.DispositionCode
	if d.DispositionCodeID != "" {
		in.Code = d.DispositionCodeID
	}
	if err := validateParams("dispositionParams", d.DispositionParams); err != nil {
		return in, err
	}
	in.Params = d.DispositionParams
	if d.Callback != nil {
		cb, err := d.Callback.resolve(time.Now().UTC())
		if err != nil {
			return in, err
		}
		in.Callback = cb
	}
	if strings.TrimSpace(d.Notes) != "" {
		if err := pgstore.ValidateNoteBody("notes", d.Notes); err != nil {
			return in, err
		}
		// The note's ID follows from the request, so a repeat cannot add it twice.
		in.Notes, in.NoteID = d.Notes, uuid.NewSHA1(uuid.MustParse(p.TenantID), []byte("crm-note:"+requestID)).String()
	}
	return in, nil
}

func (s *Server) crmManualDial(c echo.Context) error {
	var in crmManualDialRequest
	p, err := decodeCRM(c, &in)
	if err != nil {
		return err
	}
	n, err := in.validate(in.AgentID, "crm-dial:"+in.RequestID)
	if err != nil {
		return err
	}
	return s.idempotent(c, pgstore.CRMManualDial, in.RequestID, in, func(ctx context.Context, _ bool) (int, any, error) {
		view, err := s.crmStartDial(ctx, p, &n, in.CreateCustomer)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, crmDialResult{RequestID: in.RequestID, InteractionID: view.ID, Interaction: view}, nil
	})
}

func (s *Server) crmDispose(c echo.Context) error {
	var in crmDisposeRequest
	p, err := decodeCRM(c, &in)
	if err != nil {
		return err
	}
	d, err := in.crmDisposal.validate(p, in.AgentID, in.RequestID)
	if err != nil {
		return err
	}
	return s.idempotent(c, pgstore.CRMDispose, in.RequestID, in, func(ctx context.Context, takeover bool) (int, any, error) {
		view, err := s.crmRunDispose(ctx, p, in.InteractionID, d, takeover)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, crmDisposeResult{RequestID: in.RequestID, InteractionID: view.ID, Interaction: view}, nil
	})
}

func (s *Server) crmDisposeAndDial(c echo.Context) error {
	var in crmDisposeAndDialRequest
	p, err := decodeCRM(c, &in)
	if err != nil {
		return err
	}
	d, err := in.crmDisposal.validate(p, in.AgentID, in.RequestID)
	if err != nil {
		return err
	}
	n, err := in.crmDial.validate(in.AgentID, "crm-dispose-dial:"+in.RequestID)
	if err != nil {
		return err
	}
	return s.idempotent(c, pgstore.CRMDisposeAndDial, in.RequestID, in, func(ctx context.Context, takeover bool) (int, any, error) {
		// The number is checked before the disposal, so that a refused dial leaves
		// the interaction as it was.
		if err := s.crmCheckDial(ctx, p, &n); err != nil {
			return 0, nil, err
		}
		disposed, err := s.crmRunDispose(ctx, p, in.InteractionID, d, takeover)
		if err != nil {
			return 0, nil, err
		}
		dialed, err := s.crmStartDial(ctx, p, &n, in.CreateCustomer)
		if err != nil {
			return 0, nil, &crmHalfDone{err: err}
		}
		return http.StatusCreated, crmDisposeAndDialResult{RequestID: in.RequestID, Disposed: disposed, Dialed: dialed}, nil
	})
}

// crmCheckDial refuses a dial that cannot start (no such campaign, the agent not
// logged in, a number on the do-not-call list) before anything is done.
func (s *Server) crmCheckDial(ctx context.Context, p pgstore.Principal, n *NewInteraction) error {
	if _, err := s.store.GetCampaign(ctx, p.TenantID, n.CampaignID); errors.Is(err, pgstore.ErrNotFound) {
		return invalidField("campaignId", "no such campaign")
	} else if err != nil {
		return err
	}
	if err := s.outboundAgent(ctx, p, n); err != nil {
		return err
	}
	listed, err := s.store.DoNotCallListed(ctx, p.TenantID, n.To)
	if err != nil {
		return err
	}
	if listed {
		return errDoNotCall("phone", n.To)
	}
	return nil
}

// crmStartDial starts the outbound call, linked to the number's customer record
// (created first when create is set and there is none); its interaction ID follows
// from the request ID, so a repeat finds the call the first one started.
func (s *Server) crmStartDial(ctx context.Context, p pgstore.Principal, n *NewInteraction, create bool) (pgstore.Interaction, error) {
	if err := s.crmCheckDial(ctx, p, n); err != nil {
		return pgstore.Interaction{}, err
	}
	c, err := s.store.GetCampaign(ctx, p.TenantID, n.CampaignID)
	if err != nil {
		return pgstore.Interaction{}, err
	}
	if c.CallerID != nil {
		n.From = *c.CallerID
	}
	if create {
		name := ""
		if n.Customer != nil {
			name = n.Customer.Name
		}
		customer, _, err := s.store.FindOrCreateCustomerByPhone(ctx, p.TenantID, n.To, name)
		if err != nil {
			return pgstore.Interaction{}, renameField(err, map[string]string{"name": "customerName"})
		}
		n.CustomerID = customer.ID
	}
	view, _, err := s.startInteraction(ctx, p, n)
	return view, renameField(err, map[string]string{"to": "phone"})
}

// crmRunDispose disposes the interaction. Only one call holds a request ID's claim at
// a time; one that took over the claim of a call that died finds the interaction
// already disposed when that call got so far, and answers it.
func (s *Server) crmRunDispose(ctx context.Context, p pgstore.Principal, id string, d workflows.DisposeInput, takeover bool) (pgstore.Interaction, error) {
	st, err := s.runUpdate(ctx, p.TenantID, id, workflows.DisposeUpdate, d)
	if err == nil {
		return st.Interaction, nil
	}
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Field == "dispositionCode" && d.Class == "" {
		// The code was named by ID, in the field this API calls dispositionCodeId.
		named := *apiErr
		named.Field, named.Message = "dispositionCodeId", strings.Replace(named.Message, "dispositionCode:", "dispositionCodeId:", 1)
		return pgstore.Interaction{}, &named
	}
	if takeover && errors.As(err, &apiErr) && (apiErr.Code == CodeInteractionOver || apiErr.Code == CodeActionNotAllowed) {
		if ix, gerr := s.store.GetInteraction(ctx, p.TenantID, id); gerr == nil && ix.Status == pgstore.InteractionDisposed &&
			(d.AgentID == "" || ix.AgentID == d.AgentID) {
			return ix, nil
		}
	}
	return pgstore.Interaction{}, err
}

// idempotent runs a CRM call once per request ID. The first call claims the ID, runs,
// and stores its answer; a repeat with the same body answers the stored answer (while
// the first still runs, it waits for it); a repeat with another body is refused. A
// failed first call releases the ID: it did nothing, so the client may retry it.
// run's takeover tells that a first call died without answering and this one carries
// on from wherever it got.
func (s *Server) idempotent(c echo.Context, op, requestID string, body any, run func(ctx context.Context, takeover bool) (int, any, error)) error {
	p := principal(c)
	ctx := c.Request().Context()
	canonical, err := json.Marshal(body)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(append([]byte(op+"\n"), canonical...))
	hash := sum[:]
	deadline := time.Now().Add(crmRepeatWait)
	for {
		req, claimed, err := s.store.ClaimCRMRequest(ctx, p.TenantID, requestID, op, hash, p.KeyID)
		if err != nil {
			return err
		}
		takeover := false
		if !claimed {
			switch {
			case req.Operation != op || !bytes.Equal(req.BodyHash, hash):
				return &Error{Status: http.StatusConflict, Code: CodeRequestIDReused, Field: "requestId",
					Message: "this requestId was used for another request; use a new requestId for a new request"}
			case req.Done():
				c.Response().Header().Set("Idempotent-Replayed", "true")
				return c.JSONBlob(req.StatusCode, req.Response)
			case time.Since(req.ClaimedAt) > crmStaleClaim:
				if takeover, err = s.store.TakeOverCRMRequest(ctx, p.TenantID, requestID, req.ClaimedAt); err != nil {
					return err
				}
			}
			if !takeover {
				if time.Now().After(deadline) {
					c.Response().Header().Set("Retry-After", "5")
					return &Error{Status: http.StatusConflict, Code: CodeRequestInProgress, Field: "requestId",
						Message: "the first request with this requestId is still running; repeat it later for its result"}
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(crmPoll):
				}
				continue
			}
		}
		status, result, err := run(ctx, takeover)
		// The claim is settled even when the client went away meanwhile.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var half *crmHalfDone
		switch {
		case errors.As(err, &half) && toError(half.err).Status >= 500:
			// Part of the work is done and the rest may yet succeed: the claim stays, and
			// a repeat takes it over once it is stale and carries on.
			return half.err
		case errors.As(err, &half):
			// Part of the work is done and the rest was refused: that is the answer.
			apiErr := *toError(half.err)
			apiErr.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
			status, result = apiErr.Status, map[string]any{"error": apiErr}
		case err != nil:
			// Nothing was done: the ID may be used again.
			if rerr := s.store.ReleaseCRMRequest(sctx, p.TenantID, requestID); rerr != nil {
				s.logger.Error("CRM request ID not released", "request_id", requestID, "error", rerr)
			}
			return err
		}
		blob, err := json.Marshal(result)
		if err != nil {
			return err
		}
		if err := s.store.CompleteCRMRequest(sctx, p.TenantID, requestID, status, blob); err != nil {
			// The work is done; a repeat that finds the claim unanswered takes it over
			// once it is stale and finds the same interaction.
			s.logger.Error("CRM request answer not stored", "request_id", requestID, "error", err)
		}
		return c.JSONBlob(status, blob)
	}
}

// crmHalfDone is a CRM call that failed after part of its work was done (a
// dispose-and-dial that disposed but could not dial).
type crmHalfDone struct{ err error }

func (e *crmHalfDone) Error() string { return e.err.Error() }
func (e *crmHalfDone) Unwrap() error { return e.err }
