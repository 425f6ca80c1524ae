package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/activities"
	"switchboard/pgstore"
)

// registerSurveys adds the CSAT surveys: the tenant's survey settings (admins write,
// supervisors read), the surveys sent with their answers, the Voice of the Customer
// report, the answers the channel gateway (or the answer page) reports, and a
// conversation's surveys (agents see those of conversations they handled).
func (s *Server) registerSurveys(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	answerers := requireRole(pgstore.RoleAdmin, pgstore.RoleIntegration)
	v1.GET("/surveys/settings", s.getSurveySettings, s.authenticate, readers)
	v1.PUT("/surveys/settings", s.putSurveySettings, s.authenticate, admin)
	v1.GET("/surveys/report", s.surveyReport, s.authenticate, readers)
	v1.POST("/surveys/answers", s.answerSurveyByToken, s.authenticate, answerers)
	v1.GET("/surveys", s.listSurveys, s.authenticate, readers)
	v1.GET("/surveys/:id", s.getSurvey, s.authenticate, readers)
	v1.POST("/surveys/:id/answer", s.answerSurvey, s.authenticate, answerers)
	v1.GET("/interactions/:id/surveys", s.interactionSurveys, s.authenticate,
		requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent))
}

// surveySettingsInput is the body of PUT /v1/surveys/settings.
type surveySettingsInput struct {
	Enabled            bool   `json:"enabled"`
	Question           string `json:"question"`
	FollowUpQuestion   string `json:"followUpQuestion"`
	DelaySeconds       *int   `json:"delaySeconds"`
	MinIntervalSeconds *int   `json:"minIntervalSeconds"`
	LinkBaseURL        string `json:"linkBaseUrl"`
}

func (s *Server) getSurveySettings(c echo.Context) error {
	out, err := s.store.GetSurveySettings(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) putSurveySettings(c echo.Context) error {
	var in surveySettingsInput
	if err := decode(c, &in); err != nil {
		return err
	}
	set := pgstore.SurveySettings{Enabled: in.Enabled, Question: in.Question, FollowUpQuestion: in.FollowUpQuestion,
		DelaySeconds: pgstore.DefaultSurveyDelay, MinIntervalSeconds: pgstore.DefaultSurveyMinInterval, LinkBaseURL: in.LinkBaseURL}
	if set.Question == "" {
		set.Question = pgstore.DefaultSurveyQuestion
	}
	if in.DelaySeconds != nil {
		set.DelaySeconds = *in.DelaySeconds
	}
	if in.MinIntervalSeconds != nil {
		set.MinIntervalSeconds = *in.MinIntervalSeconds
	}
	out, err := s.store.PutSurveySettings(c.Request().Context(), principal(c).TenantID, actor(c), set)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listSurveys(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	f := pgstore.SurveyFilter{InteractionID: c.QueryParam("interactionId"), Score: c.QueryParam("score"), Page: pg}
	from, err := s.historyTime(c, "from")
	if err != nil {
		return err
	}
	to, err := s.historyTime(c, "to")
	if err != nil {
		return err
	}
	if !from.IsZero() {
		f.From = &from
	}
	if !to.IsZero() {
		f.To = &to
	}
	out, err := s.store.ListSurveys(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.Limit, func(v pgstore.Survey) string { return v.ID }))
}

func (s *Server) getSurvey(c echo.Context) error {
	out, err := s.store.GetSurvey(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// surveyReport is the Voice of the Customer report of the surveys sent from `from`
// (default: 30 days ago) to `to` (default: now), days in the tenant's time zone.
func (s *Server) surveyReport(c echo.Context) error {
	from, err := s.historyTime(c, "from")
	if err != nil {
		return err
	}
	to, err := s.historyTime(c, "to")
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	out, err := s.store.SurveyReport(c.Request().Context(), principal(c).TenantID, from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// surveyAnswerInput is a customer's answer as the gateway or answer page reports it.
type surveyAnswerInput struct {
	// Token names the survey by its link's token (POST /v1/surveys/answers).
	Token   string `json:"token"`
	Score   string `json:"score"`
	Comment string `json:"comment"`
}

func (s *Server) answerSurvey(c echo.Context) error {
	var in surveyAnswerInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Token != "" {
		return invalidField("token", "this route names the survey by its ID; POST /v1/surveys/answers takes the token")
	}
	return s.recordAnswer(c, principal(c).TenantID, c.Param("id"), in)
}

func (s *Server) answerSurveyByToken(c echo.Context) error {
	var in surveyAnswerInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Token) == "" {
		return invalidField("token", "is required: the token of the survey's link")
	}
	sv, err := s.store.SurveyByToken(c.Request().Context(), strings.TrimSpace(in.Token))
	if err != nil || sv.TenantID != principal(c).TenantID {
		return errNotFound("no survey with this token")
	}
	return s.recordAnswer(c, sv.TenantID, sv.ID, in)
}

// recordAnswer keeps the answer and, once it is complete, tells the rules waiting for
// survey feedback. Repeating the same answer is harmless and starts the feedback
// again if it did not start the first time.
func (s *Server) recordAnswer(c echo.Context, tenantID, id string, in surveyAnswerInput) error {
	ctx := c.Request().Context()
	out, _, err := s.store.AnswerSurvey(ctx, tenantID, id, pgstore.SurveyAnswer{Score: in.Score, Comment: in.Comment})
	if err != nil {
		return err
	}
	if out.CompletedAt != nil {
		err := activities.StartSurveyFeedback(ctx, s.temporal, activities.SurveyFeedbackInput{TenantID: tenantID, SurveyID: out.ID}, out.InteractionID)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
				Message: "the answer is kept, but Temporal did not accept its feedback run: send the same answer again"}
		}
	}
	return c.JSON(http.StatusOK, out)
}

// interactionSurveys answers a conversation's surveys: its CSAT results. Agents see
// those of conversations they hold or held.
func (s *Server) interactionSurveys(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	ix, err := s.store.GetInteraction(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	if p.Role == pgstore.RoleAgent && ix.AgentID != p.UserID {
		return errForbidden("agents see the surveys of the conversations they handle")
	}
	out, err := s.store.ListSurveys(ctx, p.TenantID, pgstore.SurveyFilter{InteractionID: ix.ID, Page: pgstore.Page{Limit: 200}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[pgstore.Survey]{Items: out})
}
