package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/events"
)

// eventsUntil takes events until one of type last for interaction id, and returns
// the events of that interaction in the order the stream delivered them.
func (c *sseClient) eventsUntil(t *testing.T, id, last string) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		e := c.next(t)
		if e.event.InteractionID != id {
			continue
		}
		out = append(out, e)
		if e.typ == last {
			return out
		}
	}
}

func typesOf(es []sseEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.typ
	}
	return out
}

// detailOf is the detail a lifecycle event carries.
func detailOf(t *testing.T, e sseEvent) map[string]any {
	t.Helper()
	var v struct {
		Detail map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(e.event.Data, &v); err != nil {
		t.Fatalf("%s payload: %v: %s", e.typ, err, e.event.Data)
	}
	return v.Detail
}

// liveCounts are one channel's figures of the supervisor's monitor: queued,
// ringing, connected, on hold and hung up (wrapping up), each the same by channel,
// by sub-channel and in all when the tenant has only that channel's interactions.
type liveCounts struct{ queued, ringing, connected, hold, hungUp int }

// monitorCounts reads the live_chat figures of a monitor answer; ok is false when the
// totals or the web_chat sub-channel disagree with the channel's.
func monitorCounts(v map[string]any) (liveCounts, bool) {
	ix, _ := v["interactions"].(map[string]any)
	get := func(state string) (int, bool) {
		c, _ := ix[state].(map[string]any)
		byChannel, _ := c["byChannel"].(map[string]any)
		bySource, _ := c["bySource"].(map[string]any)
		n, _ := byChannel["live_chat"].(float64)
		src, _ := bySource["web_chat"].(float64)
		total, _ := c["total"].(float64)
		return int(n), n == total && n == src
	}
	var out liveCounts
	ok := true
	for _, f := range []struct {
		state string
		v     *int
	}{{"queued", &out.queued}, {"ringing", &out.ringing}, {"connected", &out.connected}, {"hold", &out.hold}, {"hungUp", &out.hungUp}} {
		n, same := get(f.state)
		*f.v, ok = n, ok && same
	}
	return out, ok
}

// TestLifecycleEndToEnd follows one web chat through its whole life on a running
// stack, through the HTTP API only: routed to the Sales queue and offered to its agent
// (who logs in on break and becomes available), accepted, a reply sent through the
// tenant's web chat sender (the test adapter) and the customer's answer reported by an
// integration, transferred to the Support queue, offered to and accepted by its agent,
// a note added, ended and disposed with the Default campaign's Closed / Resolved.
// Each agent's event stream carries its part in order and nothing more, the
// supervisor's carries every step; the supervisor's monitor counts the chat in the
// right state at every step; the history finds it by queue, agent and disposition,
// and its record has the timeline in order with the transfer, the note, both
// messages and the disposition.
func TestLifecycleEndToEnd(t *testing.T) {
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
	testChannel := channels.NewTestAdapter(rdb, channels.DefaultTestPrefix)

	supID, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")

	// Sales and Support, an agent in each; web chats tagged sales go to Sales.
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	sales := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Sales"}`, 201)["id"].(string)
	support := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Support"}`, 201)["id"].(string)
	s.call(t, "POST", "/v1/routes", adminKey, map[string]any{"name": "sales chats", "queueId": sales,
		"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"sales"}}}, 201)
	s.call(t, "PATCH", "/v1/agents/"+anaID, adminKey, map[string]any{"queueIds": []string{sales}}, 200)
	s.call(t, "PATCH", "/v1/agents/"+boID, adminKey, map[string]any{"queueIds": []string{support}}, 200)
	// The wrap-up waits for the agent, so the disposal is the agent's own.
	var defaultCampaign string
	for _, c := range s.call(t, "GET", "/v1/campaigns", adminKey, nil, 200)["items"].([]any) {
		if c := c.(map[string]any); c["isDefault"] == true {
			defaultCampaign = c["id"].(string)
		}
	}
	s.call(t, "PATCH", "/v1/campaigns/"+defaultCampaign, adminKey, `{"wrapUpTimeoutSeconds":0}`, 200)
	sender := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-site","name":"Acme web chat","kind":"test"}`, 201)
	senderID := sender["id"].(string)

	sup := s.follow(t, supKey, "", "")
	ana := s.follow(t, anaKey, "", "")
	bo := s.follow(t, boKey, "", "")
	for who, c := range map[string]*sseClient{"supervisor": sup, "Ana": ana, "Bo": bo} {
		if c.status != 200 {
			t.Fatalf("%s's event stream answered %d", who, c.status)
		}
	}
	// Both log in on a break: the chat waits in its queue until its agent is ready.
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"lunch"}`, 201)
	s.call(t, "POST", "/v1/agents/me/session", boKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey, boKey)

	monitor := func(t *testing.T, what string, want liveCounts, scope ...string) {
		t.Helper()
		path := "/v1/monitor"
		if len(scope) > 0 {
			path += "?queueId=" + scope[0]
		}
		s.waitFor(t, path, supKey, "monitor "+what, func(v map[string]any) bool {
			got, ok := monitorCounts(v)
			return ok && got == want
		})
	}
	monitor(t, "before the chat", liveCounts{})

	created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-42","to":"acme-site",
		"content":"Hi, about my order","tags":["sales"],"customer":{"name":"Iva Horvat"}}`, 201)
	id := created["id"].(string)
	path := "/v1/interactions/" + id
	if created["status"] != "queued" || created["queueId"] != sales || created["channel"] != "live_chat" || created["source"] != "web_chat" {
		t.Fatalf("created %v", created)
	}
	monitor(t, "queued in Sales", liveCounts{queued: 1})
	monitor(t, "queued, Sales only", liveCounts{queued: 1}, sales)
	monitor(t, "queued, nothing in Support", liveCounts{}, support)

	// Ana becomes available: the waiting chat is offered to her.
	s.call(t, "PUT", "/v1/agents/me/status", anaKey, `{"status":"available"}`, 200)
	s.waitFor(t, path, anaKey, "offered to Ana", func(v map[string]any) bool {
		return v["status"] == "offered" && v["offeredAgentId"] == anaID
	})
	monitor(t, "ringing on Ana", liveCounts{ringing: 1})
	if e := ana.eventsUntil(t, id, events.InteractionOffered); len(e) != 1 {
		t.Errorf("Ana's stream before the offer: %v", typesOf(e))
	}
	s.wantError(t, "GET", path, boKey, nil, 404, "not_found", "")

	acc := s.call(t, "POST", path+"/accept", anaKey, nil, 200)
	if acc["status"] != "connected" || acc["agentId"] != anaID {
		t.Fatalf("accepted %v", acc)
	}
	monitor(t, "connected to Ana", liveCounts{connected: 1})
	drill := s.call(t, "GET", "/v1/monitor/agents/"+anaID, supKey, nil, 200)
	if ixs := drill["interactions"].([]any); len(ixs) != 1 || ixs[0].(map[string]any)["interactionId"] != id || ixs[0].(map[string]any)["agentState"] != "connected" {
		t.Errorf("Ana's drill-down %v", drill)
	}

	// Ana replies through the web chat sender, and the channel really gets it.
	replyID := "6f1c1a43-5d0e-4b8e-9b61-0d4f1b0a7c01"
	s.call(t, "POST", path+"/messages", anaKey, map[string]string{"id": replyID, "body": "Hello Iva, let me look."}, 200)
	sent, err := testChannel.Sent(context.Background(), tenant, senderID)
	if err != nil || len(sent) != 1 || sent[0].MessageID != replyID || sent[0].Body != "Hello Iva, let me look." ||
		sent[0].To != "visitor-42" || sent[0].From != "acme-site" || sent[0].Channel != "web_chat" || sent[0].InteractionID != id {
		t.Fatalf("the web chat channel took %+v, %v", sent, err)
	}
	// The customer answers through the integration.
	s.wantError(t, "POST", path+"/inbound-messages", anaKey, `{"body":"x"}`, 403, "forbidden", "")
	in := s.call(t, "POST", path+"/inbound-messages", crmKey, `{"from":"visitor-42","body":"It is order 1234, still not here."}`, 202)
	if in["interactionId"] != id || in["messageId"] == "" {
		t.Errorf("inbound message answer %v", in)
	}
	s.waitFor(t, path+"/messages", anaKey, "the customer's message in the transcript", func(v map[string]any) bool {
		return len(v["items"].([]any)) == 2
	})
	want := []string{events.InteractionConnected, events.MessageSent, events.MessageReceived}
	got := ana.eventsUntil(t, id, events.MessageReceived)
	if fmt.Sprint(typesOf(got)) != fmt.Sprint(want) {
		t.Errorf("Ana's stream while connected: %v, want %v", typesOf(got), want)
	} else if d := detailOf(t, got[1]); d["messageId"] != replyID || d["status"] != "sent" {
		t.Errorf("messageSent detail %v", d)
	}

	// Ana transfers the chat to Support, where Bo is still on a break.
	tr := s.call(t, "POST", path+"/transfer", anaKey, map[string]any{"target": map[string]string{"kind": "queue", "id": support}, "reason": "a delivery question"}, 200)
	if tr["status"] != "queued" || tr["queueId"] != support || tr["agentId"] != nil || tr["transfers"] != 1.0 {
		t.Fatalf("transferred %v", tr)
	}
	got = ana.eventsUntil(t, id, events.InteractionTransferred)
	if len(got) != 1 {
		t.Errorf("Ana's stream before the transfer: %v", typesOf(got))
	} else if d := detailOf(t, got[0]); d["kind"] != "queue" || d["queueId"] != support || d["from"] != anaID {
		t.Errorf("interactionTransferred detail %v", d)
	}
	s.wantError(t, "POST", path+"/notes", anaKey, `{"body":"too late"}`, 403, "not_your_interaction", "")
	monitor(t, "queued again after the transfer", liveCounts{queued: 1})
	monitor(t, "queued in Support", liveCounts{queued: 1}, support)
	monitor(t, "gone from Sales", liveCounts{}, sales)

	s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"available"}`, 200)
	s.waitFor(t, path, boKey, "offered to Bo", func(v map[string]any) bool {
		return v["status"] == "offered" && v["offeredAgentId"] == boID
	})
	monitor(t, "ringing on Bo", liveCounts{ringing: 1})
	s.call(t, "POST", path+"/accept", boKey, nil, 200)
	monitor(t, "connected to Bo", liveCounts{connected: 1})
	monitor(t, "connected in Support", liveCounts{connected: 1}, support)

	noteID := "0b7d5c1e-2f4a-4c3b-8e9d-6a5b4c3d2e1f"
	if r := s.do("POST", path+"/notes", boKey, `{"id":"`+noteID+`","body":"Order 1234 held at the depot; courier called."}`); r.status != 200 {
		t.Errorf("Bo's note: %d %s", r.status, r.body)
	}
	ended := s.call(t, "POST", path+"/end", boKey, `{"reason":"solved"}`, 200)
	if ended["status"] != "ended" || ended["outcome"] != "completed" || ended["endReason"] != "solved" {
		t.Fatalf("ended %v", ended)
	}
	monitor(t, "hung up, Bo wrapping up", liveCounts{hungUp: 1})
	disposed := s.call(t, "POST", path+"/dispose", boKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved","notes":"Delivered the next morning."}`, 200)
	disp, _ := disposed["disposition"].(map[string]any)
	if disposed["status"] != "disposed" || disp["class"] != "Closed" || disp["code"] != "Resolved" || disp["auto"] != false ||
		disp["notes"] != "Delivered the next morning." || disposed["disposedBy"] != boID {
		t.Fatalf("disposed %v", disposed)
	}
	monitor(t, "after the disposal", liveCounts{})

	t.Run("event streams", func(t *testing.T) {
		want := []string{events.InteractionOffered, events.InteractionConnected, events.NoteAdded, events.InteractionDisconnected,
			events.InteractionEnded, events.InteractionDisposed}
		got := bo.eventsUntil(t, id, events.InteractionDisposed)
		if fmt.Sprint(typesOf(got)) != fmt.Sprint(want) {
			t.Errorf("Bo's stream: %v, want %v", typesOf(got), want)
		} else if d := detailOf(t, got[5]); d["class"] != "Closed" || d["code"] != "Resolved" || d["auto"] != false {
			t.Errorf("interactionDisposed detail %v", d)
		}
		// The supervisor sees the customer's message scored as it is recorded, the move
		// to the new queue, then the transfer that made it.
		want = []string{events.InteractionInitiated, events.InteractionOffered, events.InteractionConnected, events.MessageSent,
			events.SentimentUpdated, events.MessageReceived, events.InteractionQueueChanged, events.InteractionTransferred, events.InteractionOffered, events.InteractionConnected,
			events.NoteAdded, events.InteractionDisconnected, events.InteractionEnded, events.InteractionDisposed}
		if got := typesOf(sup.eventsUntil(t, id, events.InteractionDisposed)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("the supervisor's stream: %v, want %v", got, want)
		}
		// Nothing of the chat reached Ana after she transferred it: her logout is
		// the next event on her stream that is not about another of her states.
		s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
		for {
			e := ana.next(t)
			if e.event.InteractionID == id {
				t.Fatalf("Ana got %s after she transferred the chat", e.typ)
			}
			var st struct {
				LoggedIn bool `json:"loggedIn"`
			}
			if e.typ == events.AgentStatusChanged && json.Unmarshal(e.event.Data, &st) == nil && !st.LoggedIn {
				break
			}
		}
	})

	t.Run("history", func(t *testing.T) {
		search := func(key string, q url.Values) []string {
			t.Helper()
			var ids []string
			for _, it := range s.call(t, "GET", "/v1/history?"+q.Encode(), key, nil, 200)["items"].([]any) {
				ids = append(ids, it.(map[string]any)["id"].(string))
			}
			return ids
		}
		var noAction string
		tree := s.call(t, "GET", "/v1/campaigns/"+defaultCampaign+"/dispositions", supKey, nil, 200)
		for _, k := range tree["classes"].([]any) {
			for _, c := range k.(map[string]any)["codes"].([]any) {
				if c := c.(map[string]any); c["name"] == "No action" {
					noAction = c["id"].(string)
				}
			}
		}
		for _, c := range []struct {
			name  string
			key   string
			query url.Values
			found bool
		}{
			{"all", supKey, url.Values{}, true},
			{"its last queue", supKey, url.Values{"queueId": {support}}, true},
			{"the queue it left", supKey, url.Values{"queueId": {sales}}, false},
			{"the agent who held it before the transfer", supKey, url.Values{"agentId": {anaID}}, true},
			{"the agent who held it last", supKey, url.Values{"agentId": {boID}}, true},
			{"not an agent of it", supKey, url.Values{"agentId": {supID}}, false},
			{"its disposition code", supKey, url.Values{"dispositionCodeId": {disp["codeId"].(string)}}, true},
			{"its disposition class", supKey, url.Values{"dispositionClassId": {disp["classId"].(string)}}, true},
			{"another disposition code", supKey, url.Values{"dispositionCodeId": {noAction}}, false},
			{"every filter at once", adminKey, url.Values{"queueId": {support}, "agentId": {boID}, "dispositionCodeId": {disp["codeId"].(string)},
				"channel": {"live_chat"}, "status": {"disposed"}, "direction": {"inbound"}, "campaignId": {defaultCampaign}, "q": {"horvat"}}, true},
			{"another status", adminKey, url.Values{"status": {"ended"}}, false},
			{"Ana's own", anaKey, url.Values{}, true},
			{"Bo's own, disposed", boKey, url.Values{"dispositionCodeId": {disp["codeId"].(string)}}, true},
		} {
			ids := search(c.key, c.query)
			if found := slices.Contains(ids, id); found != c.found || len(ids) > 1 {
				t.Errorf("history by %s (%s): %v, want the chat found %t", c.name, c.query.Encode(), ids, c.found)
			}
		}

		d := s.call(t, "GET", "/v1/history/"+id, supKey, nil, 200)
		var types []string
		for _, e := range d["timeline"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		want := []string{"interactionInitiated", events.InteractionOffered, events.InteractionConnected, "messageSent", "messageReceived",
			events.InteractionTransferred, events.InteractionOffered, events.InteractionConnected, "noteAdded", events.InteractionEnded,
			events.InteractionDisposed}
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Errorf("timeline %v, want %v", types, want)
		}
		var last float64 = -1
		for _, e := range d["timeline"].([]any) {
			e := e.(map[string]any)
			if v := e["version"].(float64); v < last {
				t.Errorf("timeline out of version order: %v", d["timeline"])
			} else {
				last = v
			}
			switch e["type"] {
			case events.InteractionTransferred:
				data := e["data"].(map[string]any)
				if data["queueId"] != support || data["from"] != anaID || data["reason"] != "a delivery question" || e["actorId"] != anaID {
					t.Errorf("the transfer in the timeline: %v", e)
				}
			case events.InteractionDisposed:
				if data := e["data"].(map[string]any); data["class"] != "Closed" || data["code"] != "Resolved" || e["actorId"] != boID {
					t.Errorf("the disposal in the timeline: %v", e)
				}
			}
		}
		// Bo's note, then the disposal's.
		notes := d["notes"].([]any)
		if len(notes) != 2 || notes[0].(map[string]any)["id"] != noteID || notes[0].(map[string]any)["authorId"] != boID ||
			!strings.Contains(notes[0].(map[string]any)["body"].(string), "depot") ||
			notes[1].(map[string]any)["body"] != "Delivered the next morning." || notes[1].(map[string]any)["authorId"] != boID {
			t.Errorf("notes %v", notes)
		}
		transcript := d["transcript"].([]any)
		if len(transcript) != 2 {
			t.Fatalf("transcript %v", transcript)
		}
		reply, answer := transcript[0].(map[string]any), transcript[1].(map[string]any)
		if reply["id"] != replyID || reply["direction"] != "outbound" || reply["senderKind"] != "agent" || reply["senderId"] != anaID ||
			reply["deliveryStatus"] != "sent" || reply["channelSenderId"] != senderID || reply["seq"] != 1.0 {
			t.Errorf("the agent's reply %v", reply)
		}
		if answer["direction"] != "inbound" || answer["senderKind"] != "customer" || answer["body"] != "It is order 1234, still not here." || answer["seq"] != 2.0 {
			t.Errorf("the customer's answer %v", answer)
		}
		if dd, _ := d["disposition"].(map[string]any); dd["class"] != "Closed" || dd["code"] != "Resolved" || d["status"] != "disposed" ||
			d["queueId"] != support || d["agentId"] != boID || d["transfers"] != 1.0 {
			t.Errorf("the record's state %v", d)
		}
		offers := d["offers"].([]any)
		if len(offers) != 2 || offers[0].(map[string]any)["agentId"] != anaID || offers[0].(map[string]any)["outcome"] != "accepted" ||
			offers[1].(map[string]any)["agentId"] != boID || offers[1].(map[string]any)["outcome"] != "accepted" {
			t.Errorf("offers %v", offers)
		}
		// Ana held it: she reads its record, without the offers log.
		mine := s.call(t, "GET", "/v1/history/"+id, anaKey, nil, 200)
		if _, ok := mine["offers"]; ok || len(mine["transcript"].([]any)) != 2 {
			t.Errorf("Ana's view of the record: %v", mine)
		}
	})
	s.call(t, "DELETE", "/v1/agents/me/session", boKey, nil, 204)
}
