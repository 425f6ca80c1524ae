package activities

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/sentiment"
)

// SentimentEvent is the payload of a sentimentUpdated event: the customer's message
// just scored and the conversation's sentiment after it.
type SentimentEvent struct {
	InteractionID string                   `json:"interactionId"`
	Detail        pgstore.MessageSentiment `json:"detail"`
}

// scorer is the Scorer of customer messages: Activities.Sentiment, else the
// lexicon that ships with the sentiment package.
func (a *Activities) scorer() sentiment.Scorer {
	if a.Sentiment != nil {
		return a.Sentiment
	}
	return sentiment.Default()
}

// scoreMessage scores a customer's message, keeps the score with the interaction's
// sentiment after it, and tells the tenant's feed (supervisors' streams and
// webhooks), once per message. A message without text is not scored.
func (a *Activities) scoreMessage(ctx context.Context, m pgstore.Message) error {
	if strings.TrimSpace(m.Body) == "" {
		return nil
	}
	res, err := a.Store.ScoreMessage(ctx, m.TenantID, m.InteractionID, m.ID, a.scorer().Score(m.Body))
	if err != nil {
		return storeError(err)
	}
	if a.Events == nil {
		return nil
	}
	data, err := json.Marshal(SentimentEvent{InteractionID: m.InteractionID, Detail: res})
	if err != nil {
		return err
	}
	ev := events.Event{Key: "interaction/" + m.InteractionID + "/message/" + m.ID + "/" + events.SentimentUpdated,
		Type: events.SentimentUpdated, TenantID: m.TenantID, At: time.Now().UTC(), InteractionID: m.InteractionID, Data: data}
	if _, err := a.Events.Publish(ctx, ev); err != nil {
		return err
	}
	return a.Webhooks.Deliver(ctx, ev)
}
