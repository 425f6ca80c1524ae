package channels_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/channels"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func message() channels.OutboundMessage {
	return channels.OutboundMessage{
		MessageID: "6f1c2c3e-0000-4000-8000-0000000000a1", TenantID: "6f1c2c3e-0000-4000-8000-0000000000b2",
		InteractionID: "6f1c2c3e-0000-4000-8000-0000000000c3", Channel: "whatsapp", From: "+385 1 600 0000",
		To: "+385 91 000 0001", Body: "Dobar dan — your order ships today.",
		Attachments: []channels.Attachment{{URL: "https://files.example.com/a/invoice.pdf", Name: "invoice.pdf", ContentType: "application/pdf", Size: 48213}},
	}
}

// webhookSender is a sender whose webhook is url, sent through the registry's
// adapter (which does not follow redirects).
func webhookAdapter(t *testing.T, url string, timeout time.Duration) channels.Adapter {
	t.Helper()
	a, err := channels.NewRegistry(channels.Options{Timeout: timeout}).For(channels.Sender{
		ID: "s1", TenantID: "t1", SubChannel: "whatsapp", Address: "+385 1 600 0000",
		Kind: channels.KindWebhook, WebhookURL: url, Secret: "whsec-test-0123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A receiver gets the message as JSON, signed with the sender's secret, with the
// message ID in a header, and its answer's provider ID comes back in the receipt.
func TestWebhookSendsSignedJSON(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, contentType, signature, messageID string
		body                                      []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get(channels.SignatureHeader), r.Header.Get(channels.MessageIDHeader), body}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"providerMessageId":"wamid.HBgLMzg1OTEwMDAwMDAxFQIAERgSQ0E"}`)
	}))
	defer srv.Close()

	m := message()
	rec, err := webhookAdapter(t, srv.URL+"/hooks/switchboard?account=7", 0).Send(testContext(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ProviderMessageID != "wamid.HBgLMzg1OTEwMDAwMDAxFQIAERgSQ0E" {
		t.Errorf("receipt %+v", rec)
	}
	s := <-got
	if s.method != http.MethodPost || s.contentType != "application/json" || s.messageID != m.MessageID {
		t.Errorf("request %s, Content-Type %q, message ID %q", s.method, s.contentType, s.messageID)
	}
	// The receiver's own check, written out rather than through channels.Verify.
	mac := hmac.New(sha256.New, []byte("whsec-test-0123456789"))
	mac.Write(s.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); s.signature != want {
		t.Errorf("signature %q, want %q", s.signature, want)
	}
	if !channels.Verify("whsec-test-0123456789", s.body, s.signature) || channels.Verify("another-secret", s.body, s.signature) ||
		channels.Verify("whsec-test-0123456789", append(s.body, ' '), s.signature) {
		t.Error("Verify does not tell a good signature from a bad one")
	}
	var payload map[string]any
	if err := json.Unmarshal(s.body, &payload); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"messageId": m.MessageID, "tenantId": m.TenantID, "interactionId": m.InteractionID, "channel": "whatsapp",
		"from": "+385 1 600 0000", "to": "+385 91 000 0001", "body": m.Body,
		"attachments": []any{map[string]any{"url": "https://files.example.com/a/invoice.pdf", "name": "invoice.pdf", "contentType": "application/pdf", "size": 48213.0}},
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(payload)
	if string(wantJSON) != string(gotJSON) {
		t.Errorf("payload\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

// Every status a receiver may answer is either success (2xx), worth retrying (408,
// 429, 5xx) or a refusal for good (3xx and the other 4xx).
func TestWebhookClassifiesEveryStatus(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "7")
		}
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "https://elsewhere.example.com/")
		}
		w.WriteHeader(code)
		if code != http.StatusNoContent && code != http.StatusNotModified {
			_, _ = io.WriteString(w, `{"error":"code `+r.URL.Query().Get("code")+`"}`)
		}
	}))
	defer srv.Close()
	ctx := testContext(t)
	for code := 200; code < 600; code++ {
		a := webhookAdapter(t, srv.URL+"/?code="+strconv.Itoa(code), 0)
		_, err := a.Send(ctx, message())
		var se *channels.SendError
		switch {
		case code < 300:
			if err != nil {
				t.Errorf("%d: %v, want success", code, err)
			}
			continue
		case !errors.As(err, &se):
			t.Errorf("%d: %v, want a SendError", code, err)
			continue
		}
		wantRetry := code == 408 || code == 429 || code >= 500
		if se.Retryable != wantRetry || channels.Retryable(err) != wantRetry || se.StatusCode != code {
			t.Errorf("%d: retryable %v (status %d), want %v", code, se.Retryable, se.StatusCode, wantRetry)
		}
		if (code == 429 || code == 503) && se.RetryAfter != 7*time.Second {
			t.Errorf("%d: Retry-After %v, want 7s", code, se.RetryAfter)
		}
		if code >= 400 && !strings.Contains(err.Error(), strconv.Itoa(code)) {
			t.Errorf("%d: the error %q does not say what the receiver answered", code, err)
		}
	}
}

// A receiver that does not answer in time is a retryable failure, reported when the
// timeout expires rather than when the receiver gives up.
func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := webhookAdapter(t, srv.URL, 300*time.Millisecond).Send(testContext(t), message())
	took := time.Since(start)
	var se *channels.SendError
	if !errors.As(err, &se) || !se.Retryable || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("%v, want a retryable timeout", err)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("gave up after %v, want about 300ms", took)
	}
}

func TestWebhookUnreachableIsRetryable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = webhookAdapter(t, "http://"+addr+"/hook", 0).Send(testContext(t), message())
	if err == nil || !channels.Retryable(err) {
		t.Errorf("%v, want a retryable failure", err)
	}
}

// An invalid URL is refused for good without a request.
func TestWebhookInvalidURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://files.example.com/x", "not a url", "http://", "https:///path", "//example.com/x", "http://example.com/x#frag", "http://[::1"} {
		_, err := webhookAdapter(t, u, 0).Send(testContext(t), message())
		var se *channels.SendError
		if !errors.As(err, &se) || se.Retryable {
			t.Errorf("%q: %v, want a permanent failure", u, err)
		}
		if channels.ValidateWebhookURL(u) == nil {
			t.Errorf("ValidateWebhookURL(%q) accepted it", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/switchboard", "http://127.0.0.1:8080/x?y=1"} {
		if err := channels.ValidateWebhookURL(u); err != nil {
			t.Errorf("ValidateWebhookURL(%q): %v", u, err)
		}
	}
}

// A redirect is not followed: the message would go to a place nobody configured.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	_, err := webhookAdapter(t, srv.URL, 0).Send(testContext(t), message())
	if err == nil || channels.Retryable(err) || !strings.Contains(err.Error(), target.URL) {
		t.Errorf("%v, want a permanent failure naming the redirect", err)
	}
	if hits.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// A 2xx answer without a usable provider ID still means the message was taken.
func TestWebhookAnswersWithoutProviderID(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]string{
		"empty":    "",
		"not JSON": "OK",
		"other":    `{"status":"queued"}`,
		"too long": `{"providerMessageId":"` + strings.Repeat("x", 300) + `"}`,
		"wrong":    `{"providerMessageId":42}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, answer)
		}))
		rec, err := webhookAdapter(t, srv.URL, 0).Send(testContext(t), message())
		srv.Close()
		if err != nil || rec.ProviderMessageID != "" {
			t.Errorf("%s: %+v, %v; want success without a provider ID", name, rec, err)
		}
	}
}
