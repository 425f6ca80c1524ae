package pgstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bounds of a customer record.
const (
	maxCustomerName       = 200
	maxCustomerExternalID = 200
	// MaxCustomerPhones and MaxCustomerEmails bound a customer's numbers and addresses.
	MaxCustomerPhones = 10
	MaxCustomerEmails = 10
	// MaxCustomerAttributes bounds a customer's custom attributes.
	MaxCustomerAttributes = 50
	maxCustomerAttribute  = 1000
	// MaxCustomerIdentifiers bounds a customer's journey identifiers (one per key).
	MaxCustomerIdentifiers = 10
	maxIdentifierValue     = 1000
	maxEmail               = 320
)

// customerKeyPattern is the form of an attribute name and of an identifier key (an
// interaction metadata key).
var customerKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// Customer is a customer record (a contact of Customer 360).
type Customer struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// ExternalID is the customer's ID in the tenant's CRM, unique in the tenant.
	ExternalID string `json:"externalId,omitempty"`
	Name       string `json:"name"`
	// Phones are normalised (NormalizePhone), the primary one first.
	Phones []string `json:"phones"`
	// Emails are in lower case, the primary one first.
	Emails []string `json:"emails"`
	// Attributes are custom attributes by name.
	Attributes map[string]string `json:"attributes"`
	// Identifiers are journey identifiers by interaction metadata key: an
	// interaction whose metadata carries one of them (a configured key) is this
	// customer's.
	Identifiers map[string]string `json:"identifiers"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// NewCustomer is a customer to create. At least one of the fields is given.
type NewCustomer struct {
	ExternalID  string            `json:"externalId"`
	Name        string            `json:"name"`
	Phones      []string          `json:"phones"`
	Emails      []string          `json:"emails"`
	Attributes  map[string]string `json:"attributes"`
	Identifiers map[string]string `json:"identifiers"`
}

// Validate checks the new customer and normalises its phones and e-mails.
func (c *NewCustomer) Validate() error {
	if err := cleanExternalID(&c.ExternalID); err != nil {
		return err
	}
	if err := cleanCustomerName(&c.Name); err != nil {
		return err
	}
	var err error
	if c.Phones, err = cleanPhones(c.Phones); err != nil {
		return err
	}
	if c.Emails, err = cleanEmails(c.Emails); err != nil {
		return err
	}
	if err := checkAttributes(c.Attributes); err != nil {
		return err
	}
	if err := checkIdentifiers(c.Identifiers); err != nil {
		return err
	}
	if c.ExternalID == "" && c.Name == "" && len(c.Phones) == 0 && len(c.Emails) == 0 && len(c.Identifiers) == 0 {
		return invalid("name", "a customer needs at least a name, a phone, an e-mail, an external ID or an identifier")
	}
	return nil
}

// CustomerUpdate changes the fields that are set; a list or map that is set replaces
// the stored one whole; null clears externalId.
type CustomerUpdate struct {
	ExternalID  Nullable[string]   `json:"externalId"`
	Name        *string            `json:"name"`
	Phones      *[]string          `json:"phones"`
	Emails      *[]string          `json:"emails"`
	Attributes  *map[string]string `json:"attributes"`
	Identifiers *map[string]string `json:"identifiers"`
}

// Validate checks the fields that are set and normalises them.
func (u *CustomerUpdate) Validate() error {
	if u.ExternalID.Set && u.ExternalID.Value != nil {
		if err := cleanExternalID(u.ExternalID.Value); err != nil {
			return err
		}
		if *u.ExternalID.Value == "" {
			u.ExternalID.Value = nil
		}
	}
	if u.Name != nil {
		if err := cleanCustomerName(u.Name); err != nil {
			return err
		}
	}
	if u.Phones != nil {
		p, err := cleanPhones(*u.Phones)
		if err != nil {
			return err
		}
		u.Phones = &p
	}
	if u.Emails != nil {
		e, err := cleanEmails(*u.Emails)
		if err != nil {
			return err
		}
		u.Emails = &e
	}
	if u.Attributes != nil {
		if err := checkAttributes(*u.Attributes); err != nil {
			return err
		}
	}
	if u.Identifiers != nil {
		if err := checkIdentifiers(*u.Identifiers); err != nil {
			return err
		}
	}
	return nil
}

func cleanExternalID(id *string) error {
	*id = strings.TrimSpace(*id)
	if utf8.RuneCountInString(*id) > maxCustomerExternalID || strings.ContainsFunc(*id, unicode.IsControl) {
		return invalid("externalId", "must be at most %d characters, without control characters", maxCustomerExternalID)
	}
	return nil
}

func cleanCustomerName(name *string) error {
	*name = strings.TrimSpace(*name)
	if utf8.RuneCountInString(*name) > maxCustomerName || strings.ContainsFunc(*name, unicode.IsControl) {
		return invalid("name", "must be at most %d characters, without control characters", maxCustomerName)
	}
	return nil
}

// cleanPhones normalises the numbers and drops repeats, keeping the order.
func cleanPhones(in []string) ([]string, error) {
	if len(in) > MaxCustomerPhones {
		return nil, invalid("phones", "at most %d phone numbers", MaxCustomerPhones)
	}
	out := make([]string, 0, len(in))
	for i, raw := range in {
		n, err := NormalizePhone(raw)
		if err != nil {
			var v *ValidationError
			if errors.As(err, &v) {
				return nil, invalid(fmt.Sprintf("phones[%d]", i), "%s", v.Message)
			}
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// cleanEmails checks the addresses, writes them in lower case and drops repeats.
func cleanEmails(in []string) ([]string, error) {
	if len(in) > MaxCustomerEmails {
		return nil, invalid("emails", "at most %d e-mail addresses", MaxCustomerEmails)
	}
	out := make([]string, 0, len(in))
	for i, raw := range in {
		e, err := normalizeEmail(raw)
		if err != nil {
			return nil, invalid(fmt.Sprintf("emails[%d]", i), "must be a plain e-mail address such as ana@example.com")
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func normalizeEmail(raw string) (string, error) {
	e := strings.TrimSpace(raw)
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > maxEmail || !strings.Contains(e, "@") {
		return "", errors.New("not an e-mail address")
	}
	return strings.ToLower(e), nil
}

func checkAttributes(attrs map[string]string) error {
	if len(attrs) > MaxCustomerAttributes {
		return invalid("attributes", "at most %d attributes", MaxCustomerAttributes)
	}
	for k, v := range attrs {
		if !customerKeyPattern.MatchString(k) {
			return invalid("attributes."+k, "names are letters, digits, '_' and '-', starting with a letter or '_', at most 64")
		}
		if utf8.RuneCountInString(v) > maxCustomerAttribute || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return invalid("attributes."+k, "must be UTF-8 text of at most %d characters", maxCustomerAttribute)
		}
	}
	return nil
}

func checkIdentifiers(ids map[string]string) error {
	if len(ids) > MaxCustomerIdentifiers {
		return invalid("identifiers", "at most %d identifiers", MaxCustomerIdentifiers)
	}
	for k, v := range ids {
		if !customerKeyPattern.MatchString(k) {
			return invalid("identifiers."+k, "keys are interaction metadata keys: letters, digits, '_' and '-', starting with a letter or '_', at most 64")
		}
		if !validIdentifierValue(v) {
			return invalid("identifiers."+k, "must be 1 to %d characters without control characters", maxIdentifierValue)
		}
	}
	return nil
}

func validIdentifierValue(v string) bool {
	n := utf8.RuneCountInString(v)
	return strings.TrimSpace(v) != "" && n <= maxIdentifierValue && utf8.ValidString(v) && !strings.ContainsFunc(v, unicode.IsControl)
}

const customerColumns = `c.id::text, c.tenant_id::text, coalesce(c.external_id, ''), c.name, c.phones, c.emails, c.attributes,
	coalesce((SELECT jsonb_object_agg(ci.key, ci.value) FROM customer_identifiers ci
	          WHERE ci.tenant_id = c.tenant_id AND ci.customer_id = c.id), '{}'::jsonb),
	c.created_at, c.updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.TenantID, &c.ExternalID, &c.Name, &c.Phones, &c.Emails, &c.Attributes, &c.Identifiers,
		&c.CreatedAt, &c.UpdatedAt)
	if c.Phones == nil {
		c.Phones = []string{}
	}
	if c.Emails == nil {
		c.Emails = []string{}
	}
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	if c.Identifiers == nil {
		c.Identifiers = map[string]string{}
	}
	return c, err
}

func getCustomer(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (Customer, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Customer{}, translate(pgx.ErrNoRows, "customer")
	}
	sql := `SELECT ` + customerColumns + ` FROM customers c WHERE c.tenant_id = $1 AND c.id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	c, err := scanCustomer(q.QueryRow(ctx, sql, tenantID, strings.ToLower(id)))
	return c, translate(err, "customer")
}

// GetCustomer returns one customer of the tenant.
func (s *Store) GetCustomer(ctx context.Context, tenantID, id string) (Customer, error) {
	return getCustomer(ctx, s.pool, tenantID, id, false)
}

// CustomerExists reports whether the tenant has a customer with that ID.
func (s *Store) CustomerExists(ctx context.Context, tenantID, id string) (bool, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2)`,
		tenantID, strings.ToLower(id)).Scan(&ok)
	return ok, err
}

// customerWriteError names the uniqueness rule a write broke.
func customerWriteError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "customers_tenant_id_external_id_key":
			return fmt.Errorf("another customer has this externalId: %w", ErrConflict)
		case "customer_identifiers_pkey":
			return fmt.Errorf("an identifier of this customer already names another customer: %w", ErrConflict)
		}
	}
	return translate(err, "customer")
}

func writeIdentifiers(ctx context.Context, tx pgx.Tx, tenantID, customerID string, ids map[string]string) error {
	for _, k := range sortedKeys(ids) {
		if _, err := tx.Exec(ctx, `INSERT INTO customer_identifiers (tenant_id, customer_id, key, value) VALUES ($1, $2, $3, $4)`,
			tenantID, customerID, k, ids[k]); err != nil {
			return customerWriteError(err)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// insertCustomer writes a validated new customer inside tx.
func insertCustomer(ctx context.Context, tx pgx.Tx, tenantID string, in NewCustomer) (string, error) {
	attrs := in.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	id := uuid.NewString()
	if _, err := tx.Exec(ctx, `
		INSERT INTO customers (tenant_id, id, external_id, name, phones, emails, attributes)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		tenantID, id, nullText(in.ExternalID), in.Name, nonNil(in.Phones), nonNil(in.Emails), attrs); err != nil {
		return "", customerWriteError(err)
	}
	return id, writeIdentifiers(ctx, tx, tenantID, id, in.Identifiers)
}

// CreateCustomer adds a customer; its external ID and identifiers must not name
// another customer of the tenant (ErrConflict).
func (s *Store) CreateCustomer(ctx context.Context, tenantID string, actor Actor, in NewCustomer) (Customer, error) {
	if err := in.Validate(); err != nil {
		return Customer{}, err
	}
	if !isUUID(tenantID) {
		return Customer{}, translate(pgx.ErrNoRows, "tenant")
	}
	var out Customer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := insertCustomer(ctx, tx, tenantID, in)
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "customer.created", "customer", id, map[string]any{"externalId": in.ExternalID}); err != nil {
			return err
		}
		out, err = getCustomer(ctx, tx, tenantID, id, false)
		return err
	})
	return out, err
}

// UpdateCustomer changes the fields of u that are set.
func (s *Store) UpdateCustomer(ctx context.Context, tenantID string, actor Actor, id string, u CustomerUpdate) (Customer, error) {
	if err := u.Validate(); err != nil {
		return Customer{}, err
	}
	var out Customer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getCustomer(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if u.ExternalID.Set {
			cur.ExternalID = ""
			if u.ExternalID.Value != nil {
				cur.ExternalID = *u.ExternalID.Value
			}
		}
		if u.Name != nil {
			cur.Name = *u.Name
		}
		if u.Phones != nil {
			cur.Phones = *u.Phones
		}
		if u.Emails != nil {
			cur.Emails = *u.Emails
		}
		if u.Attributes != nil {
			cur.Attributes = *u.Attributes
			if cur.Attributes == nil {
				cur.Attributes = map[string]string{}
			}
		}
		if cur.ExternalID == "" && cur.Name == "" && len(cur.Phones) == 0 && len(cur.Emails) == 0 &&
			(u.Identifiers != nil && len(*u.Identifiers) == 0 || u.Identifiers == nil && len(cur.Identifiers) == 0) {
			return invalid("name", "a customer needs at least a name, a phone, an e-mail, an external ID or an identifier")
		}
		if _, err := tx.Exec(ctx, `
			UPDATE customers SET external_id = $3, name = $4, phones = $5, emails = $6, attributes = $7, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, cur.ID, nullText(cur.ExternalID), cur.Name, nonNil(cur.Phones), nonNil(cur.Emails), cur.Attributes); err != nil {
			return customerWriteError(err)
		}
		if u.Identifiers != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM customer_identifiers WHERE tenant_id = $1 AND customer_id = $2`, tenantID, cur.ID); err != nil {
				return err
			}
			if err := writeIdentifiers(ctx, tx, tenantID, cur.ID, *u.Identifiers); err != nil {
				return err
			}
		}
		if err := audit(ctx, tx, tenantID, actor, "customer.updated", "customer", cur.ID, u); err != nil {
			return err
		}
		out, err = getCustomer(ctx, tx, tenantID, cur.ID, false)
		return err
	})
	return out, err
}

// DeleteCustomer removes a customer with its notes and identifiers. It is refused
// (ErrConflict) while an interaction that is not over is linked to it; interactions
// that are over keep the ID in their history.
func (s *Store) DeleteCustomer(ctx context.Context, tenantID string, actor Actor, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := getCustomer(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		var active int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM interactions WHERE tenant_id = $1 AND customer_id = $2
			AND status NOT IN ('disposed', 'abandoned')`, tenantID, cur.ID).Scan(&active); err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("%d interactions that are not over are linked to this customer: unlink them first: %w", active, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM customers WHERE tenant_id = $1 AND id = $2`, tenantID, cur.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "customer.deleted", "customer", cur.ID, map[string]string{"name": cur.Name, "externalId": cur.ExternalID})
	})
}

// CustomerFilter selects customers of a tenant, newest first. The fields given must
// all match.
type CustomerFilter struct {
	// Q is free text: part of the name (any case), or exactly a phone number (in any
	// punctuation), an e-mail address or an external ID.
	Q string
	// Name matches part of the name, in any case.
	Name string
	// Phone matches one of the customer's numbers, after NormalizePhone.
	Phone string
	// Email matches one of the customer's addresses, in any case.
	Email string
	// ExternalID matches exactly.
	ExternalID string
	// Limit is the page size: 0 for 50, at most 200.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// CustomerPage is one page of a customer search.
type CustomerPage struct {
	Items []Customer `json:"items"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Validate checks the filter and normalises its phone and e-mail.
func (f *CustomerFilter) Validate() error {
	f.Q, f.Name, f.ExternalID = strings.TrimSpace(f.Q), strings.TrimSpace(f.Name), strings.TrimSpace(f.ExternalID)
	for _, t := range []struct{ field, v string }{{"q", f.Q}, {"name", f.Name}, {"externalId", f.ExternalID}} {
		if utf8.RuneCountInString(t.v) > maxHistoryQuery || !utf8.ValidString(t.v) || strings.ContainsRune(t.v, 0) {
			return invalid(t.field, "must be UTF-8 text of at most %d characters", maxHistoryQuery)
		}
	}
	if strings.TrimSpace(f.Phone) != "" {
		n, err := NormalizePhone(f.Phone)
		if err != nil {
			var v *ValidationError
			if errors.As(err, &v) {
				return invalid("phone", "%s", v.Message)
			}
			return err
		}
		f.Phone = n
	} else {
		f.Phone = ""
	}
	if strings.TrimSpace(f.Email) != "" {
		e, err := normalizeEmail(f.Email)
		if err != nil {
			return invalid("email", "must be an e-mail address such as ana@example.com")
		}
		f.Email = e
	} else {
		f.Email = ""
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

// timeCursor encodes the position after a row ordered by (time, id), as the history's
// cursor does.
func timeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "_" + id))
}

// SearchCustomers answers a page of the tenant's customers matching f, newest first.
// A phone number shared by several customers answers all of them, so the agent
// picks.
func (s *Store) SearchCustomers(ctx context.Context, tenantID string, f CustomerFilter) (CustomerPage, error) {
	if err := f.Validate(); err != nil {
		return CustomerPage{}, err
	}
	out := CustomerPage{Items: []Customer{}}
	if !isUUID(tenantID) {
		return out, nil
	}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"c.tenant_id = $1"}
	if f.Q != "" {
		alts := []string{"c.name ILIKE " + arg("%"+likeEscaper.Replace(f.Q)+"%"), "c.external_id = " + arg(f.Q)}
		if e, err := normalizeEmail(f.Q); err == nil {
			alts = append(alts, "c.emails @> ARRAY["+arg(e)+"]::text[]")
		}
		if _, ok := phoneDigits(f.Q); ok {
			if n, err := NormalizePhone(f.Q); err == nil {
				alts = append(alts, "c.phones @> ARRAY["+arg(n)+"]::text[]")
			}
		}
		where = append(where, "("+strings.Join(alts, " OR ")+")")
	}
	if f.Name != "" {
		where = append(where, "c.name ILIKE "+arg("%"+likeEscaper.Replace(f.Name)+"%"))
	}
	if f.Phone != "" {
		where = append(where, "c.phones @> ARRAY["+arg(f.Phone)+"]::text[]")
	}
	if f.Email != "" {
		where = append(where, "c.emails @> ARRAY["+arg(f.Email)+"]::text[]")
	}
	if f.ExternalID != "" {
		where = append(where, "c.external_id = "+arg(f.ExternalID))
	}
	if f.Cursor != "" {
		at, id, _ := decodeHistoryCursor(f.Cursor)
		where = append(where, fmt.Sprintf("(c.created_at, c.id) < (%s, %s::uuid)", arg(at), arg(id)))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+customerColumns+` FROM customers c WHERE `+strings.Join(where, " AND ")+`
		ORDER BY c.created_at DESC, c.id DESC LIMIT `+arg(f.Limit+1), args...)
	if err != nil {
		return CustomerPage{}, fmt.Errorf("search customers: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
	if err != nil {
		return CustomerPage{}, fmt.Errorf("search customers: %w", err)
	}
	if len(items) > f.Limit {
		items = items[:f.Limit]
		last := items[len(items)-1]
		out.NextCursor = timeCursor(last.CreatedAt, last.ID)
	}
	out.Items = append(out.Items, items...)
	return out, nil
}

// lockCustomerKeys serialises, until tx ends, the writers that look a customer up by
// one of these keys and create it when nobody has it ("phone:+385…", "id:acct=42"):
// two first contacts from one number create one customer. Keys are taken in order,
// so two writers never wait on each other crosswise.
func lockCustomerKeys(ctx context.Context, tx pgx.Tx, tenantID string, keys []string) error {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "customer:"+tenantID+":"+k); err != nil {
			return fmt.Errorf("lock customer key: %w", err)
		}
	}
	return nil
}

// customersByPhone answers the IDs of the tenant's customers having the normalised
// number, oldest first.
func customersByPhone(ctx context.Context, q querier, tenantID, phone string, limit int) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT id::text FROM customers WHERE tenant_id = $1 AND phones @> ARRAY[$2]::text[]
		ORDER BY created_at, id LIMIT $3`, tenantID, phone, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// FindOrCreateCustomerByPhone answers the tenant's customer with this phone number
// (the oldest, when several share it) or creates one with the number and name; created
// tells which. Concurrent calls for one number create one customer: the lookup and the
// insert run under a transaction-scoped advisory lock on the tenant and number. The
// creation is audited as customer.created with source first_contact.
func (s *Store) FindOrCreateCustomerByPhone(ctx context.Context, tenantID, phone, name string) (Customer, bool, error) {
	n, err := NormalizePhone(phone)
	if err != nil {
		return Customer{}, false, err
	}
	if err := cleanCustomerName(&name); err != nil {
		return Customer{}, false, err
	}
	if !isUUID(tenantID) {
		return Customer{}, false, translate(pgx.ErrNoRows, "tenant")
	}
	var (
		out     Customer
		created bool
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomerKeys(ctx, tx, tenantID, []string{"phone:" + n}); err != nil {
			return err
		}
		ids, err := customersByPhone(ctx, tx, tenantID, n, 1)
		if err != nil {
			return err
		}
		id := ""
		if len(ids) > 0 {
			id = ids[0]
		} else {
			if id, err = insertCustomer(ctx, tx, tenantID, NewCustomer{Name: name, Phones: []string{n}}); err != nil {
				return err
			}
			created = true
			if err := audit(ctx, tx, tenantID, Actor{}, "customer.created", "customer", id, map[string]string{"source": "first_contact"}); err != nil {
				return err
			}
		}
		out, err = getCustomer(ctx, tx, tenantID, id, false)
		return err
	})
	if err != nil {
		return Customer{}, false, err
	}
	return out, created, nil
}

// CustomerNote is a note written on a customer.
type CustomerNote struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	// AuthorID is the user who wrote it, AuthorName their name.
	AuthorID   string    `json:"authorId,omitempty"`
	AuthorName string    `json:"authorName,omitempty"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"createdAt"`
}

// AddCustomerNote writes a note on the tenant's customer by the author (a user of the
// tenant).
func (s *Store) AddCustomerNote(ctx context.Context, tenantID, customerID, authorID, body string) (CustomerNote, error) {
	if err := ValidateNoteBody("body", body); err != nil {
		return CustomerNote{}, err
	}
	if !isUUID(tenantID) || !isUUID(customerID) {
		return CustomerNote{}, translate(pgx.ErrNoRows, "customer")
	}
	var out CustomerNote
	err := s.pool.QueryRow(ctx, `
		WITH n AS (
			INSERT INTO customer_notes (tenant_id, customer_id, id, author_id, body)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, customer_id, author_id, body, created_at)
		SELECT n.id::text, n.customer_id::text, coalesce(n.author_id::text, ''), coalesce(u.name, ''), n.body, n.created_at
		FROM n LEFT JOIN users u ON u.tenant_id = $1 AND u.id = n.author_id`,
		tenantID, strings.ToLower(customerID), uuid.NewString(), nullUUID(authorID), body).Scan(
		&out.ID, &out.CustomerID, &out.AuthorID, &out.AuthorName, &out.Body, &out.CreatedAt)
	return out, translate(err, "customer")
}

// CustomerNotes answers a page of the customer's notes, newest first.
func (s *Store) CustomerNotes(ctx context.Context, tenantID, customerID string, limit int, cursor string) ([]CustomerNote, string, error) {
	where, args, err := customerPageArgs(ctx, s, tenantID, customerID, &limit, cursor, "n.created_at", "n.id")
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT n.id::text, n.customer_id::text, coalesce(n.author_id::text, ''), coalesce(u.name, ''), n.body, n.created_at
		FROM customer_notes n LEFT JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.author_id
		WHERE n.tenant_id = $1 AND n.customer_id = $2`+where+`
		ORDER BY n.created_at DESC, n.id DESC LIMIT $3`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("customer notes: %w", err)
	}
	notes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomerNote, error) {
		var n CustomerNote
		err := r.Scan(&n.ID, &n.CustomerID, &n.AuthorID, &n.AuthorName, &n.Body, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("customer notes: %w", err)
	}
	next := ""
	if len(notes) > limit {
		notes = notes[:limit]
		next = timeCursor(notes[limit-1].CreatedAt, notes[limit-1].ID)
	}
	return notes, next, nil
}

// customerPageArgs checks that the tenant has the customer and reads a page's bounds:
// the arguments are the tenant ($1), the customer ($2), the limit plus one ($3) and,
// after a cursor, the position ($4, $5) that the condition returned compares the
// columns with.
func customerPageArgs(ctx context.Context, s *Store, tenantID, customerID string, limit *int, cursor, atColumn, idColumn string) (string, []any, error) {
	if *limit == 0 {
		*limit = defaultPageSize
	}
	if *limit < 1 || *limit > maxPageSize {
		return "", nil, invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	var at time.Time
	var after string
	if cursor != "" {
		var err error
		if at, after, err = decodeHistoryCursor(cursor); err != nil {
			return "", nil, err
		}
	}
	ok, err := s.CustomerExists(ctx, tenantID, customerID)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, translate(pgx.ErrNoRows, "customer")
	}
	args := []any{tenantID, strings.ToLower(customerID), *limit + 1}
	if cursor == "" {
		return "", args, nil
	}
	return fmt.Sprintf(" AND (%s, %s) < ($4, $5::uuid)", atColumn, idColumn), append(args, at, after), nil
}

// IntentMetadataKey is the interaction metadata key that names why the customer made
// contact; a customer's past interactions are grouped by it.
const IntentMetadataKey = "intent"

// CustomerInteraction is one of a customer's past interactions, with its intent and
// notes.
type CustomerInteraction struct {
	Interaction
	// Intent is the interaction's metadata value under IntentMetadataKey.
	Intent string `json:"intent,omitempty"`
	Notes  []Note `json:"notes"`
}

// IntentGroup counts a customer's interactions of one intent.
type IntentGroup struct {
	Intent        string    `json:"intent"`
	Count         int       `json:"count"`
	LastContactAt time.Time `json:"lastContactAt"`
}

// CustomerInteractionPage is a page of a customer's past interactions.
type CustomerInteractionPage struct {
	Items []CustomerInteraction `json:"items"`
	// Intents groups all of the customer's interactions that have an intent, the
	// most recent group first; a filter on one intent pages through that group.
	Intents []IntentGroup `json:"intents"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// CustomerInteractions answers a page of the interactions linked to the customer,
// newest first, with the notes written on them and the intents of the customer's
// whole history. A non-empty intent keeps that intent's interactions only.
func (s *Store) CustomerInteractions(ctx context.Context, tenantID, customerID, intent string, limit int, cursor string) (CustomerInteractionPage, error) {
	intent = strings.TrimSpace(intent)
	if utf8.RuneCountInString(intent) > maxCustomerAttribute {
		return CustomerInteractionPage{}, invalid("intent", "must be at most %d characters", maxCustomerAttribute)
	}
	where, args, err := customerPageArgs(ctx, s, tenantID, customerID, &limit, cursor, "i.created_at", "i.id")
	if err != nil {
		return CustomerInteractionPage{}, err
	}
	if intent != "" {
		args = append(args, intent)
		where += fmt.Sprintf(" AND i.metadata->>'%s' = $%d", IntentMetadataKey, len(args))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+interactionColumns+` FROM interactions i
		WHERE i.tenant_id = $1 AND i.customer_id = $2::text`+where+`
		ORDER BY i.created_at DESC, i.id DESC LIMIT $3`, args...)
	if err != nil {
		return CustomerInteractionPage{}, fmt.Errorf("customer interactions: %w", err)
	}
	ins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Interaction, error) { return scanInteraction(r) })
	if err != nil {
		return CustomerInteractionPage{}, fmt.Errorf("customer interactions: %w", err)
	}
	out := CustomerInteractionPage{Items: []CustomerInteraction{}, Intents: []IntentGroup{}}
	if len(ins) > limit {
		ins = ins[:limit]
		out.NextCursor = historyCursor(ins[limit-1])
	}
	ids := make([]string, len(ins))
	byID := map[string]int{}
	for i, in := range ins {
		ids[i] = in.ID
		byID[in.ID] = i
		out.Items = append(out.Items, CustomerInteraction{Interaction: in, Intent: in.Metadata[IntentMetadataKey], Notes: []Note{}})
	}
	if len(ids) > 0 {
		rows, err := s.pool.Query(ctx, `
			SELECT id::text, interaction_id::text, coalesce(author_id::text, ''), body, created_at FROM interaction_notes
			WHERE tenant_id = $1 AND interaction_id = ANY($2::uuid[]) ORDER BY created_at, id`, tenantID, ids)
		if err != nil {
			return CustomerInteractionPage{}, fmt.Errorf("customer interaction notes: %w", err)
		}
		notes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Note, error) {
			n := Note{TenantID: tenantID}
			err := r.Scan(&n.ID, &n.InteractionID, &n.AuthorID, &n.Body, &n.CreatedAt)
			return n, err
		})
		if err != nil {
			return CustomerInteractionPage{}, fmt.Errorf("customer interaction notes: %w", err)
		}
		for _, n := range notes {
			item := &out.Items[byID[n.InteractionID]]
			item.Notes = append(item.Notes, n)
		}
	}
	rows, err = s.pool.Query(ctx, `
		SELECT metadata->>'`+IntentMetadataKey+`' AS intent, count(*), max(created_at) FROM interactions
		WHERE tenant_id = $1 AND customer_id = $2::text AND coalesce(metadata->>'`+IntentMetadataKey+`', '') <> ''
		GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT $3`, tenantID, strings.ToLower(customerID), maxPageSize)
	if err != nil {
		return CustomerInteractionPage{}, fmt.Errorf("customer intents: %w", err)
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (IntentGroup, error) {
		var g IntentGroup
		err := r.Scan(&g.Intent, &g.Count, &g.LastContactAt)
		return g, err
	})
	if err != nil {
		return CustomerInteractionPage{}, fmt.Errorf("customer intents: %w", err)
	}
	out.Intents = append(out.Intents, groups...)
	return out, nil
}

// CustomerDisposition is how one of the customer's interactions was disposed.
type CustomerDisposition struct {
	InteractionID string    `json:"interactionId"`
	Channel       string    `json:"channel"`
	Direction     Direction `json:"direction"`
	CampaignID    string    `json:"campaignId,omitempty"`
	QueueID       string    `json:"queueId"`
	AgentID       string    `json:"agentId,omitempty"`
	Intent        string    `json:"intent,omitempty"`
	AppliedDisposition
	DisposedBy string    `json:"disposedBy,omitempty"`
	DisposedAt time.Time `json:"disposedAt"`
}

// CustomerDispositions answers a page of the dispositions of the customer's
// interactions, the latest first.
func (s *Store) CustomerDispositions(ctx context.Context, tenantID, customerID string, limit int, cursor string) ([]CustomerDisposition, string, error) {
	where, args, err := customerPageArgs(ctx, s, tenantID, customerID, &limit, cursor, "i.disposed_at", "i.id")
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT i.id::text, i.channel, i.direction, coalesce(i.campaign_id::text, ''), i.queue_id::text,
			coalesce(i.agent_id::text, ''), coalesce(i.metadata->>'`+IntentMetadataKey+`', ''),
			coalesce(i.disposition_class_id::text, ''), coalesce(i.disposition_class, ''),
			coalesce(i.disposition_code_id::text, ''), coalesce(i.disposition_code, ''), i.disposition_auto,
			coalesce(i.disposition_notes, ''), coalesce(i.disposed_by::text, ''), i.disposed_at
		FROM interactions i
		WHERE i.tenant_id = $1 AND i.customer_id = $2::text AND i.disposed_at IS NOT NULL`+where+`
		ORDER BY i.disposed_at DESC, i.id DESC LIMIT $3`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("customer dispositions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomerDisposition, error) {
		var d CustomerDisposition
		err := r.Scan(&d.InteractionID, &d.Channel, &d.Direction, &d.CampaignID, &d.QueueID, &d.AgentID, &d.Intent,
			&d.ClassID, &d.Class, &d.CodeID, &d.Code, &d.Auto, &d.Notes, &d.DisposedBy, &d.DisposedAt)
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("customer dispositions: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = timeCursor(out[limit-1].DisposedAt, out[limit-1].InteractionID)
	}
	if out == nil {
		out = []CustomerDisposition{}
	}
	return out, next, nil
}

// FindCustomer answers the tenant's customer named by ref: its ID, else its external
// ID; ErrNotFound when neither names one.
func (s *Store) FindCustomer(ctx context.Context, tenantID, ref string) (Customer, error) {
	ref = strings.TrimSpace(ref)
	if !isUUID(tenantID) || ref == "" {
		return Customer{}, translate(pgx.ErrNoRows, "customer")
	}
	if isUUID(ref) {
		c, err := getCustomer(ctx, s.pool, tenantID, ref, false)
		if !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	c, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers c
		WHERE c.tenant_id = $1 AND c.external_id = $2`, tenantID, ref))
	return c, translate(err, "customer")
}
