package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerAutomations adds the tenant's automations: the ordered list of rules (admins
// write, supervisors read), each rule's execution log, and the tenant's outgoing
// e-mail settings the e-mail actions send through.
func (s *Server) registerAutomations(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/automations", s.createAutomation, s.authenticate, admin)
	v1.GET("/automations", s.listAutomations, s.authenticate, readers)
	v1.PUT("/automations/order", s.reorderAutomations, s.authenticate, admin)
	v1.GET("/automations/smtp", s.getSMTPSettings, s.authenticate, admin)
	v1.PUT("/automations/smtp", s.putSMTPSettings, s.authenticate, admin)
	v1.DELETE("/automations/smtp", s.deleteSMTPSettings, s.authenticate, admin)
	v1.GET("/automations/:id", s.getAutomation, s.authenticate, readers)
	v1.PATCH("/automations/:id", s.updateAutomation, s.authenticate, admin)
	v1.DELETE("/automations/:id", s.deleteAutomation, s.authenticate, admin)
	v1.POST("/automations/:id/enable", s.enableAutomation(true), s.authenticate, admin)
	v1.POST("/automations/:id/disable", s.enableAutomation(false), s.authenticate, admin)
	v1.GET("/automations/:id/runs", s.listAutomationRuns, s.authenticate, readers)
}

func (s *Server) createAutomation(c echo.Context) error {
	var in pgstore.NewAutomation
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateAutomation(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listAutomations(c echo.Context) error {
	var f pgstore.AutomationFilter
	if v := c.QueryParam("enabled"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: CodeMalformed, Field: "enabled", Message: "must be true or false"}
		}
		f.Enabled = &on
	}
	out, err := s.store.ListAutomations(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.Automation]{Items: out})
}

func (s *Server) getAutomation(c echo.Context) error {
	out, err := s.store.GetAutomation(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateAutomation(c echo.Context) error {
	var in pgstore.AutomationUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateAutomation(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) enableAutomation(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		out, err := s.store.UpdateAutomation(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), pgstore.AutomationUpdate{Enabled: &on})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

func (s *Server) deleteAutomation(c echo.Context) error {
	if err := s.store.DeleteAutomation(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) reorderAutomations(c echo.Context) error {
	var in pgstore.AutomationOrder
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.ReorderAutomations(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.Automation]{Items: out})
}

func (s *Server) listAutomationRuns(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	f := pgstore.AutomationRunFilter{InteractionID: c.QueryParam("interactionId"), Status: c.QueryParam("status"), Page: pg}
	out, err := s.store.ListAutomationRuns(c.Request().Context(), principal(c).TenantID, c.Param("id"), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.Limit, func(r pgstore.AutomationRun) string { return r.ID }))
}

func (s *Server) getSMTPSettings(c echo.Context) error {
	out, err := s.store.GetSMTPSettings(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	out.Password = ""
	return c.JSON(http.StatusOK, out)
}

// smtpInput is the body of PUT /v1/automations/smtp: the settings without what only
// reads answer.
type smtpInput struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Security    string `json:"security"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	FromAddress string `json:"fromAddress"`
	FromName    string `json:"fromName"`
}

func (s *Server) putSMTPSettings(c echo.Context) error {
	var in smtpInput
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.PutSMTPSettings(c.Request().Context(), principal(c).TenantID, actor(c), pgstore.SMTPSettings{Host: in.Host, Port: in.Port,
		Security: in.Security, Username: in.Username, Password: in.Password, FromAddress: in.FromAddress, FromName: in.FromName})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteSMTPSettings(c echo.Context) error {
	if err := s.store.DeleteSMTPSettings(c.Request().Context(), principal(c).TenantID, actor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
