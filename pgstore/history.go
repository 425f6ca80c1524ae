package pgstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
	"switchboard/sentiment"
)

// HistoryFilter selects interactions of a tenant's history, newest first. Every field
// is optional; the fields given must all match.
type HistoryFilter struct {
	// Q is free text: an interaction ID (that interaction only), else part of the
	// customer's name (any case) or, when it reads as a phone number, part of the
	// customer's phone number (its digits, whatever the punctuation on either side).
	Q string
	// From and To bound the creation time: From inclusive, To exclusive.
	From, To           time.Time
	CampaignID         string
	QueueID            string
	DispositionCodeID  string
	DispositionClassID string
	Channel            routing.Channel
	Status             InteractionStatus
	Direction          Direction
	// AgentID keeps the interactions this agent held (now or before a transfer) or
	// took part in (a conference).
	AgentID string
	// VisibleTo keeps what an agent's own history shows them: the interactions
	// they held, were offered, or took part in.
	VisibleTo string
	// Tag keeps the interactions carrying this conversation tag (its exact name).
	Tag string
	// FormID keeps the interactions given this conversation form.
	FormID string
	// Sentiment keeps the interactions that ended with this sentiment tag.
	Sentiment sentiment.Tag
	// Limit is the page size: 0 for 50, at most 200.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// HistoryPage is one page of a history search.
type HistoryPage struct {
	Items []Interaction `json:"items"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// maxHistoryQuery bounds the free-text search, in characters.
const maxHistoryQuery = 200

// Validate checks the filter, normalizes its IDs and sets the default page size.
func (f *HistoryFilter) Validate() error {
	f.Q = strings.TrimSpace(f.Q)
	if n := utf8.RuneCountInString(f.Q); n > maxHistoryQuery || !utf8.ValidString(f.Q) || strings.ContainsRune(f.Q, 0) {
		return invalid("q", "must be UTF-8 text of at most %d characters", maxHistoryQuery)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return invalid("to", "must not be before from")
	}
	for _, id := range []struct {
		field, what string
		v           *string
	}{
		{"campaignId", "a campaign ID", &f.CampaignID}, {"queueId", "a queue ID", &f.QueueID},
		{"dispositionCodeId", "a disposition code ID", &f.DispositionCodeID},
		{"dispositionClassId", "a disposition class ID", &f.DispositionClassID},
		{"agentId", "an agent ID", &f.AgentID}, {"visibleTo", "an agent ID", &f.VisibleTo},
		{"formId", "a form ID", &f.FormID},
	} {
		if *id.v != "" && !isUUID(*id.v) {
			return invalid(id.field, "must be %s", id.what)
		}
		// IDs in jsonb (participants) are compared as text, as PostgreSQL writes them.
		*id.v = strings.ToLower(*id.v)
	}
	switch {
	case f.Channel != "" && !f.Channel.Valid():
		return invalid("channel", "must be voice, live_chat, live_messaging or email")
	case f.Status != "" && !f.Status.Valid():
		return invalid("status", "must be queued, offered, connected, on_hold, ended, disposed or abandoned")
	case f.Direction != "" && !f.Direction.Valid():
		return invalid("direction", "must be inbound or outbound")
	case f.Sentiment != "" && !f.Sentiment.Valid():
		return invalid("sentiment", "must be not-applicable, overly-negative, negative, neutral, positive or overly-positive")
	}
	if f.Tag != "" {
		if err := ValidateTagName("tag", f.Tag); err != nil {
			return err
		}
	}
	if f.Limit == 0 {
		f.Limit = defaultPageSize
	}
	if f.Limit < 1 || f.Limit > maxPageSize {
		return invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	if f.Cursor != "" {
		if _, _, err := decodeHistoryCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// historyCursor encodes the position after the last row of a page: its creation time
// (in microseconds, PostgreSQL's precision, so the comparison is exact) and its ID.
func historyCursor(in Interaction) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(in.CreatedAt.UnixMicro(), 10) + "_" + in.ID))
}

func decodeHistoryCursor(c string) (time.Time, string, error) {
	bad := invalid("cursor", "must be the nextCursor of a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	micros, id, ok := strings.Cut(string(raw), "_")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !isUUID(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// heldStatuses are the statuses in which the interaction's agent holds or held it.
const heldStatuses = `('connected', 'on_hold', 'ended', 'disposed')`

// SearchHistory answers a page of the tenant's interactions matching f, newest
// first, with the cursor of the next page. The conditions are assembled from the
// filter's set fields only, so each search gets a plan for what it really asks.
func (s *Store) SearchHistory(ctx context.Context, tenantID string, f HistoryFilter) (HistoryPage, error) {
	if err := f.Validate(); err != nil {
		return HistoryPage{}, err
	}
	out := HistoryPage{Items: []Interaction{}}
	if !isUUID(tenantID) {
		return out, nil
	}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"i.tenant_id = $1"}
	eq := func(column string, v string) {
		if v != "" {
			where = append(where, column+" = "+arg(v))
		}
	}
	if f.Q != "" {
		if isUUID(f.Q) {
			// An ID names one interaction: looked up by key, never taken for a name.
			where = append(where, "i.id = "+arg(strings.ToLower(f.Q)))
		} else {
			alts := []string{"i.customer_name ILIKE " + arg("%"+likeEscaper.Replace(f.Q)+"%")}
			if digits, ok := phoneDigits(f.Q); ok {
				alts = append(alts, `regexp_replace(coalesce(i.customer_phone, ''), '[^0-9]', '', 'g') LIKE `+arg("%"+digits+"%"))
			}
			where = append(where, "("+strings.Join(alts, " OR ")+")")
		}
	}
	if !f.From.IsZero() {
		where = append(where, "i.created_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "i.created_at < "+arg(f.To))
	}
	eq("i.campaign_id", f.CampaignID)
	eq("i.queue_id", f.QueueID)
	eq("i.disposition_code_id", f.DispositionCodeID)
	eq("i.disposition_class_id", f.DispositionClassID)
	eq("i.channel", string(f.Channel))
	eq("i.status", string(f.Status))
	eq("i.direction", string(f.Direction))
	eq("i.form_id", f.FormID)
	eq("i.sentiment_tag", string(f.Sentiment))
	if f.Tag != "" {
		where = append(where, "i.tags @> ARRAY["+arg(f.Tag)+"]::text[]")
	}
	// The agent's events and offers are read once through their (tenant, agent)
	// indexes and hashed, rather than looked up for every interaction walked.
	if f.AgentID != "" {
		a, p := arg(f.AgentID), arg(participantMatch(f.AgentID))
		where = append(where, fmt.Sprintf(`(i.agent_id = %[1]s OR i.participants @> %[2]s::jsonb
			OR i.id IN (SELECT e.interaction_id FROM interaction_events e
			            WHERE e.tenant_id = $1 AND e.agent_id = %[1]s AND e.status IN `+heldStatuses+`))`, a, p))
	}
	if f.VisibleTo != "" {
		a, p := arg(f.VisibleTo), arg(participantMatch(f.VisibleTo))
		where = append(where, fmt.Sprintf(`(i.agent_id = %[1]s OR i.offered_agent_id = %[1]s OR i.participants @> %[2]s::jsonb
			OR i.id IN (SELECT e.interaction_id FROM interaction_events e WHERE e.tenant_id = $1 AND e.agent_id = %[1]s)
			OR i.id IN (SELECT o.interaction_id FROM interaction_offers o WHERE o.tenant_id = $1 AND o.agent_id = %[1]s))`, a, p))
	}
	if f.Cursor != "" {
		at, id, _ := decodeHistoryCursor(f.Cursor)
		where = append(where, fmt.Sprintf("(i.created_at, i.id) < (%s, %s::uuid)", arg(at), arg(id)))
	}
	// One row more than the page tells whether there is a next page.
	rows, err := s.pool.Query(ctx, `SELECT `+interactionColumns+` FROM interactions i WHERE `+strings.Join(where, " AND ")+`
		ORDER BY i.created_at DESC, i.id DESC LIMIT `+arg(f.Limit+1), args...)
	if err != nil {
		return HistoryPage{}, fmt.Errorf("search history: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Interaction, error) { return scanInteraction(r) })
	if err != nil {
		return HistoryPage{}, fmt.Errorf("search history: %w", err)
	}
	if len(items) > f.Limit {
		items = items[:f.Limit]
		out.NextCursor = historyCursor(items[len(items)-1])
	}
	out.Items = append(out.Items, items...)
	return out, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// phoneDigits returns the digits of q when q reads as (part of) a phone number:
// digits with the usual punctuation, nothing else.
func phoneDigits(q string) (string, bool) {
	var b strings.Builder
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("+-(). /", r):
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// participantMatch is the jsonb containment pattern of a conference participant who
// is the user.
func participantMatch(userID string) string {
	raw, _ := json.Marshal([]map[string]string{{"userId": userID}})
	return string(raw)
}

// InteractionDetail is everything the history keeps of one interaction: its state
// (with its disposition), the timeline of its changes, its notes, its transcript and
// the offers made.
type InteractionDetail struct {
	Interaction
	Timeline []TimelineEntry `json:"timeline"`
	Notes    []Note          `json:"notes"`
	// Transcript is the interaction's messages in order, at most
	// MaxDetailTranscript; TranscriptTruncated says there are more, read with
	// Messages.
	Transcript          []Message `json:"transcript"`
	TranscriptTruncated bool      `json:"transcriptTruncated,omitempty"`
	Offers              []Offer   `json:"offers"`
}

// MaxDetailTranscript bounds the messages an InteractionDetail carries.
const MaxDetailTranscript = 2000

// InteractionDetail reads one interaction of the tenant with its timeline, notes,
// transcript and offers; an interaction the tenant does not have answers ErrNotFound.
// The parts are read one after another, the state first, so the timeline may show a
// change committed meanwhile that the state does not yet.
func (s *Store) InteractionDetail(ctx context.Context, tenantID, id string) (InteractionDetail, error) {
	in, err := s.GetInteraction(ctx, tenantID, id)
	if err != nil {
		return InteractionDetail{}, err
	}
	d := InteractionDetail{Interaction: in}
	if d.Timeline, err = s.Timeline(ctx, tenantID, id); err != nil {
		return InteractionDetail{}, fmt.Errorf("timeline of %s: %w", id, err)
	}
	if d.Notes, err = s.Notes(ctx, tenantID, id); err != nil {
		return InteractionDetail{}, fmt.Errorf("notes of %s: %w", id, err)
	}
	if d.Offers, err = s.InteractionOffers(ctx, tenantID, id); err != nil {
		return InteractionDetail{}, fmt.Errorf("offers of %s: %w", id, err)
	}
	d.Transcript = []Message{}
	for after := int64(0); ; {
		n := min(MaxTranscriptLimit, MaxDetailTranscript-len(d.Transcript))
		if n == 0 {
			// Full: one more message would be left out.
			more, err := s.Messages(ctx, tenantID, id, after, 1)
			if err != nil {
				return InteractionDetail{}, fmt.Errorf("transcript of %s: %w", id, err)
			}
			d.TranscriptTruncated = len(more) > 0
			break
		}
		page, err := s.Messages(ctx, tenantID, id, after, n)
		if err != nil {
			return InteractionDetail{}, fmt.Errorf("transcript of %s: %w", id, err)
		}
		d.Transcript = append(d.Transcript, page...)
		if len(page) < n {
			break
		}
		after = page[len(page)-1].Seq
	}
	return d, nil
}

// Involves reports whether the agent held the interaction, was offered it, or took
// part in it: whether it is in the agent's own history (HistoryFilter.VisibleTo).
func (d *InteractionDetail) Involves(agentID string) bool {
	if agentID == "" {
		return false
	}
	agentID = strings.ToLower(agentID)
	if d.AgentID == agentID || d.OfferedAgentID == agentID {
		return true
	}
	for _, o := range d.Offers {
		if o.AgentID == agentID {
			return true
		}
	}
	for _, e := range d.Timeline {
		if e.AgentID == agentID {
			return true
		}
	}
	for _, p := range d.Participants {
		if p.UserID == agentID {
			return true
		}
	}
	return false
}
