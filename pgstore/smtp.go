package pgstore

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SMTPSettings are a tenant's outgoing e-mail: the server the automations' e-mail
// actions send through and the no-reply address they send from. The password is
// write-only: reads say only whether one is set.
type SMTPSettings struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// Security is none (plain, for a relay on a trusted network), starttls or tls.
	Security    string    `json:"security"`
	Username    string    `json:"username,omitempty"`
	Password    string    `json:"password,omitempty"`
	PasswordSet bool      `json:"passwordSet"`
	FromAddress string    `json:"fromAddress"`
	FromName    string    `json:"fromName,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Validate checks the settings and normalises them.
func (s *SMTPSettings) Validate() error {
	s.Host, s.FromAddress, s.FromName, s.Username = strings.TrimSpace(s.Host), strings.TrimSpace(s.FromAddress), strings.TrimSpace(s.FromName), strings.TrimSpace(s.Username)
	switch {
	case s.Host == "" || len(s.Host) > 255 || strings.ContainsAny(s.Host, " /:@"):
		return invalid("host", "is required: the SMTP server's host name or address")
	case s.Port < 1 || s.Port > 65535:
		return invalid("port", "must be from 1 to 65535")
	case s.Security != "none" && s.Security != "starttls" && s.Security != "tls":
		return invalid("security", "must be none, starttls or tls")
	case len(s.Username) > 320 || len(s.Password) > 1000:
		return invalid("username", "username and password are at most 320 and 1000 characters")
	case s.Password != "" && s.Username == "":
		return invalid("username", "is required with a password")
	case len(s.FromName) > 200 || strings.ContainsAny(s.FromName, "\r\n"):
		return invalid("fromName", "is one line of at most 200 characters")
	}
	a, err := mail.ParseAddress(s.FromAddress)
	if err != nil || a.Address != s.FromAddress {
		return invalid("fromAddress", "must be an e-mail address (the no-reply address the automations send from)")
	}
	return nil
}

// GetSMTPSettings answers the tenant's settings with the password, for sending;
// ErrNotFound when none are set.
func (s *Store) GetSMTPSettings(ctx context.Context, tenantID string) (SMTPSettings, error) {
	var out SMTPSettings
	var user, pass, name *string
	err := s.pool.QueryRow(ctx, `SELECT host, port, security, username, password, from_address, from_name, updated_at
		FROM tenant_smtp_settings WHERE tenant_id = $1`, tenantID).Scan(&out.Host, &out.Port, &out.Security, &user, &pass,
		&out.FromAddress, &name, &out.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, translate(err, "SMTP settings")
	}
	if err != nil {
		return out, err
	}
	for _, p := range []struct {
		src *string
		dst *string
	}{{user, &out.Username}, {pass, &out.Password}, {name, &out.FromName}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	out.PasswordSet = out.Password != ""
	return out, nil
}

// PutSMTPSettings sets the tenant's settings; a password left out keeps the stored
// one when the username stays the same.
func (s *Store) PutSMTPSettings(ctx context.Context, tenantID string, actor Actor, in SMTPSettings) (SMTPSettings, error) {
	if err := in.Validate(); err != nil {
		return SMTPSettings{}, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO tenant_smtp_settings (tenant_id, host, port, security, username, password, from_address, from_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id) DO UPDATE SET host = excluded.host, port = excluded.port, security = excluded.security,
				username = excluded.username,
				password = CASE WHEN excluded.password IS NULL AND excluded.username IS NOT DISTINCT FROM tenant_smtp_settings.username
					THEN tenant_smtp_settings.password ELSE excluded.password END,
				from_address = excluded.from_address, from_name = excluded.from_name, updated_at = now()`,
			tenantID, in.Host, in.Port, in.Security, nullText(in.Username), nullText(in.Password), in.FromAddress, nullText(in.FromName))
		if err != nil {
			return translate(err, "SMTP settings")
		}
		shown := in
		shown.Password = ""
		return audit(ctx, tx, tenantID, actor, "smtp.updated", "smtp_settings", tenantID, shown)
	})
	if err != nil {
		return SMTPSettings{}, err
	}
	out, err := s.GetSMTPSettings(ctx, tenantID)
	out.Password = ""
	return out, err
}

// DeleteSMTPSettings removes the tenant's settings: e-mail actions fail until new
// ones are set.
func (s *Store) DeleteSMTPSettings(ctx context.Context, tenantID string, actor Actor) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tenant_smtp_settings WHERE tenant_id = $1`, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return translate(pgx.ErrNoRows, "SMTP settings")
		}
		return audit(ctx, tx, tenantID, actor, "smtp.deleted", "smtp_settings", tenantID, nil)
	})
}
