package presence

import (
	"strings"

	"github.com/redis/go-redis/v9"

	"switchboard/routing"
)

// prelude is shared by every script: the server clock in milliseconds, an
// integer formatter (Lua's default %.14g would switch to exponents), the
// owner-record parser, and the standard presence reply.
const prelude = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n) return string.format('%d', n) end
local function owner(v)
  if not v then return nil end
  local kind, agent, ch, n = string.match(v, '^([RH])|([^|]*)|([^|]*)|(%-?%d+)$')
  if not kind then return nil end
  return kind, agent, ch, tonumber(n)
end
local FIELDS = {'on', 'session', 'status', 'group', 'voice', 'campaign', 'changed', 'login', 'hb', 'deadline', 'la'}
local function reply(code, a, b, key, now)
  local out = {code, a or '', b or '', fmt(now)}
  local v = redis.call('HMGET', key, unpack(FIELDS))
  for i = 1, #FIELDS do out[4 + i] = v[i] or '' end
  return out
end
local function ready_entry(hkey, skey, agent, now)
  local h = redis.call('HMGET', hkey, 'on', 'group', 'deadline', 'la', 'voice')
  if h[1] ~= '1' or h[2] ~= '$AVAILABLE' then return nil end
  local e = {agent, h[3] or '0', h[4] or '0', h[5] or ''}
  local held, res, chs = {}, {}, {}
  local z = redis.call('ZRANGEBYSCORE', skey, '(' .. fmt(now), '+inf', 'WITHSCORES')
  for i = 1, #z, 2 do
    local ch = string.match(z[i], '^([^|]*)|') or ''
    if not held[ch] then
      held[ch], res[ch] = 0, {}
      chs[#chs + 1] = ch
    end
    if z[i + 1] == 'inf' then held[ch] = held[ch] + 1 else res[ch][#res[ch] + 1] = z[i + 1] end
  end
  for _, ch in ipairs(chs) do
    local part = ch .. ':' .. fmt(held[ch])
    if #res[ch] > 0 then part = part .. ':' .. table.concat(res[ch], ':') end
    e[#e + 1] = part
  end
  return table.concat(e, '|')
end
local function used_on(skey, ch, voice, now)
  redis.call('ZREMRANGEBYSCORE', skey, '-inf', now)
  local pre = ch .. '|'
  local used = 0
  for _, m in ipairs(redis.call('ZRANGE', skey, 0, -1)) do
    if string.sub(m, 1, #pre) == pre then used = used + 1 end
  end
  if ch == '$VOICE_CHANNEL' and used < 1 and voice == '$IN_CALL' then used = 1 end
  return used
end
local function sync_ready(hkey, skey, rkey, agent, now)
  local e = ready_entry(hkey, skey, agent, now)
  if e then redis.call('HSET', rkey, agent, e) else redis.call('HDEL', rkey, agent) end
end
`

// presenceFields mirrors FIELDS in the prelude, in the same order.
var presenceFields = []string{"on", "session", "status", "group", "voice", "campaign", "changed", "login", "hb", "deadline", "la"}

// script builds a script from the prelude and body, substituting the routing
// constants so Lua and Go can never disagree about a name.
func script(body string) *redis.Script {
	r := strings.NewReplacer(
		"$VOICE_CHANNEL", string(routing.Voice),
		"$AVAILABLE", string(routing.GroupAvailable),
		"$UNAVAILABLE", string(routing.GroupUnavailable),
		"$OFFLINE", routing.StatusOffline,
		"$IN_CALL", string(routing.VoiceInCall),
	)
	return redis.NewScript(r.Replace(prelude + body))
}

// KEYS: agent hash, alive, agents, slots, ready. ARGV: agent, status, group, campaign, ttl ms.
// A live session is resumed (same session, new status and campaign); anything
// else starts a new session, whose ID is the login time in ms (bumped past the
// previous one, so IDs only grow even across a flush). A session that had
// lapsed without logout is reported as a = session, b = deadline.
var loginScript = script(`
local now = now_ms()
local agent, status, group, campaign = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dl = now + tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'on', 'session', 'deadline', 'status', 'group')
local code, a, b = 'new', '', ''
if h[1] == '1' and (tonumber(h[3]) or 0) > now then
  code = 'resumed'
  if h[4] ~= status or h[5] ~= group then
    redis.call('HSET', KEYS[1], 'status', status, 'group', group, 'changed', fmt(now))
  end
  redis.call('HSET', KEYS[1], 'campaign', campaign, 'hb', fmt(now), 'deadline', fmt(dl))
else
  if h[1] == '1' then code, a, b = 'lapsed', h[2] or '', h[3] or '' end
  local session = math.max(now, (tonumber(h[2]) or 0) + 1)
  redis.call('HSET', KEYS[1], 'on', '1', 'session', fmt(session), 'status', status, 'group', group,
    'voice', '', 'campaign', campaign, 'changed', fmt(now), 'login', fmt(now), 'hb', fmt(now), 'deadline', fmt(dl))
end
redis.call('ZADD', KEYS[2], dl, agent)
redis.call('SADD', KEYS[3], agent)
sync_ready(KEYS[1], KEYS[4], KEYS[5], agent, now)
return reply(code, a, b, KEYS[1], now)
`)

// KEYS: agent hash, alive, slots, ready. ARGV: agent, ttl ms.
var heartbeatScript = script(`
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'on', 'deadline')
if h[1] ~= '1' then return reply('not_logged_in', '', '', KEYS[1], now) end
if (tonumber(h[2]) or 0) <= now then return reply('expired', '', '', KEYS[1], now) end
local dl = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'hb', fmt(now), 'deadline', fmt(dl))
redis.call('ZADD', KEYS[2], dl, ARGV[1])
sync_ready(KEYS[1], KEYS[3], KEYS[4], ARGV[1], now)
return reply('ok', '', '', KEYS[1], now)
`)

// KEYS: agent hash, slots, ready. ARGV: status, group, agent. The change time
// moves only when the status really changes, so repeating a request does not
// reset durations.
var setStatusScript = script(`
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'on', 'deadline', 'status', 'group')
if h[1] ~= '1' then return reply('not_logged_in', '', '', KEYS[1], now) end
if (tonumber(h[2]) or 0) <= now then return reply('expired', '', '', KEYS[1], now) end
if h[3] ~= ARGV[1] or h[4] ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'group', ARGV[2], 'changed', fmt(now))
  sync_ready(KEYS[1], KEYS[2], KEYS[3], ARGV[3], now)
end
return reply('ok', '', '', KEYS[1], now)
`)

// KEYS: agent hash, slots, ready. ARGV: voice state, agent. Not gated on login:
// call events keep arriving from media even when the desktop's heartbeat has
// lapsed.
var setVoiceScript = script(`
local now = now_ms()
redis.call('HSET', KEYS[1], 'voice', ARGV[1])
sync_ready(KEYS[1], KEYS[2], KEYS[3], ARGV[2], now)
return reply('ok', '', '', KEYS[1], now)
`)

// KEYS: agent hash, alive, slots, ready. ARGV: agent, force (1/0).
var logoutScript = script(`
local now = now_ms()
if redis.call('HGET', KEYS[1], 'on') ~= '1' then return reply('not_logged_in', '', '', KEYS[1], now) end
if ARGV[2] ~= '1' and redis.call('ZCOUNT', KEYS[3], '(' .. fmt(now), '+inf') > 0 then
  return reply('active', '', '', KEYS[1], now)
end
redis.call('HSET', KEYS[1], 'on', '0', 'status', '$OFFLINE', 'group', '$UNAVAILABLE', 'changed', fmt(now))
redis.call('ZREM', KEYS[2], ARGV[1])
sync_ready(KEYS[1], KEYS[3], KEYS[4], ARGV[1], now)
return reply('ok', '', '', KEYS[1], now)
`)

// KEYS: agent hash, alive, slots, ready. ARGV: agent, session. Logs out only that session
// and only if its heartbeat has lapsed; the change is dated at the deadline,
// when the agent stopped being present.
var logoutExpiredScript = script(`
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'on', 'session', 'deadline')
if h[1] ~= '1' or h[2] ~= ARGV[2] then return reply('stale', '', '', KEYS[1], now) end
if (tonumber(h[3]) or 0) > now then return reply('live', '', '', KEYS[1], now) end
redis.call('HSET', KEYS[1], 'on', '0', 'status', '$OFFLINE', 'group', '$UNAVAILABLE', 'changed', h[3])
redis.call('ZREM', KEYS[2], ARGV[1])
sync_ready(KEYS[1], KEYS[3], KEYS[4], ARGV[1], now)
return reply('ok', '', '', KEYS[1], now)
`)

// KEYS: alive. Logged-in agents whose heartbeat is live, by agent ID.
var onlineScript = script(`
local now = now_ms()
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. fmt(now), '+inf')
`)

// KEYS: alive. ARGV: limit. Returns now, then agent, deadline pairs.
var expiredScript = script(`
local now = now_ms()
local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
table.insert(r, 1, fmt(now))
return r
`)

// KEYS: agent hash, slots, ix, agents, ready.
// ARGV: agent, interaction, channel, capacity, ttl ms, gc ms.
// Returns {code, deadline}.
var reserveScript = script(`
local now = now_ms()
local agent, ix, ch = ARGV[1], ARGV[2], ARGV[3]
local cap, ttl, gc = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local p = redis.call('HMGET', KEYS[1], 'on', 'group', 'deadline', 'voice')
if p[1] ~= '1' then return {'not_logged_in'} end
if (tonumber(p[3]) or 0) <= now then return {'expired'} end
if p[2] ~= '$AVAILABLE' and ARGV[7] ~= '1' then return {'not_available'} end
local kind, holder, _, n = owner(redis.call('GET', KEYS[3]))
if kind and (kind == 'H' or n > now) then
  if holder == agent then return {'already_this_agent'} end
  return {'taken'}
end
if used_on(KEYS[2], ch, p[4], now) >= cap then return {'no_room'} end
local pre = ch .. '|'
local deadline = now + ttl
redis.call('ZADD', KEYS[2], deadline, pre .. ix)
redis.call('SET', KEYS[3], 'R|' .. agent .. '|' .. ch .. '|' .. fmt(deadline), 'PXAT', deadline + gc)
redis.call('SADD', KEYS[4], agent)
sync_ready(KEYS[1], KEYS[2], KEYS[5], agent, now)
return {'ok', fmt(deadline)}
`)

// KEYS: agent hash, slots, ix, ready. ARGV: agent, interaction, then the
// member names of the interaction on every channel (to drop stale ones).
// Returns {code, held-since}.
var confirmScript = script(`
local now = now_ms()
local agent = ARGV[1]
local function done(code, since)
  sync_ready(KEYS[1], KEYS[2], KEYS[4], agent, now)
  return {code, since}
end
local kind, holder, ch, n = owner(redis.call('GET', KEYS[3]))
if not kind then redis.call('ZREM', KEYS[2], unpack(ARGV, 3)); return done('missing') end
if holder ~= agent then redis.call('ZREM', KEYS[2], unpack(ARGV, 3)); return done('taken') end
local m = ch .. '|' .. ARGV[2]
if kind == 'H' then
  redis.call('ZADD', KEYS[2], '+inf', m)
  return done('held', fmt(n))
end
if n <= now then
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[2], unpack(ARGV, 3))
  return done('expired')
end
redis.call('ZADD', KEYS[2], '+inf', m)
redis.call('SET', KEYS[3], 'H|' .. agent .. '|' .. ch .. '|' .. fmt(now))
redis.call('HSET', KEYS[1], 'la', fmt(now))
return done('ok', fmt(now))
`)

// KEYS: slots, ix, agent hash, ready. ARGV: agent, then the interaction's member
// on every channel. Returns 1 when something of this agent's was removed.
var releaseScript = script(`
local now = now_ms()
local kind, holder = owner(redis.call('GET', KEYS[2]))
local freed = 0
if kind and holder == ARGV[1] then
  redis.call('DEL', KEYS[2])
  freed = 1
end
if redis.call('ZREM', KEYS[1], unpack(ARGV, 2)) > 0 then freed = 1 end
sync_ready(KEYS[3], KEYS[1], KEYS[4], ARGV[1], now)
return freed
`)

// KEYS: agents, ready. ARGV: key base ("<prefix>:{<tenant>}:"). Returns now,
// the number of slot records, the number of ready entries, then agent,
// member, score, owner record for every live slot of the tenant, then agent,
// on, group, deadline, last assigned, voice and ready entry (empty for none) for
// every agent of the tenant.
var auditScript = script(`
local now = now_ms()
local base = ARGV[1]
local agents = redis.call('SMEMBERS', KEYS[1])
local out = {fmt(now), '', fmt(redis.call('HLEN', KEYS[2]))}
for _, a in ipairs(agents) do
  local ms = redis.call('ZRANGEBYSCORE', base .. 'slots:' .. a, '(' .. fmt(now), '+inf', 'WITHSCORES')
  for i = 1, #ms, 2 do
    local ix = string.match(ms[i], '^[^|]*|(.*)$') or ''
    local v = redis.call('GET', base .. 'ix:' .. ix)
    out[#out + 1] = a
    out[#out + 1] = ms[i]
    out[#out + 1] = ms[i + 1]
    out[#out + 1] = v or ''
  end
end
out[2] = fmt((#out - 3) / 4)
for _, a in ipairs(agents) do
  local h = redis.call('HMGET', base .. 'agent:' .. a, 'on', 'group', 'deadline', 'la', 'voice')
  out[#out + 1] = a
  for i = 1, 5 do out[#out + 1] = h[i] or '' end
  out[#out + 1] = redis.call('HGET', KEYS[2], a) or ''
end
return out
`)

// KEYS: agents, ready. ARGV: key base, pruneBefore ms (0 = no pruning), then
// agent, interaction, channel, assignedAt ms for each holding. Returns
// {restored, pruned}. The ready index is recomputed for every agent at the end.
var rebuildScript = script(`
local now = now_ms()
local base, prune = ARGV[1], tonumber(ARGV[2])
local listed = {}
local restored, pruned = 0, 0
for i = 3, #ARGV, 4 do
  local agent, ix, ch, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local m = ch .. '|' .. ix
  listed[agent .. '|' .. m] = true
  local ixk = base .. 'ix:' .. ix
  local kind, holder, hch, n = owner(redis.call('GET', ixk))
  local since = now
  if kind == 'H' and holder == agent and hch == ch then
    since = n
  else
    restored = restored + 1
    if kind then redis.call('ZREM', base .. 'slots:' .. holder, hch .. '|' .. ix) end
  end
  redis.call('SET', ixk, 'H|' .. agent .. '|' .. ch .. '|' .. fmt(since))
  redis.call('ZADD', base .. 'slots:' .. agent, '+inf', m)
  redis.call('SADD', KEYS[1], agent)
  if at > 0 then
    local ak = base .. 'agent:' .. agent
    if at > (tonumber(redis.call('HGET', ak, 'la')) or 0) then redis.call('HSET', ak, 'la', fmt(at)) end
  end
end
if prune > 0 then
  for _, a in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local sk = base .. 'slots:' .. a
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', sk, '+inf', '+inf')) do
      if not listed[a .. '|' .. m] then
        local ch, ix = string.match(m, '^([^|]*)|(.*)$')
        local ixk = base .. 'ix:' .. (ix or '')
        local kind, holder, hch, n = owner(redis.call('GET', ixk))
        if kind == 'H' and holder == a and hch == ch then
          if n < prune then
            redis.call('DEL', ixk)
            redis.call('ZREM', sk, m)
            pruned = pruned + 1
          end
        else
          redis.call('ZREM', sk, m)
          pruned = pruned + 1
        end
      end
    end
  end
end
local seen = {}
for _, a in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  seen[a] = true
  sync_ready(base .. 'agent:' .. a, base .. 'slots:' .. a, KEYS[2], a, now)
end
for _, a in ipairs(redis.call('HKEYS', KEYS[2])) do
  if not seen[a] then sync_ready(base .. 'agent:' .. a, base .. 'slots:' .. a, KEYS[2], a, now) end
end
return {restored, pruned}
`)
