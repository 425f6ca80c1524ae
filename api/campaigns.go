package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerCampaigns adds campaigns and their two-level disposition codes. Admins
// change them; supervisors and admins read them; agents read the enabled campaigns
// and a campaign's disposition tree, which their desktop shows at login and wrap-up,
// and so do integrations, whose CRM screens show the same.
func (s *Server) registerCampaigns(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration)
	desks := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration, pgstore.RoleAgent)
	v1.POST("/campaigns", s.createCampaign, s.authenticate, admin)
	v1.GET("/campaigns", s.listCampaigns, s.authenticate, desks)
	v1.GET("/campaigns/:id", s.getCampaign, s.authenticate, readers)
	v1.PATCH("/campaigns/:id", s.updateCampaign, s.authenticate, admin)
	v1.DELETE("/campaigns/:id", s.deleteCampaign, s.authenticate, admin)
	v1.GET("/campaigns/:id/dispositions", s.getDispositions, s.authenticate, desks)
	v1.GET("/campaigns/:id/knowledge-base", s.getKnowledgeBase, s.authenticate, desks)
	v1.PUT("/campaigns/:id/dispositions", s.setDispositions, s.authenticate, admin)
}

func (s *Server) createCampaign(c echo.Context) error {
	var in pgstore.NewCampaign
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateCampaign(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listCampaigns(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	p := principal(c)
	// Agents pick from the campaigns they may log in to.
	f := pgstore.CampaignFilter{EnabledOnly: p.Role == pgstore.RoleAgent, Page: pg}
	cs, err := s.store.ListCampaigns(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(cs, pg.Limit, func(c pgstore.Campaign) string { return c.ID }))
}

func (s *Server) getCampaign(c echo.Context) error {
	out, err := s.store.GetCampaign(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateCampaign(c echo.Context) error {
	var in pgstore.CampaignUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateCampaign(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteCampaign(c echo.Context) error {
	if err := s.store.DeleteCampaign(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getDispositions(c echo.Context) error {
	out, err := s.store.GetDispositions(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) setDispositions(c echo.Context) error {
	var in pgstore.DispositionTree
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.SetDispositions(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// loginCampaign resolves the campaign an agent names at login — its ID, or its name
// ignoring case — to its ID; "" when the agent names none. An unknown or disabled
// campaign answers 422 on campaign.
func (s *Server) loginCampaign(ctx context.Context, tenantID, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", nil
	}
	named := "that campaign"
	if utf8.RuneCountInString(ref) <= 100 {
		named = fmt.Sprintf("campaign %q", ref)
	}
	camp, err := s.store.FindCampaign(ctx, tenantID, ref)
	if errors.Is(err, pgstore.ErrNotFound) {
		return "", &pgstore.ValidationError{Field: "campaign", Message: "this tenant has no " + named + ": name one of GET /v1/campaigns by ID or name"}
	}
	if err != nil {
		return "", err
	}
	if !camp.Enabled {
		return "", &pgstore.ValidationError{Field: "campaign", Message: fmt.Sprintf("campaign %q is disabled: log in to an enabled one", camp.Name)}
	}
	return camp.ID, nil
}
