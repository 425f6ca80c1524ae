package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.temporal.io/sdk/activity"

	"switchboard/media/g711"
	"switchboard/media/rtpengine"
	"switchboard/media/sdp"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// Calls: how an INVITE becomes an interaction and how the interaction's workflow
// drives the call is told in workflows/media.go. This file is the media host's side:
// the caller's dialog and RTP leg, the INVITE to the agent's registered phone, the
// bridge between the two, and the activities the workflow calls.
//
// Toll fraud: an INVITE is only ever answered when it calls one of the numbers
// configured for a tenant, and nothing an INVITE names is ever dialled: the only
// INVITEs this host sends go to phones registered (with digest authentication)
// by agents, for offers the interaction's workflow makes.

// InboundCall is a call answered on a tenant's number, for the interaction to start.
type InboundCall struct {
	TenantID   string
	CampaignID string
	From, To   string
	CallerName string
	// RequestID makes a repeated start (a retransmitted INVITE) name the same
	// interaction.
	RequestID string
	Media     workflows.MediaCall
}

// Interactions is how calls reach their interactions' workflows.
type Interactions interface {
	// StartCall starts the interaction of an inbound call and returns its ID.
	StartCall(ctx context.Context, call InboundCall) (string, error)
	// PhoneAnswered accepts the offer for the agent whose phone answered.
	PhoneAnswered(ctx context.Context, tenantID, interactionID, agentID string) error
	// PhoneDeclined rejects the offer for the agent whose phone declined it, or who
	// has none.
	PhoneDeclined(ctx context.Context, tenantID, interactionID, agentID, reason string) error
	// ConnectedTo reports whether the interaction is connected to the agent.
	ConnectedTo(ctx context.Context, interactionID, agentID string) (bool, error)
	// AgentHungUp ends the interaction as the agent.
	AgentHungUp(ctx context.Context, tenantID, interactionID, agentID string) error
	// CallerHungUp tells the interaction the caller left.
	CallerHungUp(ctx context.Context, tenantID, interactionID, reason string) error
	// Outcome tells an outbound interaction how its call ended before an answer
	// (pgstore.OutcomeBusy, OutcomeNoAnswer, OutcomeFailed), with the SIP status.
	Outcome(ctx context.Context, tenantID, interactionID string, outcome pgstore.Outcome, detail map[string]string) error
}

// ackTimeout is how long an answered call waits for the caller's ACK (RFC 3261
// §13.3.1.4: 64*T1 with T1 = 500 ms) before it is hung up; sipgo's answer waits
// that long.
const ackTimeout = 32 * time.Second

// startTimeout bounds starting the interaction while the caller waits for the answer.
const startTimeout = 8 * time.Second

// call is one answered call on this host.
type call struct {
	s             *Server
	id            string // the caller leg's Call-ID
	tenantID      string
	interactionID string
	transport     string
	dlg           *sipgo.DialogServerSession
	leg           *rtpengine.Leg
	stream        sdp.Stream
	from          string

	mu     sync.Mutex
	agent  *agentLeg
	bridge *rtpengine.Bridge
	ended  bool
	// done is closed when the call ends.
	done chan struct{}
	// delayed: the caller's INVITE had no offer; its answer comes in the ACK.
	delayed bool
	// origin is the o= line of the caller's (or outbound customer's) leg.
	origin sdpOrigin
	// out is the customer's leg of an outbound call (dlg is nil then), and
	// outCancel stops it while it rings.
	out       *sipgo.DialogClientSession
	outCancel context.CancelFunc
}

// finish marks the call ended, once; callers hold mu.
func (c *call) finish() {
	if !c.ended {
		c.ended = true
		close(c.done)
	}
}

// agentLeg is the INVITE to an agent's phone for one offer, and once answered the
// agent's side of the call.
type agentLeg struct {
	origin    sdpOrigin
	agentID   string
	attempt   int
	dlg       *sipgo.DialogClientSession
	leg       *rtpengine.Leg
	cancel    context.CancelFunc
	stopped   bool
	connected bool
}

func (s *Server) callsEnabled() bool { return s.engine != nil && s.ix != nil && s.dir != nil }

func (s *Server) findCall(callID string) *call {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	return s.calls[callID]
}

// dialogUA is the dialog user agent for a transport: its Contact names it. Requests
// within dialogs go to the peer's source address, never its Contact, which a caller
// may set to anything (RewriteContact).
func (s *Server) dialogUA(transport string) *sipgo.DialogUA {
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "switchboard", Host: s.advertise.String(), Port: s.port}}
	if strings.EqualFold(transport, "TCP") {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", "tcp")
	}
	return &sipgo.DialogUA{Client: s.client, ContactHDR: contact, RewriteContact: true}
}

// onInvite answers an INVITE to one of the tenants' numbers: it negotiates the
// media, starts the interaction and answers with SDP; everything else is refused.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReInvite(req, tx)
		return
	}
	if !strings.EqualFold(req.Recipient.Scheme, "sip") && !strings.EqualFold(req.Recipient.Scheme, "sips") {
		s.respond(req, tx, 416, "Unsupported URI Scheme")
		return
	}
	if tags := unsupportedRequired(req); len(tags) > 0 {
		s.respond(req, tx, sip.StatusBadExtension, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
		return
	}
	if req.Contact() == nil {
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request (no Contact)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	num, err := s.dir.VoiceNumberFor(ctx, req.Recipient.User)
	cancel()
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		s.log.Info("SIP INVITE to a number no tenant has; refused", "number", clipText(req.Recipient.User, 40), "source", req.Source())
		s.respond(req, tx, sip.StatusNotFound, "Not Found")
		return
	case err != nil:
		s.storeFailed(req, tx, "number lookup", err)
		return
	}
	// An INVITE without SDP is a delayed offer (RFC 3261 §13.2.1): the answer
	// carries this host's offer and the ACK the caller's answer.
	body := req.Body()
	delayed := len(body) == 0
	var (
		offer *sdp.Session
		first = sdp.Stream{Codec: sdp.Codec{Law: g711.ULaw, PayloadType: rtpengine.PayloadPCMU, EventPayloadType: sdp.DefaultEventPayloadType}}
	)
	if !delayed {
		if ct := req.ContentType(); ct == nil || !isSDP(ct.Value()) {
			s.respond(req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
			return
		}
		if offer, err = sdp.Parse(body); err != nil {
			s.refuseSDP(req, tx, err)
			return
		}
		// The stream first, to open the leg with its law; then the answer with its port.
		if _, first, err = sdp.Answer(offer, sdp.Local{Addr: s.advertise}); err != nil {
			s.refuseSDP(req, tx, err)
			return
		}
	}
	if err := tx.Respond(sip.NewResponseFromRequest(req, sip.StatusTrying, "Trying", nil)); err != nil {
		return // the transaction is gone: nothing to answer
	}
	callID := callID(req)
	leg, err := s.engine.NewLeg(rtpengine.LegConfig{Law: first.Law, EventPayloadType: first.EventPayloadType, Name: callID + "/caller"})
	if err != nil {
		s.log.Warn("SIP INVITE refused: no RTP port", "error", err)
		s.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "10"))
		return
	}
	local := sdp.Local{Addr: s.advertise, Port: int(leg.LocalAddr().Port()), SessionID: rand.Uint64() >> 1, Version: 1}
	answer, stream := sdp.Offer(local), first
	if !delayed {
		if answer, stream, err = sdp.Answer(offer, local); err != nil {
			leg.Close()
			s.refuseSDP(req, tx, err)
			return
		}
	}
	if stream.Remote.IsValid() {
		leg.SetRemote(stream.Remote)
	}
	dlg, err := s.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		leg.Close()
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	c := &call{s: s, id: callID, tenantID: num.TenantID, transport: req.Transport(), dlg: dlg, leg: leg, stream: stream,
		from: callerOf(req), done: make(chan struct{}), delayed: delayed, origin: sdpOrigin{local.SessionID, local.Version}}
	s.callsMu.Lock()
	if _, dup := s.calls[callID]; dup {
		s.callsMu.Unlock()
		leg.Close()
		// A second INVITE of an answered Call-ID with another branch: a loop or a
		// retransmission that missed its transaction.
		s.respond(req, tx, 482, "Loop Detected")
		return
	}
	s.calls[callID] = c
	s.byDialog[dlg.ID] = c
	s.callsMu.Unlock()

	fromTag, _ := req.From().Params.Get("tag")
	name := ""
	if f := req.From(); f != nil {
		name = f.DisplayName
	}
	startCtx, cancelStart := context.WithTimeout(context.Background(), startTimeout)
	id, err := s.ix.StartCall(startCtx, InboundCall{TenantID: num.TenantID, CampaignID: num.CampaignID, From: c.from,
		To: num.Number, CallerName: name, RequestID: "sip:" + callID + ";" + fromTag,
		Media: workflows.MediaCall{TaskQueue: workflows.MediaTaskQueue(s.host), CallID: callID}})
	cancelStart()
	if err != nil {
		s.log.Warn("SIP INVITE refused: the interaction did not start", "call_id", callID, "tenant_id", num.TenantID, "error", err)
		c.drop()
		_ = dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil, sip.NewHeader("Retry-After", "5"))
		return
	}
	c.mu.Lock()
	c.interactionID = id
	c.mu.Unlock()
	if dlg.Context().Err() != nil {
		// CANCEL while the interaction started: 487 has gone out.
		c.drop()
		s.tellAsync(func(ctx context.Context) error {
			return s.ix.CallerHungUp(ctx, c.tenantID, id, "the caller hung up before the answer")
		})
		return
	}
	// The answer is retransmitted until the caller's ACK, which it waits for.
	answered := time.Now()
	if err := dlg.RespondSDP(answer); err != nil || time.Since(answered) >= ackTimeout-time.Second {
		if c.isEnded() {
			return // the caller's BYE overtook its ACK: the call is over already
		}
		// No ACK: the answer could not be sent, or it went unacknowledged for
		// 64*T1, after which the session is to be ended (RFC 3261 §13.3.1.4).
		s.log.Warn("SIP answer not acknowledged; the call is hung up", "call_id", callID, "error", err)
		c.hangup("the caller never acknowledged the answer", err == nil)
		s.tellAsync(func(ctx context.Context) error {
			return s.ix.CallerHungUp(ctx, c.tenantID, id, "the answer was not acknowledged")
		})
		return
	}
	s.log.Info("SIP call answered", "call_id", callID, "tenant_id", num.TenantID, "interaction_id", id, "number", num.Number,
		"from", c.from, "law", stream.Law.String(), "rtp", leg.LocalAddr().String())
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		s.playWaiting(c)
	}()
}

func isSDP(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/sdp"
}

// callerOf is who calls: the From URI's user (a number), else the whole URI.
func callerOf(req *sip.Request) string {
	f := req.From()
	if f == nil {
		return ""
	}
	if f.Address.User != "" {
		return clipText(f.Address.User, 64)
	}
	return clipText(f.Address.Host, 64)
}

func (s *Server) warning(code int, text string) sip.Header {
	text = strings.NewReplacer(`"`, "'", "\r", " ", "\n", " ").Replace(text)
	return sip.NewHeader("Warning", fmt.Sprintf(`%d %s "%s"`, code, s.advertise, text))
}

// refuseSDP answers 488 with the Warning the SDP error carries (RFC 3261 §21.4.26).
func (s *Server) refuseSDP(req *sip.Request, tx sip.ServerTransaction, err error) {
	code, text := sdp.WarnMisc, err.Error()
	var e *sdp.Error
	if errors.As(err, &e) {
		code, text = e.Code, e.Text
	}
	s.log.Info("SIP INVITE refused: SDP", "call_id", callID(req), "source", req.Source(), "warning", code, "why", text)
	s.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here", s.warning(code, text))
}

// onReInvite answers an INVITE within a dialog (a session refresh, or the caller's
// hold) with the call's current description; its media may move.
func (s *Server) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c, leg, origin := s.dialogLeg(req)
	if c == nil {
		s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if len(req.Body()) == 0 {
		s.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here", s.warning(sdp.WarnMisc, "an SDP offer is required"))
		return
	}
	offer, err := sdp.Parse(req.Body())
	var (
		answer []byte
		stream sdp.Stream
	)
	if err == nil {
		c.mu.Lock()
		// RFC 3264 §8: the same session, a new version of it.
		origin.version++
		local := sdp.Local{Addr: s.advertise, Port: int(leg.LocalAddr().Port()), SessionID: origin.id, Version: origin.version}
		c.mu.Unlock()
		answer, stream, err = sdp.Answer(offer, local)
	}
	if err != nil {
		s.refuseSDP(req, tx, err)
		return
	}
	if stream.Remote.IsValid() {
		leg.SetRemote(stream.Remote)
	}
	res := sip.NewSDPResponseFromRequest(req, answer)
	res.AppendHeader(&c.s.dialogUA(req.Transport()).ContactHDR)
	if err := tx.Respond(res); err != nil {
		s.log.Warn("SIP re-INVITE answer not sent", "call_id", c.id, "error", err)
		return
	}
	s.log.Info("SIP session changed by the peer", "call_id", c.id, "direction", string(stream.Direction))
}

// sdpOrigin is this host's o= line of one leg: its session ID and the version of
// the last description it sent.
type sdpOrigin struct{ id, version uint64 }

// dialogLeg finds the call, RTP leg and SDP origin of the dialog an in-dialog
// request belongs to: the caller's (this host answered it), or an agent's phone or
// an outbound customer's (this host called them).
func (s *Server) dialogLeg(req *sip.Request) (*call, *rtpengine.Leg, *sdpOrigin) {
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		s.callsMu.Lock()
		c := s.byDialog[id]
		s.callsMu.Unlock()
		if c != nil && c.dlg != nil && c.dlg.ID == id {
			return c, c.leg, &c.origin
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		s.callsMu.Lock()
		c := s.byDialog[id]
		s.callsMu.Unlock()
		if c != nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if a := c.agent; a != nil && a.dlg.ID == id {
				return c, a.leg, &a.origin
			}
			if c.out != nil && c.out.ID == id && c.leg != nil {
				return c, c.leg, &c.origin
			}
		}
	}
	return nil, nil, nil
}

// onAck confirms an answered call's dialog; other ACKs need nothing.
func (s *Server) onAckCall(req *sip.Request, tx sip.ServerTransaction) bool {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return false
	}
	s.callsMu.Lock()
	c := s.byDialog[id]
	s.callsMu.Unlock()
	if c == nil || c.dlg == nil || c.dlg.ID != id {
		return false
	}
	if err := c.dlg.ReadAck(req, tx); err != nil {
		s.log.Debug("SIP ACK does not fit its call", "call_id", c.id, "error", err)
		return true
	}
	c.mu.Lock()
	delayed := c.delayed
	c.delayed = false
	c.mu.Unlock()
	if delayed {
		s.readAckAnswer(c, req)
	}
	return true
}

// readAckAnswer takes the caller's answer to a delayed offer from the ACK; without
// a usable one the session ends (RFC 3261 §13.2.1 leaves the UAS only a BYE).
func (s *Server) readAckAnswer(c *call, ack *sip.Request) {
	var stream sdp.Stream
	desc, err := sdp.Parse(ack.Body())
	if err == nil {
		stream, err = sdp.ReadAnswer(desc)
	}
	if err == nil {
		err = c.leg.SetFormat(stream.Law, stream.EventPayloadType)
	}
	if err != nil {
		s.log.Info("SIP ACK carried no usable answer; the call is hung up", "call_id", c.id, "error", err)
		go func() {
			c.hangup("the caller's ACK carried no usable SDP answer", true)
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.CallerHungUp(ctx, c.tenantID, c.interactionID, "the caller's answer had no usable media")
			})
		}()
		return
	}
	if stream.Remote.IsValid() {
		c.leg.SetRemote(stream.Remote)
	}
	c.mu.Lock()
	c.stream = stream
	c.mu.Unlock()
}

// onBye ends a call from either side: the caller (its interaction hears the caller
// left) or the agent's phone (the agent ended it).
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		s.callsMu.Lock()
		c := s.byDialog[id]
		s.callsMu.Unlock()
		if c != nil && c.dlg != nil && c.dlg.ID == id {
			if err := c.dlg.ReadBye(req, tx); err != nil {
				s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
				return
			}
			s.log.Info("SIP caller hung up", "call_id", c.id, "interaction_id", c.interactionID)
			c.hangup("the caller hung up", false)
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.CallerHungUp(ctx, c.tenantID, c.interactionID, "the caller hung up")
			})
			return
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		s.callsMu.Lock()
		c := s.byDialog[id]
		s.callsMu.Unlock()
		if c != nil {
			c.mu.Lock()
			a, out := c.agent, c.out
			c.mu.Unlock()
			if out != nil && out.ID == id {
				if err := out.ReadBye(req, tx); err != nil {
					s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
					return
				}
				s.log.Info("SIP customer hung up", "call_id", c.id, "interaction_id", c.interactionID)
				c.hangup("the customer hung up", false)
				s.tellAsync(func(ctx context.Context) error {
					return s.ix.CallerHungUp(ctx, c.tenantID, c.interactionID, "the customer hung up")
				})
				return
			}
			if a != nil && a.dlg.ID == id {
				if err := a.dlg.ReadBye(req, tx); err != nil {
					s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
					return
				}
				s.log.Info("SIP agent hung up", "call_id", c.id, "interaction_id", c.interactionID, "agent_id", a.agentID)
				c.hangup("the agent hung up", true)
				s.tellAsync(func(ctx context.Context) error {
					return s.ix.AgentHungUp(ctx, c.tenantID, c.interactionID, a.agentID)
				})
				return
			}
		}
	}
	s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// tellAsync runs a call to an interaction's workflow off the SIP handler, retried a
// few times: the workflow may be busy, and the SIP side must not wait for it.
func (s *Server) tellAsync(fn func(ctx context.Context) error) {
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		var err error
		for attempt := range 4 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = fn(ctx)
			cancel()
			if err == nil || errors.Is(err, ErrNotApplicable) {
				return
			}
			time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
		}
		s.log.Warn("interaction not told of a call event", "error", err)
	}()
}

// ErrNotApplicable is an answer of an interaction that makes retrying pointless
// (the offer moved on, the interaction is over).
var ErrNotApplicable = errors.New("media: the interaction no longer expects this")

// drop forgets a call that was never answered, freeing its leg.
func (c *call) drop() {
	c.mu.Lock()
	c.finish()
	c.mu.Unlock()
	c.forget()
	if c.leg != nil {
		c.leg.Close()
	}
	if c.dlg != nil {
		_ = c.dlg.Close()
	}
}

func (c *call) forget() {
	c.s.callsMu.Lock()
	defer c.s.callsMu.Unlock()
	if c.s.calls[c.id] == c {
		delete(c.s.calls, c.id)
	}
	for id, x := range c.s.byDialog {
		if x == c {
			delete(c.s.byDialog, id)
		}
	}
}

// hangup ends every leg of the call: a ringing phone is cancelled, an answered one
// and (when byeCaller) the caller get a BYE. Repeating it does nothing.
func (c *call) hangup(reason string, byeCaller bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.finish()
	a, b := c.agent, c.bridge
	c.agent, c.bridge = nil, nil
	c.mu.Unlock()
	c.forget()
	if b != nil {
		_ = b.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a != nil {
		c.s.endAgentLeg(ctx, c, a)
	}
	if c.dlg != nil {
		if byeCaller && c.dlg.LoadState() >= sip.DialogStateEstablished {
			if err := c.dlg.Bye(ctx); err != nil {
				c.s.log.Debug("SIP BYE to the caller failed", "call_id", c.id, "error", err)
			}
		}
		_ = c.dlg.Close()
	}
	c.mu.Lock()
	out, outCancel := c.out, c.outCancel
	c.mu.Unlock()
	if outCancel != nil {
		outCancel() // a customer's phone still ringing gets the CANCEL
	}
	if out != nil && byeCaller && out.LoadState() >= sip.DialogStateEstablished {
		if err := out.Bye(ctx); err != nil {
			c.s.log.Debug("SIP BYE to the customer failed", "call_id", c.id, "error", err)
		}
	}
	if c.leg != nil {
		c.leg.Close()
	}
	c.s.log.Info("SIP call ended", "call_id", c.id, "interaction_id", c.interactionID, "reason", reason)
}

// endAgentLeg stops an agent's phone ringing, or hangs it up.
func (s *Server) endAgentLeg(ctx context.Context, c *call, a *agentLeg) {
	c.mu.Lock()
	connected := a.connected
	a.stopped = true
	c.mu.Unlock()
	if connected {
		if err := a.dlg.Bye(ctx); err != nil {
			s.log.Debug("SIP BYE to the agent's phone failed", "call_id", c.id, "error", err)
		}
		a.leg.Close()
		return
	}
	a.cancel() // WaitAnswer sends the CANCEL and closes the leg
}

// ActivityRegistry is where activities are registered: a Temporal worker (or a
// test environment).
type ActivityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// RegisterActivities registers the host's media activities (workflows.Media*) on
// r, the worker of the host's task queue (workflows.MediaTaskQueue(Host)).
func (s *Server) RegisterActivities(r ActivityRegistry) {
	r.RegisterActivityWithOptions(s.RingAgent, activity.RegisterOptions{Name: workflows.MediaRingAgentActivity})
	r.RegisterActivityWithOptions(s.StopRinging, activity.RegisterOptions{Name: workflows.MediaStopRingingActivity})
	r.RegisterActivityWithOptions(s.Hangup, activity.RegisterOptions{Name: workflows.MediaHangupActivity})
	r.RegisterActivityWithOptions(s.Watch, activity.RegisterOptions{Name: workflows.MediaWatchActivity})
	r.RegisterActivityWithOptions(s.Dial, activity.RegisterOptions{Name: workflows.MediaDialActivity})
	r.RegisterActivityWithOptions(s.Hold, activity.RegisterOptions{Name: workflows.MediaHoldActivity})
}

// watchBeat is how often Watch heartbeats: well inside the workflow's heartbeat
// timeout.
const watchBeat = 3 * time.Second

// Watch heartbeats while the call lives and returns when it ends; the host's death
// stops the heartbeats, which tells the interaction its call is gone.
func (s *Server) Watch(ctx context.Context, in workflows.MediaWatchRequest) (workflows.MediaWatchResult, error) {
	c := s.findCall(in.CallID)
	if c == nil {
		return workflows.MediaWatchResult{Gone: true}, nil
	}
	t := time.NewTicker(watchBeat)
	defer t.Stop()
	for {
		activity.RecordHeartbeat(ctx)
		select {
		case <-c.done:
			return workflows.MediaWatchResult{}, nil
		case <-ctx.Done():
			return workflows.MediaWatchResult{}, ctx.Err()
		case <-t.C:
		}
	}
}

// Host is the name of this media host (its task queue is workflows.MediaTaskQueue(Host())).
func (s *Server) Host() string { return s.host }

// RingAgent rings the agent's most recently registered phone for an offer; what the
// phone does comes back to the interaction as the agent's answer. An agent without
// a phone declines at once. Repeating it for the same offer rings once.
func (s *Server) RingAgent(ctx context.Context, in workflows.MediaRingRequest) (workflows.MediaRingResult, error) {
	c := s.findCall(in.CallID)
	if c == nil {
		return workflows.MediaRingResult{Gone: true}, nil
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return workflows.MediaRingResult{Gone: true}, nil
	}
	if a := c.agent; a != nil && a.agentID == in.AgentID && a.attempt == in.Attempt {
		c.mu.Unlock()
		return workflows.MediaRingResult{Phones: 1}, nil
	}
	c.mu.Unlock()
	regs, err := s.regs.Lookup(ctx, in.TenantID, in.AgentID)
	if err != nil {
		return workflows.MediaRingResult{}, err
	}
	decline := func(reason string) {
		s.tellAsync(func(ctx context.Context) error {
			return s.ix.PhoneDeclined(ctx, in.TenantID, in.InteractionID, in.AgentID, reason)
		})
	}
	if len(regs) == 0 {
		s.log.Info("SIP offer to an agent without a registered phone; declined", "call_id", in.CallID, "agent_id", in.AgentID)
		decline("the agent has no registered phone")
		return workflows.MediaRingResult{Phones: 0}, nil
	}
	if err := s.ringPhone(c, in, regs[0]); err != nil {
		s.log.Warn("SIP INVITE to the agent's phone failed; declined", "call_id", in.CallID, "agent_id", in.AgentID, "error", err)
		decline("the agent's phone could not be reached")
		return workflows.MediaRingResult{Phones: 0}, nil
	}
	return workflows.MediaRingResult{Phones: 1}, nil
}

// ringPhone sends the INVITE to the phone at its registered source and waits for
// the answer in the background.
func (s *Server) ringPhone(c *call, in workflows.MediaRingRequest, reg Registration) error {
	ringCtx, cancel := context.WithDeadline(context.Background(), in.RingUntil.Add(2*time.Second))
	a, err := s.invitePhone(ringCtx, c, reg, in.From)
	if err != nil {
		cancel()
		return err
	}
	a.agentID, a.attempt, a.cancel = in.AgentID, in.Attempt, cancel
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		cancel()
		a.leg.Close()
		return nil
	}
	prev, b := c.agent, c.bridge
	c.agent = a
	if prev != nil && prev.connected {
		c.bridge = nil
	}
	c.mu.Unlock()
	if prev != nil {
		if prev.connected && b != nil {
			_ = b.Close()
		}
		s.endAgentLeg(context.Background(), c, prev)
	}
	s.log.Info("SIP ringing the agent's phone", "call_id", c.id, "agent_id", in.AgentID, "contact", reg.Contact, "source", reg.Source)
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		s.awaitPhone(ringCtx, c, in, a)
	}()
	return nil
}

// invitePhone opens an RTP leg and sends an INVITE with its offer to a registered
// phone, at the address the registration came from; ctx bounds the ringing. The
// phone shows caller.
func (s *Server) invitePhone(ctx context.Context, c *call, reg Registration, caller string) (*agentLeg, error) {
	var target sip.Uri
	if err := sip.ParseUri(reg.Contact, &target); err != nil {
		return nil, fmt.Errorf("registered contact %q: %w", reg.Contact, err)
	}
	leg, err := s.engine.NewLeg(rtpengine.LegConfig{Law: c.stream.Law, EventPayloadType: sdp.DefaultEventPayloadType, Name: c.id + "/agent"})
	if err != nil {
		return nil, err
	}
	req, origin := s.newInvite(target, reg.Transport, caller, leg)
	req.SetDestination(reg.Source)
	dlg, err := s.dialogUA(reg.Transport).WriteInvite(ctx, req)
	if err != nil {
		leg.Close()
		return nil, err
	}
	return &agentLeg{dlg: dlg, leg: leg, origin: origin}, nil
}

// newInvite is an INVITE to target carrying the offer of leg, from caller.
func (s *Server) newInvite(target sip.Uri, transport, caller string, leg *rtpengine.Leg) (*sip.Request, sdpOrigin) {
	origin := sdpOrigin{id: rand.Uint64() >> 1, version: 1}
	offer := sdp.Offer(sdp.Local{Addr: s.advertise, Port: int(leg.LocalAddr().Port()), SessionID: origin.id, Version: origin.version})
	req := sip.NewRequest(sip.INVITE, target)
	req.SetTransport(transport)
	if strings.EqualFold(transport, "UDP") {
		if ua, ok := s.udpAddr.(*net.UDPAddr); ok {
			// From the listening socket: a phone's NAT binding is for it.
			req.Laddr = sip.Addr{IP: ua.IP, Port: ua.Port}
		}
	}
	if caller == "" {
		caller = "anonymous"
	}
	fromParams := sip.NewParams()
	fromParams.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&sip.FromHeader{DisplayName: caller, Address: sip.Uri{Scheme: "sip", User: sipUser(caller), Host: s.advertise.String()}, Params: fromParams})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host, Port: target.Port}})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	return req, origin
}

// sipUser keeps the characters a SIP URI's user part may carry unescaped.
func sipUser(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("+-_.!~*'()", r) {
			return r
		}
		return -1
	}, s)
}

// awaitPhone waits for the phone's answer: answered → the agent accepts and the
// call is bridged; declined → the agent rejects; stopped (the offer closed) →
// nothing more.
func (s *Server) awaitPhone(ctx context.Context, c *call, in workflows.MediaRingRequest, a *agentLeg) {
	defer a.cancel()
	err := a.dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
	c.mu.Lock()
	stopped := a.stopped || c.ended
	c.mu.Unlock()
	if err != nil {
		a.leg.Close()
		s.clearAgent(c, a)
		var res *sipgo.ErrDialogResponse
		switch {
		case stopped:
		case errors.As(err, &res):
			reason := fmt.Sprintf("the phone answered %d %s", res.Res.StatusCode, res.Res.Reason)
			s.log.Info("SIP agent's phone declined", "call_id", c.id, "agent_id", a.agentID, "status", res.Res.StatusCode)
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.PhoneDeclined(ctx, in.TenantID, in.InteractionID, a.agentID, reason)
			})
		default:
			// Timed out, or the transaction failed: the workflow's ring timeout
			// closes the offer.
			s.log.Info("SIP agent's phone did not answer", "call_id", c.id, "agent_id", a.agentID, "error", err)
		}
		return
	}
	ackCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Known before the ACK goes out: the phone may hang up right after it.
	s.callsMu.Lock()
	s.byDialog[a.dlg.ID] = c
	s.callsMu.Unlock()
	if err := a.dlg.Ack(ackCtx); err != nil {
		s.log.Warn("SIP ACK to the agent's phone failed", "call_id", c.id, "error", err)
	}
	stream, err := answerStream(a.dlg.InviteResponse)
	if err == nil {
		err = a.leg.SetFormat(stream.Law, stream.EventPayloadType)
	}
	if err != nil || stopped {
		if err != nil {
			s.log.Warn("SIP agent's phone answered without usable SDP; hung up", "call_id", c.id, "error", err)
		}
		_ = a.dlg.Bye(ackCtx)
		a.leg.Close()
		s.clearAgent(c, a)
		if !stopped {
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.PhoneDeclined(ctx, in.TenantID, in.InteractionID, a.agentID, "the phone's answer carried no usable SDP")
			})
		}
		return
	}
	if stream.Remote.IsValid() {
		a.leg.SetRemote(stream.Remote)
	}
	c.mu.Lock()
	a.connected = true
	c.mu.Unlock()
	acceptCtx, cancelAccept := context.WithTimeout(context.Background(), 10*time.Second)
	err = s.ix.PhoneAnswered(acceptCtx, in.TenantID, in.InteractionID, a.agentID)
	if err != nil {
		// Accepted from the desktop meanwhile, or the offer is over.
		if ok, qerr := s.ix.ConnectedTo(acceptCtx, in.InteractionID, a.agentID); qerr == nil && ok {
			err = nil
		}
	}
	cancelAccept()
	if err != nil {
		s.log.Info("SIP agent's phone answered an offer that is over; hung up", "call_id", c.id, "agent_id", a.agentID, "error", err)
		s.endAgentLeg(ackCtx, c, a)
		s.clearAgent(c, a)
		return
	}
	if err := s.bridgeAgent(c, a); err != nil {
		s.log.Error("SIP call not bridged", "call_id", c.id, "error", err)
		return
	}
	s.log.Info("SIP call connected to the agent", "call_id", c.id, "interaction_id", in.InteractionID, "agent_id", a.agentID,
		"agent_rtp", a.leg.LocalAddr().String())
}

func (s *Server) clearAgent(c *call, a *agentLeg) {
	c.mu.Lock()
	if c.agent == a {
		c.agent = nil
	}
	c.mu.Unlock()
	if a.dlg.ID != "" {
		s.callsMu.Lock()
		if s.byDialog[a.dlg.ID] == c {
			delete(s.byDialog, a.dlg.ID)
		}
		s.callsMu.Unlock()
	}
}

func (s *Server) bridgeAgent(c *call, a *agentLeg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.agent != a {
		return errors.New("the call ended before the bridge")
	}
	if c.bridge != nil {
		_ = c.bridge.Close()
		c.bridge = nil
	}
	b := s.engine.NewBridge()
	if err := b.Add(c.leg); err != nil {
		return err
	}
	if err := b.Add(a.leg); err != nil {
		_ = b.Close()
		return err
	}
	b.ForwardDTMF(true)
	c.bridge = b
	return nil
}

func answerStream(res *sip.Response) (sdp.Stream, error) {
	if res == nil || len(res.Body()) == 0 {
		return sdp.Stream{}, errors.New("no SDP in the answer")
	}
	desc, err := sdp.Parse(res.Body())
	if err != nil {
		return sdp.Stream{}, err
	}
	return sdp.ReadAnswer(desc)
}

// StopRinging stops ringing an agent's phone for an offer that closed unanswered;
// a phone that answered just then is hung up.
func (s *Server) StopRinging(_ context.Context, in workflows.MediaStopRequest) error {
	c := s.findCall(in.CallID)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	a := c.agent
	if a == nil || a.agentID != in.AgentID || in.Attempt != 0 && a.attempt != in.Attempt {
		c.mu.Unlock()
		return nil
	}
	c.agent = nil
	b := c.bridge
	if a.connected {
		c.bridge = nil
	}
	c.mu.Unlock()
	if a.connected && b != nil {
		_ = b.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.endAgentLeg(ctx, c, a)
	s.log.Info("SIP agent's phone taken off the call", "call_id", c.id, "agent_id", in.AgentID, "connected", a.connected, "reason", in.Reason)
	if a.connected && c.dlg != nil && !c.isEnded() {
		// The caller waits again.
		s.async.Add(1)
		go func() {
			defer s.async.Done()
			s.playWaiting(c)
		}()
	}
	return nil
}

// Hangup hangs up every leg of a call; a call this host no longer has is done.
func (s *Server) Hangup(_ context.Context, in workflows.MediaHangupRequest) error {
	if c := s.findCall(in.CallID); c != nil {
		c.hangup(in.Reason, true)
	}
	return nil
}

// advertiseAddr is the address the SDP and Contact headers name: the configured
// one, the SIP listener's own when it is specific, else the host's first
// non-loopback IPv4 address, else loopback.
func advertiseAddr(configured netip.Addr, listen string) netip.Addr {
	if configured.IsValid() {
		return configured
	}
	host, _, _ := net.SplitHostPort(listen)
	if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
		return a
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, x := range addrs {
			if n, ok := x.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap().Is4() && !a.IsLoopback() {
					return a.Unmap()
				}
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// portOf is the port of a host:port.
func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// hangupAll hangs up the host's calls at shutdown: their media dies with the
// process, so the callers and phones are told rather than left in silence, and the
// interactions hear that their calls are gone.
func (s *Server) hangupAll() {
	s.callsMu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.callsMu.Unlock()
	for _, c := range calls {
		c.hangup("the media host stopped", true)
		if c.interactionID != "" {
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.CallerHungUp(ctx, c.tenantID, c.interactionID, "the media host stopped")
			})
		}
	}
	done := make(chan struct{})
	go func() { s.async.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		s.log.Warn("call events still being told after the shutdown grace period")
	}
}
