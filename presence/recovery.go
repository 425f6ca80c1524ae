package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// HeldSource lists what the agents of a tenant hold according to the
// authoritative records (the PostgreSQL read model), for Recover.
type HeldSource func(ctx context.Context, tenant string) ([]Holding, error)

// Recovery is what Recover did for a tenant.
type Recovery struct {
	// Rebuilt: this call restored the tenant's held slots; false when they
	// already were (another process did it, or nothing was lost).
	Rebuilt bool `json:"rebuilt"`
	// Restored counts the holdings put back (RebuildResult.Restored).
	Restored int `json:"restored"`
	// Stale counts the holdings put back from a list that changed while it
	// was applied (the interaction ended or moved meanwhile), whose slot was
	// then released again.
	Stale int `json:"stale"`
}

// The rebuild marker is one key per tenant, <prefix>:{<tenant>}:rebuilt, in
// the tenant's hash slot so that it goes when the tenant's data goes (a
// FLUSHDB, a failover to an empty replica, a lost cluster node):
//
//	missing            the tenant's held slots are not known to be in Redis
//	"building|<token>" one process is restoring them (with a lease, so a
//	                   process that dies meanwhile holds nobody up for long)
//	"done|<ms>"        restored (or nothing was lost) since that time
//
// It is written "building" before the authoritative list is read, so a flush
// at any moment of a rebuild removes it and the rebuild is done again.
const (
	markerBuilding = "building|"
	markerDone     = "done|"
)

// rebuildLease bounds how long a "building" marker keeps others waiting if
// its process dies; a rebuild that takes longer is merely done twice, which
// is harmless.
const rebuildLease = 30 * time.Second

// maxRecoverRounds bounds how often Recover re-reads the authoritative list
// to correct holdings that changed while the previous one was applied.
const maxRecoverRounds = 3

func (k keys) rebuilt() string { return k.base + "rebuilt" }

// finishRebuildScript turns this process's "building" marker into "done"
// (without expiry); it does nothing if the marker is gone (flushed meanwhile)
// or another process's. KEYS: marker. ARGV: building value, done value.
var finishRebuildScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// abandonRebuildScript removes this process's "building" marker after a
// failed rebuild, so another process may try at once. KEYS: marker. ARGV:
// building value.
var abandonRebuildScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// NeedRecovery returns the tenants, of those given, whose held slots are not
// known to be in Redis (no "done" rebuild marker), in one round trip.
func (s *Store) NeedRecovery(ctx context.Context, tenants []string) ([]string, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(tenants))
	for i, t := range tenants {
		k, err := s.keys(t)
		if err != nil {
			return nil, err
		}
		cmds[i] = pipe.Get(ctx, k.rebuilt())
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("presence: rebuild markers of %d tenants: %w", len(tenants), err)
	}
	var out []string
	for i, c := range cmds {
		if !strings.HasPrefix(c.Val(), markerDone) {
			out = append(out, tenants[i])
		}
	}
	return out, nil
}

// Recover makes sure the tenant's held slots are in Redis: if the tenant's
// rebuild marker says they are, it returns at once (one read); otherwise it
// restores them from held — after a flush, or on a tenant never seen — or, if
// another process is doing that right now, waits until it has. It returns
// when the marker says done, or with ctx's error.
//
// Any number of processes may call it at once: the marker lets one of them
// rebuild while the others wait, and a rebuild is safe even when two run
// (one's lease ran out): each corrects its own stale holdings.
//
// A held list read from the read model can be stale by the time Rebuild
// applies it — an interaction may end (read model first, then Release)
// between the read and the Rebuild, which would restore a slot nobody will
// release again. So after each Rebuild the list is read again: a holding
// that is gone or moved is released, and one that moved or appeared (accepted
// just before the flush, written to the read model just after the read) is
// applied in another round. A change after that second read releases its
// slot itself, after the Rebuild.
func (s *Store) Recover(ctx context.Context, tenant string, held HeldSource) (Recovery, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return Recovery{}, err
	}
	if held == nil {
		return Recovery{}, fmt.Errorf("%w: no source of held interactions", ErrInvalid)
	}
	var out Recovery
	wait := 20 * time.Millisecond
	for {
		v, err := s.rdb.Get(ctx, k.rebuilt()).Result()
		switch {
		case err != nil && !errors.Is(err, redis.Nil):
			return out, fmt.Errorf("presence: rebuild marker of tenant %s: %w", tenant, err)
		case strings.HasPrefix(v, markerDone):
			return out, nil
		case v == "":
			token, err := newToken()
			if err != nil {
				return out, err
			}
			building := markerBuilding + token
			ok, err := s.rdb.SetNX(ctx, k.rebuilt(), building, rebuildLease).Result()
			if err != nil {
				return out, fmt.Errorf("presence: rebuild marker of tenant %s: %w", tenant, err)
			}
			if !ok {
				continue // another process began a moment ago
			}
			r, err := s.restore(ctx, tenant, held)
			if err != nil {
				// Let the next caller try at once rather than after the lease.
				_ = abandonRebuildScript.Run(context.WithoutCancel(ctx), s.rdb, []string{k.rebuilt()}, building).Err()
				return out, err
			}
			out.Rebuilt = true
			out.Restored += r.Restored
			out.Stale += r.Stale
			done := markerDone + strconv.FormatInt(time.Now().UnixMilli(), 10)
			if err := finishRebuildScript.Run(ctx, s.rdb, []string{k.rebuilt()}, building, done).Err(); err != nil {
				return out, fmt.Errorf("presence: rebuild marker of tenant %s: %w", tenant, err)
			}
			// Done, unless Redis lost the marker (and so maybe the slots)
			// meanwhile: the next turn of the loop tells.
		default:
			// Another process is rebuilding: wait for it, not for long.
			select {
			case <-ctx.Done():
				return out, fmt.Errorf("presence: waiting for the rebuild of tenant %s: %w", tenant, ctx.Err())
			case <-time.After(wait):
			}
			wait = min(2*wait, 500*time.Millisecond)
		}
	}
}

// restore applies the authoritative list and corrects what changed while it
// was being applied (see Recover): a holding that ended or moved is released,
// and one that appeared or moved is applied in the next round.
func (s *Store) restore(ctx context.Context, tenant string, held HeldSource) (Recovery, error) {
	var out Recovery
	apply, err := held(ctx, tenant)
	if err != nil {
		return out, fmt.Errorf("held interactions of tenant %s: %w", tenant, err)
	}
	known := make(map[string]Holding, len(apply))
	for round := 0; len(apply) > 0; round++ {
		if round == maxRecoverRounds {
			return out, fmt.Errorf("presence: rebuild of tenant %s: the held interactions kept changing while they were restored", tenant)
		}
		r, err := s.Rebuild(ctx, tenant, apply, time.Time{})
		if err != nil {
			return out, err
		}
		out.Restored += r.Restored
		for _, h := range apply {
			known[h.Interaction] = h
		}
		fresh, err := held(ctx, tenant)
		if err != nil {
			return out, fmt.Errorf("held interactions of tenant %s: %w", tenant, err)
		}
		now := make(map[string]Holding, len(fresh))
		for _, h := range fresh {
			now[h.Interaction] = h
		}
		for ix, h := range known {
			if f, ok := now[ix]; ok && f.Agent == h.Agent && f.Channel == h.Channel {
				continue
			}
			if _, err := s.Release(ctx, tenant, h.Agent, ix); err != nil {
				return out, err
			}
			out.Stale++
			delete(known, ix)
		}
		apply = apply[:0]
		for _, f := range fresh {
			if _, ok := known[f.Interaction]; !ok {
				apply = append(apply, f)
			}
		}
	}
	return out, nil
}

func newToken() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("presence: rebuild token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
