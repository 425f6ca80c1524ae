package presence

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AutoCallCause says why an agent's Auto Call mode is what it is; the
// reference's autoCallStateChangeCause.
type AutoCallCause string

// The causes of an Auto Call mode.
const (
	// AutoCallLogin: the mode every session starts in (on).
	AutoCallLogin AutoCallCause = "login"
	// AutoCallAgentSet: the agent switched it.
	AutoCallAgentSet AutoCallCause = "agent_set"
	// AutoCallSupervisorSet: a supervisor or admin switched it for the agent.
	AutoCallSupervisorSet AutoCallCause = "supervisor_set"
)

// Valid reports whether c is one of the causes.
func (c AutoCallCause) Valid() bool {
	switch c {
	case AutoCallLogin, AutoCallAgentSet, AutoCallSupervisorSet:
		return true
	}
	return false
}

// AutoCall is an agent's participation in auto-dialed calls, part of their
// presence. Every session starts with it on (cause login); a change lasts
// until the session ends, whatever statuses the agent goes through meanwhile.
//
// It is kept on the agent's presence hash in four fields of its own —
// ac (1/0), ac_session (the session it was set in), ac_cause and ac_at (Unix
// ms) — so that no presence script has to know about it: a mode set in an
// earlier session simply does not apply to a new one, which therefore reads
// as on, since its login.
type AutoCall struct {
	Agent string `json:"agent"`
	// Session is the agent's presence session.
	Session int64 `json:"session,omitempty"`
	// Enabled: the agent takes part in auto-dialed calls. Always false
	// without a live session.
	Enabled bool `json:"enabled"`
	// Cause and ChangedAt say why and since when; empty without a live
	// session.
	Cause     AutoCallCause `json:"cause,omitempty"`
	ChangedAt time.Time     `json:"changedAt"`
	// At is the Redis server time of the read.
	At time.Time `json:"at"`
}

// autoCallFields are read together to derive an AutoCall.
var autoCallFields = []string{"on", "session", "deadline", "login", "ac", "ac_session", "ac_cause", "ac_at"}

// parseAutoCall derives the mode from autoCallFields read at server time nowMS,
// judging the session's liveness exactly as presence does (deadline > now).
func parseAutoCall(agent string, nowMS int64, f []any) AutoCall {
	get := func(i int) string {
		if i < len(f) {
			return str(f[i])
		}
		return ""
	}
	out := AutoCall{Agent: agent, At: timeOf(nowMS)}
	out.Session, _ = strconv.ParseInt(get(1), 10, 64)
	if get(0) != "1" || ms(get(2)) <= nowMS {
		return out
	}
	if get(5) != "" && get(5) == get(1) {
		out.Enabled, out.Cause, out.ChangedAt = get(4) == "1", AutoCallCause(get(6)), timeOf(ms(get(7)))
		return out
	}
	out.Enabled, out.Cause, out.ChangedAt = true, AutoCallLogin, timeOf(ms(get(3)))
	return out
}

// AutoCall reads the agent's Auto Call mode.
func (s *Store) AutoCall(ctx context.Context, tenant, agent string) (AutoCall, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return AutoCall{}, err
	}
	pipe := s.rdb.Pipeline()
	tc := pipe.Time(ctx)
	hm := pipe.HMGet(ctx, k.agent(agent), autoCallFields...)
	if _, err := pipe.Exec(ctx); err != nil {
		return AutoCall{}, fmt.Errorf("presence: auto call of agent %s: %w", agent, err)
	}
	return parseAutoCall(agent, tc.Val().UnixMilli(), hm.Val()), nil
}

// KEYS: agent hash. ARGV: enabled (1/0), cause. Sets the mode of the live
// session and answers {code, now, then the autoCallFields after the change}:
// code is ok (changed), same (it already was so; nothing is written, so the
// cause and time of the last real change stay), not_logged_in or expired.
var setAutoCallScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {'on', 'session', 'deadline', 'login', 'ac', 'ac_session', 'ac_cause', 'ac_at'}
local h = redis.call('HMGET', KEYS[1], unpack(fields))
local code = 'ok'
if h[1] ~= '1' then
  code = 'not_logged_in'
elseif (tonumber(h[3]) or 0) <= now then
  code = 'expired'
else
  local cur = '1'
  if h[6] and h[6] == h[2] then cur = h[5] end
  if cur == ARGV[1] then
    code = 'same'
  else
    redis.call('HSET', KEYS[1], 'ac', ARGV[1], 'ac_session', h[2], 'ac_cause', ARGV[2], 'ac_at', string.format('%d', now))
    h = redis.call('HMGET', KEYS[1], unpack(fields))
  end
end
local out = {code, string.format('%d', now)}
for i = 1, #fields do out[2 + i] = h[i] or '' end
return out
`)

// SetAutoCall switches the agent's Auto Call mode for the live session, by
// cause (AutoCallAgentSet or AutoCallSupervisorSet). It reports whether the
// mode changed: setting the mode the agent already has changes nothing, not
// even the cause. Without a session it answers ErrNotLoggedIn, once the
// session lapsed ErrExpired.
func (s *Store) SetAutoCall(ctx context.Context, tenant, agent string, enabled bool, cause AutoCallCause) (AutoCall, bool, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return AutoCall{}, false, err
	}
	if cause != AutoCallAgentSet && cause != AutoCallSupervisorSet {
		return AutoCall{}, false, fmt.Errorf("%w: auto call cause %q is not one a change is made for", ErrInvalid, cause)
	}
	on := "0"
	if enabled {
		on = "1"
	}
	res, err := setAutoCallScript.Run(ctx, s.rdb, []string{k.agent(agent)}, on, string(cause)).Slice()
	if err != nil {
		return AutoCall{}, false, fmt.Errorf("presence: set auto call of agent %s: %w", agent, err)
	}
	if len(res) != 2+len(autoCallFields) {
		return AutoCall{}, false, fmt.Errorf("presence: set auto call of agent %s: reply %v", agent, res)
	}
	ac := parseAutoCall(agent, ms(res[1]), res[2:])
	code := str(res[0])
	if err := sessionErr("set auto call", agent, code); err != nil {
		return ac, false, err
	}
	return ac, code == "ok", nil
}
