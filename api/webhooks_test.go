package api_test

import (
	"encoding/json"
	"slices"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

// The OpenAPI document lists exactly the event types an endpoint may subscribe to,
// and only the answers of creation and rotation carry the secret.
func TestOpenAPIWebhooks(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var types struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["WebhookEventType"], &types); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types.Enum, pgstore.WebhookEventTypes) {
		t.Errorf("WebhookEventType lists %v, the store takes %v", types.Enum, pgstore.WebhookEventTypes)
	}
	var endpoint struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["WebhookEndpoint"], &endpoint); err != nil {
		t.Fatal(err)
	}
	if _, ok := endpoint.Properties["secret"]; ok || endpoint.Properties["secretHint"] == nil {
		t.Errorf("WebhookEndpoint, which reads answer, documents %v", endpoint.Properties)
	}
	if !json.Valid(doc.Components.Schemas["WebhookEndpointWithSecret"]) || !json.Valid(doc.Components.Schemas["WebhookBody"]) {
		t.Error("the secret's and the body's schemas are missing")
	}
}
