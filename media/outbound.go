package media

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
	"switchboard/media/sdp"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// Outbound calls. An outbound voice interaction starts connected to its agent; the
// media host of the agent's registered phone places its call: the agent's phone
// rings first (the agent asked for the call, and picks up), then the customer is
// called through the carrier trunk and, once they answer, bridged to the agent. How
// the customer's side ends without an answer is the channel's outcome.

// Bounds of an outbound call's two rings.
const (
	agentPickup    = 30 * time.Second
	customerAnswer = 45 * time.Second
)

// OutcomeOf maps the final answer to an outbound INVITE to its outcome: busy (486
// Busy Here, 600 Busy Everywhere), no answer (408 Request Timeout, 480 Temporarily
// Unavailable, 487 after our own CANCEL at the answer deadline), failed otherwise.
func OutcomeOf(status int) pgstore.Outcome {
	switch status {
	case sip.StatusBusyHere, sip.StatusGlobalBusyEverywhere:
		return pgstore.OutcomeBusy
	case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
		return pgstore.OutcomeNoAnswer
	}
	return pgstore.OutcomeFailed
}

// Dial places an outbound interaction's call. It returns once the call exists on
// this host; the rest happens in the background and comes back to the interaction
// as its outcome, or as a hangup. Repeating it for the same call does nothing.
func (s *Server) Dial(ctx context.Context, in workflows.MediaDialRequest) error {
	if s.findCall(in.CallID) != nil {
		return nil
	}
	fail := func(why string, detail map[string]string) {
		s.log.Info("SIP outbound call failed", "call_id", in.CallID, "interaction_id", in.InteractionID, "why", why)
		if detail == nil {
			detail = map[string]string{}
		}
		detail["reason"] = why
		s.tellAsync(func(ctx context.Context) error {
			return s.ix.Outcome(ctx, in.TenantID, in.InteractionID, pgstore.OutcomeFailed, detail)
		})
	}
	if !s.trunk.IsValid() {
		fail("no carrier trunk is configured for outbound calls", nil)
		return nil
	}
	regs, err := s.regs.Lookup(ctx, in.TenantID, in.AgentID)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		fail("the agent has no registered phone", nil)
		return nil
	}
	c := &call{s: s, id: in.CallID, tenantID: in.TenantID, interactionID: in.InteractionID, transport: "UDP",
		stream: sdp.Stream{Codec: sdp.Codec{Law: g711.ULaw}}, from: in.From, done: make(chan struct{})}
	s.callsMu.Lock()
	if _, dup := s.calls[in.CallID]; dup {
		s.callsMu.Unlock()
		return nil
	}
	s.calls[in.CallID] = c
	s.callsMu.Unlock()
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		s.dialOut(c, in, regs[0])
	}()
	return nil
}

// dialOut rings the agent's phone, then the customer, and bridges them.
func (s *Server) dialOut(c *call, in workflows.MediaDialRequest, reg Registration) {
	outcome := func(o pgstore.Outcome, detail map[string]string) {
		c.hangup("the outbound call ended: "+string(o), true)
		s.tellAsync(func(ctx context.Context) error {
			return s.ix.Outcome(ctx, in.TenantID, in.InteractionID, o, detail)
		})
	}
	// The agent's phone shows whom it is about to call.
	pickCtx, cancelPick := context.WithTimeout(context.Background(), agentPickup)
	a, err := s.invitePhone(pickCtx, c, reg, in.To)
	if err != nil {
		cancelPick()
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": "the agent's phone could not be reached"})
		return
	}
	a.agentID, a.cancel = in.AgentID, cancelPick
	c.mu.Lock()
	c.agent = a
	c.mu.Unlock()
	err = a.dlg.WaitAnswer(pickCtx, sipgo.AnswerOptions{})
	if c.isEnded() {
		return // hung up meanwhile: the workflow knows
	}
	if err != nil {
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": "the agent's phone did not pick up"})
		return
	}
	if err := s.connectPhone(c, a); err != nil {
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": err.Error()})
		return
	}

	// The customer, through the trunk.
	leg, err := s.engine.NewLeg(rtpengine.LegConfig{Law: c.stream.Law, EventPayloadType: sdp.DefaultEventPayloadType, Name: c.id + "/customer"})
	if err != nil {
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": "no RTP port"})
		return
	}
	target := sip.Uri{Scheme: "sip", User: sipUser(in.To), Host: s.trunk.Addr().String(), Port: int(s.trunk.Port())}
	req, origin := s.newInvite(target, "UDP", in.From, leg)
	ansCtx, cancelAns := context.WithTimeout(context.Background(), customerAnswer)
	defer cancelAns()
	dlg, err := s.dialogUA("UDP").WriteInvite(ansCtx, req)
	if err != nil {
		leg.Close()
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": "the trunk could not be reached"})
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		cancelAns()
		leg.Close()
		return
	}
	c.leg, c.out, c.outCancel, c.origin = leg, dlg, cancelAns, origin
	c.mu.Unlock()
	s.log.Info("SIP calling the customer", "call_id", c.id, "interaction_id", in.InteractionID, "trunk", s.trunk.String())
	err = dlg.WaitAnswer(ansCtx, sipgo.AnswerOptions{})
	if c.isEnded() {
		return
	}
	var res *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &res):
		code := res.Res.StatusCode
		outcome(OutcomeOf(code), map[string]string{"sipStatus": strconv.Itoa(code), "reason": res.Res.Reason})
		return
	case err != nil && ansCtx.Err() != nil:
		outcome(pgstore.OutcomeNoAnswer, map[string]string{"reason": fmt.Sprintf("no answer within %v", customerAnswer)})
		return
	case err != nil:
		outcome(pgstore.OutcomeFailed, map[string]string{"reason": "the call to the customer failed"})
		return
	}
	c.mu.Lock()
	c.outCancel = nil
	c.mu.Unlock()
	// Known before the ACK goes out: the customer may hang up right after it.
	s.callsMu.Lock()
	s.byDialog[dlg.ID] = c
	s.callsMu.Unlock()
	ackCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dlg.Ack(ackCtx); err != nil {
		s.log.Warn("SIP ACK to the customer failed", "call_id", c.id, "error", err)
	}
	if stream, err := answerStream(dlg.InviteResponse); err == nil {
		_ = leg.SetFormat(stream.Law, stream.EventPayloadType)
		if stream.Remote.IsValid() {
			leg.SetRemote(stream.Remote)
		}
	}
	if err := s.bridgeAgent(c, a); err != nil {
		s.log.Error("SIP outbound call not bridged", "call_id", c.id, "error", err)
		return
	}
	s.log.Info("SIP customer answered; call connected", "call_id", c.id, "interaction_id", in.InteractionID)
}

// connectPhone completes an answered phone's leg: ACK, its SDP, its dialog known.
func (s *Server) connectPhone(c *call, a *agentLeg) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.callsMu.Lock()
	s.byDialog[a.dlg.ID] = c
	s.callsMu.Unlock()
	if err := a.dlg.Ack(ctx); err != nil {
		s.log.Warn("SIP ACK to the agent's phone failed", "call_id", c.id, "error", err)
	}
	stream, err := answerStream(a.dlg.InviteResponse)
	if err == nil {
		err = a.leg.SetFormat(stream.Law, stream.EventPayloadType)
	}
	if err != nil {
		return fmt.Errorf("the agent's phone answered without usable SDP: %w", err)
	}
	if stream.Remote.IsValid() {
		a.leg.SetRemote(stream.Remote)
	}
	c.mu.Lock()
	a.connected = true
	c.mu.Unlock()
	return nil
}

func (c *call) isEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}
