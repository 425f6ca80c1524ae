package media_test

import (
	"context"
	"errors"
	"fmt"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.temporal.io/sdk/testsuite"

	"switchboard/media"
	"switchboard/media/rtpengine"
	"switchboard/media/sdp"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// fakeInteractions records what calls tell their interactions; the workflow side is
// tested in workflows and end to end in cmd/switchboard.
type fakeInteractions struct {
	mu      sync.Mutex
	starts  []media.InboundCall
	events  chan string
	refuse  bool
	startFn func()
}

func newFakeInteractions() *fakeInteractions { return &fakeInteractions{events: make(chan string, 20)} }

func (f *fakeInteractions) StartCall(_ context.Context, c media.InboundCall) (string, error) {
	f.mu.Lock()
	f.starts = append(f.starts, c)
	fn := f.startFn
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
	return "ix-" + c.Media.CallID, nil
}

func (f *fakeInteractions) PhoneAnswered(_ context.Context, _, id, agent string) error {
	f.events <- "answered " + agent
	if f.refuse {
		return media.ErrNotApplicable
	}
	return nil
}

func (f *fakeInteractions) PhoneDeclined(_ context.Context, _, id, agent, reason string) error {
	f.events <- "declined " + agent + " " + reason
	return nil
}

func (f *fakeInteractions) ConnectedTo(context.Context, string, string) (bool, error) {
	return false, nil
}

func (f *fakeInteractions) AgentHungUp(_ context.Context, _, id, agent string) error {
	f.events <- "agent hung up " + agent
	return nil
}

func (f *fakeInteractions) CallerHungUp(_ context.Context, _, id, reason string) error {
	f.events <- "caller hung up " + reason
	return nil
}

func (f *fakeInteractions) Outcome(_ context.Context, _, id string, o pgstore.Outcome, detail map[string]string) error {
	f.events <- fmt.Sprintf("outcome %s %s", o, detail["sipStatus"])
	return nil
}

func (f *fakeInteractions) next(t *testing.T) string {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no call event within 10s")
		return ""
	}
}

// callServer is a media host with a registrar, an RTP engine and fake interactions.
type callServer struct {
	*testServer
	ix     *fakeInteractions
	agent  sipAgent
	number string
}

func startCallServer(t testing.TB, opts ...func(*media.Config)) *callServer {
	t.Helper()
	engine, err := rtpengine.New(rtpengine.Config{IP: netip.MustParseAddr("127.0.0.1"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	ix := newFakeInteractions()
	cfg := media.Config{Engine: engine, Interactions: ix, Waiting: noWaiting{}}
	for _, o := range opts {
		o(&cfg)
	}
	ts, _ := startRegistrar(t, cfg)
	a := newSIPAgent(t)
	number := "+1555" + fmt.Sprint(time.Now().UnixNano()%10_000_000)
	if _, _, err := store.PutVoiceNumber(context.Background(), a.tenant.ID, pgstore.Actor{}, pgstore.NewVoiceNumber{Number: number}); err != nil {
		t.Fatal(err)
	}
	return &callServer{testServer: ts, ix: ix, agent: a, number: number}
}

// peer is a SIP user agent of its own on a loopback port: a caller or a phone. A
// caller's dialogs end with the BYEs it receives.
type peer struct {
	ua      *sipgo.UserAgent
	client  *sipgo.Client
	port    int
	dialogs *sipgo.DialogClientCache
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	p := newBarePeer(t)
	p.serve(t, func(srv *sipgo.Server) {
		srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dialogs.ReadBye(req, tx) })
	})
	return p
}

func newBarePeer(t *testing.T) *peer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("media-test-peer"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	p := &peer{ua: ua, port: freePort(t)}
	if p.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(p.port)); err != nil {
		t.Fatal(err)
	}
	p.dialogs = sipgo.NewDialogClientCache(p.client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "caller", Host: "127.0.0.1", Port: p.port}})
	return p
}

// serve starts the peer's UDP server with handlers set by setup.
func (p *peer) serve(t *testing.T, setup func(*sipgo.Server)) {
	t.Helper()
	srv, err := sipgo.NewServer(p.ua)
	if err != nil {
		t.Fatal(err)
	}
	setup(srv)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ready := make(chan struct{})
	go func() {
		_ = srv.ListenAndServe(context.WithValue(ctx, sipgo.ListenReadyCtxKey, sipgo.ListenReadyCtxValue(ready)), "udp", fmt.Sprintf("127.0.0.1:%d", p.port))
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("peer did not listen")
	}
	// Ready is told before the socket joins the pool that requests from this
	// address (Laddr) must reuse.
	addr := fmt.Sprintf("127.0.0.1:%d", p.port)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, err := p.ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("peer's socket not in its pool")
		}
	}
}

// phone is an agent's phone that registers and answers INVITEs with answer (a
// status code; 200 answers with SDP).
type phone struct {
	*peer
	invites chan *sip.Request
	byes    chan struct{}
	// answered are the dialogs the phone answered.
	answered chan *sipgo.DialogServerSession
}

func newPhone(t *testing.T, cs *callServer, status int) *phone {
	t.Helper()
	return newPhoneOf(t, cs, cs.agent, status)
}

// newPhoneOf is newPhone for another agent of the tenant.
func newPhoneOf(t *testing.T, cs *callServer, agent sipAgent, status int) *phone {
	t.Helper()
	ph := &phone{peer: newBarePeer(t), invites: make(chan *sip.Request, 4), byes: make(chan struct{}, 4),
		answered: make(chan *sipgo.DialogServerSession, 4)}
	dialogs := sipgo.NewDialogServerCache(ph.client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: "127.0.0.1", Port: ph.port}})
	ph.serve(t, func(srv *sipgo.Server) {
		srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
			ph.invites <- req
			dlg, err := dialogs.ReadInvite(req, tx)
			if err != nil {
				t.Errorf("phone: %v", err)
				return
			}
			_ = dlg.Respond(sip.StatusRinging, "Ringing", nil)
			if status != 200 {
				_ = dlg.Respond(status, "Busy Here", nil)
				return
			}
			offer, err := sdp.Parse(req.Body())
			if err != nil {
				t.Errorf("phone got a bad offer: %v\n%s", err, req.Body())
				return
			}
			body, _, err := sdp.Answer(offer, sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: ph.port + 2, SessionID: 9, Version: 1})
			if err != nil {
				t.Errorf("phone: %v", err)
				return
			}
			if dlg.RespondSDP(body) == nil {
				ph.answered <- dlg
			}
		})
		srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = dialogs.ReadAck(req, tx) })
		srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
			_ = dialogs.ReadBye(req, tx)
			ph.byes <- struct{}{}
		})
	})
	// Register at the phone's own port.
	uri := fmt.Sprintf("sip:127.0.0.1:%d", cs.port)
	req := cs.registerRequest(agent, "UDP", agent.tenant.Slug, fmt.Sprintf("<sip:%s@127.0.0.1:%d>", agent.extension, ph.port))
	req.Laddr = sip.Addr{IP: []byte{127, 0, 0, 1}, Port: ph.port}
	chal := challenges(t, sendReq(t, ph.client, req))
	if res := resend(t, ph.client, req, answer(chal["SHA-256"], agent.extension, agent.password, "REGISTER", uri, "00000001")); res.StatusCode != 200 {
		t.Fatalf("phone registration: %d", res.StatusCode)
	}
	return ph
}

func (p *phone) nextInvite(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case r := <-p.invites:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the phone did not ring")
		return nil
	}
}

// dial calls number from a caller peer with an SDP offer, or body when not nil.
func (cs *callServer) dial(t *testing.T, caller *peer, number string, body []byte) (*sipgo.DialogClientSession, error) {
	t.Helper()
	if body == nil {
		body = sdp.Offer(sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: caller.port + 2, SessionID: 5, Version: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1", Port: cs.port})
	req.Laddr = sip.Addr{IP: []byte{127, 0, 0, 1}, Port: caller.port}
	req.AppendHeader(&sip.FromHeader{DisplayName: "Ann Caller", Address: sip.Uri{Scheme: "sip", User: "+15550001111", Host: "127.0.0.1"},
		Params: func() sip.HeaderParams { p := sip.NewParams(); p.Add("tag", sip.GenerateTagN(8)); return p }()})
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	dlg, err := caller.dialogs.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return dlg, err
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return dlg, nil
}

// An INVITE to a tenant's number is answered with SDP and starts the interaction;
// the offer rings the agent's registered phone, whose answer accepts it; the caller's
// BYE reaches the interaction and hangs up the phone.
func TestInboundCallRingsAgentPhone(t *testing.T) {
	cs := startCallServer(t)
	ph := newPhone(t, cs, 200)
	caller := newPeer(t)
	dlg, err := cs.dial(t, caller, strings.TrimPrefix(cs.number, "+"), nil)
	if err != nil {
		t.Fatalf("call not answered: %v", err)
	}
	ans, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("answer SDP: %v\n%s", err, dlg.InviteResponse.Body())
	}
	stream, err := sdp.ReadAnswer(ans)
	if err != nil || !stream.Remote.IsValid() || stream.Remote.Addr().String() != "127.0.0.1" {
		t.Fatalf("answer stream %+v, %v", stream, err)
	}
	cs.ix.mu.Lock()
	start := cs.ix.starts[0]
	cs.ix.mu.Unlock()
	if start.TenantID != cs.agent.tenant.ID || start.To != cs.number || start.From != "+15550001111" || start.CallerName != "Ann Caller" ||
		start.Media.TaskQueue != workflows.MediaTaskQueue("media-test-host") || start.Media.CallID == "" || !strings.HasPrefix(start.RequestID, "sip:") {
		t.Fatalf("interaction start %+v", start)
	}

	res, err := cs.srv.RingAgent(context.Background(), workflows.MediaRingRequest{CallID: start.Media.CallID, TenantID: cs.agent.tenant.ID,
		InteractionID: "ix-" + start.Media.CallID, AgentID: cs.agent.agentID, Attempt: 1, RingUntil: time.Now().Add(10 * time.Second), From: "+15550001111"})
	if err != nil || res.Phones != 1 {
		t.Fatalf("RingAgent = %+v, %v", res, err)
	}
	invite := ph.nextInvite(t)
	if from := invite.From(); from == nil || from.DisplayName != "+15550001111" {
		t.Errorf("the phone shows %v", invite.From())
	}
	if got := cs.ix.next(t); got != "answered "+cs.agent.agentID {
		t.Fatalf("event %q", got)
	}
	// Hold from either side is a re-INVITE: answered within the dialog, as the same
	// session in a new version.
	holdOffer := func(port int) []byte {
		return []byte(fmt.Sprintf("v=0\r\no=- 5 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
			"m=audio %d RTP/AVP 0\r\na=sendonly\r\n", port))
	}
	checkHold := func(who string, res *sip.Response, err error, origin string) {
		t.Helper()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s re-INVITE: %v %v", who, res, err)
		}
		body := string(res.Body())
		if !strings.Contains(body, "a=recvonly") || !strings.HasPrefix(strings.SplitN(body, "\r\n", 3)[1], origin) {
			t.Errorf("%s hold answered:\n%s", who, body)
		}
	}
	firstOrigin := strings.SplitN(string(dlg.InviteResponse.Body()), "\r\n", 3)[1]
	sessionID := strings.Fields(firstOrigin)[1]
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	reinvite := sip.NewRequest(sip.INVITE, dlg.InviteResponse.Contact().Address)
	reinvite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	reinvite.SetBody(holdOffer(caller.port + 2))
	res2, err := dlg.Do(hctx, reinvite)
	checkHold("caller", res2, err, "o=switchboard "+sessionID+" 2 ")
	var phoneDlg *sipgo.DialogServerSession
	select {
	case phoneDlg = <-ph.answered:
	case <-time.After(5 * time.Second):
		t.Fatal("no answered phone dialog")
	}
	preinvite := sip.NewRequest(sip.INVITE, phoneDlg.InviteRequest.Contact().Address)
	preinvite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	preinvite.SetBody(holdOffer(ph.port + 2))
	res3, err := phoneDlg.Do(hctx, preinvite)
	checkHold("phone", res3, err, "o=switchboard ")

	// Hold from the desktop: the caller hears hold music instead of the agent.
	for _, hold := range []bool{true, false} {
		if err := cs.srv.Hold(context.Background(), workflows.MediaHoldRequest{CallID: start.Media.CallID, Hold: hold}); err != nil {
			t.Fatalf("hold %v: %v", hold, err)
		}
	}

	// The same offer rung again (a retried activity) rings nothing more.
	if res, _ := cs.srv.RingAgent(context.Background(), workflows.MediaRingRequest{CallID: start.Media.CallID, TenantID: cs.agent.tenant.ID,
		AgentID: cs.agent.agentID, Attempt: 1, RingUntil: time.Now().Add(10 * time.Second)}); res.Phones != 1 {
		t.Errorf("repeated ring: %+v", res)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		t.Fatalf("caller BYE: %v", err)
	}
	if got := cs.ix.next(t); got != "caller hung up the caller hung up" {
		t.Fatalf("event %q", got)
	}
	select {
	case <-ph.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the phone was not hung up")
	}
	// The call is gone: ringing for it again reports so.
	if res, err := cs.srv.RingAgent(context.Background(), workflows.MediaRingRequest{CallID: start.Media.CallID, AgentID: cs.agent.agentID, Attempt: 2}); err != nil || !res.Gone {
		t.Errorf("ring after the end: %+v, %v", res, err)
	}
}

// A busy phone declines the offer; an agent without a phone declines at once; the
// workflow hanging up the call sends the caller a BYE.
func TestInboundCallDeclinesAndHangup(t *testing.T) {
	cs := startCallServer(t)
	other := addSIPAgent(t, cs.agent.tenant, "1009")
	newPhone(t, cs, 486)
	caller := newPeer(t)
	dlg, err := cs.dial(t, caller, cs.number, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs.ix.mu.Lock()
	callID := cs.ix.starts[0].Media.CallID
	cs.ix.mu.Unlock()
	ring := func(agent string, attempt int) workflows.MediaRingResult {
		res, err := cs.srv.RingAgent(context.Background(), workflows.MediaRingRequest{CallID: callID, TenantID: cs.agent.tenant.ID,
			InteractionID: "ix", AgentID: agent, Attempt: attempt, RingUntil: time.Now().Add(10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := ring(other.agentID, 1); res.Phones != 0 {
		t.Fatalf("an agent without a phone rang: %+v", res)
	}
	if got := cs.ix.next(t); got != "declined "+other.agentID+" the agent has no registered phone" {
		t.Fatalf("event %q", got)
	}
	if res := ring(cs.agent.agentID, 2); res.Phones != 1 {
		t.Fatalf("ring: %+v", res)
	}
	if got := cs.ix.next(t); got != "declined "+cs.agent.agentID+" the phone answered 486 Busy Here" {
		t.Fatalf("event %q", got)
	}
	// The call's watch runs until the call ends.
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	cs.srv.RegisterActivities(env)
	// The watch's first heartbeat says it found the call and watches it.
	watching := make(chan struct{})
	var beat sync.Once
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beat.Do(func() { close(watching) }) })
	watched := make(chan workflows.MediaWatchResult, 1)
	go func() {
		v, err := env.ExecuteActivity(workflows.MediaWatchActivity, workflows.MediaWatchRequest{CallID: callID})
		var res workflows.MediaWatchResult
		if err == nil {
			err = v.Get(&res)
		}
		if err != nil {
			t.Errorf("watch: %v", err)
		}
		watched <- res
	}()
	select {
	case <-watched:
		t.Fatal("the watch ended while the call lives")
	case <-watching:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch never started watching the call")
	}
	if err := cs.srv.Hangup(context.Background(), workflows.MediaHangupRequest{CallID: callID, Reason: "max wait"}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-watched:
		if res.Gone {
			t.Errorf("watch of a call that ended: %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with the call")
	}
	v, err := env.ExecuteActivity(workflows.MediaWatchActivity, workflows.MediaWatchRequest{CallID: callID})
	var gone workflows.MediaWatchResult
	if err == nil {
		err = v.Get(&gone)
	}
	if err != nil || !gone.Gone {
		t.Errorf("watch of a call the host does not have: %+v, %v", gone, err)
	}
	select {
	case <-dlg.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the caller got no BYE")
	}
	// Hanging up again is harmless.
	if err := cs.srv.Hangup(context.Background(), workflows.MediaHangupRequest{CallID: callID}); err != nil {
		t.Fatal(err)
	}
}

// What an INVITE may not get: a number nobody has, no offer, an offer without G.711,
// a body that is not SDP.
func TestInboundCallRefusals(t *testing.T) {
	cs := startCallServer(t)
	caller := newPeer(t)
	g729 := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n")
	for _, tc := range []struct {
		name    string
		number  string
		body    []byte
		code    int
		warning string
	}{
		{"unknown number", "+15550000000", nil, 404, ""},
		{"no common codec", cs.number, g729, 488, "305 "},
		{"malformed SDP", cs.number, []byte("v=0\r\nthis is not sdp\r\n"), 488, "399 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dlg, err := cs.dial(t, caller, tc.number, tc.body)
			var res *sipgo.ErrDialogResponse
			if err == nil || !asDialogResponse(err, &res) || res.Res.StatusCode != tc.code {
				t.Fatalf("got %v, want %d", err, tc.code)
			}
			if w := header(res.Res, "Warning"); tc.warning != "" && !strings.HasPrefix(w, tc.warning) {
				t.Errorf("Warning %q, want code %s", w, tc.warning)
			}
			_ = dlg
		})
	}
	cs.ix.mu.Lock()
	defer cs.ix.mu.Unlock()
	if len(cs.ix.starts) != 0 {
		t.Errorf("refused calls started interactions: %+v", cs.ix.starts)
	}
}

func asDialogResponse(err error, target **sipgo.ErrDialogResponse) bool {
	return errors.As(err, target)
}

// No toll fraud: an INVITE from anyone, registered phone or not, to a number that is
// not one of the tenants' is refused, and nothing it names is dialled — not its
// Request-URI, not a Route, not its Contact. The trap listens where such a request
// would be sent.
func TestInviteNeverDialsOut(t *testing.T) {
	cs := startCallServer(t)
	newPhone(t, cs, 200) // a registered phone trying to call out
	trap, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer trap.Close()
	trapAddr := trap.LocalAddr().String()
	got := make(chan string, 10)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := trap.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- fmt.Sprintf("%d bytes from %v", n, from)
		}
	}()
	for _, target := range []string{
		"sip:+19005550100@" + trapAddr,
		"sip:011441234567890@127.0.0.1;user=phone",
		"sip:+19005550100@127.0.0.1:" + fmt.Sprint(cs.port),
		"tel:+19005550100",
	} {
		for _, transport := range []string{"UDP", "TCP"} {
			req := rawRequest(transport, "INVITE", target, "SIP/2.0", "INVITE",
				"Route: <sip:"+trapAddr+";lr>", "Contact: <sip:victim@"+trapAddr+">")
			res := cs.exchange(t, strings.ToLower(transport), req, 2*time.Second, 1)
			if code := finalStatus(res); code != 404 && code != 416 {
				t.Errorf("INVITE %s over %s: answered %d, want 404 (or 416 for tel:)", target, transport, code)
			}
		}
	}
	select {
	case m := <-got:
		t.Fatalf("the host sent %s to the address an INVITE named", m)
	case <-time.After(500 * time.Millisecond):
	}
	cs.ix.mu.Lock()
	defer cs.ix.mu.Unlock()
	if len(cs.ix.starts) != 0 {
		t.Errorf("refused INVITEs started interactions: %+v", cs.ix.starts)
	}
}

// A delayed offer: the INVITE without SDP is answered with the host's offer, the
// ACK's answer sets the call's media, and the call is otherwise like any other.
func TestInboundCallDelayedOffer(t *testing.T) {
	cs := startCallServer(t)
	for _, tc := range []struct{ name, mode string }{{"UDP", "u1"}, {"TCP", "t1"}} {
		t.Run(tc.name, func(t *testing.T) {
			runSIPp(t, cs.testServer, tc.mode, "delayed_offer.xml", 1, "-s", strings.TrimPrefix(cs.number, "+"))
			if got := cs.ix.next(t); got != "caller hung up the caller hung up" {
				t.Fatalf("event %q", got)
			}
		})
	}
}

// A cold transfer: the first agent's phone is taken off the call (BYE), the
// target's rings and, answered, is bridged to the caller.
func TestInboundCallTransfer(t *testing.T) {
	cs := startCallServer(t)
	bo := addSIPAgent(t, cs.agent.tenant, "1002")
	anaPhone := newPhone(t, cs, 200)
	boPhone := newPhoneOf(t, cs, bo, 200)
	caller := newPeer(t)
	if _, err := cs.dial(t, caller, cs.number, nil); err != nil {
		t.Fatal(err)
	}
	cs.ix.mu.Lock()
	callID := cs.ix.starts[0].Media.CallID
	cs.ix.mu.Unlock()
	ring := func(agent string, attempt int) {
		t.Helper()
		res, err := cs.srv.RingAgent(context.Background(), workflows.MediaRingRequest{CallID: callID, TenantID: cs.agent.tenant.ID,
			InteractionID: "ix", AgentID: agent, Attempt: attempt, RingUntil: time.Now().Add(10 * time.Second)})
		if err != nil || res.Phones != 1 {
			t.Fatalf("ring %s: %+v, %v", agent, res, err)
		}
	}
	ring(cs.agent.agentID, 1)
	anaPhone.nextInvite(t)
	if got := cs.ix.next(t); got != "answered "+cs.agent.agentID {
		t.Fatalf("event %q", got)
	}
	if err := cs.srv.StopRinging(context.Background(), workflows.MediaStopRequest{CallID: callID, AgentID: cs.agent.agentID}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-anaPhone.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the transferring agent's phone stayed on the call")
	}
	ring(bo.agentID, 2)
	boPhone.nextInvite(t)
	if got := cs.ix.next(t); got != "answered "+bo.agentID {
		t.Fatalf("event %q", got)
	}
}
