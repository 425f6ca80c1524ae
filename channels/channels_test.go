package channels_test

import (
	"errors"
	"fmt"
	"testing"

	"switchboard/channels"
)

func TestSubChannelOf(t *testing.T) {
	for in, want := range map[string]string{
		"whatsapp": "whatsapp", " WhatsApp ": "whatsapp", "SMS": "sms", "web-chat": "web_chat", "Web Chat": "web_chat",
		"webchat": "web_chat", "mail": "email", "E-Mail": "email", "facebook_messenger": "messenger", "telegram": "telegram",
		"viber": "viber",
	} {
		if got, ok := channels.SubChannelOf(in); !ok || got != want {
			t.Errorf("SubChannelOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "call", "voice", "pigeon", "live_chat"} {
		if got, ok := channels.SubChannelOf(in); ok {
			t.Errorf("SubChannelOf(%q) = %q, want refused", in, got)
		}
	}
	for _, c := range channels.SubChannels() {
		if got, ok := channels.SubChannelOf(c); !ok || got != c {
			t.Errorf("canonical %q is not its own name", c)
		}
	}
}

func TestAddressKey(t *testing.T) {
	cases := []struct{ sub, a, b string }{
		{"whatsapp", "+385 1 600-0000", "38516000000"},
		{"sms", "(385) 1.600.0000", "+38516000000"},
		{"email", " Support@Example.com", "support@example.com"},
		{"telegram", "@AcmeBot", "@acmebot"},
	}
	for _, c := range cases {
		if ka, kb := channels.AddressKey(c.sub, c.a), channels.AddressKey(c.sub, c.b); ka != kb {
			t.Errorf("%s: %q → %q and %q → %q differ", c.sub, c.a, ka, c.b, kb)
		}
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[int]bool{200: false, 301: false, 400: false, 401: false, 404: false, 408: true, 409: false, 422: false, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := channels.Classify(code); got != want {
			t.Errorf("Classify(%d) = %v, want %v", code, got, want)
		}
	}
	if !channels.Retryable(errors.New("connection reset")) {
		t.Error("an unclassified error is not retryable")
	}
	if channels.Retryable(fmt.Errorf("send: %w", &channels.SendError{Message: "refused"})) {
		t.Error("a wrapped permanent SendError is retryable")
	}
}

func TestRegistry(t *testing.T) {
	r := channels.NewRegistry(channels.Options{})
	if _, err := r.For(channels.Sender{Kind: channels.KindTest}); err == nil || channels.Retryable(err) {
		t.Errorf("test sender without a test adapter: %v, want a permanent error", err)
	}
	if _, err := r.For(channels.Sender{Kind: "carrier-pigeon"}); err == nil || channels.Retryable(err) {
		t.Errorf("unknown kind: %v, want a permanent error", err)
	}
	if a, err := r.For(channels.Sender{Kind: channels.KindWebhook, WebhookURL: "https://hooks.example.com/x", Secret: "s"}); err != nil {
		t.Errorf("webhook sender: %v", err)
	} else if _, ok := a.(*channels.Webhook); !ok {
		t.Errorf("webhook sender got %T", a)
	}
}
