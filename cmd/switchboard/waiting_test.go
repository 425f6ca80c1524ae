package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/events"
	"switchboard/workflows"
)

// TestMessagingWaitingEndToEnd runs a sender's waiting strategy on the real stack:
// the API's rules (admins write, supervisors read, bad values name their field), then
// a web chat to that sender, which nobody can take, gets the welcome once through the
// test channel as a system message in its transcript, and nothing more once it ends.
func TestMessagingWaitingEndToEnd(t *testing.T) {
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
	sender := s.call(t, "POST", "/v1/channel-senders", adminKey, `{"subChannel":"web_chat","address":"acme-help","kind":"test"}`, 201)["id"].(string)
	path := "/v1/channel-senders/" + sender + "/waiting-strategy"

	strategy := map[string]any{"welcomeEnabled": true, "welcomeMessage": "Hello! An agent will be with you shortly.",
		"announcementEnabled": true, "announcementMessage": "Thanks for waiting.", "announcementIntervalMinutes": 1, "announcementCount": 100}
	s.wantError(t, "PUT", path, adminKey, strategy, 422, "invalid_field", "announcementCount")
	strategy["announcementCount"] = 60
	s.wantError(t, "PUT", path, supKey, strategy, 403, "forbidden", "")
	s.wantError(t, "PUT", path, adminKey, `{"maxWaitEnabled":true,"maxWaitMessage":"Bye","maxWaitMinutes":90}`, 422, "invalid_field", "maxWaitMinutes")
	s.wantError(t, "PUT", path, adminKey, `{"welcomeMessage":"Hi"}`, 422, "invalid_field", "welcomeEnabled")
	s.call(t, "PUT", path, adminKey, strategy, 200)
	if got := s.call(t, "GET", path, supKey, nil, 200); got["announcementCount"] != float64(60) || got["senderId"] != sender {
		t.Fatalf("read %v", got)
	}

	// Nobody is available: the chat waits in the Default queue and is welcomed.
	chat := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-9","to":"acme-help"}`, 201)["id"].(string)
	s.waitFor(t, "/v1/interactions/"+chat+"/messages", supKey, "the welcome in the transcript", func(v map[string]any) bool {
		items := v["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["senderKind"] == "system" && items[0].(map[string]any)["deliveryStatus"] == "sent"
	})
	sent, err := testChannel.Sent(context.Background(), tenant, sender)
	if err != nil || len(sent) != 1 || sent[0].InteractionID != chat || sent[0].To != "visitor-9" ||
		sent[0].Body != strategy["welcomeMessage"] || sent[0].MessageID != workflows.WaitingMessageID(chat, workflows.WaitingWelcome, 1) {
		t.Fatalf("the channel took %+v, %v", sent, err)
	}
	if ix := s.call(t, "GET", "/v1/interactions/"+chat, supKey, nil, 200); ix["status"] != "queued" {
		t.Errorf("the chat is %v, want still queued", ix["status"])
	}
	s.call(t, "POST", "/v1/interactions/"+chat+"/end", supKey, `{"reason":"visitor left"}`, 200)
	s.waitFor(t, "/v1/interactions/"+chat, supKey, "the chat ended", func(v map[string]any) bool { return v["status"] == "abandoned" })
	if sent, err := testChannel.Sent(context.Background(), tenant, sender); err != nil || len(sent) != 1 {
		t.Errorf("after the end the channel has %d messages, %v", len(sent), err)
	}
}
