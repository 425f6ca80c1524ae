package pgstore_test

import (
	"encoding/json"
	"strings"
	"testing"

	"switchboard/channels"
	"switchboard/pgstore"
)

func newSender(t *testing.T, tenantID string, in pgstore.NewChannelSender) pgstore.ChannelSenderSecret {
	t.Helper()
	s, err := store.CreateSender(testContext(t), tenantID, pgstore.Actor{RequestID: "req-sender"}, in)
	if err != nil {
		t.Fatalf("CreateSender %+v: %v", in, err)
	}
	return s
}

func TestSenders(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID

	wa := newSender(t, tid, pgstore.NewChannelSender{SubChannel: " WhatsApp", Address: "+385 1 600 0000", Name: "Support",
		Kind: channels.KindWebhook, WebhookURL: "https://gateway.example.com/whatsapp"})
	if wa.SubChannel != "whatsapp" || !wa.Enabled || wa.TenantID != tid || !strings.HasPrefix(wa.SigningSecret, "sbws_") ||
		len(wa.SigningSecret) < 40 || wa.SecretHint != "…"+wa.SigningSecret[len(wa.SigningSecret)-4:] {
		t.Errorf("created %+v", wa)
	}
	given := "my-gateway-secret-0001"
	sms := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "sms", Address: "+385 1 600 0000", Kind: channels.KindTest,
		SigningSecret: given, Enabled: new(bool)})
	if sms.SigningSecret != given || sms.Enabled || sms.WebhookURL != "" {
		t.Errorf("created %+v", sms)
	}

	// The secret is answered at creation only; reads show its hint.
	got, err := store.GetSender(ctx, tid, wa.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), wa.SigningSecret) || !strings.Contains(string(raw), `"signingSecretHint":"`+wa.SecretHint+`"`) {
		t.Errorf("a read shows %s", raw)
	}
	list, err := store.ListSenders(ctx, tid, pgstore.ChannelSenderFilter{})
	if err != nil || len(list) != 2 || list[0].ID != wa.ID || list[1].ID != sms.ID {
		t.Fatalf("list %+v, %v", list, err)
	}
	raw, _ = json.Marshal(list)
	if strings.Contains(string(raw), wa.SigningSecret) || strings.Contains(string(raw), given) {
		t.Errorf("the list shows a secret: %s", raw)
	}
	if only, err := store.ListSenders(ctx, tid, pgstore.ChannelSenderFilter{SubChannel: "SMS"}); err != nil || len(only) != 1 || only[0].ID != sms.ID {
		t.Errorf("sms senders %+v, %v", only, err)
	}
	if page, err := store.ListSenders(ctx, tid, pgstore.ChannelSenderFilter{Page: pgstore.Page{Limit: 1, After: wa.ID}}); err != nil || len(page) != 1 || page[0].ID != sms.ID {
		t.Errorf("second page %+v, %v", page, err)
	}
	_, err = store.ListSenders(ctx, tid, pgstore.ChannelSenderFilter{SubChannel: "pigeon"})
	wantInvalid(t, err, "subChannel")

	// One sender per address of a sub-channel, the number however it is written;
	// other tenants and sub-channels are free to use it.
	_, err = store.CreateSender(ctx, tid, pgstore.Actor{}, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+38516000000", Kind: channels.KindTest})
	wantErr(t, err, pgstore.ErrConflict)
	newSender(t, newTenant(t).Tenant.ID, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000", Kind: channels.KindTest})
	mail := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "mail", Address: "Support@Example.com", Kind: channels.KindTest})
	_, err = store.CreateSender(ctx, tid, pgstore.Actor{}, pgstore.NewChannelSender{SubChannel: "email", Address: "support@example.com", Kind: channels.KindTest})
	wantErr(t, err, pgstore.ErrConflict)

	if n := auditCount(t, tid, "channel_sender.created", ""); n != 3 {
		t.Errorf("%d channel_sender.created audit rows, want 3", n)
	}
	var leaked int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND (details::text LIKE '%' || $2 || '%' OR details::text LIKE '%' || $3 || '%')`,
		tid, wa.SigningSecret, given).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("%d audit rows hold a secret, %v", leaked, err)
	}

	t.Run("update", func(t *testing.T) {
		name := "Sales"
		u, err := store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{Name: pgstore.Nullable[string]{Set: true, Value: &name}})
		if err != nil || u.Name != "Sales" || u.SigningSecret != "" || u.WebhookURL != wa.WebhookURL || u.SecretHint != wa.SecretHint {
			t.Errorf("renamed %+v, %v", u, err)
		}
		// Switching to the test adapter drops the URL; back to a webhook needs one.
		test := channels.KindTest
		u, err = store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{Kind: &test})
		if err != nil || u.Kind != channels.KindTest || u.WebhookURL != "" {
			t.Errorf("to test %+v, %v", u, err)
		}
		hook := channels.KindWebhook
		_, err = store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{Kind: &hook})
		wantInvalid(t, err, "webhookUrl")
		url := "https://gateway.example.com/v2/whatsapp"
		u, err = store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{Kind: &hook, WebhookURL: pgstore.Nullable[string]{Set: true, Value: &url}})
		if err != nil || u.Kind != channels.KindWebhook || u.WebhookURL != url {
			t.Errorf("to webhook %+v, %v", u, err)
		}
		// A rotation answers the new secret once, and sending uses it.
		u, err = store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{RotateSecret: true})
		if err != nil || u.SigningSecret == "" || u.SigningSecret == wa.SigningSecret || u.SecretHint == wa.SecretHint {
			t.Errorf("rotated %+v, %v", u, err)
		}
		found, err := store.SenderFor(ctx, tid, "whatsapp", "+385 1 600 0000")
		if err != nil || found.Config().Secret != u.SigningSecret || found.Config().WebhookURL != url {
			t.Errorf("after the rotation the sender sends with %+v, %v", found.Config(), err)
		}
		// An address another sender has is refused, and so are invalid changes.
		taken := "+38516000000"
		sub := "sms"
		_, err = store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{SubChannel: &sub, Address: &taken})
		wantErr(t, err, pgstore.ErrConflict)
		short := "short"
		for field, up := range map[string]pgstore.ChannelSenderUpdate{
			"":              {},
			"rotateSecret":  {RotateSecret: true, SigningSecret: &given},
			"signingSecret": {SigningSecret: &short},
			"address":       {Address: &short},
			"subChannel":    {SubChannel: &short},
			"webhookUrl":    {WebhookURL: pgstore.Nullable[string]{Set: true}},
		} {
			_, err := store.UpdateSender(ctx, tid, pgstore.Actor{}, wa.ID, up)
			wantInvalid(t, err, field)
		}
		if n := auditCount(t, tid, "channel_sender.updated", wa.ID); n != 4 {
			t.Errorf("%d channel_sender.updated audit rows, want 4", n)
		}
	})

	t.Run("other tenants see nothing", func(t *testing.T) {
		other := newTenant(t).Tenant.ID
		_, err := store.GetSender(ctx, other, wa.ID)
		wantErr(t, err, pgstore.ErrNotFound)
		on := true
		_, err = store.UpdateSender(ctx, other, pgstore.Actor{}, wa.ID, pgstore.ChannelSenderUpdate{Enabled: &on})
		wantErr(t, err, pgstore.ErrNotFound)
		wantErr(t, store.DeleteSender(ctx, other, pgstore.Actor{}, wa.ID), pgstore.ErrNotFound)
		_, err = store.SenderFor(ctx, other, "email", "support@example.com")
		wantErr(t, err, pgstore.ErrNotFound)
		_, err = store.GetSender(ctx, tid, "not-an-id")
		wantErr(t, err, pgstore.ErrNotFound)
	})

	t.Run("delete", func(t *testing.T) {
		if err := store.DeleteSender(ctx, tid, pgstore.Actor{}, mail.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, store.DeleteSender(ctx, tid, pgstore.Actor{}, mail.ID), pgstore.ErrNotFound)
		if n := auditCount(t, tid, "channel_sender.deleted", mail.ID); n != 1 {
			t.Errorf("%d channel_sender.deleted audit rows, want 1", n)
		}
		// The address is free again.
		newSender(t, tid, pgstore.NewChannelSender{SubChannel: "email", Address: "support@example.com", Kind: channels.KindTest})
	})
}

func TestSenderValidation(t *testing.T) {
	t.Parallel()
	tid := newTenant(t).Tenant.ID
	hook := "https://gateway.example.com/hook"
	cases := []struct {
		field string
		in    pgstore.NewChannelSender
	}{
		{"subChannel", pgstore.NewChannelSender{SubChannel: "call", Address: "+385", Kind: channels.KindTest}},
		{"subChannel", pgstore.NewChannelSender{Address: "+38516000000", Kind: channels.KindTest}},
		{"address", pgstore.NewChannelSender{SubChannel: "sms", Kind: channels.KindTest}},
		{"address", pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "acme support", Kind: channels.KindTest}},
		{"address", pgstore.NewChannelSender{SubChannel: "email", Address: "Support <support@example.com>", Kind: channels.KindTest}},
		{"address", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acme\x07bot", Kind: channels.KindTest}},
		{"address", pgstore.NewChannelSender{SubChannel: "telegram", Address: strings.Repeat("a", 321), Kind: channels.KindTest}},
		{"name", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Name: strings.Repeat("n", 201), Kind: channels.KindTest}},
		{"kind", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot"}},
		{"kind", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: "smtp"}},
		{"webhookUrl", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindWebhook}},
		{"webhookUrl", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindTest, WebhookURL: hook}},
		{"webhookUrl", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindWebhook, WebhookURL: "ftp://gateway.example.com/"}},
		{"webhookUrl", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindWebhook, WebhookURL: "https://" + strings.Repeat("a", 2000) + ".example.com"}},
		{"signingSecret", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindTest, SigningSecret: "too-short"}},
		{"signingSecret", pgstore.NewChannelSender{SubChannel: "telegram", Address: "@acmebot", Kind: channels.KindTest, SigningSecret: "has a space in it, 1234"}},
	}
	for _, c := range cases {
		_, err := store.CreateSender(testContext(t), tid, pgstore.Actor{}, c.in)
		wantInvalid(t, err, c.field)
	}
	if list, err := store.ListSenders(testContext(t), tid, pgstore.ChannelSenderFilter{}); err != nil || len(list) != 0 {
		t.Errorf("refused senders were created: %+v, %v", list, err)
	}
}

func TestSenderFor(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	wa := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0000", Kind: channels.KindWebhook,
		WebhookURL: "https://gateway.example.com/wa", SigningSecret: "whatsapp-secret-0001"})
	off := false
	newSender(t, tid, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0001", Kind: channels.KindTest, Enabled: &off})
	chat := newSender(t, tid, pgstore.NewChannelSender{SubChannel: "web_chat", Address: "acme.example.com", Kind: channels.KindTest})

	for _, c := range []struct{ sub, address string }{
		{"whatsapp", "+385 1 600 0000"}, {"WhatsApp", "+38516000000"}, {"whatsapp", "385-1-600-0000"},
	} {
		s, err := store.SenderFor(ctx, tid, c.sub, c.address)
		cfg := s.Config()
		if err != nil || s.ID != wa.ID || cfg.Secret != "whatsapp-secret-0001" || cfg.WebhookURL != "https://gateway.example.com/wa" ||
			cfg.Kind != channels.KindWebhook || cfg.Address != "+385 1 600 0000" || cfg.TenantID != tid || cfg.SubChannel != "whatsapp" {
			t.Errorf("SenderFor(%q, %q) = %+v, %v", c.sub, c.address, cfg, err)
		}
	}
	// A disabled sender is found by its address; the caller refuses to send.
	if s, err := store.SenderFor(ctx, tid, "whatsapp", "+385 1 600 0001"); err != nil || s.Enabled {
		t.Errorf("disabled sender %+v, %v", s, err)
	}
	// Without an address the only enabled sender of the sub-channel serves.
	if s, err := store.SenderFor(ctx, tid, "web-chat", ""); err != nil || s.ID != chat.ID {
		t.Errorf("web chat without an address %+v, %v", s, err)
	}
	if s, err := store.SenderFor(ctx, tid, "whatsapp", ""); err != nil || s.ID != wa.ID {
		t.Errorf("whatsapp without an address (one enabled) %+v, %v", s, err)
	}
	newSender(t, tid, pgstore.NewChannelSender{SubChannel: "whatsapp", Address: "+385 1 600 0002", Kind: channels.KindTest})
	for _, c := range []struct{ sub, address string }{
		{"whatsapp", ""}, {"whatsapp", "+385 1 600 9999"}, {"sms", "+385 1 600 0000"}, {"call", "+385 1 600 0000"}, {"email", ""},
	} {
		_, err := store.SenderFor(ctx, tid, c.sub, c.address)
		wantErr(t, err, pgstore.ErrNotFound)
	}
}
