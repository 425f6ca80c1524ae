package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/events"
	"switchboard/pgstore"
)

// streamKeepAlive is how often an idle event stream sends a comment, so proxies
// and clients see the connection is alive.
const streamKeepAlive = 15 * time.Second

// streamRetry is the reconnection delay the stream asks clients for.
const streamRetry = 2 * time.Second

// eventTypes are the types a client may filter on.
var eventTypes = []string{
	events.InteractionInitiated, events.InteractionOffered, events.CallRinging, events.InteractionOfferClosed,
	events.InteractionConnected, events.InteractionDisconnected, events.InteractionTransferred,
	events.InteractionConferred, events.InteractionQueueChanged, events.InteractionDisposed,
	events.InteractionEnded, events.CustomerLinkedToInteraction, events.CustomerUnlinkedFromInteraction,
	events.AgentStatusChanged,
}

func (s *Server) registerEvents(v1 *echo.Group) {
	v1.GET("/events", s.streamEvents, s.authenticate)
}

// streamEvents is the realtime stream (Server-Sent Events) of the caller's tenant:
// an agent gets the events that concern them (their offers, their interactions,
// their status); supervisors, admins and integrations get the whole tenant's, or one
// agent's with agentId. types filters by event type. A reconnecting client sends the
// last event ID it saw (the Last-Event-ID header, which browsers send by themselves,
// or lastEventId) and receives every event after it first.
func (s *Server) streamEvents(c echo.Context) error {
	p := principal(c)
	q := c.QueryParams()
	for name := range q {
		if !slices.Contains([]string{"agentId", "types", "lastEventId"}, name) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name, Message: "unknown query parameter " + name}
		}
	}
	after := strings.TrimSpace(c.Request().Header.Get("Last-Event-ID"))
	if v := q.Get("lastEventId"); v != "" {
		after = strings.TrimSpace(v)
	}
	if after != "" && events.CheckPosition(after) != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "lastEventId",
			Message: fmt.Sprintf("%q is not an event ID (they look like 1764000000000-0)", after)}
	}
	var types []string
	if v := q.Get("types"); v != "" {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(eventTypes, t) {
				return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "types",
					Message: fmt.Sprintf("unknown event type %q; known: %s", t, strings.Join(eventTypes, ", "))}
			}
			types = append(types, t)
		}
	}
	agent := q.Get("agentId")
	switch {
	case p.Role == pgstore.RoleAgent && agent != "" && agent != p.UserID:
		return errForbidden("agents follow their own events only")
	case p.Role == pgstore.RoleAgent:
		agent = p.UserID
	}
	match := func(e events.Event) bool {
		if e.Type == events.StreamReset {
			return true
		}
		if agent != "" && !e.Concerns(agent) {
			return false
		}
		return len(types) == 0 || slices.Contains(types, e.Type)
	}
	if s.events == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the realtime feed is not configured"}
	}
	ctx := c.Request().Context()
	sub, err := s.events.Subscribe(ctx, p.TenantID, after, match)
	if err != nil {
		return err
	}
	defer sub.Close()

	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", streamRetry.Milliseconds()); err != nil {
		return nil
	}
	w.Flush()
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-s.closing:
			return nil // shutting down: the client reconnects to another replica
		case <-ctx.Done():
			return nil
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case e, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); err != nil {
					s.logger.Warn("event stream ended", "tenant_id", p.TenantID, "user_id", p.UserID, "error", err)
				}
				return nil // the client resumes from its last event
			}
			body, err := json.Marshal(e)
			if err != nil {
				return nil
			}
			if e.ID != "" {
				_, err = fmt.Fprintf(w, "id: %s\n", e.ID)
			}
			if err == nil {
				_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, body)
			}
			if err != nil {
				return nil
			}
			w.Flush()
		}
	}
}

// agentEvent is the payload of agentStatusChanged: the agent's presence as the
// presence endpoints answer it, or, after a logout, who logged out and why.
type agentEvent struct {
	AgentID  string       `json:"agentId"`
	LoggedIn bool         `json:"loggedIn"`
	Reason   string       `json:"reason,omitempty"`
	Presence *sessionView `json:"presence,omitempty"`
}

// publishAgentStatus tells the feed that an agent's presence changed (login,
// status, Auto Call, logout). The change is made already, so a feed that does not
// answer is logged, not returned: the stream's clients reload on reconnecting.
func (s *Server) publishAgentStatus(ctx context.Context, tenantID string, session int64, at time.Time, e agentEvent) {
	if s.events == nil {
		return
	}
	data, err := json.Marshal(e)
	if err == nil {
		_, err = s.events.Publish(context.WithoutCancel(ctx), events.Event{
			Key:  fmt.Sprintf("agent/%s/%d/%d/%t/%s", e.AgentID, session, at.UnixMilli(), e.LoggedIn, e.Reason),
			Type: events.AgentStatusChanged, TenantID: tenantID, At: time.Now().UTC(), Agents: []string{e.AgentID}, Data: data,
		})
	}
	if err != nil {
		s.logger.Warn("agent status event not published", "tenant_id", tenantID, "agent", e.AgentID, "error", err)
	}
}
