package activities

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
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/singleflight"

	"switchboard/events"
	"switchboard/pgstore"
)

// Webhooks deliver interactions' lifecycle events to the tenants' endpoints.
//
// Fan-out: every event an activity publishes (Activities.publish) goes through
// Deliver, which makes one delivery row per enabled endpoint of the tenant subscribed
// to the event's type — unique on (endpoint, event key), so a retried activity lands
// on the same row and the same delivery ID — and starts that delivery's workflow,
// WebhookDeliveryWorkflowID(id), which refuses a second start. A crash between the two
// is repaired by the activity's retry: the row is found again, still pending, and its
// workflow started. A tenant's endpoints are read at most every webhookTargetsTTL per
// worker, so a tenant without endpoints pays one map lookup per event.
//
// Delivery: the workflow POSTs the delivery (SendWebhook) with Temporal's retries and
// backoff, records every attempt in the delivery's row, and marks it delivered or,
// once the retries run out, failed. Delivery is at least once: an answer lost on the
// way back makes another attempt with the same delivery ID, which receivers use to
// de-duplicate.
//
// The request: POST of a JSON body (WebhookBody) with the headers
//
//	Content-Type: application/json
//	X-Switchboard-Delivery: <delivery ID>, the same on every attempt and re-send
//	X-Switchboard-Event: <event type>
//	X-Switchboard-Attempt: <attempt number of the delivery, from 1, re-sends included>
//	X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>
//
// The timestamp is the attempt's, so a receiver rejects replays by refusing old
// timestamps (five minutes is usual). Any 2xx answer delivers; redirects are not
// followed and count as failures like every other answer but 410 Gone, which stops
// the delivery's retries at once. A 429 or 503 with Retry-After is retried after the
// time asked for (at most the policy's longest interval).
//
// Where deliveries may connect: unless AllowPrivate is set, the worker refuses to
// connect to loopback, private (RFC 1918, fc00::/7), carrier-grade NAT, link-local
// (cloud metadata services among them) and other non-public addresses, checked on
// the address actually dialled, after DNS resolution, so a name that resolves to an
// internal address is refused too. Proxies from the environment are not used.
type Webhooks struct {
	// Store reads the endpoints and writes the deliveries.
	Store *pgstore.Store
	// Temporal starts the delivery workflows; nil uses the client of the worker
	// running the activity that publishes.
	Temporal client.Client
	// AllowPrivate lets deliveries reach loopback and private addresses (local
	// development, receivers on the same network, tests).
	AllowPrivate bool
	// Retry, when set, overrides the delivery workflow's retry policy for the
	// deliveries Deliver starts.
	Retry *WebhookRetry

	mu      sync.Mutex
	targets map[string]webhookTargets
	reads   singleflight.Group

	clientOnce sync.Once
	client     *http.Client
}

// webhookTargetsTTL is how long a worker keeps a tenant's endpoints: a new, changed
// or disabled endpoint takes effect for events published after this time (the
// endpoint's own row is checked again when a delivery is made, so a deleted or
// disabled endpoint gets nothing new anyway).
const webhookTargetsTTL = 2 * time.Second

type webhookTargets struct {
	list []pgstore.WebhookTarget
	at   time.Time
}

// Names shared by the fan-out, the delivery workflow and the API.
const (
	// WebhookDeliveryWorkflow is the delivery workflow's type (workflows.WebhookDelivery).
	WebhookDeliveryWorkflow = "WebhookDelivery"
	// WebhookTaskQueue is the task queue of the delivery workflows: Switchboard's
	// (workflows.TaskQueue, which this package cannot import).
	WebhookTaskQueue = "switchboard"

	WebhookSignatureHeader = "X-Switchboard-Signature"
	WebhookDeliveryHeader  = "X-Switchboard-Delivery"
	WebhookEventHeader     = "X-Switchboard-Event"
	WebhookAttemptHeader   = "X-Switchboard-Attempt"

	// WebhookTenantAttribute is the search attribute a delivery's runs carry their
	// tenant in (workflows.TenantIDKey).
	WebhookTenantAttribute = "TenantId"

	// DefaultWebhookTimeout bounds one POST.
	DefaultWebhookTimeout = 10 * time.Second
)

// Error types of SendWebhook's failures, for the workflow's retry policy.
const (
	// ErrTypeWebhookRefused: the endpoint answered, but not 2xx; retried.
	ErrTypeWebhookRefused = "WebhookRefused"
	// ErrTypeWebhookUnreachable: no answer (connection, timeout); retried.
	ErrTypeWebhookUnreachable = "WebhookUnreachable"
	// ErrTypeWebhookStopped: retrying cannot help (410 Gone, an address the
	// worker may not connect to, the endpoint disabled or deleted); not retried.
	ErrTypeWebhookStopped = "WebhookStopped"
)

var webhookTenantKey = temporal.NewSearchAttributeKeyKeyword(WebhookTenantAttribute)

// WebhookDeliveryWorkflowID names the runs of a delivery: the first, and one per
// re-send.
func WebhookDeliveryWorkflowID(deliveryID string) string { return "webhook-delivery/" + deliveryID }

// WebhookRetry tunes a delivery's retries; zero fields keep the workflow's defaults.
type WebhookRetry struct {
	InitialInterval time.Duration `json:"initialInterval,omitempty"`
	MaximumInterval time.Duration `json:"maximumInterval,omitempty"`
	// MaximumAttempts counts the first attempt: 1 makes a single attempt.
	MaximumAttempts int32 `json:"maximumAttempts,omitempty"`
	// Timeout bounds one POST.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// WebhookDeliveryInput starts a delivery's workflow.
type WebhookDeliveryInput struct {
	TenantID   string `json:"tenantId"`
	DeliveryID string `json:"deliveryId"`
	// Resend makes a finished delivery pending again before its attempts.
	Resend bool          `json:"resend,omitempty"`
	Retry  *WebhookRetry `json:"retry,omitempty"`
}

// StartWebhookDelivery starts the workflow of a delivery. The first run refuses to
// start when the delivery's workflow ID was ever used; a re-send, when a run is still
// open. Either refusal is a *serviceerror.WorkflowExecutionAlreadyStarted.
func StartWebhookDelivery(ctx context.Context, c client.Client, in WebhookDeliveryInput) (client.WorkflowRun, error) {
	reuse := enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if in.Resend {
		reuse = enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    WebhookDeliveryWorkflowID(in.DeliveryID),
		TaskQueue:             WebhookTaskQueue,
		WorkflowIDReusePolicy: reuse, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// A worker in this process (the fan-out runs in one) takes the first task
		// at once, without a trip through matching.
		EnableEagerStart: true,
		// Set at the start, the run's tenant costs the workflow no command of its own.
		TypedSearchAttributes: temporal.NewSearchAttributes(webhookTenantKey.ValueSet(in.TenantID)),
	}, WebhookDeliveryWorkflow, in)
}

// IsAlreadyStarted reports whether err is Temporal's refusal of a duplicate start.
func IsAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}

// Deliver makes the deliveries of a published event and starts their workflows,
// idempotently (see Webhooks). A nil Webhooks delivers nothing.
func (w *Webhooks) Deliver(ctx context.Context, e events.Event) error {
	if w == nil {
		return nil
	}
	targets, err := w.targetsOf(ctx, e.TenantID)
	if err != nil {
		return err
	}
	var endpoints []string
	for _, t := range targets {
		if t.Subscribed(e.Type) {
			endpoints = append(endpoints, t.EndpointID)
		}
	}
	if len(endpoints) == 0 {
		return nil
	}
	made, err := w.Store.CreateWebhookDeliveries(ctx, e.TenantID, endpoints, pgstore.WebhookEvent{
		Key: e.Key, Type: e.Type, InteractionID: e.InteractionID, At: e.At, Data: e.Data})
	if err != nil {
		return err
	}
	for _, d := range made {
		// A finished delivery had its workflow; only a pending one may lack it.
		if d.Status != pgstore.WebhookPending {
			continue
		}
		if err := w.start(ctx, WebhookDeliveryInput{TenantID: e.TenantID, DeliveryID: d.ID, Retry: w.Retry}); err != nil {
			return err
		}
	}
	return nil
}

// start starts a delivery's first run; a run that exists already is success.
func (w *Webhooks) start(ctx context.Context, in WebhookDeliveryInput) error {
	c := w.Temporal
	if c == nil {
		c = activity.GetClient(ctx)
	}
	if _, err := StartWebhookDelivery(ctx, c, in); err != nil && !IsAlreadyStarted(err) {
		return fmt.Errorf("start webhook delivery %s: %w", in.DeliveryID, err)
	}
	return nil
}

// targetsOf answers the tenant's enabled endpoints, read at most every
// webhookTargetsTTL; concurrent misses of one tenant share one read.
func (w *Webhooks) targetsOf(ctx context.Context, tenantID string) ([]pgstore.WebhookTarget, error) {
	w.mu.Lock()
	t, ok := w.targets[tenantID]
	w.mu.Unlock()
	if ok && time.Since(t.at) < webhookTargetsTTL {
		return t.list, nil
	}
	v, err, _ := w.reads.Do(tenantID, func() (any, error) {
		at := time.Now()
		list, err := w.Store.WebhookTargets(context.WithoutCancel(ctx), tenantID)
		if err != nil {
			return nil, err // not kept: the next event reads again
		}
		w.mu.Lock()
		if w.targets == nil || len(w.targets) > 10000 {
			w.targets = map[string]webhookTargets{}
		}
		w.targets[tenantID] = webhookTargets{list: list, at: at}
		w.mu.Unlock()
		return list, nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of tenant %s: %w", tenantID, err)
	}
	return v.([]pgstore.WebhookTarget), nil
}

// WebhookBody is the JSON body of a delivery; it is the same on every attempt.
type WebhookBody struct {
	// ID is the delivery's ID (also in X-Switchboard-Delivery).
	ID   string `json:"id"`
	Type string `json:"type"`
	// EventKey identifies the event: one delivery per endpoint and event key.
	EventKey      string          `json:"eventKey"`
	TenantID      string          `json:"tenantId"`
	InteractionID string          `json:"interactionId,omitempty"`
	OccurredAt    time.Time       `json:"occurredAt"`
	Data          json.RawMessage `json:"data"`
}

// WebhookBodyOf is the body a delivery is sent with.
func WebhookBodyOf(d pgstore.WebhookDelivery) ([]byte, error) {
	return json.Marshal(WebhookBody{ID: d.ID, Type: d.EventType, EventKey: d.EventKey, TenantID: d.TenantID,
		InteractionID: d.InteractionID, OccurredAt: d.OccurredAt.UTC(), Data: d.Data})
}

// SignWebhook is the X-Switchboard-Signature value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under secret>".
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookSendRequest asks for one attempt of a delivery.
type WebhookSendRequest struct {
	TenantID   string `json:"tenantId"`
	DeliveryID string `json:"deliveryId"`
	// Timeout bounds the POST; 0 means DefaultWebhookTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaximumInterval caps the wait a receiver may ask for with Retry-After.
	MaximumInterval time.Duration `json:"maximumInterval,omitempty"`
}

// WebhookSendResult is a delivered attempt.
type WebhookSendResult struct {
	StatusCode int `json:"statusCode"`
	// Attempts is the delivery's count of attempts, this one included.
	Attempts int `json:"attempts"`
}

// maxWebhookAnswer bounds what is read of an endpoint's answer.
const (
	maxWebhookAnswer  = 64 << 10
	maxWebhookExcerpt = 200
)

// SendWebhook makes one attempt of a delivery: it POSTs the delivery's body, signed
// with the endpoint's secret as it is now, to the endpoint's URL as it is now, and
// records the attempt in the delivery's log. A 2xx answer delivers; anything else is
// an error the workflow's retry policy retries, but for the cases retrying cannot
// help (ErrTypeWebhookStopped).
func (a *Activities) SendWebhook(ctx context.Context, in WebhookSendRequest) (WebhookSendResult, error) {
	w := a.Webhooks
	if w == nil {
		return WebhookSendResult{}, temporal.NewNonRetryableApplicationError("this worker delivers no webhooks", ErrTypeWebhookStopped, nil)
	}
	send, err := w.Store.WebhookSendOf(ctx, in.TenantID, in.DeliveryID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return WebhookSendResult{}, temporal.NewNonRetryableApplicationError("the delivery's endpoint was deleted", ErrTypeWebhookStopped, nil)
	}
	if err != nil {
		return WebhookSendResult{}, err
	}
	d := send.Delivery
	if !send.Enabled {
		const why = "the endpoint is disabled: enable it and re-send the delivery"
		if err := w.Store.FailWebhookDelivery(ctx, in.TenantID, in.DeliveryID, why); err != nil {
			return WebhookSendResult{}, err
		}
		return WebhookSendResult{}, temporal.NewNonRetryableApplicationError(why, ErrTypeWebhookStopped, nil)
	}
	body, err := WebhookBodyOf(d)
	if err != nil {
		return WebhookSendResult{}, temporal.NewNonRetryableApplicationError("encode the delivery: "+err.Error(), ErrTypeWebhookStopped, err)
	}
	attempt := d.Attempts + 1
	status, sendErr := w.post(ctx, send.URL, send.Secret, d, attempt, body, in)
	rec := pgstore.WebhookAttempt{At: time.Now().UTC(), StatusCode: status, Delivered: sendErr == nil}
	if sendErr != nil {
		rec.Error = sendErr.Error()
		var appErr *temporal.ApplicationError
		if errors.As(sendErr, &appErr) {
			rec.Error = appErr.Message()
		}
	}
	if err := w.Store.RecordWebhookAttempt(ctx, in.TenantID, in.DeliveryID, rec); err != nil {
		// The attempt is made again: at least once, the same delivery ID.
		return WebhookSendResult{}, err
	}
	if sendErr != nil {
		return WebhookSendResult{}, sendErr
	}
	return WebhookSendResult{StatusCode: status, Attempts: attempt}, nil
}

// post sends one request and classifies its outcome; the error's message is what
// the delivery's log shows.
func (w *Webhooks) post(ctx context.Context, url, secret string, d pgstore.WebhookDelivery, attempt int, body []byte, in WebhookSendRequest) (int, error) {
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the endpoint's URL: %v", err), ErrTypeWebhookStopped, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Webhooks/1")
	req.Header.Set(WebhookDeliveryHeader, d.ID)
	req.Header.Set(WebhookEventHeader, d.EventType)
	req.Header.Set(WebhookAttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(WebhookSignatureHeader, SignWebhook(secret, time.Now(), body))
	res, err := w.httpClient().Do(req)
	if err != nil {
		var refused *refusedAddress
		switch {
		case errors.As(err, &refused):
			return 0, temporal.NewNonRetryableApplicationError(refused.Error(), ErrTypeWebhookStopped, nil)
		case errors.Is(err, context.DeadlineExceeded):
			return 0, temporal.NewApplicationError(fmt.Sprintf("the endpoint did not answer within %s", timeout), ErrTypeWebhookUnreachable)
		}
		return 0, temporal.NewApplicationError("the endpoint could not be reached: "+rootError(err), ErrTypeWebhookUnreachable)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxWebhookAnswer))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return res.StatusCode, nil
	}
	msg := fmt.Sprintf("the endpoint answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		msg += fmt.Sprintf(" (a redirect to %q, which is not followed: configure the final URL)", res.Header.Get("Location"))
	} else if excerpt := strings.TrimSpace(strings.ToValidUTF8(string(answer), "")); excerpt != "" {
		if len(excerpt) > maxWebhookExcerpt {
			excerpt = strings.ToValidUTF8(excerpt[:maxWebhookExcerpt], "") + "…"
		}
		msg += ": " + excerpt
	}
	if res.StatusCode == http.StatusGone {
		return res.StatusCode, temporal.NewNonRetryableApplicationError(msg+" (410 stops the retries)", ErrTypeWebhookStopped, nil)
	}
	opts := temporal.ApplicationErrorOptions{}
	if wait := retryAfter(res.Header.Get("Retry-After"), in.MaximumInterval); wait > 0 &&
		(res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) {
		opts.NextRetryDelay = wait
	}
	return res.StatusCode, temporal.NewApplicationErrorWithOptions(msg, ErrTypeWebhookRefused, opts)
}

// retryAfter reads Retry-After in seconds, at most limit (10 minutes when 0).
func retryAfter(v string, limit time.Duration) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	return min(time.Duration(n)*time.Second, limit)
}

// rootError keeps the most specific part of a wrapped network error.
func rootError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

// httpClient is the client deliveries are sent with: no redirects, no proxy and,
// unless AllowPrivate, no connections to non-public addresses.
func (w *Webhooks) httpClient() *http.Client {
	w.clientOnce.Do(func() { w.client = guardedHTTPClient(w.AllowPrivate) })
	return w.client
}

// guardedHTTPClient is a client for requests to addresses tenants configure (webhook
// deliveries, Call API actions): no redirects, no proxy and, unless allowPrivate, no
// connections to non-public addresses.
func guardedHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refusedAddress is a connection the worker refused to make.
type refusedAddress struct{ addr netip.Addr }

func (e *refusedAddress) Error() string {
	return fmt.Sprintf("the endpoint's address %s is not public, and this installation delivers only to public addresses (SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE)", e.addr)
}

// cgnat is the carrier-grade NAT range (RFC 6598), internal like the private ones.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// PublicAddress reports whether deliveries may connect to addr when private
// addresses are not allowed.
func PublicAddress(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsGlobalUnicast() && !addr.IsPrivate() && !cgnat.Contains(addr) &&
		!(addr.Is4() && addr.As4()[0] == 0)
}

// refusePrivate is the dialer's check of the address it is about to connect to,
// after name resolution.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedAddress{}
	}
	if !PublicAddress(ap.Addr()) {
		return &refusedAddress{addr: ap.Addr()}
	}
	return nil
}

// WebhookFailure ends a delivery whose attempts are over.
type WebhookFailure struct {
	TenantID   string `json:"tenantId"`
	DeliveryID string `json:"deliveryId"`
	// Reason, when set, replaces the last attempt's error in the log.
	Reason string `json:"reason,omitempty"`
}

// FailWebhookDelivery marks a delivery failed once its retries ran out.
func (a *Activities) FailWebhookDelivery(ctx context.Context, in WebhookFailure) error {
	return a.Store.FailWebhookDelivery(ctx, in.TenantID, in.DeliveryID, in.Reason)
}

// ReopenWebhookDelivery makes a finished delivery pending again at the start of a
// re-send; it answers false when the delivery is gone (its endpoint was deleted).
func (a *Activities) ReopenWebhookDelivery(ctx context.Context, in WebhookDeliveryInput) (bool, error) {
	return a.Store.ReopenWebhookDelivery(ctx, in.TenantID, in.DeliveryID, time.Now().UTC())
}
