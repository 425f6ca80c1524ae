// Package workflows holds Switchboard's durable, deterministic workflow code together with
// its payload types, workflow IDs, and the names of its signals, updates and queries.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the queue the Switchboard worker polls for workflows and activities.
const TaskQueue = "switchboard"

// Search attributes let an engineer find any run in the Temporal UI, e.g.
// `InteractionId = "…"` or `TenantId = "…" AND Status = "queued"`.
var (
	InteractionIDKey = temporal.NewSearchAttributeKeyKeyword("InteractionId")
	TenantIDKey      = temporal.NewSearchAttributeKeyKeyword("TenantId")
	ChannelKey       = temporal.NewSearchAttributeKeyKeyword("Channel")
	DirectionKey     = temporal.NewSearchAttributeKeyKeyword("Direction")
	QueueIDKey       = temporal.NewSearchAttributeKeyKeyword("QueueId")
	AgentIDKey       = temporal.NewSearchAttributeKeyKeyword("AgentId")
	StatusKey        = temporal.NewSearchAttributeKeyKeyword("Status")
	CustomerPhoneKey = temporal.NewSearchAttributeKeyKeyword("CustomerPhone")
)

// SearchAttributes lists every custom search attribute the workflows set; the worker
// registers them in its namespace at start.
var SearchAttributes = []temporal.SearchAttributeKey{
	InteractionIDKey, TenantIDKey, ChannelKey, DirectionKey,
	QueueIDKey, AgentIDKey, StatusKey, CustomerPhoneKey,
}
