package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerSLA adds service-level agreement policies: an ordered list (the first
// policy that fits a conversation applies). Admins write them; supervisors read them.
func (s *Server) registerSLA(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/sla-policies", s.createSLAPolicy, s.authenticate, admin)
	v1.GET("/sla-policies", s.listSLAPolicies, s.authenticate, readers)
	v1.PUT("/sla-policies/order", s.reorderSLAPolicies, s.authenticate, admin)
	v1.GET("/sla-policies/:id", s.getSLAPolicy, s.authenticate, readers)
	v1.PATCH("/sla-policies/:id", s.updateSLAPolicy, s.authenticate, admin)
	v1.DELETE("/sla-policies/:id", s.deleteSLAPolicy, s.authenticate, admin)
}

func (s *Server) createSLAPolicy(c echo.Context) error {
	var in pgstore.NewSLAPolicy
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.store.CreateSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

func (s *Server) listSLAPolicies(c echo.Context) error {
	ps, err := s.store.ListSLAPolicies(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.SLAPolicy]{Items: ps})
}

func (s *Server) getSLAPolicy(c echo.Context) error {
	p, err := s.store.GetSLAPolicy(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) updateSLAPolicy(c echo.Context) error {
	var in pgstore.SLAPolicyUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.store.UpdateSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) deleteSLAPolicy(c echo.Context) error {
	if err := s.store.DeleteSLAPolicy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) reorderSLAPolicies(c echo.Context) error {
	var in pgstore.SLAPolicyOrder
	if err := decode(c, &in); err != nil {
		return err
	}
	ps, err := s.store.ReorderSLAPolicies(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.SLAPolicy]{Items: ps})
}
