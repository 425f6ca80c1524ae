package pgstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// The digest algorithms the registrar offers (RFC 8760), strongest first.
const (
	DigestSHA256 = "SHA-256"
	DigestMD5    = "MD5"
)

// DigestAlgorithms lists the algorithms every SIP credential has an HA1 for, in the
// order the registrar offers them.
func DigestAlgorithms() []string { return []string{DigestSHA256, DigestMD5} }

// DigestHA1 is H(username ":" realm ":" password) in lower-case hex for a digest
// algorithm (RFC 7616 §3.4.2); ok is false for an algorithm it does not know.
func DigestHA1(algorithm, username, realm, password string) (string, bool) {
	var h hash.Hash
	switch strings.ToUpper(algorithm) {
	case DigestMD5:
		h = md5.New()
	case DigestSHA256:
		h = sha256.New()
	default:
		return "", false
	}
	h.Write([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil)), true
}

// SIPCredential is an agent's SIP extension, without any secret: what admins see.
type SIPCredential struct {
	TenantID  string `json:"tenantId"`
	AgentID   string `json:"agentId"`
	Extension string `json:"extension"`
	// Realm is the digest realm the phone authenticates in: the tenant's slug, which
	// is also the SIP domain the phone registers in.
	Realm string `json:"realm"`
	// Algorithms are the digest algorithms the credential works with.
	Algorithms []string  `json:"algorithms"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// SIPSecret is what the registrar checks a digest response against: the HA1 of each
// algorithm, never the password.
type SIPSecret struct {
	TenantID  string
	AgentID   string
	Extension string
	Realm     string
	// HA1 maps each algorithm (DigestSHA256, DigestMD5) to its HA1.
	HA1 map[string]string
}

// SIPCredentialInput sets an agent's SIP extension and password.
type SIPCredentialInput struct {
	Extension string `json:"extension"`
	Password  string `json:"password"`
}

// Bounds of a SIP password: phones store it, so it may be long and random, and it is
// the only thing standing between the Internet and the agent's line.
const (
	minSIPPassword = 10
	maxSIPPassword = 128
)

var sipExtension = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$`)

// Validate checks the extension and the password.
func (in *SIPCredentialInput) Validate() error {
	in.Extension = strings.TrimSpace(in.Extension)
	if !sipExtension.MatchString(in.Extension) {
		return invalid("extension", "must be 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	n := utf8.RuneCountInString(in.Password)
	switch {
	case n < minSIPPassword || n > maxSIPPassword:
		return invalid("password", "must be %d to %d characters", minSIPPassword, maxSIPPassword)
	case strings.ContainsFunc(in.Password, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) }):
		// Phones type and store ASCII; a password a phone cannot enter locks the agent out.
		return invalid("password", "must be printable ASCII characters")
	case strings.EqualFold(in.Password, in.Extension):
		return invalid("password", "must not be the extension")
	}
	return nil
}

const sipCredentialColumns = `c.tenant_id, c.user_id, c.extension, c.realm, c.created_at, c.updated_at`

func scanSIPCredential(row pgx.Row) (SIPCredential, error) {
	var c SIPCredential
	err := row.Scan(&c.TenantID, &c.AgentID, &c.Extension, &c.Realm, &c.CreatedAt, &c.UpdatedAt)
	c.Algorithms = DigestAlgorithms()
	return c, err
}

// SetSIPCredential gives an agent a SIP extension and password, replacing those they
// had. The password is kept only as its HA1 in the tenant's realm, for each algorithm.
// An extension another agent of the tenant has is a conflict.
func (s *Store) SetSIPCredential(ctx context.Context, tenantID string, actor Actor, agentID string, in SIPCredentialInput) (SIPCredential, error) {
	if err := in.Validate(); err != nil {
		return SIPCredential{}, err
	}
	if !isUUID(tenantID) || !isUUID(agentID) {
		return SIPCredential{}, translate(pgx.ErrNoRows, "agent")
	}
	var out SIPCredential
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var realm string
		err := tx.QueryRow(ctx, `
			SELECT t.slug FROM users u JOIN tenants t ON t.id = u.tenant_id
			WHERE u.tenant_id = $1 AND u.id = $2 AND u.role = 'agent' FOR SHARE OF u`, tenantID, agentID).Scan(&realm)
		if err != nil {
			return translate(err, "agent")
		}
		md5HA1, _ := DigestHA1(DigestMD5, in.Extension, realm, in.Password)
		shaHA1, _ := DigestHA1(DigestSHA256, in.Extension, realm, in.Password)
		out, err = scanSIPCredential(tx.QueryRow(ctx, `
			INSERT INTO sip_credentials AS c (tenant_id, user_id, extension, realm, ha1_md5, ha1_sha256)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, user_id) DO UPDATE SET extension = excluded.extension, realm = excluded.realm,
			    ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, updated_at = now()
			RETURNING `+sipCredentialColumns, tenantID, agentID, in.Extension, realm, md5HA1, shaHA1))
		if err != nil {
			err = translate(err, "SIP extension")
			if errors.Is(err, ErrConflict) {
				return fmt.Errorf("another agent of the tenant has the SIP extension %q: %w", in.Extension, ErrConflict)
			}
			return err
		}
		return audit(ctx, tx, tenantID, actor, "sip_credential.set", "agent", agentID,
			map[string]any{"extension": in.Extension, "realm": realm})
	})
	return out, err
}

// GetSIPCredential returns an agent's SIP extension; an agent without one is
// ErrNotFound.
func (s *Store) GetSIPCredential(ctx context.Context, tenantID, agentID string) (SIPCredential, error) {
	if !isUUID(tenantID) || !isUUID(agentID) {
		return SIPCredential{}, translate(pgx.ErrNoRows, "SIP credential")
	}
	out, err := scanSIPCredential(s.pool.QueryRow(ctx, `
		SELECT `+sipCredentialColumns+` FROM sip_credentials c WHERE c.tenant_id = $1 AND c.user_id = $2`, tenantID, agentID))
	return out, translate(err, "SIP credential")
}

// DeleteSIPCredential takes an agent's SIP extension away: their phone can no longer
// register (registrations it holds lapse at their expiry at the latest).
func (s *Store) DeleteSIPCredential(ctx context.Context, tenantID string, actor Actor, agentID string) error {
	if !isUUID(tenantID) || !isUUID(agentID) {
		return translate(pgx.ErrNoRows, "SIP credential")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var ext string
		err := tx.QueryRow(ctx, `DELETE FROM sip_credentials WHERE tenant_id = $1 AND user_id = $2 RETURNING extension`,
			tenantID, agentID).Scan(&ext)
		if err != nil {
			return translate(err, "SIP credential")
		}
		return audit(ctx, tx, tenantID, actor, "sip_credential.deleted", "agent", agentID, map[string]any{"extension": ext})
	})
}

// SIPTenant finds the tenant a SIP domain names: the tenant whose slug is the domain
// or its first label ("acme" and "acme.sip.example.com" are tenant acme's). No such
// tenant is ErrNotFound.
func (s *Store) SIPTenant(ctx context.Context, domain string) (Tenant, error) {
	slug := strings.ToLower(strings.TrimSpace(domain))
	if i := strings.IndexByte(slug, '.'); i >= 0 {
		slug = slug[:i]
	}
	if slug == "" || len(slug) > 63 {
		return Tenant{}, translate(pgx.ErrNoRows, "tenant")
	}
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug))
	return t, translate(err, "tenant")
}

// SIPSecretFor returns what the registrar checks an agent's phone against: the
// credential of the extension in the tenant, when its agent is enabled. Anything else
// is ErrNotFound, so that a phone learns nothing about which part was wrong.
func (s *Store) SIPSecretFor(ctx context.Context, tenantID, extension string) (SIPSecret, error) {
	if !isUUID(tenantID) || !sipExtension.MatchString(extension) {
		return SIPSecret{}, translate(pgx.ErrNoRows, "SIP credential")
	}
	var (
		out      SIPSecret
		md5, sha string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT c.tenant_id, c.user_id, c.extension, c.realm, c.ha1_md5, c.ha1_sha256
		FROM sip_credentials c
		JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.user_id
		LEFT JOIN agent_settings a ON a.tenant_id = c.tenant_id AND a.user_id = c.user_id
		WHERE c.tenant_id = $1 AND lower(c.extension) = lower($2)
		  AND u.role = 'agent' AND NOT u.disabled AND coalesce(a.enabled, true)`, tenantID, extension).
		Scan(&out.TenantID, &out.AgentID, &out.Extension, &out.Realm, &md5, &sha)
	if err != nil {
		return SIPSecret{}, translate(err, "SIP credential")
	}
	out.HA1 = map[string]string{DigestMD5: md5, DigestSHA256: sha}
	return out, nil
}

// VoiceNumber is a number calls come in on, and the tenant (and campaign) they
// belong to.
type VoiceNumber struct {
	TenantID string `json:"tenantId"`
	// Number is the number as stored: an optional + and its digits.
	Number     string    `json:"number"`
	Name       string    `json:"name,omitempty"`
	CampaignID string    `json:"campaignId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// NewVoiceNumber is a number to add.
type NewVoiceNumber struct {
	Number     string `json:"number"`
	Name       string `json:"name"`
	CampaignID string `json:"campaignId"`
}

// Validate checks the number and puts it in its stored form.
func (n *NewVoiceNumber) Validate() error {
	num, err := NormalizePhone(n.Number)
	if err != nil {
		var v *ValidationError
		if errors.As(err, &v) {
			v.Field = "number"
		}
		return err
	}
	n.Number = num
	n.Name = strings.TrimSpace(n.Name)
	if utf8.RuneCountInString(n.Name) > 200 || hasControl(n.Name) {
		return invalid("name", "must be at most 200 characters, without control characters")
	}
	n.CampaignID = strings.TrimSpace(n.CampaignID)
	if n.CampaignID != "" && !isUUID(n.CampaignID) {
		return invalid("campaignId", "must be a campaign ID")
	}
	return nil
}

// numberKey is the form numbers are matched in: their digits.
func numberKey(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}

const voiceNumberColumns = `tenant_id, number, coalesce(name, ''), coalesce(campaign_id::text, ''), created_at, updated_at`

func scanVoiceNumber(row pgx.Row) (VoiceNumber, error) {
	var v VoiceNumber
	err := row.Scan(&v.TenantID, &v.Number, &v.Name, &v.CampaignID, &v.CreatedAt, &v.UpdatedAt)
	return v, err
}

// PutVoiceNumber adds a number to the tenant or changes its name and campaign. A
// number another tenant has is a conflict: a number belongs to one tenant.
func (s *Store) PutVoiceNumber(ctx context.Context, tenantID string, actor Actor, in NewVoiceNumber) (VoiceNumber, bool, error) {
	if err := in.Validate(); err != nil {
		return VoiceNumber{}, false, err
	}
	if !isUUID(tenantID) {
		return VoiceNumber{}, false, translate(pgx.ErrNoRows, "tenant")
	}
	var (
		out     VoiceNumber
		created bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if in.CampaignID != "" {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2`, tenantID, in.CampaignID).Scan(&one); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return invalid("campaignId", "no such campaign")
				}
				return err
			}
		}
		row := tx.QueryRow(ctx, `
			INSERT INTO voice_numbers AS v (number_key, tenant_id, number, name, campaign_id)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (number_key) DO UPDATE SET number = excluded.number, name = excluded.name,
			    campaign_id = excluded.campaign_id, updated_at = now()
			WHERE v.tenant_id = excluded.tenant_id
			RETURNING `+voiceNumberColumns+`, (xmax = 0)`,
			numberKey(in.Number), tenantID, in.Number, nullText(in.Name), nullUUID(in.CampaignID))
		err := row.Scan(&out.TenantID, &out.Number, &out.Name, &out.CampaignID, &out.CreatedAt, &out.UpdatedAt, &created)
		if errors.Is(err, pgx.ErrNoRows) {
			// The conflict's WHERE kept the row: another tenant has the number.
			return fmt.Errorf("the number %s belongs to another tenant of this installation: %w", in.Number, ErrConflict)
		}
		if err != nil {
			return translate(err, "voice number")
		}
		action := "voice_number.updated"
		if created {
			action = "voice_number.created"
		}
		return audit(ctx, tx, tenantID, actor, action, "voice_number", out.Number,
			map[string]any{"number": out.Number, "name": out.Name, "campaignId": out.CampaignID})
	})
	return out, created, err
}

// ListVoiceNumbers lists the tenant's numbers in the order they were added.
func (s *Store) ListVoiceNumbers(ctx context.Context, tenantID string) ([]VoiceNumber, error) {
	if !isUUID(tenantID) {
		return []VoiceNumber{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+voiceNumberColumns+` FROM voice_numbers WHERE tenant_id = $1
		ORDER BY created_at, number_key`, tenantID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (VoiceNumber, error) { return scanVoiceNumber(r) })
	if out == nil {
		out = []VoiceNumber{}
	}
	return out, err
}

// DeleteVoiceNumber removes one of the tenant's numbers: calls to it are refused from
// then on.
func (s *Store) DeleteVoiceNumber(ctx context.Context, tenantID string, actor Actor, number string) error {
	key := numberKey(number)
	if !isUUID(tenantID) || key == "" {
		return translate(pgx.ErrNoRows, "voice number")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var num string
		err := tx.QueryRow(ctx, `DELETE FROM voice_numbers WHERE tenant_id = $1 AND number_key = $2 RETURNING number`,
			tenantID, key).Scan(&num)
		if err != nil {
			return translate(err, "voice number")
		}
		return audit(ctx, tx, tenantID, actor, "voice_number.deleted", "voice_number", num, map[string]any{"number": num})
	})
}

// VoiceNumberFor finds the number a call was made to, in any tenant: the dialled
// digits, with or without a leading + or international prefix 00. An unknown number
// is ErrNotFound.
func (s *Store) VoiceNumberFor(ctx context.Context, dialled string) (VoiceNumber, error) {
	key := numberKey(dialled)
	keys := []string{key}
	if strings.HasPrefix(key, "00") && !strings.HasPrefix(strings.TrimSpace(dialled), "+") {
		keys = append(keys, key[2:])
	}
	if len(key) < 3 || len(key) > 17 {
		return VoiceNumber{}, translate(pgx.ErrNoRows, "voice number")
	}
	// The digits as dialled win over the same number without its 00.
	out, err := scanVoiceNumber(s.pool.QueryRow(ctx, `SELECT `+voiceNumberColumns+` FROM voice_numbers
		WHERE number_key = ANY($1) ORDER BY length(number_key) DESC LIMIT 1`, keys))
	return out, translate(err, "voice number")
}
