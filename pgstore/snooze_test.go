package pgstore_test

import (
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
)

// A snoozed conversation keeps when it opens again; opening it clears that time.
// A snooze without its time, or a time on a conversation that is not snoozed, is
// refused on snoozedUntil with nothing written, and the database refuses the same
// when the check is bypassed.
func TestSnoozedConversationRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	ana := newUser(t, tid, pgstore.RoleAgent)
	q := newQueue(t, tid, "Chats", ana.ID)
	at := time.Now().UTC().Truncate(time.Millisecond)
	chat := newInteraction(tid, q.ID, routing.LiveChat, routing.PriorityNormal, at)
	chat.Source = "web_chat"
	enqueue(t, chat)
	connected := at.Add(2 * time.Second)
	connect(t, chat, ana.ID, connected)
	base := pgstore.InteractionState{Status: pgstore.InteractionConnected, AgentID: ana.ID, Offers: 1, QueuedAt: at,
		OfferedAt: &connected, ConnectedAt: &connected, ConversationStatus: pgstore.ConversationOpen}

	until := at.Add(48 * time.Hour)
	st := base
	st.ConversationStatus, st.SnoozedUntil, st.Version = pgstore.ConversationSnoozed, &until, 3
	got := recordState(t, tid, chat.ID, st)
	if got.SnoozedUntil == nil || !got.SnoozedUntil.Equal(until) || got.ConversationStatus != pgstore.ConversationSnoozed {
		t.Fatalf("snoozed read back as %v until %v", got.ConversationStatus, got.SnoozedUntil)
	}
	later := until.Add(time.Hour)
	st.SnoozedUntil, st.Version = &later, 4
	recordState(t, tid, chat.ID, st)
	st.ConversationStatus, st.SnoozedUntil, st.Version = pgstore.ConversationOpen, nil, 5
	if got := recordState(t, tid, chat.ID, st); got.SnoozedUntil != nil {
		t.Errorf("opened conversation still snoozed until %v", got.SnoozedUntil)
	}

	before := interactionRows(t, tid)
	for what, bad := range map[string]func(*pgstore.InteractionState){
		"snoozed without a time": func(s *pgstore.InteractionState) { s.ConversationStatus = pgstore.ConversationSnoozed },
		"a time while open":      func(s *pgstore.InteractionState) { s.SnoozedUntil = &until },
		"a call with a time":     func(s *pgstore.InteractionState) { s.ConversationStatus, s.SnoozedUntil = "", &until },
	} {
		s := base
		s.Version = 99
		bad(&s)
		_, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: chat.ID, State: s})
		t.Run(what, func(t *testing.T) { wantInvalid(t, err, "snoozedUntil") })
	}
	if after := interactionRows(t, tid); after != before {
		t.Error("a refused state changed the stored rows")
	}
	for what, sql := range map[string]string{
		"snoozed without a time": `UPDATE interactions SET conversation_status = 'snoozed' WHERE tenant_id = $1 AND id = $2`,
		"a time while open":      `UPDATE interactions SET snoozed_until = now() WHERE tenant_id = $1 AND id = $2`,
	} {
		if _, err := pool.Exec(ctx, sql, tid, chat.ID); err == nil {
			t.Errorf("the database took %s", what)
		}
	}
}
