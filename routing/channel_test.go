package routing_test

import (
	"reflect"
	"strings"
	"testing"

	"switchboard/routing"
)

func TestChannelOf(t *testing.T) {
	tests := []struct {
		in   string
		want routing.Channel
		err  bool
	}{
		{"whatsapp", routing.LiveMessaging, false},
		{"WhatsApp", routing.LiveMessaging, false},
		{" sms ", routing.LiveMessaging, false},
		{"viber", routing.LiveMessaging, false},
		{"telegram", routing.LiveMessaging, false},
		{"messenger", routing.LiveMessaging, false},
		{"apple-messages-for-business", routing.LiveMessaging, false},
		{"Google Business Messages", routing.LiveMessaging, false},
		{"live_messaging", routing.LiveMessaging, false},
		{"live_chat", routing.LiveChat, false},
		{"Live-Chat", routing.LiveChat, false},
		{"livechat", routing.LiveChat, false},
		{"email", routing.Email, false},
		{"voice", routing.Voice, false},
		{"webrtc", routing.Voice, false},
		{"", "", true},
		{"pigeon", "", true},
	}
	for _, tt := range tests {
		got, err := routing.ChannelOf(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ChannelOf(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestDefaultCapacity(t *testing.T) {
	want := routing.Capacity{routing.Voice: 1, routing.LiveChat: 5, routing.LiveMessaging: 5, routing.Email: 10}
	if got := routing.DefaultCapacity(); !reflect.DeepEqual(got, want) {
		t.Fatalf("DefaultCapacity = %v, want %v", got, want)
	}
}

func TestEffectiveCapacity(t *testing.T) {
	lm, lc, em, v := routing.LiveMessaging, routing.LiveChat, routing.Email, routing.Voice
	tests := []struct {
		name             string
		tenant, override routing.Capacity
		want             routing.Capacity
		field, mention   string
	}{
		{name: "system defaults", want: routing.Capacity{v: 1, lc: 5, lm: 5, em: 10}},
		{name: "tenant default used", tenant: routing.Capacity{lm: 6, em: 4},
			want: routing.Capacity{v: 1, lc: 5, lm: 6, em: 4}},
		{name: "agent override wins", tenant: routing.Capacity{lm: 6, em: 4}, override: routing.Capacity{lm: 2},
			want: routing.Capacity{v: 1, lc: 5, lm: 2, em: 4}},
		{name: "zero override switches a channel off", override: routing.Capacity{em: 0},
			want: routing.Capacity{v: 1, lc: 5, lm: 5, em: 0}},
		{name: "voice 1 echoed back is accepted", override: routing.Capacity{v: 1},
			want: routing.Capacity{v: 1, lc: 5, lm: 5, em: 10}},
		{name: "voice override rejected", override: routing.Capacity{v: 2}, field: "agentOverride.voice", mention: "voice"},
		{name: "voice tenant default rejected", tenant: routing.Capacity{v: 0}, field: "tenantDefault.voice", mention: "voice"},
		{name: "negative names channel", override: routing.Capacity{lc: 3, em: -1}, field: "agentOverride.email", mention: "email"},
		{name: "negative tenant default", tenant: routing.Capacity{lm: -5}, field: "tenantDefault.live_messaging", mention: "live_messaging"},
		{name: "unknown channel", override: routing.Capacity{"fax": 1}, field: "agentOverride.fax", mention: "fax"},
		{name: "absurd capacity", override: routing.Capacity{lc: routing.MaxCapacity + 1}, field: "agentOverride.live_chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := routing.EffectiveCapacity(tt.tenant, tt.override)
			wantField(t, err, tt.field)
			if err != nil {
				if !strings.Contains(err.Error(), tt.mention) {
					t.Fatalf("error %q does not name %q", err, tt.mention)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
