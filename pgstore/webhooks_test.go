package pgstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/events"
	"switchboard/pgstore"
)

func newWebhook(t *testing.T, tenantID string, in pgstore.NewWebhookEndpoint) pgstore.WebhookEndpointSecret {
	t.Helper()
	e, err := store.CreateWebhookEndpoint(testContext(t), tenantID, pgstore.Actor{RequestID: "req-webhook"}, in)
	if err != nil {
		t.Fatalf("CreateWebhookEndpoint %+v: %v", in, err)
	}
	return e
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var v *pgstore.ValidationError
	if !errors.As(err, &v) || v.Field != field {
		t.Errorf("%s: %v, want a validation error on %q", what, err, field)
	}
}

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	other := newTenant(t).Tenant.ID

	crm := newWebhook(t, tid, pgstore.NewWebhookEndpoint{URL: " https://crm.example.com/hooks ", Description: " CRM ",
		EventTypes: []string{events.InteractionEnded, events.InteractionInitiated, events.InteractionEnded}})
	if crm.URL != "https://crm.example.com/hooks" || crm.Description != "CRM" || !crm.Enabled || crm.TenantID != tid ||
		fmt.Sprint(crm.EventTypes) != "[interactionEnded interactionInitiated]" ||
		!strings.HasPrefix(crm.Secret, "whsec_") || len(crm.Secret) < 40 || crm.SecretHint != "…"+crm.Secret[len(crm.Secret)-4:] {
		t.Errorf("created %+v", crm)
	}
	off := newWebhook(t, tid, pgstore.NewWebhookEndpoint{URL: "http://127.0.0.1:9/x", EventTypes: []string{events.CallRinging}, Enabled: new(bool)})
	if off.Enabled || off.Secret == crm.Secret {
		t.Errorf("created %+v", off)
	}

	t.Run("bad input names the field", func(t *testing.T) {
		cases := []struct {
			name  string
			in    pgstore.NewWebhookEndpoint
			field string
		}{
			{"no url", pgstore.NewWebhookEndpoint{EventTypes: []string{events.InteractionEnded}}, "url"},
			{"ftp", pgstore.NewWebhookEndpoint{URL: "ftp://crm.example.com/", EventTypes: []string{events.InteractionEnded}}, "url"},
			{"relative", pgstore.NewWebhookEndpoint{URL: "/hooks", EventTypes: []string{events.InteractionEnded}}, "url"},
			{"credentials", pgstore.NewWebhookEndpoint{URL: "https://user:pw@crm.example.com/", EventTypes: []string{events.InteractionEnded}}, "url"},
			{"too long", pgstore.NewWebhookEndpoint{URL: "https://crm.example.com/" + strings.Repeat("a", 2000), EventTypes: []string{events.InteractionEnded}}, "url"},
			{"no types", pgstore.NewWebhookEndpoint{URL: "https://crm.example.com/"}, "eventTypes"},
			{"unknown type", pgstore.NewWebhookEndpoint{URL: "https://crm.example.com/", EventTypes: []string{"interactionExploded"}}, "eventTypes"},
			{"agent status", pgstore.NewWebhookEndpoint{URL: "https://crm.example.com/", EventTypes: []string{events.AgentStatusChanged}}, "eventTypes"},
			{"description", pgstore.NewWebhookEndpoint{URL: "https://crm.example.com/", EventTypes: []string{events.InteractionEnded}, Description: strings.Repeat("d", 1001)}, "description"},
		}
		for _, c := range cases {
			_, err := store.CreateWebhookEndpoint(ctx, tid, pgstore.Actor{}, c.in)
			wantField(t, c.name, err, c.field)
		}
		_, err := store.UpdateWebhookEndpoint(ctx, tid, pgstore.Actor{}, crm.ID, pgstore.WebhookEndpointUpdate{})
		wantField(t, "empty update", err, "")
		_, err = store.UpdateWebhookEndpoint(ctx, tid, pgstore.Actor{}, crm.ID, pgstore.WebhookEndpointUpdate{EventTypes: &[]string{}})
		wantField(t, "no types", err, "eventTypes")
	})

	t.Run("reads never show the secret", func(t *testing.T) {
		got, err := store.GetWebhookEndpoint(ctx, tid, crm.ID)
		if err != nil || got.ID != crm.ID || got.SecretHint != crm.SecretHint {
			t.Fatalf("get %+v, %v", got, err)
		}
		list, err := store.ListWebhookEndpoints(ctx, tid, pgstore.Page{})
		if err != nil || len(list) != 2 || list[0].ID != crm.ID || list[1].ID != off.ID {
			t.Fatalf("list %+v, %v", list, err)
		}
		raw, _ := json.Marshal(map[string]any{"get": got, "list": list})
		if strings.Contains(string(raw), crm.Secret) || strings.Contains(string(raw), off.Secret) || strings.Contains(string(raw), `"secret"`) {
			t.Errorf("a read shows a secret: %s", raw)
		}
		if page, err := store.ListWebhookEndpoints(ctx, tid, pgstore.Page{Limit: 1, After: crm.ID}); err != nil || len(page) != 1 || page[0].ID != off.ID {
			t.Errorf("second page %+v, %v", page, err)
		}
		var audit int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND object_type = 'webhook' AND details::text LIKE '%whsec_%'`, tid).Scan(&audit); err != nil || audit != 0 {
			t.Errorf("%d audit rows carry a secret (%v)", audit, err)
		}
	})

	t.Run("targets are the enabled endpoints", func(t *testing.T) {
		targets, err := store.WebhookTargets(ctx, tid)
		if err != nil || len(targets) != 1 || targets[0].EndpointID != crm.ID || !targets[0].Subscribed(events.InteractionEnded) ||
			targets[0].Subscribed(events.CallRinging) {
			t.Errorf("targets %+v, %v", targets, err)
		}
		if targets, err := store.WebhookTargets(ctx, other); err != nil || len(targets) != 0 {
			t.Errorf("another tenant's targets %+v, %v", targets, err)
		}
	})

	t.Run("update and rotate", func(t *testing.T) {
		on, url := true, "https://crm.example.com/v2"
		got, err := store.UpdateWebhookEndpoint(ctx, tid, pgstore.Actor{}, off.ID, pgstore.WebhookEndpointUpdate{Enabled: &on, URL: &url,
			EventTypes: &[]string{events.InteractionDisposed}})
		if err != nil || !got.Enabled || got.URL != url || fmt.Sprint(got.EventTypes) != "[interactionDisposed]" || got.SecretHint != off.SecretHint {
			t.Errorf("updated %+v, %v", got, err)
		}
		rotated, err := store.RotateWebhookSecret(ctx, tid, pgstore.Actor{}, crm.ID)
		if err != nil || rotated.Secret == crm.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.SecretHint == "" {
			t.Fatalf("rotated %+v, %v", rotated, err)
		}
		d := deliveries(t, tid, []string{crm.ID}, "rotate/1")
		send, err := store.WebhookSendOf(ctx, tid, d[0].ID)
		if err != nil || send.Secret != rotated.Secret || send.URL != crm.URL || !send.Enabled {
			t.Errorf("a delivery is signed with %+v, %v; want the new secret", send, err)
		}
	})

	t.Run("other tenants see nothing", func(t *testing.T) {
		if _, err := store.GetWebhookEndpoint(ctx, other, crm.ID); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("get: %v", err)
		}
		on := false
		if _, err := store.UpdateWebhookEndpoint(ctx, other, pgstore.Actor{}, crm.ID, pgstore.WebhookEndpointUpdate{Enabled: &on}); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("update: %v", err)
		}
		if _, err := store.RotateWebhookSecret(ctx, other, pgstore.Actor{}, crm.ID); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("rotate: %v", err)
		}
		if err := store.DeleteWebhookEndpoint(ctx, other, pgstore.Actor{}, crm.ID); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("delete: %v", err)
		}
		if _, err := store.ListWebhookDeliveries(ctx, other, crm.ID, pgstore.WebhookDeliveryFilter{}); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("deliveries: %v", err)
		}
		if made, err := store.CreateWebhookDeliveries(ctx, other, []string{crm.ID}, webhookEvent("other/1")); err != nil || len(made) != 0 {
			t.Errorf("another tenant made deliveries %+v, %v", made, err)
		}
	})

	t.Run("delete takes the log along", func(t *testing.T) {
		d := deliveries(t, tid, []string{off.ID}, "delete/1")
		if err := store.DeleteWebhookEndpoint(ctx, tid, pgstore.Actor{}, off.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.GetWebhookEndpoint(ctx, tid, off.ID); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("deleted endpoint: %v", err)
		}
		if _, err := store.WebhookSendOf(ctx, tid, d[0].ID); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("a deleted endpoint's delivery: %v", err)
		}
		if ok, err := store.ReopenWebhookDelivery(ctx, tid, d[0].ID, time.Now()); ok || err != nil {
			t.Errorf("reopen a deleted delivery: %v, %v", ok, err)
		}
	})
}

func webhookEvent(key string) pgstore.WebhookEvent {
	return pgstore.WebhookEvent{Key: key, Type: events.InteractionEnded, InteractionID: uuid.NewString(),
		At: time.Now().UTC().Truncate(time.Microsecond), Data: json.RawMessage(`{"status":"ended","version":4}`)}
}

func deliveries(t *testing.T, tenantID string, endpoints []string, key string) []pgstore.WebhookDeliveryRef {
	t.Helper()
	made, err := store.CreateWebhookDeliveries(testContext(t), tenantID, endpoints, webhookEvent(key))
	if err != nil || len(made) != len(endpoints) {
		t.Fatalf("CreateWebhookDeliveries %s: %+v, %v", key, made, err)
	}
	return made
}

func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	a := newWebhook(t, tid, pgstore.NewWebhookEndpoint{URL: "https://a.example.com/", EventTypes: []string{events.InteractionEnded}})
	b := newWebhook(t, tid, pgstore.NewWebhookEndpoint{URL: "https://b.example.com/", EventTypes: []string{events.InteractionEnded}})
	off := newWebhook(t, tid, pgstore.NewWebhookEndpoint{URL: "https://c.example.com/", EventTypes: []string{events.InteractionEnded}, Enabled: new(bool)})

	t.Run("one delivery per endpoint and event key", func(t *testing.T) {
		ev := webhookEvent("ix/1/4/interactionEnded")
		first, err := store.CreateWebhookDeliveries(ctx, tid, []string{a.ID, b.ID, off.ID}, ev)
		if err != nil || len(first) != 2 {
			t.Fatalf("made %+v, %v; want one for each enabled endpoint", first, err)
		}
		ev.At = ev.At.Add(time.Second) // a retried publisher's clock
		again, err := store.CreateWebhookDeliveries(ctx, tid, []string{a.ID, b.ID}, ev)
		if err != nil || len(again) != 2 {
			t.Fatalf("again %+v, %v", again, err)
		}
		ids := map[string]string{}
		for _, d := range first {
			ids[d.EndpointID] = d.ID
			if d.Status != pgstore.WebhookPending {
				t.Errorf("new delivery %+v", d)
			}
		}
		for _, d := range again {
			if ids[d.EndpointID] != d.ID {
				t.Errorf("the retry answered %s for endpoint %s, first %s", d.ID, d.EndpointID, ids[d.EndpointID])
			}
		}
		got, err := store.GetWebhookDelivery(ctx, tid, a.ID, ids[a.ID])
		if err != nil || got.EventKey != ev.Key || got.EventType != ev.Type || got.InteractionID != ev.InteractionID ||
			!got.OccurredAt.Equal(ev.At.Add(-time.Second)) || string(got.Data) != `{"status": "ended", "version": 4}` ||
			got.Attempts != 0 || got.Status != pgstore.WebhookPending {
			t.Errorf("delivery %+v (%s), %v", got, got.Data, err)
		}
		if _, err := store.GetWebhookDelivery(ctx, tid, b.ID, ids[a.ID]); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("a's delivery under b: %v", err)
		}
	})

	t.Run("concurrent publishers make one delivery", func(t *testing.T) {
		ev := webhookEvent("ix/2/1/interactionEnded")
		var wg sync.WaitGroup
		answers := make([][]pgstore.WebhookDeliveryRef, 8)
		errs := make([]error, 8)
		for i := range answers {
			wg.Go(func() { answers[i], errs[i] = store.CreateWebhookDeliveries(ctx, tid, []string{a.ID}, ev) })
		}
		wg.Wait()
		var n int
		var id string
		if err := pool.QueryRow(ctx, `SELECT count(*), min(id::text) FROM webhook_deliveries WHERE endpoint_id = $1 AND event_key = $2`, a.ID, ev.Key).Scan(&n, &id); err != nil || n != 1 {
			t.Fatalf("%d rows, %v", n, err)
		}
		answered := 0
		for i, ans := range answers {
			if errs[i] != nil {
				t.Errorf("publisher %d: %v", i, errs[i])
			}
			for _, d := range ans {
				answered++
				if d.ID != id {
					t.Errorf("publisher %d answered %s, the delivery is %s", i, d.ID, id)
				}
			}
		}
		if answered == 0 {
			t.Error("no publisher answered the delivery")
		}
	})

	t.Run("attempts make the log", func(t *testing.T) {
		d := deliveries(t, tid, []string{a.ID}, "ix/3/1/interactionEnded")[0]
		at := time.Now().UTC().Truncate(time.Microsecond)
		if err := store.RecordWebhookAttempt(ctx, tid, d.ID, pgstore.WebhookAttempt{At: at, StatusCode: 500, Error: "the endpoint answered 500"}); err != nil {
			t.Fatal(err)
		}
		got, _ := store.GetWebhookDelivery(ctx, tid, a.ID, d.ID)
		if got.Status != pgstore.WebhookPending || got.Attempts != 1 || got.LastStatusCode == nil || *got.LastStatusCode != 500 ||
			got.LastError == nil || *got.LastError != "the endpoint answered 500" || got.LastAttemptAt == nil || !got.LastAttemptAt.Equal(at) {
			t.Errorf("after a refusal %+v", got)
		}
		if err := store.RecordWebhookAttempt(ctx, tid, d.ID, pgstore.WebhookAttempt{At: at.Add(time.Second), Error: strings.Repeat("x", 5000)}); err != nil {
			t.Fatal(err)
		}
		got, _ = store.GetWebhookDelivery(ctx, tid, a.ID, d.ID)
		if got.Attempts != 2 || got.LastStatusCode != nil || got.LastError == nil || len(*got.LastError) > 2000 {
			t.Errorf("after no answer %+v", got)
		}
		if err := store.RecordWebhookAttempt(ctx, tid, d.ID, pgstore.WebhookAttempt{At: at.Add(2 * time.Second), StatusCode: 204, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		got, _ = store.GetWebhookDelivery(ctx, tid, a.ID, d.ID)
		if got.Status != pgstore.WebhookDelivered || got.Attempts != 3 || *got.LastStatusCode != 204 || got.LastError != nil ||
			got.DeliveredAt == nil || !got.DeliveredAt.Equal(at.Add(2*time.Second)) {
			t.Errorf("after delivery %+v", got)
		}
		// Failing is for pending deliveries only.
		if err := store.FailWebhookDelivery(ctx, tid, d.ID, "late"); err != nil {
			t.Fatal(err)
		}
		if got, _ = store.GetWebhookDelivery(ctx, tid, a.ID, d.ID); got.Status != pgstore.WebhookDelivered {
			t.Errorf("a delivered delivery failed: %+v", got)
		}
		// A re-send makes it pending again, keeping its count.
		if ok, err := store.ReopenWebhookDelivery(ctx, tid, d.ID, at.Add(time.Hour)); !ok || err != nil {
			t.Fatalf("reopen %v, %v", ok, err)
		}
		got, _ = store.GetWebhookDelivery(ctx, tid, a.ID, d.ID)
		if got.Status != pgstore.WebhookPending || got.Attempts != 3 || got.DeliveredAt != nil || got.ResentAt == nil || !got.ResentAt.Equal(at.Add(time.Hour)) {
			t.Errorf("after reopening %+v", got)
		}
		if err := store.FailWebhookDelivery(ctx, tid, d.ID, ""); err != nil {
			t.Fatal(err)
		}
		got, _ = store.GetWebhookDelivery(ctx, tid, a.ID, d.ID)
		if got.Status != pgstore.WebhookFailed || got.LastError != nil || got.Attempts != 3 {
			t.Errorf("failed without a reason of its own %+v", got)
		}
		if err := store.FailWebhookDelivery(ctx, tid, deliveries(t, tid, []string{a.ID}, "ix/3/2/interactionEnded")[0].ID, "the endpoint is disabled"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the log lists newest first, by status, in pages", func(t *testing.T) {
		all, err := store.ListWebhookDeliveries(ctx, tid, a.ID, pgstore.WebhookDeliveryFilter{})
		if err != nil || len(all) != 4 {
			t.Fatalf("log %+v, %v", all, err)
		}
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.After(all[i-1].CreatedAt) {
				t.Errorf("log not newest first: %v after %v", all[i].CreatedAt, all[i-1].CreatedAt)
			}
		}
		if all[0].EventKey != "ix/3/2/interactionEnded" || all[0].Status != pgstore.WebhookFailed || *all[0].LastError != "the endpoint is disabled" {
			t.Errorf("newest %+v", all[0])
		}
		failed, err := store.ListWebhookDeliveries(ctx, tid, a.ID, pgstore.WebhookDeliveryFilter{Status: pgstore.WebhookFailed})
		if err != nil || len(failed) != 2 {
			t.Errorf("failed %+v, %v", failed, err)
		}
		var paged []string
		after := ""
		for range 10 {
			page, err := store.ListWebhookDeliveries(ctx, tid, a.ID, pgstore.WebhookDeliveryFilter{Page: pgstore.Page{Limit: 3, After: after}})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				paged = append(paged, d.ID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(paged) != len(all) {
			t.Errorf("pages gave %d deliveries, the log has %d", len(paged), len(all))
		}
		for i := range paged {
			if i < len(all) && paged[i] != all[i].ID {
				t.Errorf("page order differs at %d", i)
			}
		}
		_, err = store.ListWebhookDeliveries(ctx, tid, a.ID, pgstore.WebhookDeliveryFilter{Status: "lost"})
		wantField(t, "bad status", err, "status")
		if _, err := store.ListWebhookDeliveries(ctx, tid, uuid.NewString(), pgstore.WebhookDeliveryFilter{}); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("an unknown endpoint's log: %v", err)
		}
	})
}
