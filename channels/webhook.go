package channels

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Headers of a webhook request.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body under
	// the sender's secret.
	SignatureHeader = "X-Switchboard-Signature"
	// MessageIDHeader carries the message ID, the same on every retry, so the
	// receiver can de-duplicate.
	MessageIDHeader = "X-Switchboard-Message-Id"
)

// Bounds of what a webhook answer may carry.
const (
	maxAnswer            = 64 << 10
	maxProviderMessageID = 255
	// maxErrorExcerpt bounds the part of a refusal's body kept in the error.
	maxErrorExcerpt = 200
	// maxRetryAfter bounds the wait a receiver may ask for.
	maxRetryAfter = time.Hour
)

// Webhook is the generic HTTP adapter: it POSTs each message as JSON to the tenant's
// gateway, which delivers it over the real channel.
type Webhook struct {
	URL    string
	Secret string
	// Client sends the request; nil uses http.DefaultClient (which follows
	// redirects; the Registry's client does not).
	Client *http.Client
	// Timeout bounds the request; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Sign returns the signature header value of body under secret: "sha256=<hex>".
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's signature under secret, comparing in
// constant time; receivers check it before trusting a request.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// ValidateWebhookURL checks that u is an absolute http or https URL with a host and
// no fragment.
func ValidateWebhookURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %w", err)
	case p.Scheme != "https" && p.Scheme != "http":
		return errors.New("must be an http or https URL")
	case p.Host == "" || p.Hostname() == "":
		return errors.New("must name a host")
	case p.Fragment != "" || strings.Contains(u, "#"):
		return errors.New("must not have a fragment")
	}
	return nil
}

// Send POSTs the message and reads the optional {"providerMessageId":"…"} answer.
// Any 2xx is success. Timeouts, failed connections, 408, 429 and 5xx are retryable
// SendErrors (with the Retry-After the receiver asked for); an invalid URL, 3xx and
// other 4xx are permanent.
func (w *Webhook) Send(ctx context.Context, m OutboundMessage) (Receipt, error) {
	if err := ValidateWebhookURL(w.URL); err != nil {
		return Receipt{}, permanent("webhook URL %q: %v", w.URL, err)
	}
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	body, err := json.Marshal(m)
	if err != nil {
		return Receipt{}, permanent("encode message %s: %v", m.MessageID, err)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, permanent("webhook URL %q: %v", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard")
	req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	req.Header.Set(MessageIDHeader, m.MessageID)
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Receipt{}, &SendError{Retryable: true, Message: fmt.Sprintf("the webhook did not answer within %s", timeout), Err: err}
		}
		return Receipt{}, &SendError{Retryable: true, Message: "the webhook could not be reached", Err: err}
	}
	defer res.Body.Close()
	answer, readErr := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		// The message was taken even if the answer is cut short or not JSON: only
		// the provider's ID would be missing.
		var out Receipt
		if readErr == nil && json.Unmarshal(answer, &out) == nil &&
			(len(out.ProviderMessageID) > maxProviderMessageID || !utf8.ValidString(out.ProviderMessageID)) {
			out.ProviderMessageID = ""
		}
		return out, nil
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return Receipt{}, &SendError{StatusCode: res.StatusCode,
			Message: fmt.Sprintf("the webhook answered %d (a redirect to %q); configure the final URL", res.StatusCode, res.Header.Get("Location"))}
	}
	e := &SendError{Retryable: Classify(res.StatusCode), StatusCode: res.StatusCode,
		Message: fmt.Sprintf("the webhook answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))}
	if excerpt := strings.TrimSpace(strings.ToValidUTF8(string(answer), "")); excerpt != "" {
		if len(excerpt) > maxErrorExcerpt {
			excerpt = strings.ToValidUTF8(excerpt[:maxErrorExcerpt], "") + "…"
		}
		e.Message += ": " + excerpt
	}
	if e.Retryable {
		e.RetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
	}
	return Receipt{}, e
}

// retryAfter reads a Retry-After header, seconds or an HTTP date, at most maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(max(n, 0)) * time.Second
		if n > int(maxRetryAfter/time.Second) {
			d = maxRetryAfter
		}
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, maxRetryAfter)
}
