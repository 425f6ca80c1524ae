package api

import (
	"context"
	"strings"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// InboundCall is a call a media host answered on one of a tenant's numbers.
type InboundCall struct {
	TenantID string
	// CampaignID is the number's campaign; empty: the Default campaign.
	CampaignID string
	// From is the caller (a number, or the caller's SIP user), To the number called.
	From, To string
	// CallerName is the caller's display name, when the call carried one.
	CallerName string
	// RequestID makes the start idempotent: a retransmitted INVITE names the same
	// interaction (the Call-ID and the caller's tag).
	RequestID string
	// Media is the call on its media host.
	Media workflows.MediaCall
}

// StartInboundCall starts the interaction of an inbound call the way a channel's
// POST /v1/interactions does: validated, routed by the tenant's routes, linked to
// the customer, its workflow started with the call's media host. created is false
// when RequestID repeats an earlier start.
func (s *Server) StartInboundCall(ctx context.Context, call InboundCall) (view pgstore.Interaction, created bool, err error) {
	in := NewInteraction{Channel: "sip", From: call.From, To: call.To, RequestID: call.RequestID, CampaignID: call.CampaignID,
		Metadata: map[string]string{"sipCallId": clipRunes(call.Media.CallID, maxAttribute)}}
	if name := strings.TrimSpace(call.CallerName); name != "" {
		in.Customer = &CustomerFields{Name: clipRunes(name, 200)}
	}
	if err := in.Validate(); err != nil {
		return view, false, err
	}
	media := call.Media
	in.media = &media
	p := pgstore.Principal{TenantID: call.TenantID, Role: pgstore.RoleIntegration}
	return s.startInteraction(ctx, p, &in)
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// outboundCall is the call an outbound voice interaction places from the media host
// of the agent's registered phone; nil when the agent has none (or it cannot be
// told), and the channel reports the outcome as before.
func (s *Server) outboundCall(ctx context.Context, tenantID, agentID, interactionID string) *workflows.MediaCall {
	if s.phoneHost == nil {
		return nil
	}
	host, ok, err := s.phoneHost(ctx, tenantID, agentID)
	if err != nil {
		s.logger.Warn("agent's phone not found; the outbound call is left to its channel", "agent", agentID, "error", err)
		return nil
	}
	if !ok {
		return nil
	}
	return &workflows.MediaCall{TaskQueue: workflows.MediaTaskQueue(host), CallID: "out-" + interactionID}
}
