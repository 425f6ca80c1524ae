package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
)

// connect writes an interaction as offered to and then accepted by agent.
func connect(t *testing.T, in pgstore.Interaction, agent string, at time.Time) {
	t.Helper()
	offered := pgstore.InteractionUpdate{TenantID: in.TenantID, InteractionID: in.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: agent, Offers: 1, QueuedAt: in.QueuedAt, OfferedAt: &at, Version: 1},
		Offer: &pgstore.Offer{Attempt: 1, AgentID: agent, Channel: in.Channel, OfferedAt: at, RingUntil: at.Add(20 * time.Second)},
	}
	record(t, offered)
	record(t, pgstore.InteractionUpdate{TenantID: in.TenantID, InteractionID: in.ID,
		State:    pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: agent, Offers: 1, QueuedAt: in.QueuedAt, OfferedAt: &at, ConnectedAt: &at, Version: 2},
		Response: &pgstore.OfferResponse{Attempt: 1, Outcome: pgstore.OfferAccepted, RespondedAt: at},
	})
}

func TestHeldInteractions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	bo := newUser(t, tid, pgstore.RoleAgent)
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)

	chat := enqueue(t, newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at))
	connect(t, chat, ana.ID, at.Add(time.Second))
	mail := enqueue(t, newInteraction(tid, q, routing.Email, routing.PriorityNormal, at))
	connect(t, mail, bo.ID, at.Add(2*time.Second))
	ended := enqueue(t, newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at))
	connect(t, ended, ana.ID, at.Add(3*time.Second))
	endAt := at.Add(4 * time.Second)
	endOffer := at.Add(3 * time.Second)
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: ended.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionEnded, AgentID: ana.ID, Offers: 1, QueuedAt: at, OfferedAt: &endOffer, ConnectedAt: &endOffer, EndedAt: &endAt, Version: 3}})
	enqueue(t, newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at)) // waiting: held by nobody
	offered := enqueue(t, newInteraction(tid, q, routing.Voice, routing.PriorityNormal, at))
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: offered.ID,
		State: pgstore.InteractionState{Status: pgstore.InteractionOffered, OfferedAgentID: bo.ID, Offers: 1, QueuedAt: at, OfferedAt: &at, Version: 1},
		Offer: &pgstore.Offer{Attempt: 1, AgentID: bo.ID, Channel: routing.Voice, OfferedAt: at, RingUntil: at.Add(20 * time.Second)}})

	got, err := store.HeldInteractions(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]pgstore.HeldInteraction{
		chat.ID: {AgentID: ana.ID, InteractionID: chat.ID, Channel: routing.LiveChat, ConnectedAt: at.Add(time.Second)},
		mail.ID: {AgentID: bo.ID, InteractionID: mail.ID, Channel: routing.Email, ConnectedAt: at.Add(2 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("held %+v, want %+v", got, want)
	}
	for _, h := range got {
		w := want[h.InteractionID]
		if h.AgentID != w.AgentID || h.Channel != w.Channel || !h.ConnectedAt.Equal(w.ConnectedAt) {
			t.Errorf("held %+v, want %+v", h, w)
		}
	}
	if got[0].AgentID > got[1].AgentID {
		t.Errorf("not ordered by agent: %+v", got)
	}
	if none, err := store.HeldInteractions(ctx, other); err != nil || len(none) != 0 {
		t.Errorf("another tenant's held: %v, %v", none, err)
	}
}

func TestAgentCapacity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	c, err := store.AgentCapacity(ctx, tid, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c[routing.LiveChat] != routing.DefaultLiveChatCapacity || c[routing.Email] != routing.DefaultEmailCapacity || c[routing.Voice] != 1 {
		t.Errorf("system defaults %v", c)
	}
	if _, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, pgstore.ACDSettingsUpdate{DefaultCapacity: &routing.Capacity{routing.LiveChat: 3, routing.Email: 7}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, ana.ID, pgstore.AgentUpdate{Capacity: &routing.Capacity{routing.Email: 2}}); err != nil {
		t.Fatal(err)
	}
	c, err = store.AgentCapacity(ctx, tid, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.GetAgent(ctx, tid, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range routing.Channels() {
		if c[ch] != a.EffectiveCapacity[ch] {
			t.Errorf("%s: %d, the agent record says %d", ch, c[ch], a.EffectiveCapacity[ch])
		}
	}
	if c[routing.LiveChat] != 3 || c[routing.Email] != 2 {
		t.Errorf("layered capacity %v", c)
	}
	if _, err := store.AgentCapacity(ctx, tid, sup.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("a supervisor's capacity: %v", err)
	}
}
