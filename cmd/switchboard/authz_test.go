package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/events"
)

// authzRole is who calls in the authorization matrix.
type authzRole string

const (
	asNobody           authzRole = "no key"
	asOtherAdmin       authzRole = "another tenant's admin"
	asOtherTenantAgent authzRole = "another tenant's agent"
	asIntegration      authzRole = "integration"
	asOtherAgent       authzRole = "another agent"
	asSupervisor       authzRole = "supervisor"
	asAdmin            authzRole = "admin"
	asHolder           authzRole = "the agent holding it"
)

// authzRoles is the order in which each endpoint's rows run: the refusals first,
// then the callers whose actions change the interaction.
var authzRoles = []authzRole{asNobody, asOtherAdmin, asOtherTenantAgent, asIntegration, asOtherAgent, asSupervisor, asAdmin, asHolder}

// authzWant is a row's expected answer: a status and, for a refusal, its code.
type authzWant struct {
	status int
	code   string
}

func (w authzWant) String() string {
	if w.code == "" {
		return fmt.Sprint(w.status)
	}
	return fmt.Sprintf("%d %s", w.status, w.code)
}

func (w authzWant) success() bool { return w.status < 300 }

var (
	ok200          = authzWant{200, ""}
	ok202          = authzWant{202, ""}
	unauthorized   = authzWant{401, "unauthenticated"}
	forbidden      = authzWant{403, "forbidden"}
	notYours       = authzWant{403, "not_your_interaction"}
	notYourOffer   = authzWant{403, "not_your_offer"}
	notFound       = authzWant{404, "not_found"}
	offerNotOpen   = authzWant{409, "offer_not_open"}
	notInThisState = authzWant{409, "action_not_allowed"}
)

// authzSubject is the interaction a row acts on.
type authzSubject int

const (
	// onShared: the shared interaction, connected to the holder (not on hold, its
	// conversation open, no customer linked, nobody conferenced), which every row
	// leaves as it found it.
	onShared authzSubject = iota
	// onOffered: ringing on the holder. A row expected to succeed answers the offer,
	// so it gets an interaction of its own; the others share one.
	onOffered
	// onFresh: connected to the holder. A row expected to succeed ends or moves it,
	// so it gets an interaction of its own; the others act on the shared one.
	onFresh
	// onEnded: ended by the holder, who wraps it up. A row expected to succeed
	// disposes of it, so it gets an interaction of its own; the others share one.
	onEnded
)

// authzEndpoint is one endpoint of the matrix with every role's expected answer.
type authzEndpoint struct {
	name, method string
	// path has {id} for the interaction and {agent} for the holder's user ID.
	path    string
	subject authzSubject
	// body is the request body for a role; nil sends none.
	body func(authzRole) any
	// setup and reset run with the admin's key around each row on the shared
	// interaction, to put it in the state the row needs and back.
	setup, reset func(t *testing.T, id string)
	want         map[authzRole]authzWant
	// check looks at a successful answer.
	check func(t *testing.T, r authzRole, id string, v map[string]any)
}

// TestAuthorizationMatrix asks every lifecycle action on an interaction and every
// read of interactions, history, the monitor and agent figures as each kind of
// caller, on a running stack: no key answers 401; a role an endpoint does not admit,
// 403 forbidden; an agent acting on an interaction another agent holds, 403
// not_your_interaction (not_your_offer for an offer); another tenant's caller and an
// agent reading a record that is not theirs, 404 without data; admitted callers
// succeed, or get the state-dependent refusal the API documents. Refused calls
// change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, _ := rdb.Keys(ctx, channels.DefaultTestPrefix+":{"+tenant+"}:*").Result()
		keys = append(keys, events.DefaultPrefix+":{"+tenant+"}:events")
		rdb.Del(ctx, keys...)
		rdb.Close()
	})

	supID, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	holderID, holderKey := s.newUserKey(t, adminKey, "agent")
	_, otherAgentKey := s.newUserKey(t, adminKey, "agent")
	other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-authz", "name": "Other",
		"admin": map[string]string{"email": "boss@other-authz.test", "name": "Boss"}}, 201)
	otherAdminKey := other["apiKey"].(map[string]any)["secret"].(string)
	s.tenantOf(t, otherAdminKey)
	_, otherTenantAgentKey := s.newUserKey(t, otherAdminKey, "agent")
	theirQueue := s.call(t, "GET", "/v1/queues", otherAdminKey, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	keys := map[authzRole]string{asNobody: "", asOtherAdmin: otherAdminKey, asOtherTenantAgent: otherTenantAgentKey, asIntegration: crmKey,
		asOtherAgent: otherAgentKey, asSupervisor: supKey, asAdmin: adminKey, asHolder: holderKey}
	otherTenant := func(r authzRole) bool { return r == asOtherAdmin || r == asOtherTenantAgent }

	// Web chats tagged sales ring on the holder, the only agent of Sales; offers
	// ring long enough to last the matrix, and wrap-ups wait for the agent.
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":300}`, 200)
	sales := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Sales"}`, 201)["id"].(string)
	support := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Support"}`, 201)["id"].(string)
	s.call(t, "POST", "/v1/routes", adminKey, map[string]any{"name": "sales chats", "queueId": sales,
		"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"sales"}}}, 201)
	s.call(t, "PATCH", "/v1/agents/"+holderID, adminKey, map[string]any{"queueIds": []string{sales}, "capacity": map[string]int{"live_chat": 10}}, 200)
	for _, c := range s.call(t, "GET", "/v1/campaigns", adminKey, nil, 200)["items"].([]any) {
		if c := c.(map[string]any); c["isDefault"] == true {
			s.call(t, "PATCH", "/v1/campaigns/"+c["id"].(string), adminKey, `{"wrapUpTimeoutSeconds":0}`, 200)
		}
	}
	sender := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-site","kind":"test"}`, 201)
	s.call(t, "POST", "/v1/agents/me/session", holderKey, nil, 201)
	s.heartbeats(t, holderKey)

	const customer = "Iva Horvat"
	offered := func(t *testing.T) string {
		t.Helper()
		id := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "web_chat", "from": "visitor-7", "to": "acme-site",
			"tags": []string{"sales"}, "customer": map[string]string{"name": customer}}, 201)["id"].(string)
		s.waitFor(t, "/v1/interactions/"+id, holderKey, "offered to the holder", func(v map[string]any) bool {
			return v["status"] == "offered" && v["offeredAgentId"] == holderID
		})
		return id
	}
	connected := func(t *testing.T) string {
		t.Helper()
		id := offered(t)
		s.call(t, "POST", "/v1/interactions/"+id+"/accept", holderKey, nil, 200)
		return id
	}
	ended := func(t *testing.T) string {
		t.Helper()
		id := connected(t)
		s.call(t, "POST", "/v1/interactions/"+id+"/end", holderKey, nil, 200)
		return id
	}
	shared := connected(t)
	var sharedOffered, sharedEnded string
	// The customers the link rows name by external ID; a link keeps the customer's ID.
	customerIDs := map[string]string{}
	exts := []string{"crm-1"}
	for _, r := range authzRoles {
		exts = append(exts, "crm-"+strings.ReplaceAll(string(r), " ", "-"))
	}
	for _, ext := range exts {
		customerIDs[ext] = s.call(t, "POST", "/v1/contacts", crmKey, map[string]string{"externalId": ext}, 201)["id"].(string)
	}

	// quietly sends a request of a setup or reset, accepting any of statuses.
	quietly := func(t *testing.T, method, path string, body any, statuses ...int) {
		t.Helper()
		r, err := s.try(method, path, adminKey, body)
		if err != nil || !slices.Contains(statuses, r.status) {
			t.Fatalf("%s %s: %v %d %s", method, path, err, r.status, r.body)
		}
	}
	ix := func(id string) string { return "/v1/interactions/" + id }
	body := func(v any) func(authzRole) any { return func(authzRole) any { return v } }
	status := func(want string) func(*testing.T, authzRole, string, map[string]any) {
		return func(t *testing.T, r authzRole, id string, v map[string]any) {
			if v["id"] != id || v["status"] != want {
				t.Errorf("%s: status %v, want %s", r, v["status"], want)
			}
		}
	}
	signalled := func(t *testing.T, r authzRole, id string, v map[string]any) {
		if v["interactionId"] != id {
			t.Errorf("%s: answer %v", r, v)
		}
	}
	participant := func(v map[string]any) (active bool, present bool) {
		ps, _ := v["participants"].([]any)
		for _, p := range ps {
			if p := p.(map[string]any); p["userId"] == supID {
				present = true
				active = p["leftAt"] == nil
			}
		}
		return active, present
	}

	matrix := []authzEndpoint{
		{name: "read", method: "GET", path: "/v1/interactions/{id}", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: ok200,
				asOtherAgent: notFound, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if _, withOffers := v["offers"]; v["id"] != id || withOffers != (r != asHolder) {
					t.Errorf("%s read %v", r, v)
				}
			}},
		{name: "accept an offer", method: "POST", path: "/v1/interactions/{id}/accept", subject: onOffered,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: forbidden, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYourOffer, asSupervisor: forbidden, asAdmin: forbidden, asHolder: ok200},
			check: status("connected")},
		{name: "reject an offer", method: "POST", path: "/v1/interactions/{id}/reject", subject: onOffered, body: body(map[string]string{"reason": "wrong language"}),
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: forbidden, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYourOffer, asSupervisor: forbidden, asAdmin: forbidden, asHolder: ok200},
			check: status("queued")},
		// Once connected there is no offer to answer: the holder's accept is a
		// harmless retry.
		{name: "accept when connected", method: "POST", path: "/v1/interactions/{id}/accept", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: forbidden, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: offerNotOpen, asSupervisor: forbidden, asAdmin: forbidden, asHolder: ok200},
			check: status("connected")},
		{name: "reject when connected", method: "POST", path: "/v1/interactions/{id}/reject", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: forbidden, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: offerNotOpen, asSupervisor: forbidden, asAdmin: forbidden, asHolder: offerNotOpen}},
		{name: "hold", method: "POST", path: "/v1/interactions/{id}/hold", subject: onShared,
			reset: func(t *testing.T, id string) { quietly(t, "POST", ix(id)+"/unhold", nil, 200, 409) },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("on_hold")},
		{name: "unhold", method: "POST", path: "/v1/interactions/{id}/unhold", subject: onShared,
			setup: func(t *testing.T, id string) { quietly(t, "POST", ix(id)+"/hold", nil, 200) },
			reset: func(t *testing.T, id string) { quietly(t, "POST", ix(id)+"/unhold", nil, 200, 409) },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("connected")},
		// Another tenant's callers name a queue of their own, so the request is
		// valid for them and the answer is about the interaction.
		{name: "transfer", method: "POST", path: "/v1/interactions/{id}/transfer", subject: onFresh,
			body: func(r authzRole) any {
				q := support
				if otherTenant(r) {
					q = theirQueue
				}
				return map[string]any{"target": map[string]string{"kind": "queue", "id": q}}
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["status"] != "queued" || v["queueId"] != support || v["agentId"] != nil {
					t.Errorf("%s transferred %v", r, v)
				}
			}},
		{name: "conference", method: "POST", path: "/v1/interactions/{id}/conference", subject: onShared,
			body: body(map[string]string{"kind": "supervisor", "userId": supID}),
			reset: func(t *testing.T, id string) {
				quietly(t, "POST", ix(id)+"/conference/leave", map[string]string{"userId": supID}, 200, 422)
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if active, _ := participant(v); !active {
					t.Errorf("%s conferenced: %v", r, v["participants"])
				}
			}},
		{name: "leave the conference", method: "POST", path: "/v1/interactions/{id}/conference/leave", subject: onShared,
			body: body(map[string]string{"userId": supID}),
			setup: func(t *testing.T, id string) {
				quietly(t, "POST", ix(id)+"/conference", map[string]string{"kind": "supervisor", "userId": supID}, 200)
			},
			reset: func(t *testing.T, id string) {
				quietly(t, "POST", ix(id)+"/conference/leave", map[string]string{"userId": supID}, 200, 422)
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if active, present := participant(v); active || !present {
					t.Errorf("%s left: %v", r, v["participants"])
				}
			}},
		{name: "add a note", method: "POST", path: "/v1/interactions/{id}/notes", subject: onShared,
			body: func(r authzRole) any { return map[string]string{"body": "a note by " + string(r)} },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("connected")},
		{name: "send a message", method: "POST", path: "/v1/interactions/{id}/messages", subject: onShared,
			body: func(r authzRole) any { return map[string]string{"body": "a reply by " + string(r)} },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("connected")},
		{name: "set the conversation status", method: "PUT", path: "/v1/interactions/{id}/conversation-status", subject: onShared,
			body: body(map[string]string{"status": "waiting"}),
			reset: func(t *testing.T, id string) {
				quietly(t, "PUT", ix(id)+"/conversation-status", map[string]string{"status": "open"}, 200, 409)
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["conversationStatus"] != "waiting" {
					t.Errorf("%s: conversation %v", r, v["conversationStatus"])
				}
			}},
		{name: "link a customer", method: "PUT", path: "/v1/interactions/{id}/customer", subject: onShared,
			body: func(r authzRole) any {
				return map[string]string{"customerId": "crm-" + strings.ReplaceAll(string(r), " ", "-")}
			},
			reset: func(t *testing.T, id string) { quietly(t, "DELETE", ix(id)+"/customer", nil, 200, 409) },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["customerId"] != customerIDs["crm-"+strings.ReplaceAll(string(r), " ", "-")] {
					t.Errorf("%s: customer %v", r, v["customerId"])
				}
			}},
		{name: "unlink the customer", method: "DELETE", path: "/v1/interactions/{id}/customer", subject: onShared,
			setup: func(t *testing.T, id string) {
				quietly(t, "PUT", ix(id)+"/customer", map[string]string{"customerId": "crm-1"}, 200)
			},
			reset: func(t *testing.T, id string) { quietly(t, "DELETE", ix(id)+"/customer", nil, 200, 409) },
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["customerId"] != nil {
					t.Errorf("%s: customer %v", r, v["customerId"])
				}
			}},
		// Another tenant's callers name their own queue (see transfer); the
		// interaction's own queue makes the move a no-op for the others.
		{name: "change the queue", method: "POST", path: "/v1/interactions/{id}/queue", subject: onShared,
			body: func(r authzRole) any {
				if otherTenant(r) {
					return map[string]string{"queueId": theirQueue}
				}
				return map[string]string{"queueId": sales}
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["status"] != "connected" || v["queueId"] != sales || v["agentId"] != holderID {
					t.Errorf("%s moved %v", r, v)
				}
			}},
		{name: "dispose while connected", method: "POST", path: "/v1/interactions/{id}/dispose", subject: onShared,
			body: body(map[string]string{"dispositionClass": "Closed", "dispositionCode": "Resolved"}),
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: notInThisState, asAdmin: notInThisState, asHolder: notInThisState}},
		{name: "dispose", method: "POST", path: "/v1/interactions/{id}/dispose", subject: onEnded,
			body: body(map[string]string{"dispositionClass": "Closed", "dispositionCode": "Resolved"}),
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("disposed")},
		{name: "report a customer's message", method: "POST", path: "/v1/interactions/{id}/inbound-messages", subject: onShared,
			body: func(r authzRole) any {
				return map[string]string{"from": "visitor-7", "body": "a message reported by " + string(r)}
			},
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: forbidden, asIntegration: ok202,
				asOtherAgent: forbidden, asSupervisor: forbidden, asAdmin: ok202, asHolder: forbidden},
			check: signalled},
		{name: "report a channel event", method: "POST", path: "/v1/interactions/{id}/channel-events", subject: onShared,
			body: body(map[string]string{"type": "typing"}),
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: forbidden, asIntegration: ok202,
				asOtherAgent: forbidden, asSupervisor: forbidden, asAdmin: ok202, asHolder: forbidden},
			check: signalled},
		{name: "report a hang-up", method: "POST", path: "/v1/interactions/{id}/hangup", subject: onFresh,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: forbidden, asIntegration: ok202,
				asOtherAgent: forbidden, asSupervisor: forbidden, asAdmin: ok202, asHolder: forbidden},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				signalled(t, r, id, v)
				s.waitFor(t, ix(id), adminKey, "ended by the hang-up "+string(r)+" reported", func(v map[string]any) bool { return v["status"] == "ended" })
			}},
		{name: "end", method: "POST", path: "/v1/interactions/{id}/end", subject: onFresh,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: ok200,
				asOtherAgent: notYours, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: status("ended")},
		{name: "read the record", method: "GET", path: "/v1/history/{id}", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: notFound, asIntegration: forbidden,
				asOtherAgent: notFound, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if _, withOffers := v["offers"]; v["id"] != id || withOffers != (r != asHolder) || v["timeline"] == nil {
					t.Errorf("%s read the record %v", r, v)
				}
			}},
		{name: "search the history", method: "GET", path: "/v1/history", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: ok200, asOtherTenantAgent: ok200, asIntegration: forbidden,
				asOtherAgent: ok200, asSupervisor: ok200, asAdmin: ok200, asHolder: ok200},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				var found bool
				for _, it := range v["items"].([]any) {
					found = found || it.(map[string]any)["id"] == id
				}
				if want := r == asSupervisor || r == asAdmin || r == asHolder; found != want {
					t.Errorf("%s: the interaction found %t, want %t", r, found, want)
				}
			}},
		{name: "read the monitor", method: "GET", path: "/v1/monitor", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: ok200, asOtherTenantAgent: forbidden, asIntegration: forbidden,
				asOtherAgent: forbidden, asSupervisor: ok200, asAdmin: ok200, asHolder: forbidden},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				connected := v["interactions"].(map[string]any)["connected"].(map[string]any)["total"].(float64)
				if otherTenant(r) != (connected == 0) || strings.Contains(fmt.Sprint(v["agents"]), holderID) == otherTenant(r) {
					t.Errorf("%s: %v connected, agents %v", r, connected, v["agents"])
				}
			}},
		{name: "read an agent on the monitor", method: "GET", path: "/v1/monitor/agents/{agent}", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: forbidden, asIntegration: forbidden,
				asOtherAgent: forbidden, asSupervisor: ok200, asAdmin: ok200, asHolder: forbidden},
			check: func(t *testing.T, r authzRole, id string, v map[string]any) {
				if v["agent"].(map[string]any)["agentId"] != holderID || !strings.Contains(fmt.Sprint(v["interactions"]), id) {
					t.Errorf("%s: %v", r, v)
				}
			}},
		{name: "read an agent's figures", method: "GET", path: "/v1/agents/{agent}/stats", subject: onShared,
			want: map[authzRole]authzWant{asNobody: unauthorized, asOtherAdmin: notFound, asOtherTenantAgent: forbidden, asIntegration: forbidden,
				asOtherAgent: forbidden, asSupervisor: ok200, asAdmin: ok200, asHolder: forbidden}},
	}

	for _, ep := range matrix {
		for _, r := range authzRoles {
			want, ok := ep.want[r]
			if !ok {
				t.Fatalf("%s × %s: no expectation in the table", r, ep.name)
			}
			id := shared
			switch {
			case ep.subject == onOffered && want.success():
				id = offered(t)
			case ep.subject == onOffered:
				if sharedOffered == "" {
					sharedOffered = offered(t)
				}
				id = sharedOffered
			case ep.subject == onFresh && want.success():
				id = connected(t)
			case ep.subject == onEnded && want.success():
				id = ended(t)
			case ep.subject == onEnded:
				if sharedEnded == "" {
					sharedEnded = ended(t)
				}
				id = sharedEnded
			}
			if ep.setup != nil && id == shared {
				ep.setup(t, id)
			}
			var raw string
			if ep.body != nil {
				b, _ := json.Marshal(ep.body(r))
				raw = string(b)
			}
			path := strings.NewReplacer("{id}", id, "{agent}", holderID).Replace(ep.path)
			res := s.do(ep.method, path, keys[r], raw)
			what := fmt.Sprintf("%s × %s (%s %s)", r, ep.name, ep.method, ep.path)
			switch {
			case want.success():
				if res.status != want.status {
					t.Errorf("%s: %d %s, want %s", what, res.status, res.body, want)
				} else if ep.check != nil {
					ep.check(t, r, id, res.json(t))
				}
			default:
				var e struct {
					Error struct{ Code, Message string }
				}
				_ = json.Unmarshal(res.body, &e)
				if res.status != want.status || e.Error.Code != want.code || e.Error.Message == "" {
					t.Errorf("%s: %d %s, want %s", what, res.status, res.body, want)
				}
				// A refusal tells nothing of the interaction.
				if strings.Contains(string(res.body), customer) || strings.Contains(string(res.body), `"status"`) {
					t.Errorf("%s: the refusal carries data: %s", what, res.body)
				}
			}
			if ep.reset != nil && id == shared {
				ep.reset(t, id)
			}
		}
	}

	// Once disposed, the interaction's workflow completes and the API answers from the
	// read model: over for the tenant's callers, still unknown to another tenant's.
	t.Run("after the workflow completed", func(t *testing.T) {
		id := ended(t)
		s.call(t, "POST", ix(id)+"/dispose", holderKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
		waitDone(t, s.temporalClient(), "interaction/"+id)
		over := authzWant{409, "interaction_over"}
		for _, c := range []struct {
			r            authzRole
			method, path string
			want         authzWant
		}{
			{asNobody, "POST", "/hold", unauthorized},
			{asOtherAdmin, "POST", "/hold", notFound},
			{asOtherAdmin, "POST", "/notes", notFound},
			{asOtherAdmin, "POST", "/end", notFound},
			{asOtherAdmin, "POST", "/inbound-messages", notFound},
			{asOtherAdmin, "GET", "", notFound},
			{asOtherTenantAgent, "POST", "/end", notFound},
			{asOtherTenantAgent, "POST", "/notes", notFound},
			{asIntegration, "POST", "/inbound-messages", over},
			{asIntegration, "POST", "/notes", forbidden},
			{asOtherAgent, "GET", "", notFound},
			{asSupervisor, "POST", "/hold", over},
			{asAdmin, "POST", "/end", over},
			{asHolder, "POST", "/notes", over},
			{asHolder, "POST", "/dispose", over},
		} {
			body := map[string]string{"/notes": `{"body":"late"}`, "/inbound-messages": `{"body":"late"}`,
				"/dispose": `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`}[c.path]
			res := s.do(c.method, ix(id)+c.path, keys[c.r], body)
			var e struct{ Error struct{ Code string } }
			_ = json.Unmarshal(res.body, &e)
			if res.status != c.want.status || e.Error.Code != c.want.code || strings.Contains(string(res.body), customer) {
				t.Errorf("%s × %s %s on a completed interaction: %d %s, want %s", c.r, c.method, c.path, res.status, res.body, c.want)
			}
		}
	})

	// The refused calls changed nothing: the shared interaction is as the admitted
	// callers left it, with their notes and messages only, each message sent.
	rec := s.call(t, "GET", "/v1/history/"+shared, adminKey, nil, 200)
	if rec["status"] != "connected" || rec["agentId"] != holderID || rec["queueId"] != sales || rec["heldAt"] != nil ||
		rec["customerId"] != nil || rec["conversationStatus"] != "open" {
		t.Errorf("the shared interaction after the matrix: %v", rec)
	}
	if active, _ := participant(rec); active {
		t.Errorf("the supervisor is still in the conference: %v", rec["participants"])
	}
	var authors []string
	for _, n := range rec["notes"].([]any) {
		authors = append(authors, strings.TrimPrefix(n.(map[string]any)["body"].(string), "a note by "))
	}
	slices.Sort(authors)
	if want := []string{string(asAdmin), string(asSupervisor), string(asHolder)}; fmt.Sprint(authors) != fmt.Sprint(sorted(want)) {
		t.Errorf("notes by %q, want %q", authors, sorted(want))
	}
	var outbound, inbound []string
	for _, m := range rec["transcript"].([]any) {
		m := m.(map[string]any)
		if m["direction"] == "outbound" {
			outbound = append(outbound, strings.TrimPrefix(m["body"].(string), "a reply by "))
			if m["deliveryStatus"] != "sent" {
				t.Errorf("message not sent: %v", m)
			}
		} else {
			inbound = append(inbound, strings.TrimPrefix(m["body"].(string), "a message reported by "))
		}
	}
	if want := []string{string(asSupervisor), string(asAdmin), string(asHolder)}; fmt.Sprint(outbound) != fmt.Sprint(want) {
		t.Errorf("replies by %q, want %q", outbound, want)
	}
	if want := []string{string(asIntegration), string(asAdmin)}; fmt.Sprint(inbound) != fmt.Sprint(want) {
		t.Errorf("customer messages reported by %q, want %q", inbound, want)
	}
	sent, err := channels.NewTestAdapter(rdb, channels.DefaultTestPrefix).Sent(context.Background(), tenant, sender["id"].(string))
	if err != nil || len(sent) != 3 {
		t.Errorf("the web chat channel took %d messages, want 3: %v", len(sent), err)
	}
}
