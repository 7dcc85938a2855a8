"""The two Lua scripts behind every limit. Each runs atomically in Redis, so admissions from
any number of edge processes are serialised exactly; all keys of one call share a hash tag so
they also run on Redis Cluster.

ARGV[1] is the time in ms, or 0 to take Redis's own clock (what the edge always sends; tests
pass explicit times to compare with a reference model). ARGV[2] is the number of checks; then
per check: kind, limit, amount, ttl_ms, member, note.

- `rate`: GCRA over one minute. The key holds the theoretical arrival time (TAT, ms); an
  admission of `amount` (1 for a request, n for tokens) moves it by amount * 60000 / limit and
  is allowed while TAT - now stays within the minute. A key lives a minute past its TAT (a
  key gone is the same as a TAT in the past).
- `budget`: a counter of micro-units spent and reserved this period; refused past `limit`.
- `slot`: a sorted set of in-flight request ids scored by their expiry, so a slot left by a
  crashed process frees itself.
- `session`: a client session's hash (`sessions.py`): refused while its `revoked` time is
  ahead; otherwise the request joins it (`r:<member>`), with the user agent (`note`).
- `sessions`: the key's index of sessions, the client (`member`) scored by its latest expiry.

RESERVE commits only if every check passes and returns, per check, the remaining capacity and
(ms until the rate bucket is full | the budget's new total). SETTLE applies the difference
between what was reserved and what was used (usually a refund) and frees slots; it never
refuses.
"""

from __future__ import annotations

# The time (ARGV[1], or Redis's clock), the one-minute period and the number of checks.
_PRELUDE = """
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local period = 60000
local n = tonumber(ARGV[2])
"""

RESERVE = (
    _PRELUDE
    + """
local pending = {}
local out = {1}
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local kind, limit, amount = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if kind == 'rate' then
    if amount > limit then return {0, i, -1} end
    local step = period / limit
    local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or 0), now) + amount * step
    if tat - now > period then return {0, i, math.ceil(tat - now - period)} end
    pending[i] = tat
    out[#out + 1] = math.floor((period - (tat - now)) / step)
    out[#out + 1] = math.ceil(tat - now)
  elseif kind == 'budget' then
    local spent = tonumber(redis.call('GET', KEYS[i]) or 0)
    if spent + amount > limit then return {0, i, -1} end
    out[#out + 1] = limit - spent - amount
    out[#out + 1] = spent + amount
  elseif kind == 'session' then
    local revoked = tonumber(redis.call('HGET', KEYS[i], 'revoked') or 0)
    if revoked > now then return {0, i, revoked - now} end
    out[#out + 1] = 0
    out[#out + 1] = 0
  elseif kind == 'sessions' then
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local busy = redis.call('ZCARD', KEYS[i])
    if busy >= limit then return {0, i, 1000} end
    out[#out + 1] = limit - busy - 1
    out[#out + 1] = 0
  end
end
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local kind, amount, ttl = ARGV[a + 1], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if kind == 'rate' then
    redis.call('SET', KEYS[i], pending[i], 'PX', math.ceil(pending[i] - now) + period)
  elseif kind == 'budget' then
    redis.call('INCRBY', KEYS[i], amount)
    redis.call('PEXPIRE', KEYS[i], ttl)
  elseif kind == 'session' then
    local fields = redis.call('HGETALL', KEYS[i])
    local live = 0
    for f = 1, #fields, 2 do
      if string.sub(fields[f], 1, 2) == 'r:' then
        if tonumber(fields[f + 1]) > now then
          live = live + 1
        else
          redis.call('HDEL', KEYS[i], fields[f])
        end
      end
    end
    if live == 0 then redis.call('HSET', KEYS[i], 'since', now) end
    redis.call('HSET', KEYS[i], 'r:' .. ARGV[a + 5], now + ttl, 'agent', ARGV[a + 6])
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  elseif kind == 'sessions' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    redis.call('ZADD', KEYS[i], 'GT', now + ttl, ARGV[a + 5])
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  else
    redis.call('ZADD', KEYS[i], now + ttl, ARGV[a + 5])
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return out
"""
)

SETTLE = (
    _PRELUDE
    + """
local out = {}
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local kind, limit, delta = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if kind == 'rate' then
    if delta ~= 0 then
      local stored = tonumber(redis.call('GET', KEYS[i]) or 0)
      local tat
      if delta > 0 then
        tat = math.max(stored, now) + delta * period / limit
      else
        tat = math.max(stored + delta * period / limit, now)
      end
      if tat > now then
        redis.call('SET', KEYS[i], tat, 'PX', math.ceil(tat - now) + period)
      else
        redis.call('DEL', KEYS[i])
      end
    end
    out[#out + 1] = 0
  elseif kind == 'budget' then
    local total = tonumber(redis.call('GET', KEYS[i]) or 0)
    if delta ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then
      total = math.max(0, total + delta)
      redis.call('SET', KEYS[i], total, 'KEEPTTL')
    end
    out[#out + 1] = total
  elseif kind == 'session' then
    -- The session ends with its last request, unless a revocation still holds.
    redis.call('HDEL', KEYS[i], 'r:' .. ARGV[a + 5])
    local busy = false
    for _, name in ipairs(redis.call('HKEYS', KEYS[i])) do
      if string.sub(name, 1, 2) == 'r:' then busy = true end
    end
    if not busy and tonumber(redis.call('HGET', KEYS[i], 'revoked') or 0) <= now then
      redis.call('DEL', KEYS[i])
    end
    out[#out + 1] = 0
  elseif kind == 'sessions' then
    out[#out + 1] = 0
  else
    redis.call('ZREM', KEYS[i], ARGV[a + 5])
    out[#out + 1] = 0
  end
end
return out
"""
)

# Revoke a client session (KEYS[1], its hash; KEYS[2], the key's index of sessions) for
# ARGV[2] ms: 0 when there is no such session, else until when (ms) it is revoked. Both keys
# are kept at least that long, so the revocation outlives the session's last request.
REVOKE_SESSION = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local span = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local untl = now + span
redis.call('HSET', KEYS[1], 'revoked', untl)
redis.call('ZADD', KEYS[2], 'GT', untl, ARGV[1])
for i = 1, 2 do
  if redis.call('PTTL', KEYS[i]) < span then redis.call('PEXPIRE', KEYS[i], span) end
end
return untl
"""
