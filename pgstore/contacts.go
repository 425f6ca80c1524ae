package pgstore

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

const (
	maxContactName        = 100
	maxContactDescription = 1000
	maxContactSearch      = 100
)

// InternalContact is an entry of the tenant's internal phonebook: a team, desk or
// escalation line agents transfer and conference calls to by name.
type InternalContact struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is unique in the tenant regardless of case.
	Name string `json:"name"`
	// Phone is the number dialed, normalised and in international form (E.164).
	Phone       string    `json:"phone"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// contactPhone normalises a contact's number, which must be international (E.164):
// transfers and conferences to external numbers dial only those.
func contactPhone(raw string) (string, error) {
	p, err := NormalizePhone(raw)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(p, "+") {
		return "", invalid("phone", "must be in international form with its country code, such as +385 1 234 5678: transfers and conferences dial E.164 numbers")
	}
	return p, nil
}

func cleanContactDescription(d *string) error {
	*d = strings.TrimSpace(*d)
	if utf8.RuneCountInString(*d) > maxContactDescription {
		return invalid("description", "must be at most %d characters", maxContactDescription)
	}
	return nil
}

// NewInternalContact is a phonebook entry to create.
type NewInternalContact struct {
	Name        string `json:"name"`
	Phone       string `json:"phone"`
	Description string `json:"description"`
}

// Validate checks the entry and normalises its number.
func (n *NewInternalContact) Validate() error {
	if err := cleanName("name", &n.Name, maxContactName); err != nil {
		return err
	}
	p, err := contactPhone(n.Phone)
	if err != nil {
		return err
	}
	n.Phone = p
	return cleanContactDescription(&n.Description)
}

// InternalContactUpdate changes the fields that are set.
type InternalContactUpdate struct {
	Name        *string `json:"name"`
	Phone       *string `json:"phone"`
	Description *string `json:"description"`
}

// Validate checks the fields that are set and normalises the number.
func (u *InternalContactUpdate) Validate() error {
	if u.Name == nil && u.Phone == nil && u.Description == nil {
		return invalid("", "nothing to change: set name, phone or description")
	}
	if u.Name != nil {
		if err := cleanName("name", u.Name, maxContactName); err != nil {
			return err
		}
	}
	if u.Phone != nil {
		p, err := contactPhone(*u.Phone)
		if err != nil {
			return err
		}
		u.Phone = &p
	}
	if u.Description != nil {
		return cleanContactDescription(u.Description)
	}
	return nil
}

// InternalContactFilter selects phonebook entries, by name.
type InternalContactFilter struct {
	// Query finds entries whose name contains it (any case), or whose number
	// contains its digits.
	Query string
	Page
}

const contactColumns = `id, tenant_id, name, phone, description, created_at, updated_at`

func scanContact(row pgx.Row) (InternalContact, error) {
	var c InternalContact
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Phone, &c.Description, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// contactConflict names the rule a write broke.
func contactConflict(err error, name string) error {
	return translate(err, "an internal contact named "+name)
}

// CreateInternalContact adds an entry to the tenant's phonebook; ErrConflict when
// the name is taken.
func (s *Store) CreateInternalContact(ctx context.Context, tenantID string, actor Actor, in NewInternalContact) (InternalContact, error) {
	if err := in.Validate(); err != nil {
		return InternalContact{}, err
	}
	var c InternalContact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanContact(tx.QueryRow(ctx, `
			INSERT INTO internal_contacts (tenant_id, name, phone, description) VALUES ($1, $2, $3, $4)
			RETURNING `+contactColumns, tenantID, in.Name, in.Phone, in.Description))
		if err != nil {
			return contactConflict(err, in.Name)
		}
		return audit(ctx, tx, tenantID, actor, "internal_contact.created", "internal_contact", c.ID, map[string]string{"name": c.Name, "phone": c.Phone})
	})
	return c, err
}

// GetInternalContact returns one entry of the tenant's phonebook.
func (s *Store) GetInternalContact(ctx context.Context, tenantID, id string) (InternalContact, error) {
	if !isUUID(id) {
		return InternalContact{}, translate(pgx.ErrNoRows, "internal contact")
	}
	c, err := scanContact(s.pool.QueryRow(ctx, `SELECT `+contactColumns+` FROM internal_contacts WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, translate(err, "internal contact")
}

// ListInternalContacts lists the tenant's phonebook by name.
func (s *Store) ListInternalContacts(ctx context.Context, tenantID string, f InternalContactFilter) ([]InternalContact, error) {
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	f.Query = strings.TrimSpace(f.Query)
	if utf8.RuneCountInString(f.Query) > maxContactSearch {
		return nil, invalid("q", "must be at most %d characters", maxContactSearch)
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, f.Query)
	rows, err := s.pool.Query(ctx, `
		SELECT `+contactColumns+` FROM internal_contacts
		WHERE tenant_id = $1
		  AND ($2 = '' OR strpos(lower(name), lower($2)) > 0 OR ($3 <> '' AND strpos(phone, $3) > 0))
		  AND ($4::uuid IS NULL OR lower(name) > (SELECT lower(name) FROM internal_contacts WHERE tenant_id = $1 AND id = $4))
		ORDER BY lower(name) LIMIT $5`, tenantID, f.Query, digits, nullUUID(f.After), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InternalContact, error) { return scanContact(r) })
}

// UpdateInternalContact changes an entry of the phonebook; ErrConflict when the new
// name is taken.
func (s *Store) UpdateInternalContact(ctx context.Context, tenantID string, actor Actor, id string, in InternalContactUpdate) (InternalContact, error) {
	if err := in.Validate(); err != nil {
		return InternalContact{}, err
	}
	if !isUUID(id) {
		return InternalContact{}, translate(pgx.ErrNoRows, "internal contact")
	}
	var c InternalContact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanContact(tx.QueryRow(ctx, `
			UPDATE internal_contacts SET name = coalesce($3, name), phone = coalesce($4, phone),
			       description = coalesce($5, description), updated_at = now()
			WHERE tenant_id = $1 AND id = $2
			RETURNING `+contactColumns, tenantID, id, in.Name, in.Phone, in.Description))
		if err != nil {
			name := "that name"
			if in.Name != nil {
				name = *in.Name
			}
			if errors.Is(err, pgx.ErrNoRows) {
				return translate(err, "internal contact")
			}
			return contactConflict(err, name)
		}
		return audit(ctx, tx, tenantID, actor, "internal_contact.updated", "internal_contact", c.ID, in)
	})
	return c, err
}

// DeleteInternalContact removes an entry of the phonebook. Transfers and conferences
// already made keep the number they dialed.
func (s *Store) DeleteInternalContact(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "internal contact")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name, phone string
		err := tx.QueryRow(ctx, `DELETE FROM internal_contacts WHERE tenant_id = $1 AND id = $2 RETURNING name, phone`, tenantID, id).Scan(&name, &phone)
		if err != nil {
			return translate(err, "internal contact")
		}
		return audit(ctx, tx, tenantID, actor, "internal_contact.deleted", "internal_contact", id, map[string]string{"name": name, "phone": phone})
	})
}
