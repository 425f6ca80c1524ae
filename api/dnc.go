package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/routing"
)

// errDoNotCall refuses an outbound call to a listed number, naming the field that
// holds it.
func errDoNotCall(field, phone string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeDoNotCall, Field: field,
		Message: fmt.Sprintf("%s is on the do-not-call list: no outbound call is placed to it until it is deleted from the list", phone)}
}

// registerDoNotCall adds the tenant's do-not-call list: admins and supervisors keep
// it; everyone in the tenant (agents, integrations) may check a number.
func (s *Server) registerDoNotCall(v1 *echo.Group) {
	keepers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.GET("/dnc", s.listDoNotCall, s.authenticate, keepers)
	v1.POST("/dnc", s.addDoNotCall, s.authenticate, keepers)
	v1.POST("/dnc/uploads", s.uploadDoNotCall, s.authenticate, keepers)
	v1.GET("/dnc/check", s.checkDoNotCall, s.authenticate)
	v1.DELETE("/dnc/:phone", s.deleteDoNotCall, s.authenticate, keepers)
}

func (s *Server) addDoNotCall(c echo.Context) error {
	var in pgstore.NewDoNotCall
	if err := decode(c, &in); err != nil {
		return err
	}
	e, created, err := s.store.AddDoNotCall(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	if !created {
		return c.JSON(http.StatusOK, e)
	}
	return c.JSON(http.StatusCreated, e)
}

// doNotCallCheck answers whether a number is listed; Entry (who listed it, when,
// why) only to admins and supervisors.
type doNotCallCheck struct {
	Phone  string                  `json:"phone"`
	Listed bool                    `json:"listed"`
	Entry  *pgstore.DoNotCallEntry `json:"entry,omitempty"`
}

func (s *Server) checkDoNotCall(c echo.Context) error {
	p := principal(c)
	raw := c.QueryParam("phone")
	phone, err := pgstore.NormalizePhone(raw)
	if err != nil {
		return err
	}
	out := doNotCallCheck{Phone: phone}
	if p.Role == pgstore.RoleAdmin || p.Role == pgstore.RoleSupervisor {
		e, err := s.store.GetDoNotCall(c.Request().Context(), p.TenantID, phone)
		switch {
		case err == nil:
			out.Listed, out.Entry = true, &e
		case !errors.Is(err, pgstore.ErrNotFound):
			return err
		}
	} else if out.Listed, err = s.store.DoNotCallListed(c.Request().Context(), p.TenantID, phone); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteDoNotCall(c echo.Context) error {
	phone := c.Param("phone")
	if unescaped, err := url.PathUnescape(phone); err == nil {
		phone = unescaped
	}
	if err := s.store.DeleteDoNotCall(c.Request().Context(), principal(c).TenantID, actor(c), phone); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDoNotCall(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	f := pgstore.DoNotCallFilter{Phone: c.QueryParam("phone"), AddedBy: c.QueryParam("addedBy"),
		Source: pgstore.DoNotCallSource(c.QueryParam("source")), Limit: limit, After: c.QueryParam("after")}
	if f.AddedBy == "me" {
		f.AddedBy = principal(c).UserID
	}
	for _, t := range []struct {
		name string
		to   **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := c.QueryParam(t.name)
		if v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return errMalformed(t.name, "must be a date and time such as 2026-03-01T00:00:00Z")
		}
		*t.to = &at
	}
	// Validated here too, for the page size the next cursor depends on.
	if err := f.Validate(); err != nil {
		return err
	}
	items, err := s.store.ListDoNotCall(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, f.Limit, pgstore.DoNotCallEntry.Cursor))
}

// maxUploadReason bounds the reason part of a multipart upload as read (the store
// checks its real length).
const maxUploadReason = 4 << 10

// uploadDoNotCall lists the numbers of a CSV or TXT file, sent as multipart/form-data
// (part file, optional part reason) or as the body itself (text/csv or text/plain,
// reason in the query). It answers 200 with what was listed and every line that was
// not, by line number; a file that cannot be read line by line is refused whole (422
// on file) and a larger one with 413, with nothing listed.
func (s *Server) uploadDoNotCall(c echo.Context) error {
	data, reason, err := readUpload(c)
	if err != nil {
		return err
	}
	res, err := s.store.UploadDoNotCall(c.Request().Context(), principal(c).TenantID, actor(c), data, reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func errUploadTooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: fmt.Sprintf("the file is larger than %d MiB: split it into smaller files", pgstore.MaxDoNotCallUploadBytes>>20)}
}

// readUpload reads an uploaded file and its reason, bounded by the upload limit.
func readUpload(c echo.Context) (data []byte, reason string, err error) {
	req := c.Request()
	unsupported := &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMalformed,
		Message: "send the file as multipart/form-data (part file), or as the body with Content-Type text/csv or text/plain"}
	mt, params, perr := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if perr != nil {
		return nil, "", unsupported
	}
	// Room for the multipart framing and the reason around the largest file.
	body := http.MaxBytesReader(c.Response(), req.Body, pgstore.MaxDoNotCallUploadBytes+64<<10)
	readAll := func(r io.Reader) ([]byte, error) {
		b, err := io.ReadAll(io.LimitReader(r, pgstore.MaxDoNotCallUploadBytes+1))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge), err == nil && len(b) > pgstore.MaxDoNotCallUploadBytes:
			return nil, errUploadTooLarge()
		case err != nil:
			return nil, errMalformed("", "could not read the body")
		}
		return b, nil
	}
	switch mt {
	case "text/csv", "text/plain":
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
			return nil, "", &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMalformed, Message: "send the file in UTF-8"}
		}
		data, err = readAll(body)
		return data, c.QueryParam("reason"), err
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, "", errMalformed("", "the multipart body has no boundary")
		}
		mr := multipart.NewReader(body, params["boundary"])
		seen := false
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, "", errUploadTooLarge()
			}
			if err != nil {
				return nil, "", errMalformed("", "the multipart body cannot be read: "+err.Error())
			}
			switch name := part.FormName(); name {
			case "file":
				if seen {
					return nil, "", invalidField("file", "one file per upload")
				}
				seen = true
				if data, err = readAll(part); err != nil {
					return nil, "", err
				}
			case "reason":
				b, err := io.ReadAll(io.LimitReader(part, maxUploadReason))
				if err != nil {
					return nil, "", errMalformed("reason", "could not read the reason")
				}
				reason = string(b)
			default:
				return nil, "", invalidField(name, "unknown part: send file and, optionally, reason")
			}
		}
		if !seen {
			return nil, "", invalidField("file", "is required: the CSV or TXT file, one number per line")
		}
		return data, reason, nil
	}
	return nil, "", unsupported
}

// refuseDoNotCall refuses an outbound call (voice) to a number on the tenant's
// do-not-call list, or to a "to" that is no phone number, before anything starts.
// A repeat of a request ID whose first call started the interaction (before the
// number was listed) answers that interaction, first.
func (s *Server) refuseDoNotCall(ctx context.Context, p pgstore.Principal, in *NewInteraction) (first *pgstore.Interaction, err error) {
	if in.channel != routing.Voice {
		return nil, nil
	}
	phone, err := pgstore.NormalizePhone(in.To)
	if err != nil {
		var v *pgstore.ValidationError
		if errors.As(err, &v) {
			return nil, invalidField("to", "an outbound call's number "+v.Message)
		}
		return nil, err
	}
	listed, err := s.store.DoNotCallListed(ctx, p.TenantID, phone)
	if err != nil || !listed {
		return nil, err
	}
	if in.RequestID != "" {
		// The interaction ID startInteraction derives from the request ID.
		id := uuid.NewSHA1(uuid.MustParse(p.TenantID), []byte(in.RequestID)).String()
		if ix, ok := s.findInteraction(ctx, p.TenantID, id); ok {
			return &ix, nil
		}
	}
	return nil, errDoNotCall("to", phone)
}
