package media

import (
	"net/netip"
	"runtime/debug"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// supportedExtensions lists the option tags (RFC 3261 §19.2) this endpoint
// implements. It is empty on purpose: advertising a tag such as 100rel or
// timer before the call code implements it would invite peers to rely on it.
var supportedExtensions []string

// dispatch wraps every handler: it keeps a handler panic from killing the
// process, rejects requests that are not well-formed SIP/2.0, and lets
// shutdown wait for the handler.
func (s *Server) dispatch(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !s.inflight.enter() {
			// Shutting down; the peer's retransmission or failover handles it.
			return
		}
		defer s.inflight.leave()
		defer s.recoverHandler(req, tx)

		switch s.guard.check(sourceIP(req.Source()), req.Method, s.guard.now()) {
		case banned:
			return
		case limited:
			if !req.IsAck() {
				s.log.Debug("SIP request over its source's rate", "method", req.Method, "source", req.Source())
				s.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable (rate limited)", sip.NewHeader("Retry-After", "30"))
			}
			return
		}

		// RFC 3261 §17.2.3: an ACK never gets a response, not even an error.
		if !req.IsAck() {
			if code, reason := checkRequest(req); code != 0 {
				s.log.Debug("SIP request rejected", "status", code, "reason", reason, "method", req.Method, "source", req.Source())
				s.respond(req, tx, code, reason)
				return
			}
		}
		h(req, tx)
	}
}

// checkRequest catches what sipgo's parser lets through but RFC 3261
// requires a UAS to refuse before looking at the method.
func checkRequest(req *sip.Request) (int, string) {
	if req.SipVersion != "SIP/2.0" {
		return sip.StatusVersionNotSupported, "Version Not Supported"
	}
	// §8.1.1.5: CSeq's method must be the request's. sipgo builds the
	// transaction key from CSeq, so a mismatch could steer a request into
	// another method's transaction. sipgo upper-cases the request line's
	// method, so the comparison ignores case.
	if cseq := req.CSeq(); cseq == nil || !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return sip.StatusBadRequest, "Bad Request (CSeq method does not match)"
	}
	// An IPv6 reference must be an IPv6 address (RFC 5118 §4.10: three colons
	// before an IPv4 part are a bug of RFC 3261's ABNF, not an address).
	if h := req.Recipient.Host; strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err != nil {
			return sip.StatusBadRequest, "Bad Request (malformed IPv6 reference in the Request-URI)"
		}
	}
	// §20: these headers appear once; two of them (RFC 4475 §3.3.9, §3.3.10)
	// leave the request ambiguous, and the parser would silently keep one.
	for _, name := range singleHeaders {
		if len(req.GetHeaders(name)) > 1 {
			return sip.StatusBadRequest, "Bad Request (more than one " + name + ")"
		}
	}
	return 0, ""
}

var singleHeaders = []string{"To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"}

func (s *Server) recoverHandler(req *sip.Request, tx sip.ServerTransaction) {
	v := recover()
	if v == nil {
		return
	}
	s.log.Error("SIP handler panicked; request answered 500", "method", req.Method, "call_id", callID(req),
		"source", req.Source(), "panic", v, "stack", string(debug.Stack()))
	if req.IsAck() {
		return
	}
	// The transaction may be in any state after a panic, so responding can
	// panic as well; that must not escape either.
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("SIP 500 after handler panic failed", "method", req.Method, "panic", v)
		}
	}()
	s.respond(req, tx, sip.StatusInternalServerError, "Server Internal Error")
}

func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	// sipgo echoes the request's version, which is wrong for a 505.
	res.SipVersion = "SIP/2.0"
	res.AppendHeader(sip.NewHeader("Server", s.userAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Warn("SIP response not sent", "status", code, "method", req.Method, "call_id", callID(req),
			"source", req.Source(), "error", err)
	}
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	// §8.2.2.1
	if !strings.EqualFold(req.Recipient.Scheme, "sip") && !strings.EqualFold(req.Recipient.Scheme, "sips") {
		s.respond(req, tx, 416, "Unsupported URI Scheme")
		return
	}
	// §8.2.2.3
	if tags := unsupportedRequired(req); len(tags) > 0 {
		s.respond(req, tx, sip.StatusBadExtension, "Bad Extension",
			sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
		return
	}
	s.log.Debug("SIP OPTIONS answered", "source", req.Source(), "transport", req.Transport(), "call_id", callID(req))
	s.respond(req, tx, sip.StatusOK, "OK",
		sip.NewHeader("Allow", s.allow),
		sip.NewHeader("Accept", "application/sdp"),
		sip.NewHeader("Supported", strings.Join(supportedExtensions, ", ")),
	)
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if s.callsEnabled() && s.onAckCall(req, tx) {
		return
	}
	// ACKs for our own non-2xx final responses are absorbed by sipgo's
	// INVITE transaction; what reaches here matches none (e.g. it arrived
	// after a TCP transaction ended), and there is nothing to do.
	s.log.Debug("SIP ACK without transaction ignored", "source", req.Source(), "call_id", callID(req))
}

func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// sipgo answers a CANCEL that matches a pending INVITE itself; one that
	// reaches a handler matches nothing (§9.2).
	s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (s *Server) onNotAllowed(req *sip.Request, tx sip.ServerTransaction) {
	s.log.Debug("SIP method not allowed", "method", req.Method, "source", req.Source(), "call_id", callID(req))
	s.respond(req, tx, sip.StatusMethodNotAllowed, "Method Not Allowed", sip.NewHeader("Allow", s.allow))
}

func unsupportedRequired(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" || isSupported(tag) {
				continue
			}
			out = append(out, tag)
		}
	}
	return out
}

func isSupported(tag string) bool {
	for _, t := range supportedExtensions {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
