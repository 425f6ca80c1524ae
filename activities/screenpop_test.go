package activities_test

import (
	"slices"
	"testing"
	"time"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
)

// setScreenPop gives the tenant's Default campaign a screen pop URL.
func setScreenPop(t *testing.T, tenantID, template string) string {
	t.Helper()
	ctx := testContext(t)
	id, err := store.DefaultCampaignID(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	locale := "hr-HR"
	if _, err := store.UpdateCampaign(ctx, tenantID, pgstore.Actor{}, id, pgstore.CampaignUpdate{
		ScreenPopURL: pgstore.Nullable[string]{Set: true, Value: &template}, Locale: pgstore.Nullable[string]{Set: true, Value: &locale}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// A transfer's offer carries the screen pop resolved from the read model for the
// target; the answer's connected event carries it resolved from the interaction the
// workflow holds, and showCrm follows for the agent who now holds it. A retried
// confirmation publishes nothing new.
func TestScreenPopOnTransferAndConnect(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newHandover(t)
	campaign := setScreenPop(t, f.tenant,
		"https://crm.example.com/pop/{interactionId}?agent={userId}&name={userName}&ch={channel}&src={source}&type={callType}&q={queueId}&c={campaignId}&l={locale}&x={metadata.x}&cust={customerId}")
	want := func(x string) string {
		return "https://crm.example.com/pop/" + f.chat.ID + "?agent=" + f.to + "&name=User%20agent&ch=live_chat&src=web_chat&type=inbound&q=" +
			f.chat.QueueID + "&c=" + campaign + "&l=hr-HR&x=" + x + "&cust="
	}

	if res, err := f.a.HandOver(ctx, f.request(t, f.to)); err != nil || !res.OK {
		t.Fatalf("hand over: %+v, %v", res, err)
	}
	evs := feedOf(t, f.feed, f.tenant)
	if len(evs) != 2 || evs[1].Type != events.InteractionOffered {
		t.Fatalf("feed %+v", evs)
	}
	if p := payload(t, evs[1]); p.ScreenPop == nil || p.ScreenPop.URL != want("") || p.ScreenPop.CampaignID != campaign {
		t.Errorf("the transfer's offer carries %+v, want %s", p.ScreenPop, want(""))
	}

	carried := f.chat
	carried.Metadata = map[string]string{"x": "from the workflow & co"}
	connected := f.connected
	connected.Status, connected.AgentID, connected.Offers, connected.Version = pgstore.InteractionConnected, f.to, 2, 5
	connected.ExcludedAgents = []string{f.from}
	req := viaJSON(t, activities.ConfirmRequest{AgentID: f.to, Interaction: &carried,
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: connected,
			Response: &pgstore.OfferResponse{Attempt: 2, Outcome: pgstore.OfferAccepted, RespondedAt: time.Now().UTC()}}})
	for try := range 2 {
		if ok, err := f.a.ConfirmOffer(ctx, req); err != nil || !ok {
			t.Fatalf("try %d: confirm %v, %v", try, ok, err)
		}
		evs = feedOf(t, f.feed, f.tenant)
		if len(evs) != 4 {
			t.Fatalf("try %d: feed %v, want the transfer, the offer, the connection and showCrm", try, evs)
		}
		wantEvent(t, evs[2], f.tenant, f.chat.ID, 5, events.InteractionConnected, f.to)
		wantEvent(t, evs[3], f.tenant, f.chat.ID, 5, events.ShowCRM, f.to)
		conn, show := payload(t, evs[2]), payload(t, evs[3])
		if conn.ScreenPop == nil || conn.ScreenPop.URL != want("from%20the%20workflow%20%26%20co") {
			t.Errorf("try %d: connected carries %+v", try, conn.ScreenPop)
		}
		if show.ScreenPop == nil || *show.ScreenPop != *conn.ScreenPop || show.AgentID != f.to || show.Status != pgstore.InteractionConnected ||
			show.Channel != f.chat.Channel || show.QueueID != f.chat.QueueID || show.Detail["campaignId"] != campaign || show.Detail["direction"] != "inbound" {
			t.Errorf("try %d: showCrm carries %+v", try, show)
		}
	}
}

// Without a screen pop URL the events carry none and no showCrm is published.
func TestNoScreenPopWithoutATemplate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := newHandover(t)
	if res, err := f.a.HandOver(ctx, f.request(t, f.to)); err != nil || !res.OK {
		t.Fatalf("hand over: %+v, %v", res, err)
	}
	connected := f.connected
	connected.Status, connected.AgentID, connected.Offers, connected.Version = pgstore.InteractionConnected, f.to, 2, 5
	// Without the interaction in the request, the read model's is used.
	if ok, err := f.a.ConfirmOffer(ctx, activities.ConfirmRequest{AgentID: f.to,
		Update: pgstore.InteractionUpdate{TenantID: f.tenant, InteractionID: f.chat.ID, State: connected,
			Response: &pgstore.OfferResponse{Attempt: 2, Outcome: pgstore.OfferAccepted, RespondedAt: time.Now().UTC()}}}); err != nil || !ok {
		t.Fatalf("confirm %v, %v", ok, err)
	}
	var types []string
	for _, e := range feedOf(t, f.feed, f.tenant) {
		types = append(types, e.Type)
		if p := payload(t, e); p.ScreenPop != nil {
			t.Errorf("%s carries a screen pop %+v", e.Type, p.ScreenPop)
		}
	}
	if want := []string{events.InteractionTransferred, events.InteractionOffered, events.InteractionConnected}; !slices.Equal(types, want) {
		t.Errorf("feed %v, want %v", types, want)
	}
}
