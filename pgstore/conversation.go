package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/sentiment"
)

// ConversationChange sets parts of an interaction that its agents, macros and
// automations change besides its ACD state: nil fields stay as they are. It is written
// with the workflow's state change (InteractionUpdate.Conversation), so it obeys the
// same version rule.
type ConversationChange struct {
	// Tags replaces the interaction's tags (names; empty removes all).
	Tags *[]string `json:"tags,omitempty"`
	// Priority changes the priority (bulk assignment takes higher first).
	Priority *routing.Priority `json:"priority,omitempty"`
	// FormID chooses the conversation form ("" for none); it must be the tenant's.
	FormID *string `json:"formId,omitempty"`
	// Subject sets the topic or e-mail subject ("" clears it).
	Subject *string `json:"subject,omitempty"`
}

// MaxSubject bounds an interaction's subject, in characters.
const MaxSubject = 500

// Validate checks the change; a nil change is valid.
func (c *ConversationChange) Validate() error {
	if c == nil {
		return nil
	}
	if c.Tags != nil {
		if len(*c.Tags) > MaxInteractionTags {
			return invalid("tags", "at most %d tags", MaxInteractionTags)
		}
		for i, t := range *c.Tags {
			if err := ValidateTagName(fmt.Sprintf("tags[%d]", i), t); err != nil {
				return err
			}
		}
	}
	if c.Priority != nil && !c.Priority.Valid() {
		return invalid("priority", "unknown priority %d", int(*c.Priority))
	}
	if c.FormID != nil && *c.FormID != "" && !isUUID(*c.FormID) {
		return invalid("formId", "must be a form ID")
	}
	if c.Subject != nil {
		if err := ValidateSubject(*c.Subject); err != nil {
			return err
		}
	}
	return nil
}

// ValidateSubject checks a subject: at most MaxSubject characters, one line.
func ValidateSubject(s string) error {
	if utf8.RuneCountInString(s) > MaxSubject || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return invalid("subject", "must be at most %d characters on one line", MaxSubject)
	}
	return nil
}

// Sentiment is the customer's sentiment in an interaction.
type Sentiment struct {
	// Score is the weighted mean of the scores of the customer's messages, in
	// [-1, +1]; Band is where it falls.
	Score float64        `json:"score"`
	Band  sentiment.Band `json:"band"`
	// Messages counts the customer's messages scored.
	Messages int `json:"messages"`
	// Tag is the post-conversation tag, once the interaction ended.
	Tag sentiment.Tag `json:"tag,omitempty"`
}

func sentimentOf(score *float64, n int, tag string) *Sentiment {
	if score == nil && tag == "" {
		return nil
	}
	s := &Sentiment{Messages: n, Tag: sentiment.Tag(tag)}
	if score != nil {
		s.Score = *score
	}
	s.Band = sentiment.BandOf(s.Score)
	return s
}

// ErrUnknownForm refuses a form the tenant does not have.
var ErrUnknownForm = &ValidationError{Field: "formId", Message: "no such form in this tenant"}

// enqueueConversation writes what a new interaction has of its conversation besides
// the columns enqueue writes: its form (left out when it was deleted meanwhile) and
// subject.
func enqueueConversation(ctx context.Context, tx pgx.Tx, in Interaction) error {
	if in.FormID == "" && in.Subject == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `
		UPDATE interactions SET form_id = (SELECT f.id FROM forms f WHERE f.tenant_id = $1 AND f.id = $3::uuid),
			subject = $4
		WHERE tenant_id = $1 AND id = $2`, in.TenantID, in.ID, nullUUID(in.FormID), nullText(in.Subject))
	return err
}

// recordConversation writes the conversation part of a state change that was
// written, and the sentiment tag of an interaction that just ended.
func recordConversation(ctx context.Context, tx pgx.Tx, u InteractionUpdate) error {
	if c := u.Conversation; c != nil {
		if c.FormID != nil && *c.FormID != "" {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM forms WHERE tenant_id = $1 AND id = $2 FOR SHARE)`,
				u.TenantID, *c.FormID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return ErrUnknownForm
			}
		}
		var tags any
		if c.Tags != nil {
			tags = nonNil(*c.Tags)
		}
		var priority any
		if c.Priority != nil {
			priority = int16(*c.Priority)
		}
		_, err := tx.Exec(ctx, `
			UPDATE interactions SET tags = coalesce($3::text[], tags), priority = coalesce($4::smallint, priority),
				form_id = CASE WHEN $5 THEN $6::uuid ELSE form_id END,
				subject = CASE WHEN $7 THEN $8 ELSE subject END
			WHERE tenant_id = $1 AND id = $2`,
			u.TenantID, u.InteractionID, tags, priority, c.FormID != nil, nullUUID(deref(c.FormID)),
			c.Subject != nil, nullText(deref(c.Subject)))
		if err != nil {
			return translate(err, "interaction "+u.InteractionID)
		}
	}
	switch u.State.Status {
	case InteractionEnded, InteractionAbandoned, InteractionDisposed:
		return tagSentiment(ctx, tx, u.TenantID, u.InteractionID)
	}
	return nil
}

// tagSentiment gives an interaction that ended its post-conversation sentiment tag,
// once, from the scores of the customer's messages.
func tagSentiment(ctx context.Context, tx pgx.Tx, tenantID, id string) error {
	var tagged bool
	err := tx.QueryRow(ctx, `SELECT sentiment_tag IS NOT NULL FROM interactions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		tenantID, id).Scan(&tagged)
	if err != nil || tagged {
		return err
	}
	scores, err := messageScores(ctx, tx, tenantID, id)
	if err != nil {
		return err
	}
	score := sentiment.Conversation(scores)
	var stored any
	if len(scores) > 0 {
		stored = score
	}
	_, err = tx.Exec(ctx, `
		UPDATE interactions SET sentiment_tag = $3, sentiment_score = $4, sentiment_messages = $5
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, string(sentiment.TagOf(score, len(scores))), stored, len(scores))
	return err
}

// messageScores are the scores of the customer's messages of an interaction in order.
func messageScores(ctx context.Context, q querier, tenantID, id string) ([]float64, error) {
	rows, err := q.Query(ctx, `
		SELECT sentiment FROM interaction_messages
		WHERE tenant_id = $1 AND interaction_id = $2 AND direction = 'inbound' AND sentiment IS NOT NULL
		ORDER BY seq`, tenantID, id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("message scores of %s: %w", id, err)
	}
	return out, nil
}

// MessageSentiment is a customer message's score and the interaction's sentiment
// after it.
type MessageSentiment struct {
	MessageID string  `json:"messageId"`
	Score     float64 `json:"messageScore"`
	Sentiment
}

// ScoreMessage keeps the score of a customer's message and recomputes the
// interaction's sentiment from all its scored messages. It is idempotent: a message
// keeps its first score. While the interaction is not written yet (its first message
// may come first) only the message's score is kept; the interaction's sentiment is
// computed from every message the next time. An interaction that already ended keeps
// the sentiment its tag was given with.
func (s *Store) ScoreMessage(ctx context.Context, tenantID, interactionID, messageID string, score float64) (MessageSentiment, error) {
	if !isUUID(tenantID) || !isUUID(interactionID) || !isUUID(messageID) {
		return MessageSentiment{}, translate(pgx.ErrNoRows, "message")
	}
	if score < -1 || score > 1 || score != score {
		return MessageSentiment{}, invalid("score", "must be between -1 and 1")
	}
	out := MessageSentiment{MessageID: messageID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE interaction_messages SET sentiment = coalesce(sentiment, $4::real), updated_at = now()
			WHERE tenant_id = $1 AND interaction_id = $2 AND id = $3 AND direction = 'inbound'
			RETURNING sentiment`, tenantID, interactionID, messageID, score).Scan(&out.Score)
		if err != nil {
			return translate(err, "customer message "+messageID)
		}
		var (
			tag    *string
			stored *float64
			n      int
		)
		err = tx.QueryRow(ctx, `
			SELECT sentiment_tag, sentiment_score, sentiment_messages FROM interactions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			tenantID, interactionID).Scan(&tag, &stored, &n)
		if errors.Is(err, pgx.ErrNoRows) {
			out.Messages, out.Sentiment.Score = 1, out.Score
			out.Band = sentiment.BandOf(out.Sentiment.Score)
			return nil
		}
		if err != nil {
			return err
		}
		if tag != nil {
			out.Tag, out.Messages = sentiment.Tag(*tag), n
			if stored != nil {
				out.Sentiment.Score = *stored
			}
			out.Band = sentiment.BandOf(out.Sentiment.Score)
			return nil
		}
		scores, err := messageScores(ctx, tx, tenantID, interactionID)
		if err != nil {
			return err
		}
		out.Sentiment.Score, out.Messages = sentiment.Conversation(scores), len(scores)
		out.Band = sentiment.BandOf(out.Sentiment.Score)
		_, err = tx.Exec(ctx, `UPDATE interactions SET sentiment_score = $3, sentiment_messages = $4 WHERE tenant_id = $1 AND id = $2`,
			tenantID, interactionID, out.Sentiment.Score, out.Messages)
		return err
	})
	return out, err
}

// SentimentPoint is one interaction of a customer's sentiment trend.
type SentimentPoint struct {
	InteractionID string          `json:"interactionId"`
	Channel       routing.Channel `json:"channel"`
	CreatedAt     time.Time       `json:"createdAt"`
	EndedAt       *time.Time      `json:"endedAt,omitempty"`
	Sentiment
}

// SentimentTrend is a customer's sentiment over their interactions (Customer 360).
type SentimentTrend struct {
	CustomerID string `json:"customerId"`
	// Points are the customer's interactions whose messages were scored, oldest
	// first: at most the latest MaxTrendPoints.
	Points []SentimentPoint `json:"points"`
	// Score is the points' scores weighted as a conversation's messages are (later
	// interactions weigh more); Band is where it falls. Nil without points.
	Score *float64       `json:"score,omitempty"`
	Band  sentiment.Band `json:"band,omitempty"`
	// Direction compares the latest point with the mean of the ones before it:
	// improving, worsening (a change of more than 0.2) or steady; empty with fewer
	// than two points.
	Direction string `json:"direction,omitempty"`
	// Tags counts the post-conversation tags of the points.
	Tags map[sentiment.Tag]int `json:"tags"`
}

// MaxTrendPoints bounds a sentiment trend.
const MaxTrendPoints = 100

// trendStep is the change of the latest interaction's score against the ones before
// it that counts as improving or worsening.
const trendStep = 0.2

// CustomerSentiment answers the customer's sentiment trend over the interactions
// linked to them.
func (s *Store) CustomerSentiment(ctx context.Context, tenantID, customerID string) (SentimentTrend, error) {
	out := SentimentTrend{CustomerID: customerID, Points: []SentimentPoint{}, Tags: map[sentiment.Tag]int{}}
	ok, err := s.CustomerExists(ctx, tenantID, customerID)
	if err != nil {
		return out, err
	}
	if !ok {
		return out, translate(pgx.ErrNoRows, "customer")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, channel, created_at, ended_at, sentiment_score, sentiment_messages, coalesce(sentiment_tag, '')
		FROM (SELECT * FROM interactions
		      WHERE tenant_id = $1 AND customer_id = $2::text AND sentiment_score IS NOT NULL
		      ORDER BY created_at DESC, id DESC LIMIT $3) latest
		ORDER BY created_at, id`, tenantID, strings.ToLower(customerID), MaxTrendPoints)
	if err != nil {
		return out, err
	}
	var scores []float64
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var (
			p      SentimentPoint
			score  *float64
			scored int
			tag    string
		)
		if err := r.Scan(&p.InteractionID, &p.Channel, &p.CreatedAt, &p.EndedAt, &score, &scored, &tag); err != nil {
			return struct{}{}, err
		}
		p.Sentiment = *sentimentOf(score, scored, tag)
		out.Points = append(out.Points, p)
		scores = append(scores, p.Score)
		if p.Tag != "" {
			out.Tags[p.Tag]++
		}
		return struct{}{}, nil
	})
	if err != nil || len(scores) == 0 {
		return out, err
	}
	total := sentiment.Conversation(scores)
	out.Score, out.Band = &total, sentiment.BandOf(total)
	if n := len(scores); n >= 2 {
		var before float64
		for _, s := range scores[:n-1] {
			before += s
		}
		switch d := scores[n-1] - before/float64(n-1); {
		case d > trendStep:
			out.Direction = "improving"
		case d < -trendStep:
			out.Direction = "worsening"
		default:
			out.Direction = "steady"
		}
	}
	return out, nil
}
