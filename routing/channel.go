package routing

import (
	"fmt"
	"slices"
	"strings"
)

// Channel is the capacity bucket an interaction occupies. Sub-channels (SMS,
// WhatsApp, …) share one bucket because an agent's attention, not the
// transport, is what capacity limits.
type Channel string

// The four channels capacity is counted on.
const (
	Voice         Channel = "voice"
	LiveChat      Channel = "live_chat"
	LiveMessaging Channel = "live_messaging"
	Email         Channel = "email"
)

// Channels returns every channel in a fixed order, for deterministic iteration.
func Channels() []Channel { return []Channel{Voice, LiveChat, LiveMessaging, Email} }

// messagingChannels are the channels counted by the Full Capacity rule and by
// the assignment workload; voice is left out because a single call would swing
// an average by 100 points and calls are gated by their own capacity of one.
func messagingChannels() []Channel { return []Channel{Email, LiveMessaging, LiveChat} }

// Valid reports whether c is one of the four channels.
func (c Channel) Valid() bool {
	switch c {
	case Voice, LiveChat, LiveMessaging, Email:
		return true
	}
	return false
}

// ChannelOf maps a transport name ("whatsapp", "SMS", "web-chat", "email", a
// channel name itself, …) to the channel whose capacity it uses. Matching
// ignores case, surrounding space, and the choice of '-', ' ' or '_' as a
// separator, because these names arrive from webhooks and supervisors alike.
func ChannelOf(source string) (Channel, error) {
	s := normalizeSource(source)
	switch s {
	case "voice", "call", "phone", "pstn", "sip", "webrtc", "web_call", "in_app_call", "video":
		return Voice, nil
	case "live_chat", "livechat", "chat", "web_chat", "webchat", "in_app_chat":
		return LiveChat, nil
	case "live_messaging", "sms", "mms", "rcs", "whatsapp", "viber", "telegram",
		"messenger", "facebook_messenger", "instagram", "line", "kakaotalk",
		"google_business_messages", "apple_messages_for_business", "apple_business_chat":
		return LiveMessaging, nil
	case "email", "e_mail", "mail":
		return Email, nil
	}
	return "", fmt.Errorf("routing: unknown channel or sub-channel %q", source)
}

// normalizeSource lower-cases and unifies separators so "Live-Chat",
// "live chat" and "LIVE_CHAT" compare equal.
func normalizeSource(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// Capacity is the most interactions an agent may hold at once per channel. In
// an override a missing key means "inherit"; in an effective capacity (the
// result of EffectiveCapacity) a missing key means zero, i.e. the agent takes
// no automatic work on that channel.
type Capacity map[Channel]int

// Default capacities. Voice is fixed at one because an agent can talk to one
// caller at a time. Live chat matches live messaging: both are real-time
// conversations with the same pace. Email is asynchronous, so an agent can keep
// more threads open; 10 is also the email capacity in the reference's own
// worked example.
const (
	VoiceCapacity                = 1
	DefaultLiveChatCapacity      = 5
	DefaultLiveMessagingCapacity = 5
	DefaultEmailCapacity         = 10
	// MaxCapacity bounds any configured capacity; nobody handles a thousand
	// concurrent conversations, so a larger figure is a typo worth rejecting.
	MaxCapacity = 1000
)

// DefaultCapacity returns the system defaults, used where neither the tenant
// nor the agent set a value.
func DefaultCapacity() Capacity {
	return Capacity{
		Voice:         VoiceCapacity,
		LiveChat:      DefaultLiveChatCapacity,
		LiveMessaging: DefaultLiveMessagingCapacity,
		Email:         DefaultEmailCapacity,
	}
}

// Validate checks a configured capacity (tenant default or agent override).
// Voice may only be given as 1 — the fixed value — so that a client which
// reads an effective capacity and writes it back is not rejected.
func (c Capacity) Validate() error {
	for _, ch := range sortedChannels(c) {
		n := c[ch]
		field := string(ch)
		switch {
		case !ch.Valid():
			return invalid(field, "unknown channel %q", ch)
		case ch == Voice && n != VoiceCapacity:
			return invalid(field, "voice capacity is always %d and cannot be configured", VoiceCapacity)
		case n < 0:
			return invalid(field, "capacity for %s must not be negative (got %d)", ch, n)
		case n > MaxCapacity:
			return invalid(field, "capacity for %s must be at most %d (got %d)", ch, MaxCapacity, n)
		}
	}
	return nil
}

// EffectiveCapacity layers the agent's override over the tenant default over
// the system defaults: the most specific level that sets a channel wins.
func EffectiveCapacity(tenantDefault, agentOverride Capacity) (Capacity, error) {
	if err := tenantDefault.Validate(); err != nil {
		return nil, prefixed("tenantDefault", err)
	}
	if err := agentOverride.Validate(); err != nil {
		return nil, prefixed("agentOverride", err)
	}
	out := DefaultCapacity()
	for _, layer := range []Capacity{tenantDefault, agentOverride} {
		for ch, n := range layer {
			out[ch] = n // order-free: each key is written once per layer
		}
	}
	out[Voice] = VoiceCapacity
	return out, nil
}

// sortedChannels returns the keys of m in the fixed Channels order, followed
// by any unknown keys sorted, so validation reports errors deterministically.
func sortedChannels[V any](m map[Channel]V) []Channel {
	out := make([]Channel, 0, len(m))
	for _, ch := range Channels() {
		if _, ok := m[ch]; ok {
			out = append(out, ch)
		}
	}
	var unknown []Channel
	for ch := range m {
		if !ch.Valid() {
			unknown = append(unknown, ch)
		}
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}
