package presence

import (
	"context"
	"fmt"
	"time"

	"switchboard/routing"
)

// KEYS: target agent hash, target slots, ix, agents, ready, source slots, source
// agent hash. ARGV: source, target, interaction, channel, capacity, ttl ms, gc ms,
// then the interaction's member on every channel. Returns {code, deadline}.
var handoverScript = script(`
local now = now_ms()
local from, to, ix, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cap, ttl, gc = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local kind, holder, _, n = owner(redis.call('GET', KEYS[3]))
if kind == 'R' and holder == to and n > now then return {'ok', fmt(n)} end
if kind ~= 'H' or holder ~= from then return {'not_held'} end
local p = redis.call('HMGET', KEYS[1], 'on', 'group', 'deadline', 'voice')
if p[1] ~= '1' then return {'not_logged_in'} end
if (tonumber(p[3]) or 0) <= now then return {'expired'} end
if p[2] ~= '$AVAILABLE' then return {'not_available'} end
if used_on(KEYS[2], ch, p[4], now) >= cap then return {'no_room'} end
local pre = ch .. '|'
local deadline = now + ttl
redis.call('ZREM', KEYS[6], unpack(ARGV, 8))
redis.call('ZADD', KEYS[2], deadline, pre .. ix)
redis.call('SET', KEYS[3], 'R|' .. to .. '|' .. ch .. '|' .. fmt(deadline), 'PXAT', deadline + gc)
redis.call('SADD', KEYS[4], to)
sync_ready(KEYS[7], KEYS[6], KEYS[5], from, now)
sync_ready(KEYS[1], KEYS[2], KEYS[5], to, now)
return {'ok', fmt(deadline)}
`)

// HandoverResult is the outcome of Handover.
type HandoverResult struct {
	// OK: the target holds a reservation of the interaction until RingUntil, and
	// the source's slot is free. Otherwise Reason says why nothing changed:
	// not_held (the source does not hold it), not_logged_in, expired,
	// not_available or no_room (the target cannot take it now).
	OK       bool
	Reason   string
	Deadline time.Time
}

// Handover moves an interaction the source agent holds to a reservation of the
// target agent (a transfer to an agent), atomically: the target must be logged in,
// in the Available group and have room on the channel, exactly as for an offer; the
// source's slot is freed in the same step, so the interaction is never held twice nor
// by nobody. The reservation lapses after ttl like an offer's; the target accepts it
// with Confirm. Repeating a handover that went through reports it again.
func (s *Store) Handover(ctx context.Context, tenant, from, to, interaction string, ch routing.Channel, capacity int, ttl time.Duration) (HandoverResult, error) {
	k, err := s.agentKeys(tenant, to)
	if err != nil {
		return HandoverResult{}, err
	}
	if err := checkID("agent", from); err != nil {
		return HandoverResult{}, err
	}
	if err := checkID("interaction", interaction); err != nil {
		return HandoverResult{}, err
	}
	switch {
	case !ch.Valid():
		return HandoverResult{}, fmt.Errorf("%w: unknown channel %q", ErrInvalid, ch)
	case capacity < 0 || capacity > routing.MaxCapacity:
		return HandoverResult{}, fmt.Errorf("%w: capacity %d outside 0..%d", ErrInvalid, capacity, routing.MaxCapacity)
	case ttl < time.Millisecond:
		return HandoverResult{}, fmt.Errorf("%w: reservation ttl %v is below 1ms", ErrInvalid, ttl)
	}
	if ch == routing.Voice {
		capacity = routing.VoiceCapacity
	}
	args := append([]any{from, to, interaction, string(ch), capacity, durationMS(ttl), durationMS(reservationGC)}, allMembers(interaction)...)
	res, err := handoverScript.Run(ctx, s.rdb,
		[]string{k.agent(to), k.slots(to), k.ix(interaction), k.agents(), k.ready(), k.slots(from), k.agent(from)}, args...).StringSlice()
	if err != nil {
		return HandoverResult{}, fmt.Errorf("presence: hand %s over from %s to %s: %w", interaction, from, to, err)
	}
	if len(res) == 0 {
		return HandoverResult{}, fmt.Errorf("presence: hand %s over: empty reply", interaction)
	}
	out := HandoverResult{OK: res[0] == "ok", Reason: res[0]}
	if out.OK && len(res) > 1 {
		if ms, ok := parseMS(res[1]); ok {
			out.Deadline = time.UnixMilli(ms).UTC()
		}
	}
	return out, nil
}

// KEYS: source agent hash, source slots, ix, target agent hash, target slots,
// consult ix, ready. ARGV: source, target, interaction, consult, n, then the n
// members of the interaction and the n members of the consultation. Returns {code}.
var completeTransferScript = script(`
local now = now_ms()
local from, to, ix, cix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = tonumber(ARGV[5])
local ixm, cm = {}, {}
for i = 1, n do
  ixm[i] = ARGV[5 + i]
  cm[i] = ARGV[5 + n + i]
end
local kind, holder, ch = owner(redis.call('GET', KEYS[3]))
if kind == 'H' and holder == to then return {'ok'} end
if kind ~= 'H' or holder ~= from then return {'not_held'} end
local ckind, cholder = owner(redis.call('GET', KEYS[6]))
if ckind ~= 'H' or cholder ~= to then return {'no_consultation'} end
redis.call('ZREM', KEYS[2], unpack(ixm))
redis.call('ZREM', KEYS[5], unpack(cm))
redis.call('DEL', KEYS[6])
redis.call('ZADD', KEYS[5], '+inf', ch .. '|' .. ix)
redis.call('SET', KEYS[3], 'H|' .. to .. '|' .. ch .. '|' .. fmt(now))
redis.call('HSET', KEYS[4], 'la', fmt(now))
sync_ready(KEYS[1], KEYS[2], KEYS[7], from, now)
sync_ready(KEYS[4], KEYS[5], KEYS[7], to, now)
return {'ok'}
`)

// CompleteTransfer ends a warm transfer: the target agent, who holds a
// consultation slot (a slot of its own ID, reserved and confirmed like an offer),
// takes the interaction from the source agent in one step — the source's slot is
// freed, the consultation slot becomes the target's held slot of the interaction —
// so the target's capacity is never counted twice nor the interaction held by two.
// It reports false (nothing changed) when the source no longer holds the
// interaction or the target no longer holds the consultation; a repeat after
// success reports true.
func (s *Store) CompleteTransfer(ctx context.Context, tenant, from, to, interaction, consultation string) (bool, error) {
	k, err := s.agentKeys(tenant, to)
	if err != nil {
		return false, err
	}
	for _, id := range []struct{ what, v string }{{"agent", from}, {"interaction", interaction}, {"consultation", consultation}} {
		if err := checkID(id.what, id.v); err != nil {
			return false, err
		}
	}
	ixm, cm := allMembers(interaction), allMembers(consultation)
	args := append([]any{from, to, interaction, consultation, len(ixm)}, ixm...)
	args = append(args, cm...)
	res, err := completeTransferScript.Run(ctx, s.rdb,
		[]string{k.agent(from), k.slots(from), k.ix(interaction), k.agent(to), k.slots(to), k.ix(consultation), k.ready()}, args...).StringSlice()
	if err != nil {
		return false, fmt.Errorf("presence: complete the transfer of %s from %s to %s: %w", interaction, from, to, err)
	}
	return len(res) > 0 && res[0] == "ok", nil
}
