package media_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
	"switchboard/media/sdp"
	"switchboard/pgstore"
	"switchboard/workflows"
)

func TestOutcomeOf(t *testing.T) {
	for code, want := range map[int]pgstore.Outcome{
		486: pgstore.OutcomeBusy, 600: pgstore.OutcomeBusy,
		408: pgstore.OutcomeNoAnswer, 480: pgstore.OutcomeNoAnswer, 487: pgstore.OutcomeNoAnswer,
		403: pgstore.OutcomeFailed, 404: pgstore.OutcomeFailed, 484: pgstore.OutcomeFailed, 488: pgstore.OutcomeFailed,
		500: pgstore.OutcomeFailed, 503: pgstore.OutcomeFailed, 603: pgstore.OutcomeFailed,
	} {
		if got := media.OutcomeOf(code); got != want {
			t.Errorf("OutcomeOf(%d) = %s, want %s", code, got, want)
		}
	}
}

// trunk is a carrier's SIP gateway on a loopback port: it answers each INVITE with
// the next status of answers (200 answers with SDP and waits for the BYE).
type trunk struct {
	*peer
	invites chan *sip.Request
	dialogs *sipgo.DialogServerCache
	live    chan *sipgo.DialogServerSession
}

func newTrunk(t *testing.T, answers ...int) *trunk {
	t.Helper()
	tr := &trunk{peer: newBarePeer(t), invites: make(chan *sip.Request, 4), live: make(chan *sipgo.DialogServerSession, 4)}
	tr.dialogs = sipgo.NewDialogServerCache(tr.client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "trunk", Host: "127.0.0.1", Port: tr.port}})
	next := 0
	tr.serve(t, func(srv *sipgo.Server) {
		srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
			tr.invites <- req
			dlg, err := tr.dialogs.ReadInvite(req, tx)
			if err != nil {
				t.Errorf("trunk: %v", err)
				return
			}
			status := answers[min(next, len(answers)-1)]
			next++
			_ = dlg.Respond(sip.StatusRinging, "Ringing", nil)
			if status != 200 {
				_ = dlg.Respond(status, "Refused", nil)
				return
			}
			offer, _ := sdp.Parse(req.Body())
			body, _, err := sdp.Answer(offer, sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: tr.port + 2, SessionID: 3, Version: 1})
			if err != nil {
				t.Errorf("trunk: %v", err)
				return
			}
			_ = dlg.RespondSDP(body)
			tr.live <- dlg
		})
		srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = tr.dialogs.ReadAck(req, tx) })
		srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = tr.dialogs.ReadBye(req, tx) })
	})
	return tr
}

// An outbound call rings the agent's phone, then calls the customer through the
// trunk: a busy customer ends it as busy; one who answers is bridged, and their
// hang-up reaches the interaction and the agent's phone.
func TestOutboundCall(t *testing.T) {
	tr := newTrunk(t, 486, 200)
	cs := startCallServer(t, func(c *media.Config) { c.Trunk = netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", tr.port)) })
	ph := newPhone(t, cs, 200)
	dial := func(callID string) {
		t.Helper()
		if err := cs.srv.Dial(context.Background(), workflows.MediaDialRequest{CallID: callID, TenantID: cs.agent.tenant.ID,
			InteractionID: "ix-" + callID, AgentID: cs.agent.agentID, To: "+385915550199", From: cs.number}); err != nil {
			t.Fatal(err)
		}
	}

	dial("out-1")
	if r := ph.nextInvite(t); r.From().DisplayName != "+385915550199" {
		t.Errorf("the agent's phone shows %q, want the customer's number", r.From().DisplayName)
	}
	select {
	case r := <-tr.invites:
		if r.Recipient.User != "+385915550199" || r.From().Address.User != cs.number {
			t.Errorf("the trunk got %s from %s", r.Recipient.String(), r.From().Address.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the trunk got no INVITE")
	}
	if got := cs.ix.next(t); got != "outcome busy 486" {
		t.Fatalf("event %q", got)
	}
	select {
	case <-ph.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's phone was not hung up after the busy customer")
	}

	dial("out-2")
	ph.nextInvite(t)
	<-tr.invites
	var customer *sipgo.DialogServerSession
	select {
	case customer = <-tr.live:
	case <-time.After(10 * time.Second):
		t.Fatal("the customer did not answer")
	}
	// Wait for the ACK, then the customer hangs up.
	deadline := time.Now().Add(5 * time.Second)
	for customer.LoadState() < sip.DialogStateConfirmed && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := customer.Bye(ctx); err != nil {
		t.Fatalf("customer BYE: %v", err)
	}
	if got := cs.ix.next(t); got != "caller hung up the customer hung up" {
		t.Fatalf("event %q", got)
	}
	select {
	case <-ph.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's phone was not hung up")
	}
}

// Without a trunk, or without a phone, the call fails at once.
func TestOutboundCallWithoutTrunkOrPhone(t *testing.T) {
	cs := startCallServer(t)
	if err := cs.srv.Dial(context.Background(), workflows.MediaDialRequest{CallID: "out-x", TenantID: cs.agent.tenant.ID,
		InteractionID: "ix", AgentID: cs.agent.agentID, To: "+385915550199"}); err != nil {
		t.Fatal(err)
	}
	if got := cs.ix.next(t); got != "outcome failed " {
		t.Fatalf("event %q", got)
	}
	cs2 := startCallServer(t, func(c *media.Config) { c.Trunk = netip.MustParseAddrPort("127.0.0.1:9") })
	if err := cs2.srv.Dial(context.Background(), workflows.MediaDialRequest{CallID: "out-y", TenantID: cs2.agent.tenant.ID,
		InteractionID: "ix", AgentID: cs2.agent.agentID, To: "+385915550199"}); err != nil {
		t.Fatal(err)
	}
	if got := cs2.ix.next(t); got != "outcome failed " {
		t.Fatalf("event %q", got)
	}
}
