package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerCustomers adds Customer 360: customer records with their past interactions,
// dispositions and notes. Every staff role reads them (an agent's desktop shows the
// customer of the interaction they hold, and the directory) and writes notes on them;
// admins, supervisors and integrations (CRMs) create, change and delete them.
// Linking a customer to an interaction is PUT /v1/interactions/{id}/customer.
func (s *Server) registerCustomers(v1 *echo.Group) {
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration, pgstore.RoleAgent)
	managers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration)
	v1.GET("/contacts", s.searchCustomers, s.authenticate, readers)
	v1.POST("/contacts", s.createCustomer, s.authenticate, managers)
	v1.GET("/contacts/:id", s.getCustomer, s.authenticate, readers)
	v1.PATCH("/contacts/:id", s.updateCustomer, s.authenticate, managers)
	v1.DELETE("/contacts/:id", s.deleteCustomer, s.authenticate, managers)
	v1.GET("/contacts/:id/interactions", s.customerInteractions, s.authenticate, readers)
	v1.GET("/contacts/:id/sentiment", s.customerSentiment, s.authenticate, readers)
	v1.GET("/contacts/:id/dispositions", s.customerDispositions, s.authenticate, readers)
	v1.GET("/contacts/:id/notes", s.customerNotes, s.authenticate, readers)
	v1.POST("/contacts/:id/notes", s.addCustomerNote, s.authenticate, readers)
}

// strictQuery refuses query parameters the endpoint does not know (422) and repeated
// ones (400).
func strictQuery(c echo.Context, known ...string) error {
	for name, vs := range c.QueryParams() {
		if !slices.Contains(known, name) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + "; known: " + strings.Join(known, ", ")}
		}
		if len(vs) > 1 {
			return errMalformed(name, name+" must be given once")
		}
	}
	return nil
}

// searchCustomers lists the tenant's customers, newest first, filtered by the
// parameters given. GET /v1/contacts?phone=… is the lookup by phone: every customer
// with that number, so the agent picks when several share it.
func (s *Server) searchCustomers(c echo.Context) error {
	if err := strictQuery(c, "q", "name", "phone", "email", "externalId", "limit", "cursor"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	q := c.QueryParams()
	out, err := s.store.SearchCustomers(c.Request().Context(), principal(c).TenantID, pgstore.CustomerFilter{
		Q: q.Get("q"), Name: q.Get("name"), Phone: q.Get("phone"), Email: q.Get("email"), ExternalID: q.Get("externalId"),
		Limit: limit, Cursor: strings.TrimSpace(q.Get("cursor")),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createCustomer(c echo.Context) error {
	var in pgstore.NewCustomer
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateCustomer(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) getCustomer(c echo.Context) error {
	out, err := s.store.GetCustomer(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateCustomer(c echo.Context) error {
	var in pgstore.CustomerUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateCustomer(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteCustomer(c echo.Context) error {
	if err := s.store.DeleteCustomer(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// customerInteractions pages through the customer's past interactions, newest first,
// with the intents of their whole history; ?intent= pages through one intent's group.
func (s *Server) customerInteractions(c echo.Context) error {
	if err := strictQuery(c, "intent", "limit", "cursor"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	out, err := s.store.CustomerInteractions(c.Request().Context(), principal(c).TenantID, c.Param("id"),
		c.QueryParam("intent"), limit, strings.TrimSpace(c.QueryParam("cursor")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// customerPage is a page of a customer's dispositions or notes.
type customerPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

func (s *Server) customerDispositions(c echo.Context) error {
	if err := strictQuery(c, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	items, next, err := s.store.CustomerDispositions(c.Request().Context(), principal(c).TenantID, c.Param("id"),
		limit, strings.TrimSpace(c.QueryParam("cursor")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, customerPage[pgstore.CustomerDisposition]{Items: items, NextCursor: next})
}

func (s *Server) customerNotes(c echo.Context) error {
	if err := strictQuery(c, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	items, next, err := s.store.CustomerNotes(c.Request().Context(), principal(c).TenantID, c.Param("id"),
		limit, strings.TrimSpace(c.QueryParam("cursor")))
	if err != nil {
		return err
	}
	if items == nil {
		items = []pgstore.CustomerNote{}
	}
	return c.JSON(http.StatusOK, customerPage[pgstore.CustomerNote]{Items: items, NextCursor: next})
}

// customerNoteRequest is the body of a note on a customer.
type customerNoteRequest struct {
	Body string `json:"body"`
}

func (s *Server) addCustomerNote(c echo.Context) error {
	var in customerNoteRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	out, err := s.store.AddCustomerNote(c.Request().Context(), p.TenantID, c.Param("id"), p.UserID, in.Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

// linkableCustomer resolves the customer a link names, by its ID or its external ID;
// one the tenant does not have answers 422 on customerId.
func (s *Server) linkableCustomer(ctx context.Context, tenantID, ref string) (string, error) {
	cust, err := s.store.FindCustomer(ctx, tenantID, ref)
	if errors.Is(err, pgstore.ErrNotFound) {
		return "", invalidField("customerId", "no such customer: name one by its ID or external ID (GET /v1/contacts), or create it with POST /v1/contacts")
	}
	if err != nil {
		return "", err
	}
	return cust.ID, nil
}

// customerToLink resolves the customer PUT /v1/interactions/{id}/customer names. When
// the tenant has no such customer, a caller who may not act on the interaction is
// told that first (404, or 403 for an agent who does not hold it), as the workflow
// would; others get 422 on customerId.
func (s *Server) customerToLink(c echo.Context, ref string) (string, error) {
	p := principal(c)
	ctx := c.Request().Context()
	id, err := s.linkableCustomer(ctx, p.TenantID, ref)
	var bad *Error
	if !errors.As(err, &bad) || bad.Status != http.StatusUnprocessableEntity {
		return id, err
	}
	in, ok := s.findInteraction(ctx, p.TenantID, c.Param("id"))
	switch {
	case !ok:
		return "", errNotFound("no such interaction")
	case p.Role == pgstore.RoleAgent && in.AgentID != p.UserID:
		return "", &Error{Status: http.StatusForbidden, Code: CodeNotYourInteraction, Message: "agents may act only on an interaction they hold"}
	}
	return "", err
}

// interactionCustomer is the customer a new interaction is linked to from its start:
// the one named by customerId (which must exist), else the one the tenant's journey
// settings find or create (pgstore.ResolveInteractionCustomer). A failure to find one
// does not hold the interaction up: it starts unlinked, and the agent links it.
func (s *Server) interactionCustomer(ctx context.Context, tenantID string, in *NewInteraction, direction pgstore.Direction, phone, name string) (string, error) {
	if in.CustomerID != "" {
		return s.linkableCustomer(ctx, tenantID, in.CustomerID)
	}
	link, err := s.store.ResolveInteractionCustomer(ctx, tenantID, pgstore.CustomerMatch{
		Phone: phone, Name: name, Metadata: in.Metadata, Inbound: direction == pgstore.Inbound,
	})
	if err != nil {
		s.logger.Warn("customer of a new interaction not resolved", "tenant", tenantID, "error", err)
		return "", nil
	}
	return link.CustomerID, nil
}

// customerSentiment answers the customer's sentiment trend over their interactions.
func (s *Server) customerSentiment(c echo.Context) error {
	if err := strictQuery(c); err != nil {
		return err
	}
	out, err := s.store.CustomerSentiment(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
