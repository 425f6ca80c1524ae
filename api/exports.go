package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// CodeExportExpired: the export's file was removed when it expired; ask for a new
// export.
const CodeExportExpired = "export_expired"

// registerExports adds exports of the interaction history to CSV: asked for with the
// history search's filter, produced by a workflow, then downloaded. Supervisors and
// admins export and see every export of their tenant; agents export their own
// history only and see their own exports.
func (s *Server) registerExports(v1 *echo.Group) {
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/exports", s.createExport, s.authenticate, readers)
	v1.GET("/exports", s.listExports, s.authenticate, readers)
	v1.GET("/exports/:id", s.getExport, s.authenticate, readers)
	v1.GET("/exports/:id/download", s.downloadExport, s.authenticate, readers)
}

// ExportRequest asks for an export: the fields of the history search (GET
// /v1/history), all optional; an empty body exports everything the caller may see.
type ExportRequest struct {
	Q string `json:"q"`
	// From and To bound the creation time (from inclusive, to exclusive): an RFC
	// 3339 time, or a date meaning its midnight in the tenant's time zone.
	From               string `json:"from"`
	To                 string `json:"to"`
	CampaignID         string `json:"campaignId"`
	QueueID            string `json:"queueId"`
	DispositionCodeID  string `json:"dispositionCodeId"`
	DispositionClassID string `json:"dispositionClassId"`
	Channel            string `json:"channel"`
	Status             string `json:"status"`
	Direction          string `json:"direction"`
	// AgentID keeps the interactions an agent held ("me" for the caller).
	AgentID string `json:"agentId"`
}

// exportView is an export as answered, with its download link once completed.
type exportView struct {
	pgstore.Export
	DownloadURL string `json:"downloadUrl,omitempty"`
}

func viewExport(e pgstore.Export) exportView {
	v := exportView{Export: e}
	if e.Status == pgstore.ExportCompleted {
		v.DownloadURL = "/v1/exports/" + e.ID + "/download"
	}
	return v
}

// exportStartTimeout bounds the start of an export's workflow.
const exportStartTimeout = 10 * time.Second

// createExport records the export and starts its workflow: 202 with the export,
// queued. A filter the history search would refuse answers 422 naming the field.
func (s *Server) createExport(c echo.Context) error {
	var in ExportRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	f, err := s.exportFilter(c, in)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.Request().Context()
	id := uuid.NewString()
	ex, err := s.store.CreateExport(ctx, p.TenantID, actor(c), pgstore.NewExport{ID: id, RequestedBy: p.UserID, Filter: f})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, exportStartTimeout)
	defer cancel()
	_, err = s.temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID:                    workflows.ExportWorkflowID(id),
		TaskQueue:             workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TenantIDKey.ValueSet(p.TenantID)),
	}, workflows.Export, workflows.ExportInput{TenantID: p.TenantID, ExportID: id})
	if err != nil {
		s.logger.Error("export workflow not started", "export", id, "error", err)
		// Nothing will produce it: the record says so rather than stay queued.
		if ferr := s.store.FailExport(context.WithoutCancel(ctx), p.TenantID, id, "the export could not be started; ask for it again"); ferr != nil {
			s.logger.Error("export not marked failed", "export", id, "error", ferr)
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the export could not be started (Temporal did not answer); ask for it again"}
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/exports/"+id)
	return c.JSON(http.StatusAccepted, viewExport(ex))
}

// exportFilter is the request as a history filter for the caller, scoped as the
// history search scopes it: an agent exports their own history only.
func (s *Server) exportFilter(c echo.Context, in ExportRequest) (pgstore.ExportFilter, error) {
	p := principal(c)
	trim := strings.TrimSpace
	f := pgstore.ExportFilter{Q: in.Q, CampaignID: trim(in.CampaignID), QueueID: trim(in.QueueID),
		DispositionCodeID: trim(in.DispositionCodeID), DispositionClassID: trim(in.DispositionClassID),
		Channel: routing.Channel(trim(in.Channel)), Status: pgstore.InteractionStatus(trim(in.Status)),
		Direction: pgstore.Direction(trim(in.Direction)), AgentID: trim(in.AgentID)}
	for _, b := range []struct {
		field, v string
		t        **time.Time
	}{{"from", in.From, &f.From}, {"to", in.To, &f.To}} {
		t, err := s.exportTime(c, b.field, b.v)
		if err != nil {
			return f, err
		}
		*b.t = t
	}
	if f.AgentID == "me" || strings.EqualFold(f.AgentID, p.UserID) {
		f.AgentID = p.UserID
	}
	if p.Role == pgstore.RoleAgent {
		if f.AgentID != "" && f.AgentID != p.UserID {
			return f, errForbidden("agents export only their own history")
		}
		f.AgentID, f.VisibleTo = "", p.UserID
	}
	return f, nil
}

// exportTime reads a bound of the date range as the history search does: an RFC
// 3339 time, or a date meaning its midnight in the tenant's time zone.
func (s *Server) exportTime(c echo.Context, field, v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return &t, nil
	}
	day, err := time.Parse(historyDate, v)
	if err != nil {
		return nil, invalidField(field, field+" must be a date (2026-11-21) or an RFC 3339 time (2026-11-21T09:30:00Z)")
	}
	loc, err := s.tenantLocation(c)
	if err != nil {
		return nil, err
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	return &t, nil
}

// listExports answers the caller's exports, newest first: every export of the tenant
// for supervisors and admins, their own for agents.
func (s *Server) listExports(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	p := principal(c)
	f := pgstore.ExportListFilter{Page: pg}
	if p.Role == pgstore.RoleAgent {
		f.RequestedBy = p.UserID
	}
	es, err := s.store.ListExports(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	views := make([]exportView, len(es))
	for i, e := range es {
		views[i] = viewExport(e)
	}
	return c.JSON(http.StatusOK, newList(views, pg.Limit, func(v exportView) string { return v.ID }))
}

// visibleExport is the export of the path when the caller may see it; 404 otherwise,
// as for a missing one, so the answer tells nothing of another's export.
func (s *Server) visibleExport(c echo.Context) (pgstore.Export, error) {
	p := principal(c)
	notFound := errNotFound("no such export")
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return pgstore.Export{}, notFound
	}
	ex, err := s.store.GetExport(c.Request().Context(), p.TenantID, id)
	if errors.Is(err, pgstore.ErrNotFound) {
		return ex, notFound
	}
	if err != nil {
		return ex, err
	}
	if p.Role == pgstore.RoleAgent && !strings.EqualFold(ex.RequestedBy, p.UserID) {
		return ex, notFound
	}
	return ex, nil
}

func (s *Server) getExport(c echo.Context) error {
	ex, err := s.visibleExport(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewExport(ex))
}

// downloadExport answers a completed export's CSV file as an attachment. An export
// that is not completed yet (or failed) answers 409, an expired one 410.
func (s *Server) downloadExport(c echo.Context) error {
	ex, err := s.visibleExport(c)
	if err != nil {
		return err
	}
	switch ex.Status {
	case pgstore.ExportCompleted:
	case pgstore.ExportExpired:
		return &Error{Status: http.StatusGone, Code: CodeExportExpired, Message: "the export expired and its file was removed; ask for a new export"}
	case pgstore.ExportFailed:
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the export failed: " + ex.Error}
	default:
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: fmt.Sprintf("the export is %s; GET /v1/exports/%s until it is completed", ex.Status, ex.ID)}
	}
	name := filepath.FromSlash(ex.FileName)
	if s.exportDir == "" || !filepath.IsLocal(name) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "exports are not available: no data directory is configured"}
	}
	f, err := os.Open(filepath.Join(s.exportDir, name))
	if errors.Is(err, os.ErrNotExist) {
		s.logger.Error("export file missing", "export", ex.ID, "file", name)
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the export's file is not on this server: the API and the workers must share the data directory"}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"`, exportFileName(ex)))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Response(), c.Request(), "", st.ModTime(), f)
	return nil
}

// exportFileName is the name a download is saved under:
// interactions-<created, UTC>-<export ID's first part>.csv.
func exportFileName(ex pgstore.Export) string {
	short, _, _ := strings.Cut(ex.ID, "-")
	return "interactions-" + ex.CreatedAt.UTC().Format("20060102-150405") + "-" + short + ".csv"
}
