package api

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// registerMessages adds the tenant's channel senders, which admins configure, and
// the transcripts of interactions, which everyone reads who may see the interaction.
func (s *Server) registerMessages(v1 *echo.Group) {
	admin := requireRole(pgstore.RoleAdmin)
	v1.POST("/channel-senders", s.createChannelSender, s.authenticate, admin)
	v1.GET("/channel-senders", s.listChannelSenders, s.authenticate, admin)
	v1.GET("/channel-senders/:id", s.getChannelSender, s.authenticate, admin)
	v1.PATCH("/channel-senders/:id", s.updateChannelSender, s.authenticate, admin)
	v1.DELETE("/channel-senders/:id", s.deleteChannelSender, s.authenticate, admin)
	v1.GET("/interactions/:id/messages", s.listMessages, s.authenticate)
}

func (s *Server) createChannelSender(c echo.Context) error {
	var in pgstore.NewChannelSender
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateSender(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listChannelSenders(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	out, err := s.store.ListSenders(c.Request().Context(), principal(c).TenantID,
		pgstore.ChannelSenderFilter{SubChannel: c.QueryParam("subChannel"), Page: pg})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.Limit, func(s pgstore.ChannelSender) string { return s.ID }))
}

func (s *Server) getChannelSender(c echo.Context) error {
	out, err := s.store.GetSender(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) updateChannelSender(c echo.Context) error {
	var in pgstore.ChannelSenderUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.UpdateSender(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteChannelSender(c echo.Context) error {
	if err := s.store.DeleteSender(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listMessages answers an interaction's transcript in order, a page at a time
// (?after=<seq of the last message seen>&limit=), to whoever may see the
// interaction: agents only what is offered to or held by them (404 otherwise).
func (s *Server) listMessages(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return errNotFound("no such interaction")
	}
	var after int64
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errMalformed("after", "must be the seq of a message (an integer)")
		}
		after = n
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	in, ok := s.findInteraction(ctx, p.TenantID, id)
	if !ok || (p.Role == pgstore.RoleAgent && !mine(in, p.UserID)) {
		return errNotFound("no such interaction")
	}
	items, err := s.store.Messages(ctx, p.TenantID, id, after, limit)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = pgstore.DefaultTranscriptLimit
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(m pgstore.Message) string { return strconv.FormatInt(m.Seq, 10) }))
}
