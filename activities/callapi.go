package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/automation"
)

// Bounds of a Call API request.
const (
	callAPITimeout   = 10 * time.Second
	maxCallAPIAnswer = 64 << 10
	maxCallAPIShown  = 500
)

// CallAPIIdempotencyHeader carries the run and action a Call API request is for; it
// is the same on every attempt, so a receiver takes a retried request once.
const CallAPIIdempotencyHeader = "Idempotency-Key"

// callAPI sends a Call API action's request, its placeholders resolved. A 2xx
// answer is success; 408, 429, 5xx and no answer are retried; any other answer, and
// an address the worker may not connect to, fail the action.
func (au *Automations) callAPI(ctx context.Context, in ActionRequest, r automation.Request) (map[string]any, error) {
	var body io.Reader
	contentType := ""
	switch r.ContentType {
	case automation.ContentJSON:
		body, contentType = strings.NewReader(r.Body), "application/json"
	case automation.ContentText:
		body, contentType = strings.NewReader(r.Body), "text/plain; charset=utf-8"
	case automation.ContentXML:
		body, contentType = strings.NewReader(r.Body), "application/xml"
	case automation.ContentRaw:
		body = strings.NewReader(r.Body)
	case automation.ContentURLEncoded:
		form := url.Values{}
		for _, f := range r.Fields {
			form.Add(f.Name, f.Value)
		}
		body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case automation.ContentFormData:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range r.Fields {
			if err := mw.WriteField(f.Name, f.Value); err != nil {
				return nil, failed("the form data: %v", err)
			}
		}
		if err := mw.Close(); err != nil {
			return nil, failed("the form data: %v", err)
		}
		body, contentType = &buf, mw.FormDataContentType()
	}
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		body, contentType = nil, ""
	}
	detail := map[string]any{"method": r.Method, "url": r.URL}
	ctx, cancel := context.WithTimeout(ctx, callAPITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return detail, failed("the request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "Switchboard-Automations/1")
	req.Header.Set(CallAPIIdempotencyHeader, in.key())
	for _, h := range r.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	au.httpOnce.Do(func() { au.http = guardedHTTPClient(au.AllowPrivate) })
	res, err := au.http.Do(req)
	if err != nil {
		var refused *refusedAddress
		switch {
		case errors.As(err, &refused):
			return detail, failed("%s", refused.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return nil, temporal.NewApplicationError(fmt.Sprintf("%s did not answer within %s", r.URL, callAPITimeout), ErrTypeActionRetry)
		}
		return nil, temporal.NewApplicationError(fmt.Sprintf("%s could not be reached: %s", r.URL, rootError(err)), ErrTypeActionRetry)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxCallAPIAnswer))
	detail["statusCode"] = res.StatusCode
	if excerpt := strings.TrimSpace(strings.ToValidUTF8(string(answer), "")); excerpt != "" {
		if len(excerpt) > maxCallAPIShown {
			excerpt = strings.ToValidUTF8(excerpt[:maxCallAPIShown], "") + "…"
		}
		detail["response"] = excerpt
	}
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return detail, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return nil, temporal.NewApplicationError(fmt.Sprintf("%s answered %d %s", r.URL, code, http.StatusText(code)), ErrTypeActionRetry)
	default:
		return detail, failed("%s answered %d %s", r.URL, code, http.StatusText(code))
	}
}
