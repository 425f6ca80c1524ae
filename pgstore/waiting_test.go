package pgstore_test

import (
	"errors"
	"testing"

	"switchboard/channels"
	"switchboard/pgstore"
)

func TestWaitingStrategy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	actor := pgstore.Actor{RequestID: "req-waiting"}
	wa := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000", Kind: channels.KindTest})

	if _, err := store.GetWaitingStrategy(ctx, tid, wa.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("a sender without a strategy: %v", err)
	}
	if got, err := store.WaitingStrategyFor(ctx, tid, "WhatsApp", "+38516000000"); err != nil || got != nil {
		t.Fatalf("strategy for a sender without one: %+v, %v", got, err)
	}
	in := pgstore.WaitingStrategySettings{WelcomeEnabled: true, WelcomeMessage: "  Hello, an agent will be with you shortly. ",
		AnnouncementEnabled: true, AnnouncementMessage: "Still looking for an agent.", AnnouncementIntervalMinutes: 1, AnnouncementCount: 60}
	w, err := store.PutWaitingStrategy(ctx, tid, actor, wa.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if w.SenderID != wa.ID || w.WelcomeMessage != "Hello, an agent will be with you shortly." || w.AnnouncementCount != 60 || w.MaxWaitEnabled {
		t.Errorf("put %+v", w)
	}
	// A second put replaces it: one strategy per sender.
	in = pgstore.WaitingStrategySettings{MaxWaitEnabled: true, MaxWaitMessage: "Nobody is free; write to us tomorrow.", MaxWaitMinutes: 60,
		WelcomeMessage: "kept while disabled"}
	if w, err = store.PutWaitingStrategy(ctx, tid, actor, wa.ID, in); err != nil || w.WelcomeEnabled || w.AnnouncementEnabled ||
		w.WelcomeMessage != "kept while disabled" || w.MaxWaitMinutes != 60 {
		t.Fatalf("replaced %+v, %v", w, err)
	}
	got, err := store.WaitingStrategyFor(ctx, tid, "whatsapp", "+385 1 600 0000")
	if err != nil || got == nil || *got != w.WaitingStrategySettings {
		t.Fatalf("strategy for the sender %+v, %v", got, err)
	}
	if n := auditCount(t, tid, "waiting_strategy.set", wa.ID); n != 2 {
		t.Errorf("%d audit entries", n)
	}
	// Another tenant sees nothing of it.
	if _, err := store.GetWaitingStrategy(ctx, other, wa.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant reads it: %v", err)
	}
	if _, err := store.PutWaitingStrategy(ctx, other, actor, wa.ID, in); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant writes it: %v", err)
	}
	// A disabled sender's conversations get none.
	if _, err := store.UpdateSender(ctx, tid, actor, wa.ID, pgstore.ChannelSenderUpdate{Enabled: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if got, err := store.WaitingStrategyFor(ctx, tid, "whatsapp", "+385 1 600 0000"); err != nil || got != nil {
		t.Errorf("strategy of a disabled sender %+v, %v", got, err)
	}
	if err := store.DeleteWaitingStrategy(ctx, tid, actor, wa.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteWaitingStrategy(ctx, tid, actor, wa.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// It goes with its sender.
	if _, err := store.PutWaitingStrategy(ctx, tid, actor, wa.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSender(ctx, tid, actor, wa.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetWaitingStrategy(ctx, tid, wa.ID); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("strategy of a deleted sender: %v", err)
	}
}

func TestWaitingStrategyValidation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	wa := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "sms", Address: "+385 1 600 0001", Kind: channels.KindTest})
	announce := func(interval, count int) pgstore.WaitingStrategySettings {
		return pgstore.WaitingStrategySettings{AnnouncementEnabled: true, AnnouncementMessage: "Please wait.",
			AnnouncementIntervalMinutes: interval, AnnouncementCount: count}
	}
	for _, tc := range []struct {
		name  string
		in    pgstore.WaitingStrategySettings
		field string
	}{
		{"nothing enabled", pgstore.WaitingStrategySettings{WelcomeMessage: "Hi"}, "welcomeEnabled"},
		{"welcome without text", pgstore.WaitingStrategySettings{WelcomeEnabled: true, WelcomeMessage: "  "}, "welcomeMessage"},
		{"interval under a minute", announce(0, 0), "announcementIntervalMinutes"},
		{"interval over an hour", announce(61, 0), "announcementIntervalMinutes"},
		{"more than 60 announcements", announce(1, 100), "announcementCount"},
		{"announcements past the hour", announce(2, 31), "announcementCount"},
		{"negative count", announce(1, -1), "announcementCount"},
		{"announcement without text", pgstore.WaitingStrategySettings{AnnouncementEnabled: true, AnnouncementIntervalMinutes: 1}, "announcementMessage"},
		{"max wait over an hour", pgstore.WaitingStrategySettings{MaxWaitEnabled: true, MaxWaitMessage: "Bye", MaxWaitMinutes: 61}, "maxWaitMinutes"},
		{"max wait without time", pgstore.WaitingStrategySettings{MaxWaitEnabled: true, MaxWaitMessage: "Bye"}, "maxWaitMinutes"},
		{"max wait without text", pgstore.WaitingStrategySettings{MaxWaitEnabled: true, MaxWaitMinutes: 5}, "maxWaitMessage"},
	} {
		_, err := store.PutWaitingStrategy(ctx, tid, pgstore.Actor{}, wa.ID, tc.in)
		var v *pgstore.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	// The bounds themselves are accepted.
	for _, in := range []pgstore.WaitingStrategySettings{announce(1, 60), announce(60, 1), announce(7, 0),
		{MaxWaitEnabled: true, MaxWaitMessage: "Bye", MaxWaitMinutes: 60}} {
		if _, err := store.PutWaitingStrategy(ctx, tid, pgstore.Actor{}, wa.ID, in); err != nil {
			t.Errorf("%+v: %v", in, err)
		}
	}
}
