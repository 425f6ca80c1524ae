package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/forms"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// registerForms adds the conversation forms: input fields and forms (admins and
// supervisors write them, every user reads them), and an interaction's form and
// values.
func (s *Server) registerForms(v1 *echo.Group) {
	cfg := requireRole(configurers...)
	users := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent, pgstore.RoleIntegration)
	v1.POST("/forms/fields", s.createFormField, s.authenticate, cfg)
	v1.GET("/forms/fields", s.listFormFields, s.authenticate, users)
	v1.GET("/forms/fields/:id", s.getFormField, s.authenticate, users)
	v1.PATCH("/forms/fields/:id", s.updateFormField, s.authenticate, cfg)
	v1.DELETE("/forms/fields/:id", s.deleteFormField, s.authenticate, cfg)
	v1.POST("/forms", s.createForm, s.authenticate, cfg)
	v1.GET("/forms", s.listForms, s.authenticate, users)
	v1.GET("/forms/:id", s.getForm, s.authenticate, users)
	v1.PATCH("/forms/:id", s.updateForm, s.authenticate, cfg)
	v1.DELETE("/forms/:id", s.deleteForm, s.authenticate, cfg)

	v1.GET("/interactions/:id/form", s.getInteractionForm, s.authenticate, users)
	v1.PUT("/interactions/:id/form", s.setInteractionForm, s.authenticate, users)
	v1.PUT("/interactions/:id/form-values", s.setFormValues, s.authenticate, users)
}

func (s *Server) createFormField(c echo.Context) error {
	var in pgstore.NewFormField
	if err := decode(c, &in); err != nil {
		return err
	}
	f, err := s.store.CreateFormField(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, f)
}

func (s *Server) listFormFields(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	fs, err := s.store.ListFormFields(c.Request().Context(), principal(c).TenantID, pgstore.FormFieldFilter{
		Query: c.QueryParam("q"), Type: forms.FieldType(c.QueryParam("type")), Page: pg})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(fs, pg.Limit, func(f pgstore.FormField) string { return f.ID }))
}

func (s *Server) getFormField(c echo.Context) error {
	f, err := s.store.GetFormField(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) updateFormField(c echo.Context) error {
	var in pgstore.FormFieldPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	f, err := s.store.UpdateFormField(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) deleteFormField(c echo.Context) error {
	if err := s.store.DeleteFormField(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) createForm(c echo.Context) error {
	var in pgstore.NewForm
	if err := decode(c, &in); err != nil {
		return err
	}
	f, err := s.store.CreateForm(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, f)
}

func (s *Server) listForms(c echo.Context) error {
	fs, err := s.store.ListForms(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": fs})
}

func (s *Server) getForm(c echo.Context) error {
	f, err := s.store.GetForm(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) updateForm(c echo.Context) error {
	var in pgstore.FormPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	f, err := s.store.UpdateForm(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) deleteForm(c echo.Context) error {
	if err := s.store.DeleteForm(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// getInteractionForm answers an interaction's form as its agent sees it: the fields
// that show, which are mandatory and missing, and every value it has. Agents read
// the interactions they hold or are offered.
func (s *Server) getInteractionForm(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return errNotFound("no such interaction")
	}
	in, ok := s.findInteraction(ctx, p.TenantID, id)
	if !ok || (p.Role == pgstore.RoleAgent && !mine(in, p.UserID)) {
		return errNotFound("no such interaction")
	}
	f, err := s.store.InteractionForm(ctx, p.TenantID, id, in.FormID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

// formRequest is the body of a form choice; an empty formId shows the default form.
type formRequest struct {
	FormID *string `json:"formId"`
}

func (s *Server) setInteractionForm(c echo.Context) error {
	var in formRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.FormID == nil {
		return invalidField("formId", "is required (empty shows the default form)")
	}
	id := strings.ToLower(strings.TrimSpace(*in.FormID))
	if id != "" {
		if _, err := s.store.GetForm(c.Request().Context(), principal(c).TenantID, id); errors.Is(err, pgstore.ErrNotFound) {
			return invalidField("formId", "no such form")
		} else if err != nil {
			return err
		}
	}
	return s.updateInteraction(c, workflows.FormUpdate, workflows.FormInput{Actor: actingAs(c), FormID: id})
}

// formValuesRequest is the body of a form values change: values by input field ID,
// null (or "") clearing one.
type formValuesRequest struct {
	Values map[string]json.RawMessage `json:"values"`
}

func (s *Server) setFormValues(c echo.Context) error {
	var in formValuesRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	values := make(map[string]json.RawMessage, len(in.Values))
	for k, v := range in.Values {
		if v == nil {
			v = json.RawMessage("null")
		}
		values[strings.ToLower(strings.TrimSpace(k))] = v
	}
	if err := s.store.CheckFormValues(c.Request().Context(), principal(c).TenantID, values); err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.FormValuesUpdate, workflows.FormValuesInput{Actor: actingAs(c), Values: values})
}

// checkEndForm refuses an agent's end of a digital conversation they hold — which
// closes it — while a mandatory field of its form shows and is empty, as a close
// through the conversation status is refused. The customer leaving, supervisors and
// the system's closes are not held back.
func (s *Server) checkEndForm(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return nil // the update answers 404
	}
	in, ok := s.findInteraction(ctx, p.TenantID, id)
	if !ok || in.ConversationStatus == "" || !in.Status.Held() || in.AgentID != p.UserID {
		return nil
	}
	f, err := s.store.InteractionForm(ctx, p.TenantID, id, in.FormID)
	if err != nil || len(f.Missing) == 0 {
		return err
	}
	names := make([]string, len(f.Missing))
	for i, m := range f.Missing {
		names[i] = fmt.Sprintf("%q", m.Name)
	}
	what := "mandatory field " + names[0] + " is"
	if len(names) > 1 {
		what = "mandatory fields " + strings.Join(names, ", ") + " are"
	}
	return &Error{Status: http.StatusConflict, Code: CodeFormIncomplete, Field: "values." + f.Missing[0].FieldID,
		Message: fmt.Sprintf("the conversation cannot be closed: %s empty on form %q", what, f.Form.Name)}
}
