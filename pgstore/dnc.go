package pgstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Bounds of a phone number's digits: E.164 allows up to 15; fewer than 3 is no
// number anyone can be called on.
const (
	minPhoneDigits = 3
	maxPhoneDigits = 15
	// maxPhoneInput bounds the raw text before it is looked at.
	maxPhoneInput = 64
)

// NormalizePhone is the one form in which phone numbers are stored and compared (the
// do-not-call list, internal contacts, callbacks): spaces, dots, dashes and
// parentheses are dropped and a leading plus is kept, so "+1 (555) 010-9999" and
// "+15550109999" are one number. It refuses letters, a plus anywhere but first, a
// country code starting with 0, and fewer than 3 or more than 15 digits. It does not
// guess a country: "+385…" and "385…" stay two numbers, so lists should hold numbers
// in international form. The error is a *ValidationError naming the field "phone";
// callers with another field name reuse its Message.
func NormalizePhone(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid("phone", "is required: a phone number such as +385 1 234 5678")
	}
	if len(s) > maxPhoneInput {
		return "", invalid("phone", "must be at most %d characters", maxPhoneInput)
	}
	var b strings.Builder
	b.Grow(len(s))
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if digits == 0 && r == '0' && b.Len() == 1 {
				return "", invalid("phone", "after the + comes the country code, which does not start with 0")
			}
			b.WriteRune(r)
			digits++
		case r == '+':
			if i != 0 {
				return "", invalid("phone", "may have a + only at the start")
			}
			b.WriteByte('+')
		case r == '.' || r == '-' || r == '(' || r == ')' || unicode.IsSpace(r):
		case unicode.IsLetter(r):
			return "", invalid("phone", "must not contain letters: write the number in digits")
		default:
			return "", invalid("phone", "may contain only digits, a leading +, spaces, dots, dashes and parentheses")
		}
	}
	if digits < minPhoneDigits || digits > maxPhoneDigits {
		return "", invalid("phone", "must have %d to %d digits (E.164 allows at most %d)", minPhoneDigits, maxPhoneDigits, maxPhoneDigits)
	}
	return b.String(), nil
}

// DoNotCallListed reports whether the tenant's do-not-call list holds the number,
// after NormalizePhone; a number that does not normalise is refused with its error.
func (s *Store) DoNotCallListed(ctx context.Context, tenantID, phone string) (bool, error) {
	n, err := NormalizePhone(phone)
	if err != nil {
		return false, err
	}
	var listed bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM do_not_call WHERE tenant_id = $1 AND phone = $2)`, tenantID, n).Scan(&listed)
	return listed, err
}

// DoNotCallSource says how a number came onto the do-not-call list.
type DoNotCallSource string

// How numbers are listed.
const (
	// DoNotCallManual: one number added by an admin or supervisor.
	DoNotCallManual DoNotCallSource = "manual"
	// DoNotCallUpload: a line of an uploaded CSV or TXT file.
	DoNotCallUpload DoNotCallSource = "upload"
	// DoNotCallDisposition: an interaction disposed with a code that blacklists its
	// customer's number.
	DoNotCallDisposition DoNotCallSource = "disposition"
)

// Valid reports whether s is a known source.
func (s DoNotCallSource) Valid() bool {
	switch s {
	case DoNotCallManual, DoNotCallUpload, DoNotCallDisposition:
		return true
	}
	return false
}

// DoNotCallEntry is a number on a tenant's do-not-call list: no outbound call is
// placed to it until it is deleted.
type DoNotCallEntry struct {
	// Phone is the number as NormalizePhone writes it.
	Phone string `json:"phone"`
	// AddedBy is the user who listed it (nil once that user is deleted, or for a
	// disposition the wrap-up timeout applied), with their name.
	AddedBy     *string         `json:"addedBy"`
	AddedByName *string         `json:"addedByName"`
	Source      DoNotCallSource `json:"source"`
	Reason      string          `json:"reason"`
	CreatedAt   time.Time       `json:"createdAt"`
}

// Cursor is the position after this entry in a listing, for DoNotCallFilter.After.
func (e DoNotCallEntry) Cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.CreatedAt.UnixMicro(), 10) + "|" + e.Phone))
}

const maxDoNotCallReason = 500

func cleanReason(r *string) error {
	*r = strings.TrimSpace(*r)
	if utf8.RuneCountInString(*r) > maxDoNotCallReason || strings.ContainsFunc(*r, unicode.IsControl) {
		return invalid("reason", "must be at most %d characters, without control characters", maxDoNotCallReason)
	}
	return nil
}

// NewDoNotCall is one number to list.
type NewDoNotCall struct {
	Phone string `json:"phone"`
	// Reason is optional: why the number may not be called.
	Reason string `json:"reason"`
}

// Validate normalises the number and checks the reason.
func (n *NewDoNotCall) Validate() error {
	p, err := NormalizePhone(n.Phone)
	if err != nil {
		return err
	}
	n.Phone = p
	return cleanReason(&n.Reason)
}

const doNotCallSelect = `
	SELECT d.phone, d.added_by::text, u.name, d.source, d.reason, d.created_at
	FROM do_not_call d LEFT JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.added_by`

func scanDoNotCall(row pgx.Row) (DoNotCallEntry, error) {
	var e DoNotCallEntry
	err := row.Scan(&e.Phone, &e.AddedBy, &e.AddedByName, &e.Source, &e.Reason, &e.CreatedAt)
	return e, err
}

// AddDoNotCall lists one number, added by actor.UserID. created is false when the
// number was listed already: the entry answered is then the existing one, unchanged
// (its first date, adder and reason stay). Concurrent adds of one number write one
// row.
func (s *Store) AddDoNotCall(ctx context.Context, tenantID string, actor Actor, in NewDoNotCall) (e DoNotCallEntry, created bool, err error) {
	if err := in.Validate(); err != nil {
		return DoNotCallEntry{}, false, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		e, created, err = addDoNotCall(ctx, tx, tenantID, actor, in.Phone, DoNotCallManual, in.Reason)
		return err
	})
	return e, created, err
}

// addDoNotCall lists phone (normalised) unless it is listed, and answers the entry.
// The insert waits for a concurrent one of the same number to commit, so the read
// that follows sees the row whichever wrote it.
func addDoNotCall(ctx context.Context, tx pgx.Tx, tenantID string, actor Actor, phone string, source DoNotCallSource, reason string) (DoNotCallEntry, bool, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO do_not_call (tenant_id, phone, added_by, source, reason) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, phone) DO NOTHING`, tenantID, phone, nullUUID(actor.UserID), source, reason)
	if err != nil {
		return DoNotCallEntry{}, false, translate(err, "do-not-call entry")
	}
	created := tag.RowsAffected() == 1
	if created {
		if err := audit(ctx, tx, tenantID, actor, "dnc.added", "do_not_call", phone, map[string]string{"source": string(source), "reason": reason}); err != nil {
			return DoNotCallEntry{}, false, err
		}
	}
	e, err := scanDoNotCall(tx.QueryRow(ctx, doNotCallSelect+` WHERE d.tenant_id = $1 AND d.phone = $2`, tenantID, phone))
	return e, created, translate(err, "do-not-call entry")
}

// GetDoNotCall returns the entry of a number (normalised first); ErrNotFound when it
// is not listed.
func (s *Store) GetDoNotCall(ctx context.Context, tenantID, phone string) (DoNotCallEntry, error) {
	n, err := NormalizePhone(phone)
	if err != nil {
		return DoNotCallEntry{}, err
	}
	e, err := scanDoNotCall(s.pool.QueryRow(ctx, doNotCallSelect+` WHERE d.tenant_id = $1 AND d.phone = $2`, tenantID, n))
	return e, translate(err, "do-not-call entry for "+n)
}

// DeleteDoNotCall takes a number (normalised first) off the list, so it may be
// called again; ErrNotFound when it is not listed.
func (s *Store) DeleteDoNotCall(ctx context.Context, tenantID string, actor Actor, phone string) error {
	n, err := NormalizePhone(phone)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var e DoNotCallEntry
		err := tx.QueryRow(ctx, `DELETE FROM do_not_call WHERE tenant_id = $1 AND phone = $2 RETURNING source, reason, created_at`,
			tenantID, n).Scan(&e.Source, &e.Reason, &e.CreatedAt)
		if err != nil {
			return translate(err, "do-not-call entry for "+n)
		}
		return audit(ctx, tx, tenantID, actor, "dnc.deleted", "do_not_call", n,
			map[string]any{"source": e.Source, "reason": e.Reason, "listedAt": e.CreatedAt})
	})
}

// DoNotCallFilter selects entries of the list, newest first.
type DoNotCallFilter struct {
	// Phone is the start of the numbers (formatting ignored: "+385 1" finds
	// "+38512345678").
	Phone string
	// AddedBy is a user's ID: the numbers they listed.
	AddedBy string
	Source  DoNotCallSource
	// Since and Until bound the date added: at or after Since, before Until.
	Since, Until *time.Time
	// Limit is the page size (default 50, at most 200); After is the Cursor of the
	// previous page's last entry.
	Limit int
	After string

	after struct {
		at    time.Time
		phone string
	}
}

// Validate checks the filter and normalises the number prefix.
func (f *DoNotCallFilter) Validate() error {
	page := Page{Limit: f.Limit}
	if err := page.Validate(); err != nil {
		return err
	}
	f.Limit = page.Limit
	if f.Phone = strings.TrimSpace(f.Phone); f.Phone != "" {
		p, err := phonePrefix(f.Phone)
		if err != nil {
			return err
		}
		f.Phone = p
	}
	if f.AddedBy = strings.TrimSpace(f.AddedBy); f.AddedBy != "" && !isUUID(f.AddedBy) {
		return invalid("addedBy", "must be a user ID")
	}
	if f.Source != "" && !f.Source.Valid() {
		return invalid("source", "must be manual, upload or disposition")
	}
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) {
		return invalid("until", "must be after since")
	}
	if f.After != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.After)
		at, phone, ok := strings.Cut(string(raw), "|")
		micros, perr := strconv.ParseInt(at, 10, 64)
		if err != nil || !ok || perr != nil || phone == "" {
			return invalid("after", "must be the nextAfter of a previous page")
		}
		f.after.at, f.after.phone = time.UnixMicro(micros).UTC(), phone
	}
	return nil
}

// phonePrefix is the start of a number for a search: formatting dropped, a leading
// plus kept, 1 to 15 digits.
func phonePrefix(raw string) (string, error) {
	var b strings.Builder
	digits := 0
	for i, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && i == 0:
			b.WriteByte('+')
		case r == '.' || r == '-' || r == '(' || r == ')' || unicode.IsSpace(r):
		default:
			return "", invalid("phone", "searches by the start of a number: digits, a leading +, spaces, dots, dashes and parentheses")
		}
	}
	if digits == 0 || digits > maxPhoneDigits {
		return "", invalid("phone", "searches by the start of a number: 1 to %d digits", maxPhoneDigits)
	}
	return b.String(), nil
}

// ListDoNotCall lists a tenant's do-not-call entries, newest first (numbers listed
// at the same moment by number, descending).
func (s *Store) ListDoNotCall(ctx context.Context, tenantID string, f DoNotCallFilter) ([]DoNotCallEntry, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var afterAt *time.Time
	if f.After != "" {
		afterAt = &f.after.at
	}
	// A number prefix is a range of the primary key: ':' sorts right after '9'.
	rows, err := s.pool.Query(ctx, doNotCallSelect+`
		WHERE d.tenant_id = $1
		  AND ($2 = '' OR (d.phone >= $2 AND d.phone < $2 || ':'))
		  AND ($3::uuid IS NULL OR d.added_by = $3)
		  AND ($4 = '' OR d.source = $4)
		  AND ($5::timestamptz IS NULL OR d.created_at >= $5)
		  AND ($6::timestamptz IS NULL OR d.created_at < $6)
		  AND ($7::timestamptz IS NULL OR (d.created_at, d.phone) < ($7, $8::text))
		ORDER BY d.created_at DESC, d.phone DESC LIMIT $9`,
		tenantID, f.Phone, nullUUID(f.AddedBy), string(f.Source), f.Since, f.Until, afterAt, f.after.phone, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DoNotCallEntry, error) { return scanDoNotCall(r) })
}

// Bounds of a do-not-call upload.
const (
	// MaxDoNotCallUploadBytes bounds an uploaded file.
	MaxDoNotCallUploadBytes = 10 << 20
	// MaxDoNotCallUploadLines bounds the lines of an uploaded file that hold a
	// number (blank and comment lines and a header not counted).
	MaxDoNotCallUploadLines = 200_000
	// maxUploadProblems bounds the problems an upload reports one by one; the
	// counts cover all of them.
	maxUploadProblems = 1000
	// maxProblemValue bounds the text of a line quoted in its problem.
	maxProblemValue = 64
)

// Problems of an uploaded line.
const (
	// UploadInvalid: the line's number does not normalise.
	UploadInvalid = "invalid"
	// UploadDuplicate: the number is on an earlier line of the file.
	UploadDuplicate = "duplicate"
	// UploadListed: the number was already on the list.
	UploadListed = "listed"
)

// DoNotCallUploadProblem is a line of an uploaded file that listed nothing.
type DoNotCallUploadProblem struct {
	// Line is the line's number in the file, from 1.
	Line int `json:"line"`
	// Value is the first column as written (at most 64 characters).
	Value string `json:"value"`
	// Problem is invalid, duplicate or listed.
	Problem string `json:"problem"`
	Message string `json:"message"`
}

// DoNotCallUploadResult is what an upload did.
type DoNotCallUploadResult struct {
	// Numbers counts the lines that hold a number, good or bad.
	Numbers int `json:"numbers"`
	// HeaderSkipped: the first line was taken for a header (its first column has no
	// digit) and skipped.
	HeaderSkipped bool `json:"headerSkipped"`
	Added         int  `json:"added"`
	Invalid       int  `json:"invalid"`
	Duplicates    int  `json:"duplicates"`
	AlreadyListed int  `json:"alreadyListed"`
	// Problems are the lines that listed nothing, in line order: the first 1000;
	// ProblemsTruncated says there were more (the counts cover all).
	Problems          []DoNotCallUploadProblem `json:"problems"`
	ProblemsTruncated bool                     `json:"problemsTruncated"`
}

// uploadLine is a line of an upload whose number normalised.
type uploadLine struct {
	line         int
	value, phone string
}

// parseDoNotCallFile reads an uploaded CSV or TXT file: one number per line, in the
// first column of a CSV (comma, semicolon or tab separated, as the first line
// shows), an optional header line (a first column without digits), '#' comments.
// Lines whose number does not normalise, and numbers seen on an earlier line, come
// back as problems. The whole file is refused, as a *ValidationError on "file", when
// it is not a text file one can read line by line: too large, not UTF-8, binary
// (control characters other than tab and line ends), broken CSV quoting, more than
// MaxDoNotCallUploadLines numbers, or no number line at all.
func parseDoNotCallFile(data []byte) (good []uploadLine, problems []DoNotCallUploadProblem, res DoNotCallUploadResult, err error) {
	switch {
	case len(data) > MaxDoNotCallUploadBytes:
		return nil, nil, res, invalid("file", "must be at most %d MiB", MaxDoNotCallUploadBytes>>20)
	case !utf8.Valid(data):
		return nil, nil, res, invalid("file", "is not UTF-8 text: upload a CSV (UTF-8) or a plain text file with one number per line")
	case bytes.ContainsFunc(data, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }):
		return nil, nil, res, invalid("file", "is not a text file (it holds control characters): upload a CSV or a plain text file with one number per line")
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = uploadDelimiter(data)
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	seen := map[string]int{}
	first := true
	for {
		rec, rerr := r.Read()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			var perr *csv.ParseError
			if errors.As(rerr, &perr) {
				return nil, nil, res, invalid("file", "line %d: %v: nothing was listed; fix the file and upload it again", perr.Line, perr.Err)
			}
			return nil, nil, res, invalid("file", "cannot be read: %v", rerr)
		}
		line, _ := r.FieldPos(0)
		value := strings.TrimSpace(rec[0])
		if value == "" {
			continue // a blank line, or a row without a first column
		}
		if first && !strings.ContainsFunc(value, unicode.IsDigit) {
			first, res.HeaderSkipped = false, true
			continue
		}
		first = false
		res.Numbers++
		if res.Numbers > MaxDoNotCallUploadLines {
			return nil, nil, res, invalid("file", "holds more than %d numbers: split it into smaller files", MaxDoNotCallUploadLines)
		}
		phone, nerr := NormalizePhone(value)
		if nerr != nil {
			msg := nerr.Error()
			var v *ValidationError
			if errors.As(nerr, &v) {
				msg = "the number " + v.Message
			}
			res.Invalid++
			problems = append(problems, DoNotCallUploadProblem{Line: line, Value: clip(value), Problem: UploadInvalid, Message: msg})
			continue
		}
		if at, ok := seen[phone]; ok {
			res.Duplicates++
			problems = append(problems, DoNotCallUploadProblem{Line: line, Value: clip(value), Problem: UploadDuplicate,
				Message: fmt.Sprintf("%s is on line %d already", phone, at)})
			continue
		}
		seen[phone] = line
		good = append(good, uploadLine{line: line, value: clip(value), phone: phone})
	}
	if res.Numbers == 0 {
		return nil, nil, res, invalid("file", "holds no phone numbers: one number per line, or in the first column of a CSV")
	}
	return good, problems, res, nil
}

// uploadDelimiter is the CSV separator the file's first line uses: a comma, else a
// semicolon (spreadsheets in many locales), else a tab; a comma when it has none
// (a plain list).
func uploadDelimiter(data []byte) rune {
	first, _, _ := bytes.Cut(bytes.TrimPrefix(data, []byte("\uFEFF")), []byte("\n"))
	for _, d := range []rune{',', ';', '\t'} {
		if bytes.ContainsRune(first, d) {
			return d
		}
	}
	return ','
}

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxProblemValue {
		return s
	}
	return string([]rune(s)[:maxProblemValue]) + "…"
}

// UploadDoNotCall lists the numbers of an uploaded CSV or TXT file
// (parseDoNotCallFile says how it is read and which files are refused whole), added
// by actor.UserID with reason. The good lines are listed in one transaction: all of
// them or, on an error, none. Lines that list nothing come back by line number:
// invalid, duplicate (an earlier line has the number) and listed (it was on the list
// already).
func (s *Store) UploadDoNotCall(ctx context.Context, tenantID string, actor Actor, data []byte, reason string) (DoNotCallUploadResult, error) {
	if err := cleanReason(&reason); err != nil {
		return DoNotCallUploadResult{}, err
	}
	good, problems, res, err := parseDoNotCallFile(data)
	if err != nil {
		return res, err
	}
	// In number order, so that uploads running at once take the rows' locks in the
	// same order and never deadlock.
	phones := make([]string, len(good))
	for i, g := range good {
		phones[i] = g.phone
	}
	slices.Sort(phones)
	added := map[string]bool{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			INSERT INTO do_not_call (tenant_id, phone, added_by, source, reason)
			SELECT $1, p, $3, 'upload', $4 FROM unnest($2::text[]) WITH ORDINALITY AS u (p, n) ORDER BY n
			ON CONFLICT (tenant_id, phone) DO NOTHING
			RETURNING phone`, tenantID, phones, nullUUID(actor.UserID), reason)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return translate(err, "do-not-call entry")
		}
		for _, p := range got {
			added[p] = true
		}
		res.Added = len(got)
		res.AlreadyListed = len(good) - len(got)
		return audit(ctx, tx, tenantID, actor, "dnc.uploaded", "do_not_call", "upload", map[string]any{
			"numbers": res.Numbers, "added": res.Added, "invalid": res.Invalid, "duplicates": res.Duplicates,
			"alreadyListed": res.AlreadyListed, "reason": reason})
	})
	if err != nil {
		return DoNotCallUploadResult{}, err
	}
	for _, g := range good {
		if !added[g.phone] {
			problems = append(problems, DoNotCallUploadProblem{Line: g.line, Value: g.value, Problem: UploadListed,
				Message: g.phone + " is on the list already"})
		}
	}
	slices.SortFunc(problems, func(a, b DoNotCallUploadProblem) int { return a.Line - b.Line })
	if len(problems) > maxUploadProblems {
		problems, res.ProblemsTruncated = problems[:maxUploadProblems], true
	}
	res.Problems = problems
	if res.Problems == nil {
		res.Problems = []DoNotCallUploadProblem{}
	}
	return res, nil
}

// BlacklistInteractionCustomer lists the customer's number of an interaction
// disposed with a code that blacklists it: added by the disposing user (none for a
// disposition the wrap-up timeout applied), with a reason naming the interaction and
// the code. It answers the number ("" when the interaction has no customer phone that
// normalises: nothing to list) and whether this call listed it; a number listed
// already keeps its entry, so a retry adds nothing.
func (s *Store) BlacklistInteractionCustomer(ctx context.Context, tenantID, interactionID, disposedBy, code string) (phone string, created bool, err error) {
	var raw *string
	err = s.pool.QueryRow(ctx, `SELECT customer_phone FROM interactions WHERE tenant_id = $1 AND id = $2`, tenantID, interactionID).Scan(&raw)
	if err != nil {
		return "", false, translate(err, "interaction")
	}
	if raw == nil {
		return "", false, nil
	}
	if phone, err = NormalizePhone(*raw); err != nil {
		return "", false, nil
	}
	reason := fmt.Sprintf("interaction %s disposed with %q", interactionID, code)
	if utf8.RuneCountInString(reason) > maxDoNotCallReason {
		reason = string([]rune(reason)[:maxDoNotCallReason])
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		_, created, err = addDoNotCall(ctx, tx, tenantID, Actor{UserID: disposedBy}, phone, DoNotCallDisposition, reason)
		return err
	})
	return phone, created, err
}
