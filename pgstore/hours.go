package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/hours"
)

// maxAwayMessage bounds an away message.
const maxAwayMessage = 2000

// WorkingHours is a working-hours period: when the queues that use it are open (its
// time zone, hours per weekday and holidays; package hours), and what a customer who
// starts a conversation outside them gets: the away message, over the same channel,
// and with CloseOutsideHours the conversation closed at once. One period may be the
// tenant's default, which queues created afterwards get; queues created before keep
// theirs.
type WorkingHours struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	hours.Period
	AwayMessage       string `json:"awayMessage"`
	CloseOutsideHours bool   `json:"closeOutsideHours"`
	IsDefault         bool   `json:"isDefault"`
	// QueueIDs are the queues that use the period, in creation order.
	QueueIDs  []string  `json:"queueIds"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Calendar is the period's calendar. A stored period is valid, so the error only
// tells of a time zone the machine no longer knows.
func (w WorkingHours) Calendar() (*hours.Calendar, error) { return hours.New(w.Period) }

// NewWorkingHours is a period to create.
type NewWorkingHours struct {
	Name     string          `json:"name"`
	TimeZone string          `json:"timeZone"`
	Days     hours.Week      `json:"days"`
	Holidays []hours.Holiday `json:"holidays"`
	// AwayMessage is sent to a new conversation outside the hours; empty sends none.
	AwayMessage string `json:"awayMessage"`
	// CloseOutsideHours closes such a conversation once the away message went out.
	CloseOutsideHours bool `json:"closeOutsideHours"`
	// IsDefault makes it the tenant's default (the previous default stops being one).
	IsDefault bool `json:"isDefault"`
}

// Validate checks the period and tidies it (the days completed, names trimmed).
func (n *NewWorkingHours) Validate() error {
	if err := cleanName("name", &n.Name, 100); err != nil {
		return err
	}
	if n.Days == nil {
		return invalid("days", "is required: the hours of each weekday (monday … sunday; a missing day is switched off)")
	}
	p := hours.Period{TimeZone: n.TimeZone, Days: n.Days, Holidays: n.Holidays}
	if err := checkPeriod(&p); err != nil {
		return err
	}
	n.Days, n.Holidays = p.Days, p.Holidays
	return checkAway(n.AwayMessage, n.CloseOutsideHours)
}

// WorkingHoursUpdate changes the fields that are set; Days and Holidays replace the
// whole week or list.
type WorkingHoursUpdate struct {
	Name              *string          `json:"name"`
	TimeZone          *string          `json:"timeZone"`
	Days              *hours.Week      `json:"days"`
	Holidays          *[]hours.Holiday `json:"holidays"`
	AwayMessage       *string          `json:"awayMessage"`
	CloseOutsideHours *bool            `json:"closeOutsideHours"`
	// IsDefault true makes it the tenant's default; false leaves the tenant with none.
	IsDefault *bool `json:"isDefault"`
}

// Validate checks the fields that are set on their own; the period they make with
// the stored one is checked by UpdateWorkingHours.
func (u *WorkingHoursUpdate) Validate() error {
	if u.Name != nil {
		if err := cleanName("name", u.Name, 100); err != nil {
			return err
		}
	}
	if u.Days != nil && *u.Days == nil {
		return invalid("days", "must be the hours of each weekday, not null")
	}
	if u.Name == nil && u.TimeZone == nil && u.Days == nil && u.Holidays == nil && u.AwayMessage == nil &&
		u.CloseOutsideHours == nil && u.IsDefault == nil {
		return invalid("", "nothing to change: set name, timeZone, days, holidays, awayMessage, closeOutsideHours or isDefault")
	}
	return nil
}

// checkPeriod validates p with the hours package, naming the field as the API does,
// and completes it: every weekday present, no null lists, holiday names trimmed.
func checkPeriod(p *hours.Period) error {
	for i := range p.Holidays {
		p.Holidays[i].Name = strings.TrimSpace(p.Holidays[i].Name)
	}
	if _, err := hours.New(*p); err != nil {
		var he *hours.Error
		if errors.As(err, &he) {
			return invalid(he.Field, "%s", he.Message)
		}
		return err
	}
	week := make(hours.Week, len(hours.Weekdays))
	for _, name := range hours.Weekdays {
		d := p.Days[name]
		if d.Ranges == nil {
			d.Ranges = []hours.Range{}
		}
		week[name] = d
	}
	p.Days = week
	if p.Holidays == nil {
		p.Holidays = []hours.Holiday{}
	}
	return nil
}

func checkAway(msg string, closeOutside bool) error {
	if utf8.RuneCountInString(msg) > maxAwayMessage ||
		strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
		return invalid("awayMessage", "must be at most %d characters, without control characters", maxAwayMessage)
	}
	if closeOutside && strings.TrimSpace(msg) == "" {
		return invalid("closeOutsideHours", "needs an away message: a conversation closed outside the hours would get no answer")
	}
	return nil
}

// QueueWorkingHours assigns a period to a queue.
type QueueWorkingHours struct {
	// WorkingHoursID is the period; null leaves the queue always open.
	WorkingHoursID Nullable[string] `json:"workingHoursId"`
}

// Validate checks the assignment.
func (q *QueueWorkingHours) Validate() error {
	if !q.WorkingHoursID.Set {
		return invalid("workingHoursId", "is required: a working-hours period, or null for a queue that is always open")
	}
	if v := q.WorkingHoursID.Value; v != nil && !isUUID(*v) {
		return invalid("workingHoursId", "must be a working-hours period ID")
	}
	return nil
}

const workingHoursColumns = `w.id, w.tenant_id, w.name, w.time_zone, w.days, w.away_message, w.close_outside_hours, w.is_default,
	coalesce((SELECT json_agg(json_build_object('name', h.name, 'startDate', to_char(h.start_date, 'YYYY-MM-DD'),
		'endDate', to_char(h.end_date, 'YYYY-MM-DD')) ORDER BY h.ordinal)
		FROM working_hours_holidays h WHERE h.tenant_id = w.tenant_id AND h.period_id = w.id), '[]'),
	w.created_at, w.updated_at`

func scanWorkingHours(row pgx.Row) (WorkingHours, error) {
	var w WorkingHours
	var days, holidays []byte
	if err := row.Scan(&w.ID, &w.TenantID, &w.Name, &w.TimeZone, &days, &w.AwayMessage, &w.CloseOutsideHours, &w.IsDefault,
		&holidays, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return w, err
	}
	if err := json.Unmarshal(days, &w.Days); err != nil {
		return w, fmt.Errorf("days of working hours %s: %w", w.ID, err)
	}
	if err := json.Unmarshal(holidays, &w.Holidays); err != nil {
		return w, fmt.Errorf("holidays of working hours %s: %w", w.ID, err)
	}
	w.QueueIDs = []string{}
	return w, nil
}

func workingHoursWhat(name string) string { return fmt.Sprintf("working hours %q", name) }

// lockWorkingHours serialises the changes of a tenant's periods, so that making one
// the default and unmaking the previous one is never seen half done.
func lockWorkingHours(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('working-hours/' || $1::text, 0))`, tenantID)
	return err
}

// CreateWorkingHours adds a period with its holidays.
func (s *Store) CreateWorkingHours(ctx context.Context, tenantID string, actor Actor, in NewWorkingHours) (WorkingHours, error) {
	if err := in.Validate(); err != nil {
		return WorkingHours{}, err
	}
	var out WorkingHours
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkingHours(ctx, tx, tenantID); err != nil {
			return err
		}
		if in.IsDefault {
			if err := clearDefault(ctx, tx, tenantID, ""); err != nil {
				return err
			}
		}
		days, err := json.Marshal(in.Days)
		if err != nil {
			return err
		}
		var id string
		if err := tx.QueryRow(ctx, `
			INSERT INTO working_hours (tenant_id, name, time_zone, days, away_message, close_outside_hours, is_default)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`,
			tenantID, in.Name, in.TimeZone, days, in.AwayMessage, in.CloseOutsideHours, in.IsDefault).Scan(&id); err != nil {
			return translate(err, workingHoursWhat(in.Name))
		}
		if err := setHolidays(ctx, tx, tenantID, id, in.Holidays); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "working_hours.created", "working_hours", id, in); err != nil {
			return err
		}
		out, err = getWorkingHours(ctx, tx, tenantID, id, false)
		return err
	})
	return out, err
}

func clearDefault(ctx context.Context, tx pgx.Tx, tenantID, except string) error {
	_, err := tx.Exec(ctx, `
		UPDATE working_hours SET is_default = false, updated_at = now()
		WHERE tenant_id = $1 AND is_default AND ($2::uuid IS NULL OR id <> $2)`, tenantID, nullUUID(except))
	return err
}

func setHolidays(ctx context.Context, tx pgx.Tx, tenantID, periodID string, hs []hours.Holiday) error {
	if _, err := tx.Exec(ctx, `DELETE FROM working_hours_holidays WHERE tenant_id = $1 AND period_id = $2`, tenantID, periodID); err != nil {
		return err
	}
	if len(hs) == 0 {
		return nil
	}
	names := make([]string, len(hs))
	starts := make([]string, len(hs))
	ends := make([]string, len(hs))
	for i, h := range hs {
		names[i], starts[i], ends[i] = h.Name, h.StartDate, h.EndDate
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO working_hours_holidays (tenant_id, period_id, ordinal, name, start_date, end_date)
		SELECT $1, $2, h.ord - 1, h.name, h.start_date::date, h.end_date::date
		FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS h (name, start_date, end_date, ord)`,
		tenantID, periodID, names, starts, ends)
	return err
}

// GetWorkingHours returns one period with its holidays and queues.
func (s *Store) GetWorkingHours(ctx context.Context, tenantID, id string) (WorkingHours, error) {
	return getWorkingHours(ctx, s.pool, tenantID, id, false)
}

func getWorkingHours(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (WorkingHours, error) {
	if !isUUID(id) {
		return WorkingHours{}, translate(pgx.ErrNoRows, "working hours")
	}
	sql := `SELECT ` + workingHoursColumns + ` FROM working_hours w WHERE w.tenant_id = $1 AND w.id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	w, err := scanWorkingHours(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return WorkingHours{}, translate(err, "working hours")
	}
	ws := []WorkingHours{w}
	if err := loadPeriodQueues(ctx, q, tenantID, ws); err != nil {
		return WorkingHours{}, err
	}
	return ws[0], nil
}

// ListWorkingHours lists a tenant's periods in creation order.
func (s *Store) ListWorkingHours(ctx context.Context, tenantID string, page Page) ([]WorkingHours, error) {
	if err := page.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+workingHoursColumns+` FROM working_hours w
		WHERE w.tenant_id = $1
		  AND ($2::uuid IS NULL OR (w.created_at, w.id) > (SELECT created_at, id FROM working_hours WHERE tenant_id = $1 AND id = $2))
		ORDER BY w.created_at, w.id LIMIT $3`, tenantID, nullUUID(page.After), page.Limit)
	if err != nil {
		return nil, err
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WorkingHours, error) { return scanWorkingHours(r) })
	if err != nil {
		return nil, err
	}
	return ws, loadPeriodQueues(ctx, s.pool, tenantID, ws)
}

// loadPeriodQueues fills in the queues of each period with one query.
func loadPeriodQueues(ctx context.Context, q querier, tenantID string, ws []WorkingHours) error {
	if len(ws) == 0 {
		return nil
	}
	ids := make([]string, len(ws))
	index := make(map[string]int, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
		index[w.ID] = i
	}
	rows, err := q.Query(ctx, `
		SELECT working_hours_id::text, id::text FROM queues
		WHERE tenant_id = $1 AND working_hours_id = ANY($2::uuid[]) ORDER BY created_at, id`, tenantID, ids)
	if err != nil {
		return err
	}
	var periodID, queueID string
	_, err = pgx.ForEachRow(rows, []any{&periodID, &queueID}, func() error {
		i := index[periodID]
		ws[i].QueueIDs = append(ws[i].QueueIDs, queueID)
		return nil
	})
	return err
}

// UpdateWorkingHours changes a period. The queues that use it follow the change at
// once; the caller re-arms their openings (QueueIDs of the answer).
func (s *Store) UpdateWorkingHours(ctx context.Context, tenantID string, actor Actor, id string, in WorkingHoursUpdate) (WorkingHours, error) {
	if err := in.Validate(); err != nil {
		return WorkingHours{}, err
	}
	var out WorkingHours
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkingHours(ctx, tx, tenantID); err != nil {
			return err
		}
		cur, err := getWorkingHours(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		next := cur
		if in.Name != nil {
			next.Name = *in.Name
		}
		if in.TimeZone != nil {
			next.TimeZone = *in.TimeZone
		}
		if in.Days != nil {
			next.Days = *in.Days
		}
		if in.Holidays != nil {
			next.Holidays = *in.Holidays
		}
		if in.AwayMessage != nil {
			next.AwayMessage = *in.AwayMessage
		}
		if in.CloseOutsideHours != nil {
			next.CloseOutsideHours = *in.CloseOutsideHours
		}
		if in.IsDefault != nil {
			next.IsDefault = *in.IsDefault
		}
		if err := checkPeriod(&next.Period); err != nil {
			return err
		}
		if err := checkAway(next.AwayMessage, next.CloseOutsideHours); err != nil {
			return err
		}
		if next.IsDefault && !cur.IsDefault {
			if err := clearDefault(ctx, tx, tenantID, cur.ID); err != nil {
				return err
			}
		}
		days, err := json.Marshal(next.Days)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE working_hours SET name = $3, time_zone = $4, days = $5, away_message = $6, close_outside_hours = $7,
				is_default = $8, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, cur.ID, next.Name, next.TimeZone, days, next.AwayMessage, next.CloseOutsideHours, next.IsDefault); err != nil {
			return translate(err, workingHoursWhat(next.Name))
		}
		if in.Holidays != nil {
			if err := setHolidays(ctx, tx, tenantID, cur.ID, next.Holidays); err != nil {
				return err
			}
		}
		if err := audit(ctx, tx, tenantID, actor, "working_hours.updated", "working_hours", cur.ID, in); err != nil {
			return err
		}
		out, err = getWorkingHours(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// DeleteWorkingHours removes a period and its holidays. It refuses (ErrConflict) a
// period that queues use: they would silently become always open, so the admin
// gives them another period (or none) first.
func (s *Store) DeleteWorkingHours(ctx context.Context, tenantID string, actor Actor, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkingHours(ctx, tx, tenantID); err != nil {
			return err
		}
		cur, err := getWorkingHours(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if n := len(cur.QueueIDs); n > 0 {
			return fmt.Errorf("working hours %q are used by %d queue(s); give them another period or none first: %w", cur.Name, n, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM working_hours WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "working_hours.deleted", "working_hours", cur.ID, map[string]string{"name": cur.Name})
	})
	// The row lock makes the check exact against assignments (which lock the period
	// to share); the foreign key, checked at commit, is the backstop.
	if fkViolation(err, "queues_working_hours") {
		return fmt.Errorf("a queue was just given these working hours: %w", ErrConflict)
	}
	return err
}

// SetQueueWorkingHours gives a queue a period, or none (always open).
func (s *Store) SetQueueWorkingHours(ctx context.Context, tenantID string, actor Actor, queueID string, in QueueWorkingHours) (Queue, error) {
	if err := in.Validate(); err != nil {
		return Queue{}, err
	}
	var out Queue
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getQueue(ctx, tx, tenantID, queueID, true)
		if err != nil {
			return err
		}
		var period any
		if v := in.WorkingHoursID.Value; v != nil {
			var id string
			err := tx.QueryRow(ctx, `SELECT id::text FROM working_hours WHERE tenant_id = $1 AND id = $2 FOR SHARE`, tenantID, *v).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return invalid("workingHoursId", "no working-hours period %s in this tenant", *v)
			}
			if err != nil {
				return err
			}
			period = id
		}
		if _, err := tx.Exec(ctx, `UPDATE queues SET working_hours_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
			tenantID, cur.ID, period); err != nil {
			return goneRef(err, "workingHoursId")
		}
		if err := audit(ctx, tx, tenantID, actor, "queue.working_hours_set", "queue", cur.ID, in); err != nil {
			return err
		}
		out, err = getQueue(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// QueueHours returns the period of a queue; nil when it has none (always open).
func (s *Store) QueueHours(ctx context.Context, tenantID, queueID string) (*WorkingHours, error) {
	if !isUUID(queueID) || !isUUID(tenantID) {
		return nil, translate(pgx.ErrNoRows, "queue")
	}
	var period *string
	if err := s.pool.QueryRow(ctx, `SELECT working_hours_id::text FROM queues WHERE tenant_id = $1 AND id = $2`,
		tenantID, queueID).Scan(&period); err != nil {
		return nil, translate(err, "queue")
	}
	if period == nil {
		return nil, nil
	}
	w, err := scanWorkingHours(s.pool.QueryRow(ctx, `SELECT `+workingHoursColumns+` FROM working_hours w WHERE w.tenant_id = $1 AND w.id = $2`,
		tenantID, *period))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // unassigned meanwhile
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// OpeningWait is an interaction that arrived while its queue was closed, waiting for
// the opening. Bulk assignment leaves it out meanwhile (Waiting).
type OpeningWait struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	QueueID       string `json:"queueId"`
	// OpensAt is the opening the calendar gave when it arrived; nil when none was ahead.
	OpensAt *time.Time `json:"opensAt,omitempty"`
}

// AddOpeningWait records the wait; repeating it changes nothing.
func (s *Store) AddOpeningWait(ctx context.Context, w OpeningWait) error {
	if !isUUID(w.TenantID) || !isUUID(w.InteractionID) || !isUUID(w.QueueID) {
		return invalid("interactionId", "an opening wait needs a tenant, an interaction and a queue ID")
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO opening_waits (tenant_id, interaction_id, queue_id, opens_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, interaction_id) DO NOTHING`, w.TenantID, w.InteractionID, w.QueueID, w.OpensAt)
	return translate(err, "tenant")
}

// RemoveOpeningWait ends the wait of one interaction (it leaves its queue, ends, or
// found the queue open); it reports whether there was one.
func (s *Store) RemoveOpeningWait(ctx context.Context, tenantID, interactionID string) (bool, error) {
	if !isUUID(tenantID) || !isUUID(interactionID) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM opening_waits WHERE tenant_id = $1 AND interaction_id = $2`, tenantID, interactionID)
	return tag.RowsAffected() > 0, err
}

// ReleaseOpeningWaits ends the waits of a queue that opened and returns how many
// there were.
func (s *Store) ReleaseOpeningWaits(ctx context.Context, tenantID, queueID string) (int64, error) {
	if !isUUID(tenantID) || !isUUID(queueID) {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM opening_waits WHERE tenant_id = $1 AND queue_id = $2`, tenantID, queueID)
	return tag.RowsAffected(), err
}

// OpeningWaits lists the interactions of a queue waiting for its opening, oldest first.
func (s *Store) OpeningWaits(ctx context.Context, tenantID, queueID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT interaction_id::text FROM opening_waits WHERE tenant_id = $1 AND queue_id = $2 ORDER BY created_at, interaction_id`,
		tenantID, queueID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
