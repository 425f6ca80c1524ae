// Package channels sends the outbound messages of digital interactions (WhatsApp, SMS,
// web chat, email, …) through the adapter configured for the tenant's sender: a signed
// HTTP webhook to the tenant's own gateway, or the test adapter, which keeps what it
// was given in Redis. Adapters classify their failures as retryable or permanent, so
// the activity that sends knows whether trying again can help.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind names an adapter.
type Kind string

// The adapters.
const (
	// KindWebhook POSTs each message, signed, to the sender's URL.
	KindWebhook Kind = "webhook"
	// KindTest records each message in Redis and can be told to fail.
	KindTest Kind = "test"
)

// Valid reports whether k is a known adapter kind.
func (k Kind) Valid() bool { return k == KindWebhook || k == KindTest }

// subChannels maps the accepted spellings of a sub-channel to its canonical name.
var subChannels = map[string]string{
	"whatsapp": "whatsapp", "sms": "sms", "mms": "mms", "rcs": "rcs", "telegram": "telegram", "viber": "viber",
	"messenger": "messenger", "facebook_messenger": "messenger", "instagram": "instagram", "line": "line",
	"web_chat": "web_chat", "webchat": "web_chat",
	"email": "email", "e_mail": "email", "mail": "email",
}

// SubChannels lists the canonical sub-channels a sender may serve.
func SubChannels() []string {
	return []string{"whatsapp", "sms", "mms", "rcs", "telegram", "viber", "messenger", "instagram", "line", "web_chat", "email"}
}

// SubChannelOf returns the canonical name of a sub-channel ("WhatsApp" and
// "whatsapp" are one, "mail" is "email", "web-chat" is "web_chat"); ok is false for
// a name that is not a messaging sub-channel (calls have no senders).
func SubChannelOf(name string) (string, bool) {
	s := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return '_'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(name)))
	c, ok := subChannels[s]
	return c, ok
}

// PhoneAddressed reports whether a sub-channel's business addresses are phone numbers.
func PhoneAddressed(subChannel string) bool {
	return subChannel == "sms" || subChannel == "mms" || subChannel == "whatsapp"
}

// AddressKey is the form in which an address is compared: the digits of a phone
// number ("+385 1 234-5678" and "38512345678" are one number), otherwise the address
// in lower case. A sender is found by the key of the address a customer wrote to.
func AddressKey(subChannel, address string) string {
	address = strings.TrimSpace(address)
	if PhoneAddressed(subChannel) {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, address)
	}
	return strings.ToLower(address)
}

// Attachment is a file sent with a message, by reference: the bytes stay in storage
// and only where to fetch them travels.
type Attachment struct {
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// Size is in bytes; 0 when unknown.
	Size int64 `json:"size,omitempty"`
}

// Sender is a tenant's business address on a sub-channel and how to send from it.
type Sender struct {
	ID         string
	TenantID   string
	SubChannel string
	Address    string
	Kind       Kind
	WebhookURL string
	// Secret signs webhook bodies (HMAC-SHA256).
	Secret string
}

// OutboundMessage is one message to send; its JSON form is the webhook's body.
type OutboundMessage struct {
	// MessageID identifies the message across retries: receivers de-duplicate by it.
	MessageID     string `json:"messageId"`
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// Channel is the sub-channel (whatsapp, sms, web_chat, email…).
	Channel string `json:"channel"`
	// From is the sender's address (the business number, handle or address), To the
	// customer's.
	From        string       `json:"from"`
	To          string       `json:"to"`
	Body        string       `json:"body"`
	Attachments []Attachment `json:"attachments"`
}

// Receipt is what a channel answered for a message it took.
type Receipt struct {
	// ProviderMessageID is the channel's own ID of the message, when it gave one.
	ProviderMessageID string `json:"providerMessageId,omitempty"`
}

// Adapter sends messages over one channel integration. A failure is a *SendError
// saying whether trying again may succeed; any other error counts as retryable.
type Adapter interface {
	Send(ctx context.Context, m OutboundMessage) (Receipt, error)
}

// SendError is a failed send, classified.
type SendError struct {
	// Retryable: the channel may take the message later (a timeout, a 5xx, 408 or
	// 429, a connection that failed). Otherwise it refused it for good (another
	// 4xx, an invalid URL, a redirect) and sending it again cannot help.
	Retryable bool
	// StatusCode is the HTTP status the channel answered, 0 when there was none.
	StatusCode int
	// RetryAfter is how long the channel asked to wait (Retry-After), 0 if it did not.
	RetryAfter time.Duration
	Message    string
	Err        error
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether a failed send may succeed if tried again: true unless err
// is a SendError that says otherwise.
func Retryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	return true
}

func permanent(format string, args ...any) *SendError {
	return &SendError{Message: fmt.Sprintf(format, args...)}
}

// Classify tells from an HTTP status whether a refusal is worth retrying: timeouts
// (408), rate limits (429) and server errors (5xx) are; other 4xx and 3xx (a sender
// URL that redirects is misconfigured) are not.
func Classify(status int) (retryable bool) {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// Options configure a Registry.
type Options struct {
	// Client sends webhooks; nil uses one that never follows redirects.
	Client *http.Client
	// Timeout bounds one webhook request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Test serves senders of kind test; nil refuses them.
	Test *TestAdapter
}

// DefaultTimeout bounds a webhook request when Options say nothing.
const DefaultTimeout = 10 * time.Second

// Registry gives each sender the adapter of its kind.
type Registry struct {
	client  *http.Client
	timeout time.Duration
	test    *TestAdapter
}

// NewRegistry returns a registry with the given options.
func NewRegistry(o Options) *Registry {
	r := &Registry{client: o.Client, timeout: o.Timeout, test: o.Test}
	if r.client == nil {
		r.client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	return r
}

// For returns the adapter that sends from s. An unknown kind, or a kind this
// registry does not serve, is a permanent SendError.
func (r *Registry) For(s Sender) (Adapter, error) {
	switch s.Kind {
	case KindWebhook:
		return &Webhook{URL: s.WebhookURL, Secret: s.Secret, Client: r.client, Timeout: r.timeout}, nil
	case KindTest:
		if r.test == nil {
			return nil, permanent("this installation does not serve test senders")
		}
		return r.test.For(s.TenantID, s.ID), nil
	}
	return nil, permanent("unknown adapter kind %q", s.Kind)
}
