package main

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSIPTrustedSetting(t *testing.T) {
	var cfg config
	env := map[string]string{"SWITCHBOARD_SIP_TRUSTED": " 203.0.113.7, 198.51.100.0/24 ,2001:db8::/32,::ffff:192.0.2.1"}
	if err := cfg.parse("media", nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32")}
	if !slices.Equal(cfg.SIPTrusted, want) {
		t.Errorf("trusted %v, want %v", cfg.SIPTrusted, want)
	}
	if err := cfg.parse("media", []string{"--sip-trusted", "10.0.0.0/8,trunk.example.com"}, func(string) string { return "" }); err == nil {
		t.Error("a host name was accepted as a trusted source")
	}
}
