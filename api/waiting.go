package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerWaiting adds the waiting strategies of the messaging senders: one per
// sender, which admins set and supervisors read.
func (s *Server) registerWaiting(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.GET("/channel-senders/:id/waiting-strategy", s.getWaitingStrategy, s.authenticate, readers)
	v1.PUT("/channel-senders/:id/waiting-strategy", s.putWaitingStrategy, s.authenticate, admin)
	v1.DELETE("/channel-senders/:id/waiting-strategy", s.deleteWaitingStrategy, s.authenticate, admin)
}

func (s *Server) getWaitingStrategy(c echo.Context) error {
	w, err := s.store.GetWaitingStrategy(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}

func (s *Server) putWaitingStrategy(c echo.Context) error {
	var in pgstore.WaitingStrategySettings
	if err := decode(c, &in); err != nil {
		return err
	}
	w, err := s.store.PutWaitingStrategy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}

func (s *Server) deleteWaitingStrategy(c echo.Context) error {
	if err := s.store.DeleteWaitingStrategy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
