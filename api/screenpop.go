package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/screenpop"
)

// knowledgeBasePage is a campaign's knowledge base page resolved for the caller.
type knowledgeBasePage struct {
	CampaignID string `json:"campaignId"`
	// URL is nil when the campaign has no knowledge base URL.
	URL *string `json:"url"`
}

// getKnowledgeBase answers the campaign's knowledge base URL resolved for the
// caller, the page a desktop opens at login: {campaignId, url}, url null when the
// campaign has none.
func (s *Server) getKnowledgeBase(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	camp, err := s.store.GetCampaign(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	out := knowledgeBasePage{CampaignID: camp.ID}
	if camp.KnowledgeBaseURL == nil {
		return c.JSON(http.StatusOK, out)
	}
	tpl, err := screenpop.Parse(*camp.KnowledgeBaseURL, screenpop.Login)
	if err != nil {
		// Checked when saved; one that no longer parses opens nothing.
		return c.JSON(http.StatusOK, out)
	}
	v := screenpop.Values{
		screenpop.UserID: p.UserID, screenpop.TenantID: p.TenantID, screenpop.CampaignID: camp.ID,
		screenpop.CampaignName: camp.Name, screenpop.GeneratedTime: strconv.FormatInt(time.Now().UnixMilli(), 10),
	}
	if camp.Locale != nil {
		v[screenpop.Locale] = *camp.Locale
	}
	if tpl.Uses(screenpop.UserName) {
		u, err := s.store.GetUser(ctx, p.TenantID, p.UserID)
		if err != nil {
			return err
		}
		v[screenpop.UserName] = u.Name
	}
	url := tpl.Resolve(v)
	out.URL = &url
	return c.JSON(http.StatusOK, out)
}
