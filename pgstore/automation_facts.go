package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// ConversationContext is what automations read of a conversation to match triggers,
// evaluate conditions and resolve placeholders: the interaction, its short ID, its
// customer record, its agent, and the messages as far as rules look at them.
type ConversationContext struct {
	Interaction Interaction
	ShortID     int64
	// Customer is the linked customer record (nil when none is linked or it is gone).
	Customer *Customer
	// AgentName and AgentEmail are the assigned agent's.
	AgentName  string
	AgentEmail string
	// LastWriter is who wrote the conversation's latest message, counting only the
	// customer's and agents' messages: customer, agent or "".
	LastWriter string
	// SubChannels are the sub-channels the conversation went over: its own, and
	// those of the senders its outbound messages went through.
	SubChannels []string
	// LastInboundAt is when the customer last wrote.
	LastInboundAt *time.Time
	// AssigneeUpdatedAt is the assigned agent's latest change of the conversation.
	AssigneeUpdatedAt *time.Time
	// Message is the message an event is about (when asked for by ID), with
	// PreviousWriter the writer of the customer's or agents' message before it and
	// MessageSubChannel the sub-channel it went over.
	Message           *Message
	PreviousWriter    string
	MessageSubChannel string
	// PreviousSubChannels are the sub-channels of the messages before Message.
	PreviousSubChannels []string
	// FormValues are the conversation's form values as text, by field ID.
	FormValues map[string]string
}

func writerOf(kind string) string {
	switch kind {
	case string(SenderCustomer):
		return "customer"
	case string(SenderAgent):
		return "agent"
	}
	return ""
}

// ContextOptions say which parts of a conversation's context to read beyond the
// interaction: what no rule looks at is not read.
type ContextOptions struct {
	// MessageID names the event's message, read with its writer's predecessor.
	MessageID string
	// Activity: the short ID, the last writer, the channels, the agent's last change.
	Activity bool
	// Customer: the linked customer record.
	Customer bool
	// Agent: the assigned agent's name and e-mail.
	Agent bool
	// Forms: the form values.
	Forms bool
}

// FullContext reads every part.
func FullContext() ContextOptions {
	return ContextOptions{Activity: true, Customer: true, Agent: true, Forms: true}
}

// ConversationContext loads an interaction's context for automations, the parts opts
// asks for.
func (s *Store) ConversationContext(ctx context.Context, tenantID, interactionID string, opts ContextOptions) (ConversationContext, error) {
	var out ConversationContext
	ix, err := s.GetInteraction(ctx, tenantID, interactionID)
	if err != nil {
		return out, err
	}
	out.Interaction = ix
	if ix.Source != "" {
		out.SubChannels = []string{ix.Source}
	} else if ix.Channel == routing.Voice {
		out.SubChannels = []string{"voice"}
	}
	if opts.Activity {
		if err := s.activity(ctx, &out); err != nil {
			return out, err
		}
	}
	if opts.Forms {
		if out.FormValues, err = s.formValuesText(ctx, tenantID, interactionID); err != nil {
			return out, err
		}
	}
	if opts.Customer && ix.CustomerID != "" {
		c, err := s.FindCustomer(ctx, tenantID, ix.CustomerID)
		switch {
		case err == nil:
			out.Customer = &c
		case !errors.Is(err, ErrNotFound):
			return out, err
		}
	}
	if opts.Agent && ix.AgentID != "" {
		if u, err := s.GetUser(ctx, tenantID, ix.AgentID); err == nil {
			out.AgentName, out.AgentEmail = u.Name, u.Email
		} else if !errors.Is(err, ErrNotFound) {
			return out, err
		}
	}
	if opts.MessageID != "" && isUUID(opts.MessageID) {
		if err := s.eventMessage(ctx, &out, opts.MessageID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// activity reads the short ID, the last writer, the channels and the agent's last
// change.
func (s *Store) activity(ctx context.Context, out *ConversationContext) error {
	ix := out.Interaction
	var lastKind *string
	var subs []string
	err := s.pool.QueryRow(ctx, `
		SELECT i.short_id,
			(SELECT sender_kind FROM interaction_messages m WHERE m.tenant_id = i.tenant_id AND m.interaction_id = i.id
				AND sender_kind IN ('customer', 'agent') ORDER BY seq DESC LIMIT 1),
			(SELECT max(created_at) FROM interaction_messages m WHERE m.tenant_id = i.tenant_id AND m.interaction_id = i.id AND direction = 'inbound'),
			(SELECT coalesce(array_agg(DISTINCT cs.sub_channel), '{}') FROM interaction_messages m
				JOIN channel_senders cs ON cs.tenant_id = m.tenant_id AND cs.id = m.channel_sender_id
				WHERE m.tenant_id = i.tenant_id AND m.interaction_id = i.id),
			(SELECT max(e.at) FROM interaction_events e WHERE e.tenant_id = i.tenant_id AND e.interaction_id = i.id
				AND i.agent_id IS NOT NULL AND e.actor_id = i.agent_id)
		FROM interactions i WHERE i.tenant_id = $1 AND i.id = $2`, ix.TenantID, ix.ID).Scan(
		&out.ShortID, &lastKind, &out.LastInboundAt, &subs, &out.AssigneeUpdatedAt)
	if err != nil {
		return translate(err, "interaction")
	}
	if lastKind != nil {
		out.LastWriter = writerOf(*lastKind)
	}
	for _, sub := range subs {
		out.SubChannels = appendNew(out.SubChannels, sub)
	}
	return nil
}

// eventMessage reads the event's message, the writer before it and the channels
// before it.
func (s *Store) eventMessage(ctx context.Context, out *ConversationContext, messageID string) error {
	ix := out.Interaction
	tenantID, interactionID := ix.TenantID, ix.ID
	{
		m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM interaction_messages
			WHERE tenant_id = $1 AND interaction_id = $2 AND id = $3`, tenantID, interactionID, messageID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			out.Message = &m
			var prev *string
			var sub *string
			if err := s.pool.QueryRow(ctx, `
				SELECT (SELECT sender_kind FROM interaction_messages WHERE tenant_id = $1 AND interaction_id = $2 AND seq < $3
						AND sender_kind IN ('customer', 'agent') ORDER BY seq DESC LIMIT 1),
					(SELECT sub_channel FROM channel_senders WHERE tenant_id = $1 AND id = $4::uuid),
					(SELECT coalesce(array_agg(DISTINCT cs.sub_channel), '{}') FROM interaction_messages m
						JOIN channel_senders cs ON cs.tenant_id = m.tenant_id AND cs.id = m.channel_sender_id
						WHERE m.tenant_id = $1 AND m.interaction_id = $2 AND m.seq < $3)`,
				tenantID, interactionID, m.Seq, nullUUID(m.ChannelSenderID)).Scan(&prev, &sub, &out.PreviousSubChannels); err != nil {
				return err
			}
			if prev != nil {
				out.PreviousWriter = writerOf(*prev)
			}
			out.MessageSubChannel = ix.Source
			if sub != nil {
				out.MessageSubChannel = *sub
			}
			if m.Seq > 1 && ix.Source != "" {
				out.PreviousSubChannels = appendNew(out.PreviousSubChannels, ix.Source)
			}
		}
	}
	return nil
}

// formValuesText reads an interaction's form values as text: a string as it is, a
// list of levels joined with ": ", anything else as its JSON.
func (s *Store) formValuesText(ctx context.Context, tenantID, interactionID string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT field_id::text, value FROM interaction_form_values WHERE tenant_id = $1 AND interaction_id = $2`,
		tenantID, interactionID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var id string
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		var str string
		var list []string
		switch {
		case json.Unmarshal(raw, &str) == nil:
			out[id] = str
		case json.Unmarshal(raw, &list) == nil:
			out[id] = strings.Join(list, ": ")
		default:
			out[id] = string(raw)
		}
		return nil
	})
	return out, err
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// SetInteractionPriority sets an interaction's priority, which orders it among the
// waiting ones.
func (s *Store) SetInteractionPriority(ctx context.Context, tenantID, interactionID string, p routing.Priority) error {
	if !p.Valid() {
		return invalid("priority", "must be low, normal, high or urgent")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE interactions SET priority = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, interactionID, int(p))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return translate(pgx.ErrNoRows, "interaction")
	}
	return nil
}
