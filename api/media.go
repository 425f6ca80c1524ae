package api

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerMedia adds what the SIP media worker reads: agents' SIP extensions and
// passwords (their phones register with them) and the numbers calls come in on.
// Admins set them; supervisors and the agent may read an extension, never a secret.
func (s *Server) registerMedia(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.GET("/agents/:id/sip", s.getSIPCredential, s.authenticate, readers)
	v1.PUT("/agents/:id/sip", s.putSIPCredential, s.authenticate, admin)
	v1.DELETE("/agents/:id/sip", s.deleteSIPCredential, s.authenticate, admin)
	v1.GET("/voice/numbers", s.listVoiceNumbers, s.authenticate, requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor))
	v1.POST("/voice/numbers", s.putVoiceNumber, s.authenticate, admin)
	v1.DELETE("/voice/numbers/:number", s.deleteVoiceNumber, s.authenticate, admin)
}

func (s *Server) getSIPCredential(c echo.Context) error {
	p := principal(c)
	id := agentID(c)
	if p.Role == pgstore.RoleAgent && id != p.UserID {
		return errForbidden("agents may only read their own SIP extension")
	}
	out, err := s.store.GetSIPCredential(c.Request().Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) putSIPCredential(c echo.Context) error {
	var in pgstore.SIPCredentialInput
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.SetSIPCredential(c.Request().Context(), principal(c).TenantID, actor(c), agentID(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteSIPCredential(c echo.Context) error {
	if err := s.store.DeleteSIPCredential(c.Request().Context(), principal(c).TenantID, actor(c), agentID(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listVoiceNumbers(c echo.Context) error {
	out, err := s.store.ListVoiceNumbers(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

func (s *Server) putVoiceNumber(c echo.Context) error {
	var in pgstore.NewVoiceNumber
	if err := decode(c, &in); err != nil {
		return err
	}
	out, created, err := s.store.PutVoiceNumber(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	if created {
		return c.JSON(http.StatusCreated, out)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteVoiceNumber(c echo.Context) error {
	number := c.Param("number")
	if unescaped, err := url.PathUnescape(number); err == nil {
		number = unescaped
	}
	if err := s.store.DeleteVoiceNumber(c.Request().Context(), principal(c).TenantID, actor(c), number); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
