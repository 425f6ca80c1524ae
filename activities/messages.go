package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"switchboard/channels"
	"switchboard/pgstore"
)

// Application error types of the message activities.
const (
	// ErrTypeMessageRejected: the message was not sent and never will be — the
	// channel refused it, or no enabled sender serves it. It is marked failed
	// first.
	ErrTypeMessageRejected = "MessageRejected"
	// ErrTypeMessageNotSent: the channel could not take the message now (a
	// timeout, a 5xx, 408 or 429); the activity is retried.
	ErrTypeMessageNotSent = "MessageNotSent"
	// ErrTypeInvalidMessage: the message is refused as it is (a malformed field,
	// or its ID already used by another message); retrying cannot help.
	ErrTypeInvalidMessage = "InvalidMessage"
)

// noteTimeout bounds the write that notes why an attempt failed, which runs even
// when the attempt's own context is over.
const noteTimeout = 5 * time.Second

// InboundMessage is a message a customer sent on an interaction.
type InboundMessage struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// MessageID is chosen by the workflow (or the channel's own ID made a UUID) and
	// makes the write idempotent.
	MessageID string `json:"messageId"`
	// From is the customer's address on the channel.
	From        string                `json:"from,omitempty"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments,omitempty"`
	ReceivedAt  time.Time             `json:"receivedAt"`
}

// OutboundMessage is a message an agent, a bot or the system sends the customer of
// an interaction.
type OutboundMessage struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// MessageID is chosen by the workflow and makes the activity idempotent: a
	// message whose send went through is never sent again.
	MessageID string `json:"messageId"`
	// SenderKind is agent, bot or system; SenderID the agent's user ID or the bot's
	// name.
	SenderKind  pgstore.SenderKind    `json:"senderKind"`
	SenderID    string                `json:"senderId,omitempty"`
	Body        string                `json:"body"`
	Attachments []channels.Attachment `json:"attachments,omitempty"`
	// Channel is the sub-channel (the interaction's source), From the business
	// address to send from and To the customer's address. Each one left empty is
	// taken from the interaction's read model: for an inbound interaction the
	// customer wrote from its From to its To.
	Channel   string    `json:"channel,omitempty"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// MessageResult is what the workflow learns of a message it recorded or sent.
type MessageResult struct {
	MessageID string `json:"messageId"`
	// Seq is the message's place in the transcript.
	Seq int64 `json:"seq"`
	// Status is an outbound message's delivery: sent once the channel took it.
	Status            pgstore.DeliveryStatus `json:"status,omitempty"`
	ProviderMessageID string                 `json:"providerMessageId,omitempty"`
	ChannelSenderID   string                 `json:"channelSenderId,omitempty"`
}

func resultOf(m pgstore.Message) MessageResult {
	return MessageResult{MessageID: m.ID, Seq: m.Seq, Status: m.DeliveryStatus, ProviderMessageID: m.ProviderMessageID,
		ChannelSenderID: m.ChannelSenderID}
}

// RecordInboundMessage adds a customer's message to the interaction's transcript.
// Retries are harmless: a message ID already stored answers the stored message.
func (a *Activities) RecordInboundMessage(ctx context.Context, in InboundMessage) (MessageResult, error) {
	m, err := a.Store.AppendMessage(ctx, pgstore.NewMessage{
		TenantID: in.TenantID, InteractionID: in.InteractionID, ID: in.MessageID, Direction: pgstore.Inbound,
		SenderKind: pgstore.SenderCustomer, SenderID: strings.TrimSpace(in.From), Body: in.Body, Attachments: in.Attachments,
		CreatedAt: in.ReceivedAt,
	})
	if err != nil {
		return MessageResult{}, messageError(err)
	}
	if err := a.scoreMessage(ctx, m); err != nil {
		return MessageResult{}, err
	}
	return resultOf(m), nil
}

// SendOutboundMessage adds the message to the transcript as pending and sends it
// through the adapter of the interaction's sender (found by sub-channel and business
// address), then marks it sent with the channel's ID for it. It looks at the stored
// message first, so a retry after a send that went through — its answer lost or the
// worker gone after recording it — never sends again, and a message refused before is
// refused again without another try.
//
// A channel that cannot take the message now (timeout, 5xx, 408, 429) makes a
// retryable error (ErrTypeMessageNotSent, with the wait the channel asked for), and
// the message stays pending with the reason noted. A refusal for good — another 4xx,
// an invalid webhook URL, no enabled sender — marks it failed and returns a
// non-retryable ErrTypeMessageRejected. A retry that follows a send whose success
// could not be recorded sends the same message ID again, in the
// X-Switchboard-Message-Id header, so the receiver takes it once.
func (a *Activities) SendOutboundMessage(ctx context.Context, in OutboundMessage) (MessageResult, error) {
	m, err := a.Store.AppendMessage(ctx, pgstore.NewMessage{
		TenantID: in.TenantID, InteractionID: in.InteractionID, ID: in.MessageID, Direction: pgstore.Outbound,
		SenderKind: in.SenderKind, SenderID: in.SenderID, Body: in.Body, Attachments: in.Attachments, CreatedAt: in.CreatedAt,
	})
	if err != nil {
		return MessageResult{}, messageError(err)
	}
	switch m.DeliveryStatus {
	case pgstore.DeliverySent, pgstore.DeliveryDelivered:
		return resultOf(m), nil
	case pgstore.DeliveryFailed:
		return resultOf(m), rejected(m.DeliveryError)
	}
	if a.Channels == nil {
		return MessageResult{}, errors.New("this worker has no channel adapters configured")
	}
	sender, to, err := a.route(ctx, in)
	if err != nil {
		var refusal *channels.SendError
		if errors.As(err, &refusal) {
			return a.fail(ctx, m, "", refusal.Error())
		}
		return MessageResult{}, err
	}
	adapter, err := a.Channels.For(sender.Config())
	if err != nil {
		return a.fail(ctx, m, sender.ID, err.Error())
	}
	receipt, err := adapter.Send(ctx, channels.OutboundMessage{
		MessageID: m.ID, TenantID: m.TenantID, InteractionID: m.InteractionID, Channel: sender.SubChannel,
		From: sender.Address, To: to, Body: m.Body, Attachments: m.Attachments,
	})
	if err != nil {
		if !channels.Retryable(err) {
			return a.fail(ctx, m, sender.ID, err.Error())
		}
		a.note(ctx, m, sender.ID, err.Error())
		opts := temporal.ApplicationErrorOptions{Cause: err}
		var se *channels.SendError
		if errors.As(err, &se) {
			opts.NextRetryDelay = se.RetryAfter
		}
		return MessageResult{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("message %s not sent yet: %v", m.ID, err), ErrTypeMessageNotSent, opts)
	}
	sent, err := a.Store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{
		TenantID: m.TenantID, MessageID: m.ID, Status: pgstore.DeliverySent, ProviderMessageID: receipt.ProviderMessageID,
		ChannelSenderID: sender.ID,
	})
	if err != nil {
		// The channel has the message; the retry sends it again under the same ID,
		// which the receiver takes once.
		return MessageResult{}, fmt.Errorf("message %s sent, but recording it failed: %w", m.ID, err)
	}
	return resultOf(sent), nil
}

// route finds the sender and the customer's address of an outbound message. What
// can never be sent is a permanent channels.SendError.
func (a *Activities) route(ctx context.Context, in OutboundMessage) (pgstore.ChannelSender, string, error) {
	sub, from, to := strings.TrimSpace(in.Channel), strings.TrimSpace(in.From), strings.TrimSpace(in.To)
	if sub == "" || from == "" || to == "" {
		ix, err := a.Store.GetInteraction(ctx, in.TenantID, in.InteractionID)
		switch {
		case errors.Is(err, pgstore.ErrNotFound):
			if sub == "" || to == "" {
				return pgstore.ChannelSender{}, "", &channels.SendError{Message: "the interaction is not known yet and the message names no channel and customer address to send to"}
			}
		case err != nil:
			return pgstore.ChannelSender{}, "", err
		default:
			business, customer := ix.To, ix.From
			if ix.Direction == pgstore.Outbound {
				business, customer = ix.From, ix.To
			}
			sub, from, to = orElse(sub, ix.Source), orElse(from, business), orElse(to, customer)
		}
	}
	if to == "" {
		return pgstore.ChannelSender{}, "", &channels.SendError{Message: "the interaction has no customer address to send to"}
	}
	sender, err := a.Store.SenderFor(ctx, in.TenantID, sub, from)
	if errors.Is(err, pgstore.ErrNotFound) {
		return pgstore.ChannelSender{}, "", &channels.SendError{Message: "no sender to send from: " + strings.TrimSuffix(err.Error(), ": "+pgstore.ErrNotFound.Error())}
	}
	if err != nil {
		return pgstore.ChannelSender{}, "", err
	}
	if !sender.Enabled {
		return pgstore.ChannelSender{}, "", &channels.SendError{Message: fmt.Sprintf("the %s sender %q is disabled", sender.SubChannel, sender.Address)}
	}
	return sender, to, nil
}

func orElse(v, fallback string) string {
	if v != "" {
		return v
	}
	return strings.TrimSpace(fallback)
}

// fail marks the message failed and answers the refusal. When the mark cannot be
// written the error is retryable, so the retry refuses (and marks) again.
func (a *Activities) fail(ctx context.Context, m pgstore.Message, senderID, reason string) (MessageResult, error) {
	failed, err := a.Store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{
		TenantID: m.TenantID, MessageID: m.ID, Status: pgstore.DeliveryFailed, Error: reason, ChannelSenderID: senderID,
	})
	if err != nil {
		return MessageResult{}, fmt.Errorf("message %s refused (%s), but recording it failed: %w", m.ID, reason, err)
	}
	if failed.DeliveryStatus != pgstore.DeliveryFailed {
		// Recorded sent meanwhile by an earlier attempt that outlived its timeout.
		return resultOf(failed), nil
	}
	return resultOf(failed), rejected(failed.DeliveryError)
}

// note keeps the reason an attempt did not go through on the pending message, for
// whoever reads the transcript meanwhile; a failure to note it changes nothing.
func (a *Activities) note(ctx context.Context, m pgstore.Message, senderID, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noteTimeout)
	defer cancel()
	_, _ = a.Store.MarkMessageDelivery(ctx, pgstore.DeliveryUpdate{
		TenantID: m.TenantID, MessageID: m.ID, Status: pgstore.DeliveryPending, Error: reason, ChannelSenderID: senderID,
	})
}

func rejected(reason string) error {
	if reason == "" {
		reason = "the channel refused the message"
	}
	return temporal.NewNonRetryableApplicationError(reason, ErrTypeMessageRejected, nil)
}

// messageError makes the store's refusals of a message non-retryable: they come back
// the same on every attempt.
func messageError(err error) error {
	var invalid *pgstore.ValidationError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &invalid), errors.Is(err, pgstore.ErrConflict), errors.Is(err, pgstore.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidMessage, err)
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("message write refused: %v", err), ErrTypeInvalidMessage, err)
	}
	return err
}
