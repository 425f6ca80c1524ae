package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// SurveySettings are a tenant's CSAT survey: its questions, whether it goes out by
// itself shortly after a conversation is solved, and the least time between two
// surveys to the same customer.
type SurveySettings struct {
	// Enabled sends the survey DelaySeconds after a conversation becomes solved.
	// Automations send it whether or not this is on.
	Enabled  bool   `json:"enabled"`
	Question string `json:"question"`
	// FollowUpQuestion asks for more after the score; when set, an answer is
	// complete (and the survey-feedback trigger fires) once both have arrived.
	FollowUpQuestion string `json:"followUpQuestion,omitempty"`
	DelaySeconds     int    `json:"delaySeconds"`
	// MinIntervalSeconds is the least time between two surveys to one customer,
	// counted from the first one's sending.
	MinIntervalSeconds int `json:"minIntervalSeconds"`
	// LinkBaseURL, when set, makes the survey carry a link to answer it: this URL
	// with ?token=<the survey's token>.
	LinkBaseURL string     `json:"linkBaseUrl,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
}

// Defaults of the survey settings.
const (
	DefaultSurveyQuestion    = "How did we do? Were you happy with how we handled your request? Please answer happy or not happy."
	DefaultSurveyDelay       = 60
	DefaultSurveyMinInterval = 24 * 3600
	maxSurveyQuestion        = 1000
	maxSurveyInterval        = 365 * 24 * 3600
	// MaxSurveyComment bounds a follow-up answer.
	MaxSurveyComment = 2000
)

// Validate checks the settings and normalises them.
func (s *SurveySettings) Validate() error {
	s.Question, s.FollowUpQuestion, s.LinkBaseURL = strings.TrimSpace(s.Question), strings.TrimSpace(s.FollowUpQuestion), strings.TrimSpace(s.LinkBaseURL)
	switch {
	case s.Question == "" || utf8.RuneCountInString(s.Question) > maxSurveyQuestion:
		return invalid("question", "is required, at most %d characters", maxSurveyQuestion)
	case utf8.RuneCountInString(s.FollowUpQuestion) > maxSurveyQuestion:
		return invalid("followUpQuestion", "must be at most %d characters", maxSurveyQuestion)
	case s.DelaySeconds < 0 || s.DelaySeconds > 86400:
		return invalid("delaySeconds", "must be from 0 to 86400 (a day)")
	case s.MinIntervalSeconds < 0 || s.MinIntervalSeconds > maxSurveyInterval:
		return invalid("minIntervalSeconds", "must be from 0 to %d (a year)", maxSurveyInterval)
	}
	if s.LinkBaseURL != "" {
		u, err := url.Parse(s.LinkBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.LinkBaseURL) > 1000 {
			return invalid("linkBaseUrl", "must be an absolute http or https URL")
		}
	}
	return nil
}

// GetSurveySettings answers the tenant's settings, or the defaults (disabled) when
// none were set.
func (s *Store) GetSurveySettings(ctx context.Context, tenantID string) (SurveySettings, error) {
	out := SurveySettings{Question: DefaultSurveyQuestion, DelaySeconds: DefaultSurveyDelay, MinIntervalSeconds: DefaultSurveyMinInterval}
	var follow, link *string
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT enabled, question, follow_up_question, delay_seconds, min_interval_seconds, link_base_url, updated_at
		FROM survey_settings WHERE tenant_id = $1`, tenantID).Scan(&out.Enabled, &out.Question, &follow, &out.DelaySeconds,
		&out.MinIntervalSeconds, &link, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	if follow != nil {
		out.FollowUpQuestion = *follow
	}
	if link != nil {
		out.LinkBaseURL = *link
	}
	out.UpdatedAt = &at
	return out, nil
}

// PutSurveySettings sets the tenant's settings.
func (s *Store) PutSurveySettings(ctx context.Context, tenantID string, actor Actor, in SurveySettings) (SurveySettings, error) {
	if err := in.Validate(); err != nil {
		return SurveySettings{}, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO survey_settings (tenant_id, enabled, question, follow_up_question, delay_seconds, min_interval_seconds, link_base_url)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, question = excluded.question,
				follow_up_question = excluded.follow_up_question, delay_seconds = excluded.delay_seconds,
				min_interval_seconds = excluded.min_interval_seconds, link_base_url = excluded.link_base_url, updated_at = now()`,
			tenantID, in.Enabled, in.Question, nullText(in.FollowUpQuestion), in.DelaySeconds, in.MinIntervalSeconds, nullText(in.LinkBaseURL))
		if err != nil {
			return translate(err, "survey settings")
		}
		return audit(ctx, tx, tenantID, actor, "survey_settings.updated", "survey_settings", tenantID, in)
	})
	if err != nil {
		return SurveySettings{}, err
	}
	return s.GetSurveySettings(ctx, tenantID)
}

// Statuses of a survey.
const (
	SurveyPending = "pending"
	SurveySent    = "sent"
	SurveyFailed  = "failed"
)

// Survey scores.
const (
	ScoreHappy    = "happy"
	ScoreNotHappy = "notHappy"
)

// Survey is one CSAT survey sent to a conversation's customer, with its answer.
type Survey struct {
	ID            string `json:"id"`
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	CustomerKey   string `json:"customer"`
	AgentID       string `json:"agentId,omitempty"`
	QueueID       string `json:"queueId,omitempty"`
	Channel       string `json:"channel,omitempty"`
	// Token is the secret of the survey's answer link.
	Token            string     `json:"-"`
	Question         string     `json:"question"`
	FollowUpQuestion string     `json:"followUpQuestion,omitempty"`
	Status           string     `json:"status"`
	Error            string     `json:"error,omitempty"`
	MessageID        string     `json:"messageId,omitempty"`
	SentAt           time.Time  `json:"sentAt"`
	Score            string     `json:"score,omitempty"`
	Comment          string     `json:"comment,omitempty"`
	AnsweredAt       *time.Time `json:"answeredAt,omitempty"`
	// CompletedAt is when the answer was complete: the score, and the follow-up
	// when one was asked.
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// NewSurvey is a survey about to be sent.
type NewSurvey struct {
	TenantID      string
	InteractionID string
	// SendKey makes the send happen once.
	SendKey          string
	CustomerKey      string
	AgentID          string
	QueueID          string
	Channel          string
	Question         string
	FollowUpQuestion string
	// MinInterval is the least time since the customer's last survey.
	MinInterval time.Duration
}

const surveyColumns = `id, tenant_id, interaction_id, customer_key, agent_id, queue_id, channel, token, question, follow_up_question,
	status, error, message_id, sent_at, score, comment, answered_at, completed_at`

func scanSurvey(row pgx.Row) (Survey, error) {
	var (
		s                                             Survey
		agent, queue, channel, follow, errText, msgID *string
		score, comment                                *string
	)
	err := row.Scan(&s.ID, &s.TenantID, &s.InteractionID, &s.CustomerKey, &agent, &queue, &channel, &s.Token, &s.Question, &follow,
		&s.Status, &errText, &msgID, &s.SentAt, &score, &comment, &s.AnsweredAt, &s.CompletedAt)
	for _, p := range []struct {
		src *string
		dst *string
	}{{agent, &s.AgentID}, {queue, &s.QueueID}, {channel, &s.Channel}, {follow, &s.FollowUpQuestion}, {errText, &s.Error},
		{msgID, &s.MessageID}, {score, &s.Score}, {comment, &s.Comment}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	return s, err
}

// surveyLockClass is the first key of the advisory lock that serialises the surveys
// of one customer, so two solves at once send one survey.
const surveyLockClass = 0x5356 // "SV"

// ErrSurveyTooSoon refuses a survey to a customer surveyed less than the minimum
// interval ago.
var ErrSurveyTooSoon = errors.New("the customer was surveyed too recently")

// CreateSurvey reserves a survey before its message goes out. A second call with the
// same send key answers the first survey; a customer surveyed (sent or being sent)
// less than MinInterval ago gets none: ErrSurveyTooSoon, wrapped with when.
func (s *Store) CreateSurvey(ctx context.Context, in NewSurvey) (Survey, error) {
	if !isUUID(in.TenantID) || !isUUID(in.InteractionID) || in.SendKey == "" || in.CustomerKey == "" || in.Question == "" {
		return Survey{}, invalid("survey", "a survey needs a tenant, an interaction, a send key, a customer and a question")
	}
	var out Survey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, surveyLockClass, in.TenantID+"/"+in.CustomerKey); err != nil {
			return err
		}
		existing, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE tenant_id = $1 AND send_key = $2`, in.TenantID, in.SendKey))
		if err == nil {
			out = existing
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var last *time.Time
		if err := tx.QueryRow(ctx, `SELECT max(sent_at) FROM surveys WHERE tenant_id = $1 AND customer_key = $2 AND status <> 'failed'`,
			in.TenantID, in.CustomerKey).Scan(&last); err != nil {
			return err
		}
		if last != nil && in.MinInterval > 0 && time.Since(*last) < in.MinInterval {
			return fmt.Errorf("%w: the last survey went out at %s, and the minimum interval is %s", ErrSurveyTooSoon,
				last.UTC().Format(time.RFC3339), in.MinInterval)
		}
		token, err := surveyToken()
		if err != nil {
			return err
		}
		out, err = scanSurvey(tx.QueryRow(ctx, `
			INSERT INTO surveys (tenant_id, interaction_id, send_key, customer_key, agent_id, queue_id, channel, token, question, follow_up_question)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+surveyColumns,
			in.TenantID, in.InteractionID, in.SendKey, in.CustomerKey, nullUUID(in.AgentID), nullUUID(in.QueueID), nullText(in.Channel),
			token, in.Question, nullText(in.FollowUpQuestion)))
		return translate(err, "survey")
	})
	return out, err
}

func surveyToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// MarkSurveySent records how the survey's message went: sent, or failed with why
// (a failed survey does not count against the interval).
func (s *Store) MarkSurveySent(ctx context.Context, tenantID, id, messageID, failure string) (Survey, error) {
	status := SurveySent
	if failure != "" {
		status = SurveyFailed
	}
	out, err := scanSurvey(s.pool.QueryRow(ctx, `UPDATE surveys SET status = $3, message_id = $4, error = $5
		WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING `+surveyColumns, tenantID, id, status, nullUUID(messageID), nullText(failure)))
	if errors.Is(err, pgx.ErrNoRows) {
		return s.GetSurvey(ctx, tenantID, id)
	}
	return out, translate(err, "survey")
}

// GetSurvey returns one survey.
func (s *Store) GetSurvey(ctx context.Context, tenantID, id string) (Survey, error) {
	if !isUUID(id) {
		return Survey{}, translate(pgx.ErrNoRows, "survey")
	}
	out, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return out, translate(err, "survey")
}

// SurveyByToken finds a survey by its answer link's token, in any tenant.
func (s *Store) SurveyByToken(ctx context.Context, token string) (Survey, error) {
	if len(token) < 16 || len(token) > 100 {
		return Survey{}, translate(pgx.ErrNoRows, "survey")
	}
	out, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE token = $1`, token))
	return out, translate(err, "survey")
}

// SurveyAnswer is a customer's answer: the score, the follow-up comment, or both.
type SurveyAnswer struct {
	Score   string `json:"score"`
	Comment string `json:"comment"`
}

// Validate checks the answer's shape.
func (a *SurveyAnswer) Validate() error {
	a.Score, a.Comment = strings.TrimSpace(a.Score), strings.TrimSpace(a.Comment)
	switch {
	case a.Score != "" && a.Score != ScoreHappy && a.Score != ScoreNotHappy:
		return invalid("score", "must be happy or notHappy")
	case a.Score == "" && a.Comment == "":
		return invalid("score", "an answer gives the score (happy or notHappy), the follow-up comment, or both")
	case utf8.RuneCountInString(a.Comment) > MaxSurveyComment:
		return invalid("comment", "must be at most %d characters", MaxSurveyComment)
	}
	return nil
}

// AnswerSurvey records an answer. The score comes first (a comment alone is refused
// before it); a survey with a follow-up question is complete once both arrived,
// one without once the score did. Completed answers are final: the same answer
// again is accepted as it is, another is refused (ErrConflict). Completed reports
// whether this call completed it.
func (s *Store) AnswerSurvey(ctx context.Context, tenantID, id string, a SurveyAnswer) (out Survey, completed bool, err error) {
	if err := a.Validate(); err != nil {
		return Survey{}, false, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if err != nil {
			return translate(err, "survey")
		}
		switch {
		case cur.Status != SurveySent:
			return fmt.Errorf("the survey was not sent (it is %s): %w", cur.Status, ErrConflict)
		case cur.CompletedAt != nil:
			if (a.Score == "" || a.Score == cur.Score) && (a.Comment == "" || a.Comment == cur.Comment) {
				out = cur
				return nil
			}
			return fmt.Errorf("the survey was already answered: %w", ErrConflict)
		case a.Score == "" && cur.Score == "":
			return invalid("score", "the score comes first: happy or notHappy")
		case a.Score != "" && cur.Score != "" && a.Score != cur.Score:
			return fmt.Errorf("the survey's score was already given: %w", ErrConflict)
		}
		score, comment := cur.Score, cur.Comment
		if a.Score != "" {
			score = a.Score
		}
		if a.Comment != "" {
			comment = a.Comment
		}
		done := cur.FollowUpQuestion == "" || comment != ""
		out, err = scanSurvey(tx.QueryRow(ctx, `UPDATE surveys SET score = $3, comment = $4, answered_at = coalesce(answered_at, now()),
			completed_at = CASE WHEN $5 THEN now() END
			WHERE tenant_id = $1 AND id = $2 RETURNING `+surveyColumns, tenantID, id, score, nullText(comment), done))
		completed = done
		return err
	})
	return out, completed, err
}

// SurveyFilter narrows a listing of surveys.
type SurveyFilter struct {
	InteractionID string
	Score         string
	From, To      *time.Time
	Page          Page
}

// ListSurveys answers the tenant's surveys, newest first.
func (s *Store) ListSurveys(ctx context.Context, tenantID string, f SurveyFilter) ([]Survey, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	if f.InteractionID != "" && !isUUID(f.InteractionID) {
		return nil, invalid("interactionId", "must be an interaction ID")
	}
	if f.Score != "" && f.Score != ScoreHappy && f.Score != ScoreNotHappy {
		return nil, invalid("score", "must be happy or notHappy")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+surveyColumns+` FROM surveys
		WHERE tenant_id = $1 AND ($2::uuid IS NULL OR interaction_id = $2) AND ($3::text IS NULL OR score = $3)
		  AND ($4::timestamptz IS NULL OR sent_at >= $4) AND ($5::timestamptz IS NULL OR sent_at < $5)
		  AND ($6::uuid IS NULL OR (sent_at, id) < (SELECT sent_at, id FROM surveys WHERE tenant_id = $1 AND id = $6))
		ORDER BY sent_at DESC, id DESC LIMIT $7`,
		tenantID, nullUUID(f.InteractionID), nullText(f.Score), f.From, f.To, nullUUID(f.Page.After), f.Page.Limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Survey, error) { return scanSurvey(r) })
	if out == nil {
		out = []Survey{}
	}
	return out, err
}

// CSATCounts are the answers of a set of surveys.
type CSATCounts struct {
	Sent     int `json:"sent"`
	Answered int `json:"answered"`
	Happy    int `json:"happy"`
	NotHappy int `json:"notHappy"`
	// ResponseRate is answered / sent, in percent.
	ResponseRate float64 `json:"responseRate"`
	// CSAT is happy / answered, in percent.
	CSAT float64 `json:"csat"`
}

func (c *CSATCounts) rates() {
	if c.Sent > 0 {
		c.ResponseRate = round1(100 * float64(c.Answered) / float64(c.Sent))
	}
	if c.Answered > 0 {
		c.CSAT = round1(100 * float64(c.Happy) / float64(c.Answered))
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// CSATGroup is the counts of one agent, queue or day.
type CSATGroup struct {
	Key string `json:"key"`
	CSATCounts
}

// VoiceOfCustomer is the Voice of the Customer report over a period: the answers in
// total, by agent, by queue and by day, and the latest comments.
type VoiceOfCustomer struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Totals  CSATCounts    `json:"totals"`
	ByAgent []CSATGroup   `json:"byAgent"`
	ByQueue []CSATGroup   `json:"byQueue"`
	ByDay   []CSATGroup   `json:"byDay"`
	Recent  []SurveyReply `json:"recentComments"`
}

// SurveyReply is one customer's answer with its comment.
type SurveyReply struct {
	SurveyID      string    `json:"surveyId"`
	InteractionID string    `json:"interactionId"`
	AgentID       string    `json:"agentId,omitempty"`
	Score         string    `json:"score"`
	Comment       string    `json:"comment"`
	AnsweredAt    time.Time `json:"answeredAt"`
}

// SurveyReport builds the Voice of the Customer report of surveys sent in [from, to),
// days in the tenant's time zone.
func (s *Store) SurveyReport(ctx context.Context, tenantID string, from, to time.Time) (VoiceOfCustomer, error) {
	if !to.After(from) {
		return VoiceOfCustomer{}, invalid("to", "must be after from")
	}
	if to.Sub(from) > 366*24*time.Hour {
		return VoiceOfCustomer{}, invalid("to", "a report covers at most 366 days")
	}
	out := VoiceOfCustomer{From: from.UTC(), To: to.UTC(), ByAgent: []CSATGroup{}, ByQueue: []CSATGroup{}, ByDay: []CSATGroup{}, Recent: []SurveyReply{}}
	rows, err := s.pool.Query(ctx, `
		WITH s AS (
			SELECT s.*, to_char(s.sent_at AT TIME ZONE t.time_zone, 'YYYY-MM-DD') AS day
			FROM surveys s JOIN tenants t ON t.id = s.tenant_id
			WHERE s.tenant_id = $1 AND s.status = 'sent' AND s.sent_at >= $2 AND s.sent_at < $3)
		SELECT g, k, count(*), count(score), count(*) FILTER (WHERE score = 'happy'), count(*) FILTER (WHERE score = 'notHappy')
		FROM (
			SELECT 'total' AS g, '' AS k, score FROM s
			UNION ALL SELECT 'agent', coalesce(agent_id::text, ''), score FROM s
			UNION ALL SELECT 'queue', coalesce(queue_id::text, ''), score FROM s
			UNION ALL SELECT 'day', day, score FROM s) x
		GROUP BY g, k ORDER BY g, k`, tenantID, from, to)
	if err != nil {
		return out, err
	}
	var g, k string
	var c CSATCounts
	_, err = pgx.ForEachRow(rows, []any{&g, &k, &c.Sent, &c.Answered, &c.Happy, &c.NotHappy}, func() error {
		c.rates()
		switch g {
		case "total":
			out.Totals = c
		case "agent":
			out.ByAgent = append(out.ByAgent, CSATGroup{Key: k, CSATCounts: c})
		case "queue":
			out.ByQueue = append(out.ByQueue, CSATGroup{Key: k, CSATCounts: c})
		case "day":
			out.ByDay = append(out.ByDay, CSATGroup{Key: k, CSATCounts: c})
		}
		c = CSATCounts{}
		return nil
	})
	if err != nil {
		return out, err
	}
	rows, err = s.pool.Query(ctx, `SELECT id, interaction_id, coalesce(agent_id::text, ''), score, comment, answered_at FROM surveys
		WHERE tenant_id = $1 AND status = 'sent' AND sent_at >= $2 AND sent_at < $3 AND comment IS NOT NULL AND score IS NOT NULL
		ORDER BY answered_at DESC LIMIT 50`, tenantID, from, to)
	if err != nil {
		return out, err
	}
	var r SurveyReply
	_, err = pgx.ForEachRow(rows, []any{&r.SurveyID, &r.InteractionID, &r.AgentID, &r.Score, &r.Comment, &r.AnsweredAt}, func() error {
		out.Recent = append(out.Recent, r)
		return nil
	})
	return out, err
}
