package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerInternalContacts adds the tenant's internal phonebook: admins and
// supervisors keep it; everyone in the tenant reads it (agents pick transfer and
// conference targets from it).
func (s *Server) registerInternalContacts(v1 *echo.Group) {
	keepers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.GET("/internal-contacts", s.listInternalContacts, s.authenticate)
	v1.POST("/internal-contacts", s.createInternalContact, s.authenticate, keepers)
	v1.GET("/internal-contacts/:id", s.getInternalContact, s.authenticate)
	v1.PATCH("/internal-contacts/:id", s.updateInternalContact, s.authenticate, keepers)
	v1.DELETE("/internal-contacts/:id", s.deleteInternalContact, s.authenticate, keepers)
}

func (s *Server) listInternalContacts(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	items, err := s.store.ListInternalContacts(c.Request().Context(), principal(c).TenantID, pgstore.InternalContactFilter{Query: c.QueryParam("q"), Page: pg})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, pg.Limit, func(c pgstore.InternalContact) string { return c.ID }))
}

func (s *Server) createInternalContact(c echo.Context) error {
	var in pgstore.NewInternalContact
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateInternalContact(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) getInternalContact(c echo.Context) error {
	out, err := s.store.GetInternalContact(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateInternalContact(c echo.Context) error {
	var in pgstore.InternalContactUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateInternalContact(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteInternalContact(c echo.Context) error {
	if err := s.store.DeleteInternalContact(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// contactTarget resolves an internal contact's ID to the number an external
// transfer or conference dials. prefix is where the fields sit in the body
// ("target." for a transfer): contactId goes with kind external only, and instead of
// number.
func (s *Server) contactTarget(c echo.Context, prefix, kind, number, contactID string) (string, error) {
	switch {
	case kind != string(pgstore.ParticipantExternal):
		return "", invalidField(prefix+"kind", "contactId names an internal contact to dial: kind must be external (or left out)")
	case strings.TrimSpace(number) != "":
		return "", invalidField(prefix+"number", "give number or contactId, not both")
	}
	ct, err := s.store.GetInternalContact(c.Request().Context(), principal(c).TenantID, strings.TrimSpace(contactID))
	if errors.Is(err, pgstore.ErrNotFound) {
		return "", invalidField(prefix+"contactId", "no such internal contact")
	}
	if err != nil {
		return "", err
	}
	return ct.Phone, nil
}
