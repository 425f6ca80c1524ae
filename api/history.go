package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sentiment"
)

// registerHistory adds the interaction history: a search over past and present
// interactions and the whole record of one. Supervisors and admins see their tenant's;
// agents see what they held, were offered or took part in.
func (s *Server) registerHistory(v1 *echo.Group) {
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.GET("/history", s.searchHistory, s.authenticate, readers)
	v1.GET("/history/:id", s.getHistory, s.authenticate, readers)
}

// historyParams are the query parameters of GET /v1/history.
var historyParams = []string{"q", "from", "to", "campaignId", "queueId", "dispositionCodeId", "dispositionClassId",
	"channel", "agentId", "status", "direction", "limit", "cursor", "tag", "formId", "sentiment"}

// historyDate is the form of a date-only bound: midnight of that day in the tenant's
// time zone.
const historyDate = "2006-01-02"

// historyFilter reads the search's query parameters. A malformed value answers 400
// naming the parameter; an unknown parameter, 422 like the other strict endpoints.
func (s *Server) historyFilter(c echo.Context) (pgstore.HistoryFilter, error) {
	p := principal(c)
	q := c.QueryParams()
	for name, vs := range q {
		if !slices.Contains(historyParams, name) {
			return pgstore.HistoryFilter{}, &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + "; known: " + strings.Join(historyParams, ", ")}
		}
		if len(vs) > 1 {
			return pgstore.HistoryFilter{}, errMalformed(name, name+" must be given once")
		}
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return pgstore.HistoryFilter{}, err
	}
	get := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := pgstore.HistoryFilter{
		Q: q.Get("q"), CampaignID: get("campaignId"), QueueID: get("queueId"),
		DispositionCodeID: get("dispositionCodeId"), DispositionClassID: get("dispositionClassId"),
		Channel: routing.Channel(get("channel")), Status: pgstore.InteractionStatus(get("status")),
		Direction: pgstore.Direction(get("direction")), AgentID: get("agentId"), Limit: limit, Cursor: get("cursor"),
		Tag: get("tag"), FormID: get("formId"), Sentiment: sentiment.Tag(get("sentiment")),
	}
	if f.Tag != "" {
		// A catalogue tag's ID or name (any case) means the name as tagged.
		if names, err := s.store.ResolveTags(c.Request().Context(), p.TenantID, "tag", []string{f.Tag}); err == nil {
			f.Tag = names[0]
		} else if !isValidation(err) {
			return f, err
		}
	}
	if f.From, err = s.historyTime(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = s.historyTime(c, "to"); err != nil {
		return f, err
	}
	if f.AgentID == "me" || strings.EqualFold(f.AgentID, p.UserID) {
		f.AgentID = p.UserID
	}
	if p.Role == pgstore.RoleAgent {
		if f.AgentID != "" && f.AgentID != p.UserID {
			return f, errForbidden("agents see only their own history")
		}
		// Their own history: held, offered or taken part in.
		f.AgentID, f.VisibleTo = "", p.UserID
	}
	return f, nil
}

// historyTime reads a bound of the date range: an RFC 3339 time, or a date meaning
// its midnight in the tenant's time zone.
func (s *Server) historyTime(c echo.Context, name string) (time.Time, error) {
	v := strings.TrimSpace(c.QueryParam(name))
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	day, err := time.Parse(historyDate, v)
	if err != nil {
		return time.Time{}, errMalformed(name, name+" must be a date (2026-11-21) or an RFC 3339 time (2026-11-21T09:30:00Z)")
	}
	loc, err := s.tenantLocation(c)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc), nil
}

// tenantLocation is the caller's tenant's time zone, in which a date means a day.
func (s *Server) tenantLocation(c echo.Context) (*time.Location, error) {
	tenant, err := s.store.GetTenant(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(tenant.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return loc, nil
}

// searchHistory answers a page of the history, newest first: {items, nextCursor}.
func (s *Server) searchHistory(c echo.Context) error {
	f, err := s.historyFilter(c)
	if err != nil {
		return err
	}
	page, err := s.store.SearchHistory(c.Request().Context(), principal(c).TenantID, f)
	var v *pgstore.ValidationError
	if errors.As(err, &v) {
		// Every field of the filter is a query parameter: a bad value is a bad request.
		return errMalformed(v.Field, v.Field+" "+v.Message)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// historyDetail is the detail as answered: agents get it without the offers log
// (other agents' offers and routing scores), as with GET /v1/interactions/{id}.
type historyDetail struct {
	pgstore.InteractionDetail
	Offers []pgstore.Offer `json:"offers,omitempty"`
}

// getHistory answers one interaction with its timeline, notes, transcript, offers
// and disposition. An interaction that is not the caller's to see answers 404, as a
// missing one does, so that the answer tells nothing of its existence.
func (s *Server) getHistory(c echo.Context) error {
	p := principal(c)
	id := c.Param("id")
	notFound := errNotFound("no such interaction")
	if _, err := uuid.Parse(id); err != nil {
		return notFound
	}
	d, err := s.store.InteractionDetail(c.Request().Context(), p.TenantID, id)
	if errors.Is(err, pgstore.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	out := historyDetail{InteractionDetail: d}
	if p.Role == pgstore.RoleAgent {
		if !d.Involves(p.UserID) {
			return notFound
		}
	} else {
		out.Offers = d.Offers
	}
	return c.JSON(http.StatusOK, out)
}
