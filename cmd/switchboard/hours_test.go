package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/events"
	"switchboard/workflows"
)

// TestWorkingHoursEndToEnd runs working hours on the real stack: the period API and
// its rules, the tenant default that only queues created afterwards get, a web chat
// that starts on a holiday in a queue that closes such conversations (the away
// message goes out over the test channel once and the conversation is closed), a
// chat that waits through the closure without being offered to an available agent
// and is offered to her when a change of the period opens the queue (the queue's
// opening runs bulk assignment), and no away message to that conversation once it
// goes on after the queue closed again.
func TestWorkingHoursEndToEnd(t *testing.T) {
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
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	sender := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-site","kind":"test"}`, 201)["id"].(string)

	// Open around the clock in Zagreb, but today (and the days around it) is a holiday.
	zagreb, err := time.LoadLocation("Europe/Zagreb")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(zagreb)
	holiday := map[string]string{"name": "Founders' day",
		"startDate": today.AddDate(0, 0, -1).Format(time.DateOnly), "endDate": today.AddDate(0, 0, 1).Format(time.DateOnly)}
	allDay := map[string]any{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		allDay[d] = map[string]any{"enabled": true, "ranges": []map[string]string{{"from": "00:00", "to": "24:00"}}}
	}
	period := func(name string, close bool) map[string]any {
		return map[string]any{"name": name, "timeZone": "Europe/Zagreb", "days": allDay, "holidays": []any{holiday},
			"awayMessage": "We are closed for " + name + "; we will answer when we open.", "closeOutsideHours": close}
	}

	// The rules: admins write, supervisors read; bad input names its field.
	s.wantError(t, "POST", "/v1/working-hours", supKey, period("Sup", false), 403, "forbidden", "")
	bad := period("Bad", false)
	bad["timeZone"] = "Europe/Atlantis"
	s.wantError(t, "POST", "/v1/working-hours", adminKey, bad, 422, "invalid_field", "timeZone")
	bad = period("Bad", true)
	bad["holidays"] = []any{map[string]string{"startDate": "2025-12-26", "endDate": "2025-12-24"}}
	s.wantError(t, "POST", "/v1/working-hours", adminKey, bad, 422, "invalid_field", "holidays[0].endDate")
	bad = period("Bad", true)
	bad["awayMessage"] = ""
	s.wantError(t, "POST", "/v1/working-hours", adminKey, bad, 422, "invalid_field", "closeOutsideHours")
	s.wantError(t, "POST", "/v1/working-hours", adminKey, `{"name":"x","timeZone":"UTC","days":{"monday":{"enabled":true,"ranges":[{"from":"09:00","to":"08:00"}]}}}`,
		422, "invalid_field", "days.monday.ranges[0].to")

	// The default goes to queues created afterwards only.
	before := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Before"}`, 201)
	closing := period("the holiday", true)
	closing["isDefault"] = true
	closed := s.call(t, "POST", "/v1/working-hours", adminKey, closing, 201)
	closedID := closed["id"].(string)
	if st := closed["status"].(map[string]any); st["open"] != false || closed["isDefault"] != true {
		t.Fatalf("created %v", closed)
	}
	night := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Night"}`, 201)
	if before["workingHoursId"] != nil || night["workingHoursId"] != closedID {
		t.Errorf("queue before the default %v, after %v", before["workingHoursId"], night["workingHoursId"])
	}
	if q := s.call(t, "GET", "/v1/queues/"+before["id"].(string), adminKey, nil, 200); q["workingHoursId"] != nil {
		t.Errorf("the earlier queue got the default: %v", q["workingHoursId"])
	}
	if got := s.call(t, "GET", "/v1/working-hours/"+closedID, supKey, nil, 200); len(got["queueIds"].([]any)) != 1 {
		t.Errorf("period as supervisors read it: %v", got)
	}
	s.wantError(t, "DELETE", "/v1/working-hours/"+closedID, adminKey, nil, 409, "conflict", "")

	// A web chat on the holiday: the away message, then closed.
	s.call(t, "POST", "/v1/routes", adminKey, map[string]any{"name": "night chats", "queueId": night["id"],
		"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"night"}}}, 201)
	chat := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-7","to":"acme-site","tags":["night"]}`, 201)["id"].(string)
	done := s.waitFor(t, "/v1/interactions/"+chat, supKey, "the chat closed outside the hours", func(v map[string]any) bool {
		return v["status"] == "abandoned"
	})
	if done["conversationStatus"] != "closed" || done["endReason"] != workflows.OutsideHoursReason || done["agentId"] != nil {
		t.Errorf("closed chat %v", done)
	}
	sent, err := testChannel.Sent(context.Background(), tenant, sender)
	if err != nil || len(sent) != 1 || sent[0].InteractionID != chat || sent[0].To != "visitor-7" || sent[0].Channel != "web_chat" ||
		!strings.Contains(sent[0].Body, "closed for the holiday") || sent[0].MessageID != workflows.AwayMessageID(chat) {
		t.Fatalf("the channel took %+v, %v", sent, err)
	}
	transcript := s.call(t, "GET", "/v1/interactions/"+chat+"/messages", supKey, nil, 200)["items"].([]any)
	if len(transcript) != 1 || transcript[0].(map[string]any)["senderKind"] != "system" {
		t.Errorf("transcript %v", transcript)
	}

	// A queue whose period lets such chats wait. Ana is available in it.
	waiting := s.call(t, "POST", "/v1/working-hours", adminKey, period("inventory", false), 201)["id"].(string)
	later := s.call(t, "POST", "/v1/queues", adminKey, `{"name":"Later"}`, 201)["id"].(string)
	s.wantError(t, "PUT", "/v1/queues/"+later+"/working-hours", supKey, map[string]any{"workingHoursId": waiting}, 403, "forbidden", "")
	s.wantError(t, "PUT", "/v1/queues/"+later+"/working-hours", adminKey, `{}`, 422, "invalid_field", "workingHoursId")
	assigned := s.call(t, "PUT", "/v1/queues/"+later+"/working-hours", adminKey, map[string]any{"workingHoursId": waiting}, 200)
	if assigned["status"].(map[string]any)["open"] != false || assigned["workingHours"].(map[string]any)["id"] != waiting {
		t.Fatalf("assigned %v", assigned)
	}
	s.call(t, "PATCH", "/v1/agents/"+anaID, adminKey, map[string]any{"queueIds": []string{later}}, 200)
	s.call(t, "POST", "/v1/routes", adminKey, map[string]any{"name": "later chats", "queueId": later,
		"condition": map[string]any{"attr": "tags", "op": "in_list", "values": []string{"later"}}}, 201)
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"available"}`, 201)
	s.heartbeats(t, anaKey)
	held := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-8","to":"acme-site","tags":["later"]}`, 201)["id"].(string)
	path := "/v1/interactions/" + held
	s.waitFor(t, path+"/messages", supKey, "the away message of the waiting chat", func(v map[string]any) bool {
		return len(v["items"].([]any)) == 1
	})
	// Ana is available and has room, yet the chat is not offered while the queue is
	// closed: not at its start, and not by the bulk assignment of her status change.
	s.call(t, "PUT", "/v1/agents/me/status", anaKey, `{"status":"available"}`, 200)
	time.Sleep(1500 * time.Millisecond)
	if v := s.call(t, "GET", path, supKey, nil, 200); v["status"] != "queued" || v["offeredAgentId"] != nil {
		t.Fatalf("offered while the queue is closed: %v", v)
	}

	// The holiday is called off: the queue opens now, and its opening gives Ana the chat.
	opened := s.call(t, "PATCH", "/v1/working-hours/"+waiting, adminKey, `{"holidays":[]}`, 200)
	if opened["status"].(map[string]any)["open"] != true {
		t.Errorf("after the change %v", opened["status"])
	}
	s.waitFor(t, path, anaKey, "offered to Ana at the opening", func(v map[string]any) bool {
		return v["status"] == "offered" && v["offeredAgentId"] == anaID
	})
	s.call(t, "POST", path+"/accept", anaKey, nil, 200)
	if q := s.call(t, "GET", "/v1/queues/"+later+"/working-hours", supKey, nil, 200); q["status"].(map[string]any)["open"] != true {
		t.Errorf("queue status %v", q)
	}

	// The queue closes again; the customer writes on in the ongoing conversation,
	// which gets no away message.
	s.call(t, "PATCH", "/v1/working-hours/"+waiting, adminKey, map[string]any{"holidays": []any{holiday}}, 200)
	s.call(t, "POST", path+"/inbound-messages", crmKey, `{"from":"visitor-8","body":"Are you still there?"}`, 202)
	s.waitFor(t, path+"/messages", anaKey, "the customer's message", func(v map[string]any) bool {
		return len(v["items"].([]any)) == 2
	})
	time.Sleep(500 * time.Millisecond)
	sent, err = testChannel.Sent(context.Background(), tenant, sender)
	byInteraction := map[string]int{}
	for _, m := range sent {
		byInteraction[m.InteractionID]++
	}
	if err != nil || len(sent) != 2 || byInteraction[chat] != 1 || byInteraction[held] != 1 {
		t.Errorf("the channel took %+v, %v; want the two away messages only", byInteraction, err)
	}
	if v := s.call(t, "GET", path, supKey, nil, 200); v["status"] != "connected" {
		t.Errorf("the ongoing conversation %v", v["status"])
	}
}
