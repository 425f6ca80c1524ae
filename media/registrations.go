package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Registration is one binding of an agent's address of record to a contact: where
// the agent's phone takes calls, until Expires. Bindings live in Redis, so that any
// media host finds an agent's phone, and lapse there by themselves.
type Registration struct {
	TenantID  string `json:"tenantId"`
	AgentID   string `json:"agentId"`
	Extension string `json:"extension"`
	// Contact is the Contact URI the phone registered.
	Contact string `json:"contact"`
	// Source is the address the REGISTER came from and Transport its transport: a
	// phone behind NAT is reached there, not at its private Contact.
	Source    string `json:"source"`
	Transport string `json:"transport"`
	// Host is the media host that took the registration (whose TCP connection to the
	// phone, if any, carries its calls).
	Host      string    `json:"host"`
	CallID    string    `json:"callId"`
	CSeq      uint32    `json:"cseq"`
	UserAgent string    `json:"userAgent,omitempty"`
	Expires   time.Time `json:"expires"`
	Updated   time.Time `json:"updated"`
}

// maxBindings bounds the contacts of one agent: a phone, a softphone and a spare.
const maxBindings = 10

var (
	// errOutOfOrder is a REGISTER older than the binding it would change (RFC 3261
	// §10.3 step 7).
	errOutOfOrder = errors.New("a newer REGISTER of this Call-ID already changed the binding")
	// errTooManyBindings refuses a contact past maxBindings.
	errTooManyBindings = errors.New("too many registered contacts")
)

// Registrations keeps agents' registrations and the nonce counts of digest answers
// in Redis.
type Registrations struct {
	rdb redis.UniversalClient
	now func() time.Time
}

// NewRegistrations returns the registrations kept in rdb.
func NewRegistrations(rdb redis.UniversalClient) *Registrations {
	return &Registrations{rdb: rdb, now: time.Now}
}

func registrationKey(tenantID, agentID string) string {
	return "sip:reg:{" + tenantID + "}:" + agentID
}

// bindingChange is one contact of a REGISTER: added or refreshed until expires, or
// removed (expires zero).
type bindingChange struct {
	key string
	reg Registration
}

// apply changes an agent's bindings as one REGISTER asks (removeAll: Contact: *) and
// returns the bindings that remain. It is atomic: a concurrent REGISTER of the same
// agent makes it start over.
func (r *Registrations) apply(ctx context.Context, tenantID, agentID string, changes []bindingChange, removeAll bool, callID string, cseq uint32) ([]Registration, error) {
	key := registrationKey(tenantID, agentID)
	var out []Registration
	txf := func(tx *redis.Tx) error {
		now := r.now()
		current, err := readBindings(ctx, tx, key, now)
		if err != nil {
			return err
		}
		next := map[string]Registration{}
		for k, reg := range current {
			next[k] = reg
		}
		if removeAll {
			for k, reg := range current {
				if reg.CallID == callID && reg.CSeq >= cseq {
					return errOutOfOrder
				}
				delete(next, k)
			}
		}
		for _, c := range changes {
			if old, ok := current[c.key]; ok && old.CallID == callID && old.CSeq >= cseq {
				return errOutOfOrder
			}
			if !c.reg.Expires.After(now) {
				delete(next, c.key)
				continue
			}
			next[c.key] = c.reg
		}
		if len(next) > maxBindings {
			return errTooManyBindings
		}
		out = out[:0]
		var last time.Time
		fields := map[string]any{}
		for k, reg := range next {
			b, err := json.Marshal(reg)
			if err != nil {
				return err
			}
			fields[k] = b
			out = append(out, reg)
			if reg.Expires.After(last) {
				last = reg.Expires
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			if len(fields) > 0 {
				p.HSet(ctx, key, fields)
				p.PExpireAt(ctx, key, last)
			}
			return nil
		})
		return err
	}
	for range 10 {
		err := r.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sortRegistrations(out)
		return out, nil
	}
	return nil, fmt.Errorf("registrations of agent %s kept changing under a REGISTER", agentID)
}

func readBindings(ctx context.Context, c redis.Cmdable, key string, now time.Time) (map[string]Registration, error) {
	raw, err := c.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]Registration{}
	for k, v := range raw {
		var reg Registration
		if json.Unmarshal([]byte(v), &reg) != nil || !reg.Expires.After(now) {
			continue // lapsed (the key outlives its earliest binding) or unreadable
		}
		out[k] = reg
	}
	return out, nil
}

// sortRegistrations puts the most recently refreshed binding first: the phone the
// agent used last is the one to ring.
func sortRegistrations(rs []Registration) {
	slices.SortFunc(rs, func(a, b Registration) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return b.Expires.Compare(a.Expires)
	})
}

// Lookup returns an agent's live bindings, most recently refreshed first.
func (r *Registrations) Lookup(ctx context.Context, tenantID, agentID string) ([]Registration, error) {
	m, err := readBindings(ctx, r.rdb, registrationKey(tenantID, agentID), r.now())
	if err != nil {
		return nil, fmt.Errorf("read registrations of agent %s: %w", agentID, err)
	}
	out := make([]Registration, 0, len(m))
	for _, reg := range m {
		out = append(out, reg)
	}
	sortRegistrations(out)
	return out, nil
}

// firstUse records a digest answer's nonce count and reports whether it is the first
// time it was seen: a repeat is a replayed answer. Counts are kept as long as the
// nonce lives, on every media host alike.
func (r *Registrations) firstUse(ctx context.Context, nonce, nc string) (bool, error) {
	sum := sha256.Sum256([]byte(nonce))
	key := "sip:nc:" + hex.EncodeToString(sum[:16])
	var added *redis.IntCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		added = p.SAdd(ctx, key, nc)
		p.PExpire(ctx, key, nonceLifetime+time.Minute)
		return nil
	})
	if err != nil {
		return false, err
	}
	return added.Val() == 1, nil
}
