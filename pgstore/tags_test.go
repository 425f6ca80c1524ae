package pgstore_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
)

// The tag catalogue: conversation and macro tags are separate lists with their own
// unique names (ignoring case); references resolve by ID or name to the catalogue's
// spelling, and an unknown one is refused naming its place.
func TestTagCatalogue(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID
	vip, err := store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Name: " VIP ", Description: "Gold customers"})
	if err != nil || vip.Kind != pgstore.TagConversation || vip.Name != "VIP" {
		t.Fatalf("created %+v, %v", vip, err)
	}
	billing, err := store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Name: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	// The same name is a macro tag too, and another tenant's.
	macro, err := store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Kind: pgstore.TagMacro, Name: "vip"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTag(ctx, other, pgstore.Actor{}, pgstore.NewTag{Name: "VIP"}); err != nil {
		t.Fatal(err)
	}
	_, err = store.CreateTag(ctx, tid, pgstore.Actor{}, pgstore.NewTag{Name: "vip"})
	wantErr(t, err, pgstore.ErrConflict)
	for _, tc := range []struct {
		in    pgstore.NewTag
		field string
	}{
		{pgstore.NewTag{Name: "  "}, "name"},
		{pgstore.NewTag{Name: strings.Repeat("x", 101)}, "name"},
		{pgstore.NewTag{Name: "a\tb"}, "name"},
		{pgstore.NewTag{Name: "x", Kind: "customer"}, "kind"},
		{pgstore.NewTag{Name: "x", Description: strings.Repeat("d", 501)}, "description"},
	} {
		_, err := store.CreateTag(ctx, tid, pgstore.Actor{}, tc.in)
		wantInvalid(t, err, tc.field)
	}

	all, err := store.ListTags(ctx, tid, pgstore.TagFilter{})
	if err != nil || len(all) != 3 || all[0].ID != billing.ID || all[1].ID != vip.ID || all[2].ID != macro.ID {
		t.Fatalf("listed %+v, %v", all, err)
	}
	macros, err := store.ListTags(ctx, tid, pgstore.TagFilter{Kind: pgstore.TagMacro})
	if err != nil || len(macros) != 1 || macros[0].ID != macro.ID {
		t.Fatalf("macro tags %+v, %v", macros, err)
	}
	found, err := store.ListTags(ctx, tid, pgstore.TagFilter{Query: "IP", Kind: pgstore.TagConversation})
	if err != nil || len(found) != 1 || found[0].ID != vip.ID {
		t.Fatalf("search %+v, %v", found, err)
	}
	page, err := store.ListTags(ctx, tid, pgstore.TagFilter{Page: pgstore.Page{Limit: 2}})
	if err != nil || len(page) != 2 {
		t.Fatal(page, err)
	}
	next, err := store.ListTags(ctx, tid, pgstore.TagFilter{Page: pgstore.Page{Limit: 2, After: page[1].ID}})
	if err != nil || len(next) != 1 || next[0].ID != macro.ID {
		t.Fatalf("next page %+v, %v", next, err)
	}

	names, err := store.ResolveTags(ctx, tid, "add", []string{"vip", billing.ID, "VIP"})
	if err != nil || !slices.Equal(names, []string{"VIP", "billing"}) {
		t.Fatalf("resolved %v, %v", names, err)
	}
	_, err = store.ResolveTags(ctx, tid, "add", []string{"vip", "gold"})
	wantInvalid(t, err, "add[1]")
	_, err = store.ResolveTags(ctx, tid, "add", []string{macro.ID})
	wantInvalid(t, err, "add[0]") // a macro tag is no conversation tag
	_, err = store.ResolveTags(ctx, other, "add", []string{billing.ID})
	wantInvalid(t, err, "add[0]")

	renamed, err := store.UpdateTag(ctx, tid, pgstore.Actor{}, vip.ID, pgstore.TagPatch{Name: ptr("Gold"), Description: ptr("")})
	if err != nil || renamed.Name != "Gold" || renamed.Description != "" {
		t.Fatalf("renamed %+v, %v", renamed, err)
	}
	_, err = store.UpdateTag(ctx, tid, pgstore.Actor{}, vip.ID, pgstore.TagPatch{Name: ptr("Billing")})
	wantErr(t, err, pgstore.ErrConflict)
	_, err = store.UpdateTag(ctx, other, pgstore.Actor{}, vip.ID, pgstore.TagPatch{Name: ptr("x")})
	wantErr(t, err, pgstore.ErrNotFound)
	wantErr(t, store.DeleteTag(ctx, other, pgstore.Actor{}, vip.ID), pgstore.ErrNotFound)
	if err := store.DeleteTag(ctx, tid, pgstore.Actor{}, vip.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.GetTag(ctx, tid, vip.ID)
	wantErr(t, err, pgstore.ErrNotFound)
}

// A conversation change is written with its state version: tags, priority, form and
// subject change together with the state, a late write of an older version changes
// nothing, and the history finds interactions by tag, form and sentiment tag.
func TestConversationChangeAndHistoryFilters(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	at := time.Now().UTC().Truncate(time.Millisecond)
	tagged := newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at)
	tagged.Tags = []string{"from-bot"}
	tagged = enqueue(t, tagged)
	plain := enqueue(t, newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at.Add(time.Second)))

	st := tagged.InteractionState
	st.Version = 1
	tags := []string{"from-bot", "VIP"}
	high := routing.PriorityHigh
	subject := "Refund"
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: tagged.ID, State: st,
		Conversation: &pgstore.ConversationChange{Tags: &tags, Priority: &high, Subject: &subject}})
	got := getInteraction(t, tid, tagged.ID)
	if !slices.Equal(got.Tags, tags) || got.Priority != high || got.Subject != "Refund" || got.Version != 1 {
		t.Fatalf("after the change: tags %v priority %v subject %q version %d", got.Tags, got.Priority, got.Subject, got.Version)
	}
	// A retried older write, then an empty tag list.
	old := []string{}
	st.Version = 0
	record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: tagged.ID, State: st, Conversation: &pgstore.ConversationChange{Tags: &old}})
	if got := getInteraction(t, tid, tagged.ID); len(got.Tags) != 2 {
		t.Fatalf("an older write changed the tags: %v", got.Tags)
	}
	// An unknown form is refused and changes nothing.
	nowhere := "6f1c2c3e-0000-4000-8000-00000000f0f0"
	st.Version = 2
	_, err := store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: tagged.ID, State: st,
		Conversation: &pgstore.ConversationChange{FormID: &nowhere, Tags: &old}})
	wantInvalid(t, err, "formId")
	if got := getInteraction(t, tid, tagged.ID); len(got.Tags) != 2 || got.Version != 1 {
		t.Fatalf("a refused change was written: %v v%d", got.Tags, got.Version)
	}
	bad := []string{"ok", ""}
	_, err = store.RecordInteraction(ctx, pgstore.InteractionUpdate{TenantID: tid, InteractionID: tagged.ID, State: st,
		Conversation: &pgstore.ConversationChange{Tags: &bad}})
	wantInvalid(t, err, "tags[1]")

	search := func(f pgstore.HistoryFilter) []string {
		t.Helper()
		p, err := store.SearchHistory(ctx, tid, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range p.Items {
			ids = append(ids, in.ID)
		}
		return ids
	}
	if ids := search(pgstore.HistoryFilter{Tag: "VIP"}); !slices.Equal(ids, []string{tagged.ID}) {
		t.Errorf("by tag VIP: %v", ids)
	}
	if ids := search(pgstore.HistoryFilter{Tag: "vip"}); len(ids) != 0 {
		t.Errorf("by tag vip (the store matches names exactly): %v", ids)
	}
	if ids := search(pgstore.HistoryFilter{Tag: "from-bot"}); !slices.Equal(ids, []string{tagged.ID}) {
		t.Errorf("by the creation tag: %v", ids)
	}
	if ids := search(pgstore.HistoryFilter{}); len(ids) != 2 || ids[1] != tagged.ID || ids[0] != plain.ID {
		t.Errorf("unfiltered: %v", ids)
	}
	_, err = store.SearchHistory(ctx, tid, pgstore.HistoryFilter{Sentiment: "angry"})
	wantInvalid(t, err, "sentiment")
	_, err = store.SearchHistory(ctx, tid, pgstore.HistoryFilter{FormID: "x"})
	wantInvalid(t, err, "formId")
}

func ptr[T any](v T) *T { return &v }
