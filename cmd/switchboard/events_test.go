package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"switchboard/events"
)

// sseEvent is one Server-Sent Event as a client receives it.
type sseEvent struct {
	id, typ string
	event   events.Event
}

// sseClient follows GET /v1/events like a desktop does.
type sseClient struct {
	events chan sseEvent
	cancel context.CancelFunc
	status int
	header http.Header
}

// follow opens the caller's event stream with query and lastID (the Last-Event-ID
// header) and returns once the answer's head arrived; it is closed with the test.
func (s *testStack) follow(t *testing.T, key, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.httpURL+"/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{events: make(chan sseEvent, 1000), cancel: cancel, status: res.StatusCode, header: res.Header}
	t.Cleanup(cancel)
	go func() {
		defer res.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data.Len() > 0 {
					if err := json.Unmarshal([]byte(data.String()), &cur.event); err == nil {
						c.events <- cur
					}
				}
				cur, data = sseEvent{}, strings.Builder{}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data.WriteString(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return c
}

// next returns the stream's next event, failing the test after a generous wait.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20 s")
	}
	return sseEvent{}
}

// keys takes events until the one with key last and returns their keys in order.
func (c *sseClient) keysUntil(t *testing.T, last string) []string {
	t.Helper()
	var out []string
	for {
		e := c.next(t)
		out = append(out, e.event.Key)
		if e.event.Key == last {
			return out
		}
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")

	// The test publishes as another API replica or worker would: straight into
	// the tenant's stream in Redis.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
	defer rdb.Close()
	feed, err := events.New(rdb, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), events.DefaultPrefix+":{"+tenant+"}:events") })
	publish := func(key, typ string, agents ...string) string {
		t.Helper()
		id, err := feed.Publish(context.Background(), events.Event{Key: key, Type: typ, TenantID: tenant, At: time.Now().UTC(),
			InteractionID: uuid.NewString(), Agents: agents, Data: json.RawMessage(`{"key":"` + key + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Run("bad requests", func(t *testing.T) {
		s.wantError(t, "GET", "/v1/events", "", nil, 401, "unauthenticated", "")
		s.wantError(t, "GET", "/v1/events?lastEventId=yesterday", supKey, nil, 422, "invalid_field", "lastEventId")
		s.wantError(t, "GET", "/v1/events?types=interactionEnded,gossip", supKey, nil, 422, "invalid_field", "types")
		s.wantError(t, "GET", "/v1/events?since=1", supKey, nil, 422, "invalid_field", "since")
		s.wantError(t, "GET", "/v1/events?agentId="+boID, anaKey, nil, 403, "forbidden", "")
	})

	sup := s.follow(t, supKey, "", "")
	ana := s.follow(t, anaKey, "", "")
	bo := s.follow(t, boKey, "?agentId="+boID, "")
	supAna := s.follow(t, supKey, "?agentId="+anaID, "")
	supEnded := s.follow(t, supKey, "?types="+events.InteractionEnded, "")
	for _, c := range []*sseClient{sup, ana, bo, supAna, supEnded} {
		if c.status != 200 || !strings.HasPrefix(c.header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream answered %d %s", c.status, c.header.Get("Content-Type"))
		}
	}
	// Another tenant's events never reach this one.
	other := uuid.NewString()
	if _, err := feed.Publish(context.Background(), events.Event{Key: "elsewhere", Type: events.InteractionOffered, TenantID: other,
		At: time.Now().UTC(), Agents: []string{anaID}}); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(context.Background(), events.DefaultPrefix+":{"+other+"}:events")

	first := publish("offer-ana", events.InteractionOffered, anaID)
	publish("offer-bo", events.InteractionOffered, boID)
	publish("status-ana", events.AgentStatusChanged, anaID)
	publish("ended-both", events.InteractionEnded, anaID, boID)
	publish("marker", events.InteractionEnded, anaID, boID)

	if got, want := fmt.Sprint(sup.keysUntil(t, "marker")), "[offer-ana offer-bo status-ana ended-both marker]"; got != want {
		t.Errorf("supervisor got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(ana.keysUntil(t, "marker")), "[offer-ana status-ana ended-both marker]"; got != want {
		t.Errorf("agent got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(bo.keysUntil(t, "marker")), "[offer-bo ended-both marker]"; got != want {
		t.Errorf("agent naming themselves got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(supAna.keysUntil(t, "marker")), "[offer-ana status-ana ended-both marker]"; got != want {
		t.Errorf("supervisor following one agent got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(supEnded.keysUntil(t, "marker")), "[ended-both marker]"; got != want {
		t.Errorf("type filter got %s, want %s", got, want)
	}

	t.Run("SSE framing carries the ID and type", func(t *testing.T) {
		again := s.follow(t, supKey, "", first)
		e := again.next(t)
		if e.event.Key != "offer-bo" || e.typ != events.InteractionOffered || e.id != e.event.ID || e.id == "" {
			t.Fatalf("first event after resuming: %+v", e)
		}
	})

	t.Run("a reconnecting client resumes after its last event", func(t *testing.T) {
		resumed := s.follow(t, anaKey, "", first)
		if got, want := fmt.Sprint(resumed.keysUntil(t, "marker")), "[status-ana ended-both marker]"; got != want {
			t.Errorf("resumed agent got %s, want %s", got, want)
		}
		publish("live", events.InteractionConnected, anaID)
		if e := resumed.next(t); e.event.Key != "live" {
			t.Errorf("after catching up the stream delivered %s, want the live event", e.event.Key)
		}
		byQuery := s.follow(t, supKey, "?lastEventId="+first, "")
		if e := byQuery.next(t); e.event.Key != "offer-bo" {
			t.Errorf("resuming with lastEventId delivered %s first", e.event.Key)
		}
	})
}

// typesOf takes events until one of type last for interaction id (or, with id empty,
// any), and returns the types seen for that interaction (all, with id empty).
func (c *sseClient) typesUntil(t *testing.T, id, last string) []string {
	t.Helper()
	var out []string
	for {
		e := c.next(t)
		if id != "" && e.event.InteractionID != id {
			continue
		}
		out = append(out, e.typ)
		if e.typ == last {
			return out
		}
	}
}

// The interaction workflow's activities and the presence endpoints publish the
// lifecycle: the agent's own stream carries their status, their offer, the
// rejected offer closing, the next offer, the connection and the end, in order; the
// supervisor's carries every step of the interaction, starting with its creation.
func TestInteractionEventsOnTheStream(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 15})
		defer rdb.Close()
		rdb.Del(context.Background(), events.DefaultPrefix+":{"+tenant+"}:events")
	})
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", supKey, `{"ringTimeoutSeconds":30}`, 200)

	sup := s.follow(t, supKey, "", "")
	ana := s.follow(t, anaKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	login := ana.next(t)
	var status struct {
		AgentID  string `json:"agentId"`
		LoggedIn bool   `json:"loggedIn"`
		Presence struct {
			Status struct{ Name string } `json:"status"`
		} `json:"presence"`
	}
	if err := json.Unmarshal(login.event.Data, &status); err != nil || login.typ != events.AgentStatusChanged ||
		status.AgentID != anaID || !status.LoggedIn {
		t.Fatalf("first event on the agent's stream: %s %s (%v)", login.typ, login.event.Data, err)
	}

	id := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-1"}`, 201)["id"].(string)
	path := "/v1/interactions/" + id
	s.waitFor(t, path, anaKey, "offered to Ana", func(v map[string]any) bool { return v["status"] == "offered" })
	s.call(t, "POST", path+"/reject", anaKey, `{"reason":"busy"}`, 200)
	// Ana is excluded now: the chat waits until a second agent logs in, and
	// bulk assignment gives it to him.
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	bo := s.follow(t, boKey, "", "")
	s.call(t, "POST", "/v1/agents/me/session", boKey, nil, 201)
	s.waitFor(t, path, boKey, "offered to Bo", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == boID })
	s.call(t, "POST", path+"/accept", boKey, nil, 200)
	s.call(t, "POST", path+"/end", boKey, nil, 200)

	want := []string{events.InteractionOffered, events.InteractionOfferClosed}
	if got := ana.typesUntil(t, id, events.InteractionOfferClosed); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Ana's stream for the chat: %v, want %v", got, want)
	}
	want = []string{events.AgentStatusChanged, events.InteractionOffered, events.InteractionConnected, events.InteractionDisconnected, events.InteractionEnded}
	if got := bo.typesUntil(t, "", events.InteractionEnded); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Bo's stream: %v, want %v", got, want)
	}
	want = []string{events.InteractionInitiated, events.InteractionOffered, events.InteractionOfferClosed, events.InteractionOffered,
		events.InteractionConnected, events.InteractionDisconnected, events.InteractionEnded}
	if got := sup.typesUntil(t, id, events.InteractionEnded); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the supervisor's stream for the chat: %v, want %v", got, want)
	}
	// Nothing about the chat reached Ana after her offer closed.
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
	for {
		e := ana.next(t)
		if e.event.InteractionID == id {
			t.Fatalf("Ana got %s of a chat she no longer had", e.typ)
		}
		if e.typ == events.AgentStatusChanged {
			var out struct {
				LoggedIn bool   `json:"loggedIn"`
				Reason   string `json:"reason"`
			}
			if json.Unmarshal(e.event.Data, &out) != nil || out.LoggedIn || out.Reason != "agent" {
				t.Errorf("logout event %s", e.event.Data)
			}
			break
		}
	}
}
