package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// registerTags adds the tag catalogue (conversation tags and macro tags: admins and
// supervisors write it, every user reads it, as agents pick from it) and the
// changes of an interaction's tags, priority and subject.
func (s *Server) registerTags(v1 *echo.Group) {
	cfg := requireRole(configurers...)
	users := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent, pgstore.RoleIntegration)
	v1.POST("/tags", s.createTag, s.authenticate, cfg)
	v1.GET("/tags", s.listTags, s.authenticate, users)
	v1.GET("/tags/:id", s.getTag, s.authenticate, users)
	v1.PATCH("/tags/:id", s.updateTag, s.authenticate, cfg)
	v1.DELETE("/tags/:id", s.deleteTag, s.authenticate, cfg)

	actors := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent, pgstore.RoleIntegration)
	v1.POST("/interactions/:id/tags", s.tagInteraction, s.authenticate, actors)
	v1.PUT("/interactions/:id/priority", s.setPriority, s.authenticate, actors)
	v1.PUT("/interactions/:id/subject", s.setSubject, s.authenticate, actors)
}

func (s *Server) createTag(c echo.Context) error {
	var in pgstore.NewTag
	if err := decode(c, &in); err != nil {
		return err
	}
	t, err := s.store.CreateTag(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

func (s *Server) listTags(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	ts, err := s.store.ListTags(c.Request().Context(), principal(c).TenantID, pgstore.TagFilter{
		Kind: pgstore.TagKind(c.QueryParam("kind")), Query: c.QueryParam("q"), Page: pg})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(ts, pg.Limit, func(t pgstore.Tag) string { return t.ID }))
}

func (s *Server) getTag(c echo.Context) error {
	t, err := s.store.GetTag(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) updateTag(c echo.Context) error {
	var in pgstore.TagPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	t, err := s.store.UpdateTag(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) deleteTag(c echo.Context) error {
	if err := s.store.DeleteTag(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// tagsRequest is the body of an interaction's tag change: tags to add (conversation
// tags of the catalogue, by ID or name) and to remove (by name, or a catalogue tag's
// ID).
type tagsRequest struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

func (s *Server) tagInteraction(c echo.Context) error {
	var in tagsRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if len(in.Add) == 0 && len(in.Remove) == 0 {
		return invalidField("add", "name tags to add or remove")
	}
	tags, err := s.resolveTagChange(c, in)
	if err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.TagsUpdate, tags)
}

// resolveTagChange resolves a tag change against the tenant's catalogue: added tags
// must be conversation tags of it; removed ones may be any name the interaction
// carries (given at creation, say), or a catalogue tag's ID.
func (s *Server) resolveTagChange(c echo.Context, in tagsRequest) (workflows.TagsInput, error) {
	p := principal(c)
	ctx := c.Request().Context()
	out := workflows.TagsInput{Actor: actingAs(c)}
	var err error
	if out.Add, err = s.store.ResolveTags(ctx, p.TenantID, "add", in.Add); err != nil {
		return out, err
	}
	if len(in.Remove) > pgstore.MaxInteractionTags {
		return out, invalidField("remove", "at most 50 tags")
	}
	for i, r := range in.Remove {
		r = strings.TrimSpace(r)
		if err := pgstore.ValidateTagName(fmt.Sprintf("remove[%d]", i), r); err != nil {
			return out, err
		}
		if names, err := s.store.ResolveTags(ctx, p.TenantID, "remove", []string{r}); err == nil {
			r = names[0]
		} else if !isValidation(err) {
			return out, err
		}
		out.Remove = append(out.Remove, r)
	}
	return out, nil
}

// priorityRequest is the body of a priority change.
type priorityRequest struct {
	Priority *routing.Priority `json:"priority"`
}

func (s *Server) setPriority(c echo.Context) error {
	var in priorityRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Priority == nil {
		return invalidField("priority", "is required: low, normal, high or urgent")
	}
	return s.updateInteraction(c, workflows.PriorityUpdate, workflows.PriorityInput{Actor: actingAs(c), Priority: *in.Priority})
}

// subjectRequest is the body of a subject change.
type subjectRequest struct {
	Subject *string `json:"subject"`
}

func (s *Server) setSubject(c echo.Context) error {
	var in subjectRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Subject == nil {
		return invalidField("subject", "is required (empty clears it)")
	}
	subject := strings.TrimSpace(*in.Subject)
	if err := pgstore.ValidateSubject(subject); err != nil {
		return err
	}
	return s.updateInteraction(c, workflows.SubjectUpdate, workflows.SubjectInput{Actor: actingAs(c), Subject: subject})
}

func isValidation(err error) bool {
	var v *pgstore.ValidationError
	return errors.As(err, &v)
}
