// The Redis store's state changes, each one Lua script run atomically by the server. Redis TIME is
// the only clock, so hosts whose clocks disagree (or a client's CLAW_CLOCK_OFFSET_MS) change nothing
// and share one exact limit. The admission mirrors limiter/admission.ts (decide) line for line.
import { defaultMaxRetryAfterMs, maxBlockMs } from '../limiter/backoff.js';

// The server's own clock stepping back must neither mint capacity nor freeze the gateway (the old
// rule, max(TIME, highest time seen), stood still for as long as the step). So the store clock is
// TIME + skew: when it would go below the high mark, the skew grows by the difference and the clock
// carries on from the mark at the real rate. A step forwards cannot be told from time passing (Lua
// has no monotonic clock); run NTP in slewing mode on the Redis host. A mark more than ten years
// ahead of TIME is not a time and is dropped.
const clock = `
local function clock(P)
  local t = redis.call('TIME')
  local raw = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local skew = tonumber(redis.call('GET', P .. 'clockskew') or '0') or 0
  local high = tonumber(redis.call('GET', P .. 'clock') or '0') or 0
  if skew < 0 or skew > 315360000000 or high > raw + 315360000000 then
    skew = 0
    high = 0
    redis.call('DEL', P .. 'clockskew')
  end
  local now = raw + skew
  if now < high then
    redis.call('SET', P .. 'clockskew', high - raw)
    return high
  end
  if now > high then redis.call('SET', P .. 'clock', now) end
  return now
end
`;

// When a gateway's block ends: at most ${maxBlockMs} ms after it was set. A block without a start
// (written by an older claw, possibly for days) is cut to the default Retry-After ceiling from now
// and given a start, so it ends by itself.
const blockEnd = `
local function blockEnd(P, G, now)
  local key, info = P .. 'block:' .. G, P .. 'blockinfo:' .. G
  local raw = redis.call('GET', key)
  if not raw then return 0 end
  local untilMs = tonumber(raw)
  if not untilMs or untilMs ~= untilMs or untilMs <= 0 then return 0 end
  local setAt = tonumber(redis.call('HGET', info, 'setAt') or '')
  if not setAt then
    untilMs = math.floor(math.min(untilMs, now + ${defaultMaxRetryAfterMs}))
    if untilMs <= now then
      redis.call('DEL', key)
      return 0
    end
    redis.call('SET', key, untilMs, 'PX', untilMs - now + 60000)
    redis.call('HSET', info, 'setAt', now, 'reason', 'rate_limited', 'origin', 'set by an older claw (no origin recorded)')
    redis.call('PEXPIRE', info, untilMs - now + 60000)
    return untilMs
  end
  return math.floor(math.min(untilMs, math.min(setAt, now) + ${maxBlockMs}))
end
`;

/** ARGV: prefix, gateway, limit, windowMs, marginMs, burst (0 = none), reserveLow, priority, waiterId, leaseMs, queue (1/0). */
export const admit = `${clock}${blockEnd}
local P, G = ARGV[1], ARGV[2]
local limit, window, margin = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local burst, reserve, prio = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local id, leaseMs, queue = ARGV[9], tonumber(ARGV[10]), ARGV[11] == '1'
local now = clock(P)
local adm, wait, lease = P .. 'adm:' .. G, P .. 'wait:' .. G, P .. 'lease:' .. G
local win = window + margin
redis.call('SADD', P .. 'gateways', G)
redis.call('ZREMRANGEBYSCORE', adm, '-inf', now - win)
-- A retry after a lost reply finds the admission it already has: nothing is admitted twice.
if redis.call('ZSCORE', adm, id) then return {1, now} end
local leases = redis.call('HGETALL', lease)
for i = 1, #leases, 2 do
  if tonumber(leases[i + 1]) < now then
    redis.call('HDEL', lease, leases[i])
    redis.call('ZREM', wait, leases[i])
  end
end
local mine = redis.call('ZSCORE', wait, id)
local ahead
if mine then
  ahead = redis.call('ZCOUNT', wait, '-inf', '(' .. mine)
else
  ahead = redis.call('ZCOUNT', wait, '-inf', '(' .. ((prio + 1) * 1e13))
end
local blocked = blockEnd(P, G, now)
local cap = limit
if prio == 4 then cap = math.max(1, math.floor(limit * (1 - reserve))) end
local rows = redis.call('ZRANGEBYSCORE', adm, '(' .. (now - win), '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
local ts = {}
for i = 2, #rows, 2 do ts[#ts + 1] = tonumber(rows[i]) end
local count = #ts
local free = cap - count
local span = 0
if burst > 0 then
  span = win * burst / limit
  local inSpan = 0
  for _, at in ipairs(ts) do if at > now - span then inSpan = inSpan + 1 end end
  free = math.min(free, burst - inSpan)
end
if free < 0 then free = 0 end
local earliest = now
if count > 0 then earliest = ts[1] + win end
if now < blocked then
  return {0, now, ahead, 'blocked', free, blocked, math.max(blocked, earliest)}
end
if ahead < free then
  redis.call('ZADD', adm, now, id)
  redis.call('PEXPIRE', adm, win * 2)
  redis.call('ZREM', wait, id)
  redis.call('HDEL', lease, id)
  redis.call('HINCRBY', P .. 'ctr:' .. G, 'admitted', 1)
  return {1, now}
end
local needed = count - cap + ahead
local estimate
if needed >= 0 and needed < count then
  estimate = ts[needed + 1] + win
else
  estimate = now + math.ceil((needed - count + 1) / cap) * win
end
local wake = earliest
if free > 0 then wake = now + 50 end
if burst > 0 and free == 0 and count < cap then
  wake = now
  for _, at in ipairs(ts) do
    if at > now - span then
      wake = at + span
      break
    end
  end
end
if queue then
  if not mine then
    local seq = redis.call('INCR', P .. 'seq')
    redis.call('ZADD', wait, prio * 1e13 + seq, id)
  end
  redis.call('HSET', lease, id, now + leaseMs)
  redis.call('PEXPIRE', wait, 3600000)
  redis.call('PEXPIRE', lease, 3600000)
end
local reason = 'queued'
if free == 0 then reason = 'full' end
return {0, now, ahead, reason, free, math.floor(wake), math.floor(math.max(estimate, wake))}
`;

/** ARGV: prefix, gateway, admissionId. */
export const markSent = `${clock}
local now = clock(ARGV[1])
local adm = ARGV[1] .. 'adm:' .. ARGV[2]
local at = redis.call('ZSCORE', adm, ARGV[3])
if at and tonumber(at) < now then redis.call('ZADD', adm, 'XX', now, ARGV[3]) end
return now
`;

/** ARGV: prefix, gateway, waiterId. */
export const leaveQueue = `
redis.call('ZREM', ARGV[1] .. 'wait:' .. ARGV[2], ARGV[3])
redis.call('HDEL', ARGV[1] .. 'lease:' .. ARGV[2], ARGV[3])
return 1
`;

/** ARGV: prefix, gateway, until (ms), reason, origin, message ('' = none). Only ever moves the block later; at most ${maxBlockMs} ms. */
export const blockUntil = `${clock}${blockEnd}
local P, G = ARGV[1], ARGV[2]
local now = clock(P)
local key, info = P .. 'block:' .. G, P .. 'blockinfo:' .. G
local untilMs = tonumber(ARGV[3])
if not untilMs or untilMs ~= untilMs then return 0 end
untilMs = math.floor(math.min(untilMs, now + ${maxBlockMs}))
redis.call('SADD', P .. 'gateways', G)
if untilMs <= now or blockEnd(P, G, now) >= untilMs then return 0 end
redis.call('SET', key, untilMs, 'PX', untilMs - now + 60000)
redis.call('DEL', info)
redis.call('HSET', info, 'setAt', now, 'reason', ARGV[4], 'origin', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', info, 'message', ARGV[6]) end
redis.call('PEXPIRE', info, untilMs - now + 60000)
return 1
`;

/** ARGV: prefix, gateway. Returns 1 when a block was in force. */
export const clearBlock = `${clock}${blockEnd}
local P, G = ARGV[1], ARGV[2]
local now = clock(P)
local active = blockEnd(P, G, now) > now
redis.call('DEL', P .. 'block:' .. G, P .. 'blockinfo:' .. G)
if active then return 1 end
return 0
`;

/** ARGV: prefix, scope, counter, by. */
export const count = `
if ARGV[2] ~= 'cache' then redis.call('SADD', ARGV[1] .. 'gateways', ARGV[2]) end
return redis.call('HINCRBY', ARGV[1] .. 'ctr:' .. ARGV[2], ARGV[3], tonumber(ARGV[4]))
`;

/** ARGV: prefix. Advances and returns the store clock. */
export const now = `${clock}
return clock(ARGV[1])
`;

/** ARGV: prefix, gateway, windowMs + marginMs, limit + 1 (0 = all). */
export const gatewayState = `${clock}${blockEnd}
local P, G = ARGV[1], ARGV[2]
local now = clock(P)
local win, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local adm = P .. 'adm:' .. G
local used = redis.call('ZCOUNT', adm, '(' .. (now - win), '+inf')
local rows
if max > 0 then
  rows = redis.call('ZRANGEBYSCORE', adm, '(' .. (now - win), '+inf', 'WITHSCORES', 'LIMIT', 0, max)
else
  rows = redis.call('ZRANGEBYSCORE', adm, '(' .. (now - win), '+inf', 'WITHSCORES')
end
local times = {}
for i = 2, #rows, 2 do times[#times + 1] = rows[i] end
local waiters = {0, 0, 0, 0}
local members = redis.call('ZRANGE', P .. 'wait:' .. G, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local leaseUntil = tonumber(redis.call('HGET', P .. 'lease:' .. G, members[i]) or '0')
  if leaseUntil >= now then
    local prio = math.floor(tonumber(members[i + 1]) / 1e13)
    waiters[prio] = waiters[prio] + 1
  end
end
local blocked = blockEnd(P, G, now)
local info = redis.call('HMGET', P .. 'blockinfo:' .. G, 'setAt', 'reason', 'origin', 'message')
for i = 1, 4 do if not info[i] then info[i] = '' end end
return {now, used, times, waiters, blocked, redis.call('HGETALL', P .. 'ctr:' .. G), info}
`;

/** ARGV: prefix, key. Returns {now} or {now, category, value, storedAt, expiresAt}. */
export const cacheGet = `${clock}
local now = clock(ARGV[1])
local h = redis.call('HMGET', ARGV[1] .. 'cache:' .. ARGV[2], 'category', 'value', 'storedAt', 'expiresAt')
if not h[1] then return {now} end
return {now, h[1], h[2], tonumber(h[3]), tonumber(h[4])}
`;

/** ARGV: prefix, key, category, value, ttlMs, keepMs. Returns storedAt. */
export const cacheSet = `${clock}
local now = clock(ARGV[1])
local key = ARGV[1] .. 'cache:' .. ARGV[2]
local ttl, keep = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('HSET', key, 'category', ARGV[3], 'value', ARGV[4], 'storedAt', now, 'expiresAt', now + ttl)
redis.call('PEXPIRE', key, math.max(ttl, keep))
redis.call('SADD', ARGV[1] .. 'cachekeys', ARGV[2])
-- Entries expire on their own; their names in the index are dropped a few at a time here.
for _, k in ipairs(redis.call('SRANDMEMBER', ARGV[1] .. 'cachekeys', 3)) do
  if redis.call('EXISTS', ARGV[1] .. 'cache:' .. k) == 0 then redis.call('SREM', ARGV[1] .. 'cachekeys', k) end
end
return now
`;

/** ARGV: prefix, category ('' = all). Returns how many entries were removed. */
export const cacheClear = `
local removed = 0
for _, k in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'cachekeys')) do
  local key = ARGV[1] .. 'cache:' .. k
  local category = redis.call('HGET', key, 'category')
  if not category then
    redis.call('SREM', ARGV[1] .. 'cachekeys', k)
  elseif ARGV[2] == '' or category == ARGV[2] then
    redis.call('DEL', key)
    redis.call('SREM', ARGV[1] .. 'cachekeys', k)
    removed = removed + 1
  end
end
return removed
`;

/** ARGV: prefix. Returns a flat list: key, category, storedAt, expiresAt, ... */
export const cacheEntries = `
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'cachekeys')) do
  local h = redis.call('HMGET', ARGV[1] .. 'cache:' .. k, 'category', 'storedAt', 'expiresAt')
  if h[1] then
    out[#out + 1] = k
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
    out[#out + 1] = h[3]
  end
end
return out
`;

/** ARGV: prefix, name, owner, ttlMs. Returns 1 when taken (free, expired or already ours). */
export const acquireLease = `${clock}
local now = clock(ARGV[1])
local key = ARGV[1] .. 'lk:' .. ARGV[2]
local h = redis.call('HMGET', key, 'owner', 'expiresAt')
if h[1] and h[1] ~= ARGV[3] and tonumber(h[2]) > now then return 0 end
redis.call('HSET', key, 'owner', ARGV[3], 'expiresAt', now + tonumber(ARGV[4]))
redis.call('PEXPIRE', key, tonumber(ARGV[4]))
return 1
`;

/** ARGV: prefix, name, owner. */
export const releaseLease = `
local key = ARGV[1] .. 'lk:' .. ARGV[2]
if redis.call('HGET', key, 'owner') == ARGV[3] then redis.call('DEL', key) end
return 1
`;

/** ARGV: prefix, name. Returns {} or {owner, expiresAt}. */
export const leaseHolder = `${clock}
local now = clock(ARGV[1])
local h = redis.call('HMGET', ARGV[1] .. 'lk:' .. ARGV[2], 'owner', 'expiresAt')
if not h[1] or tonumber(h[2]) <= now then return {} end
return {h[1], tonumber(h[2])}
`;

/** ARGV: prefix, key, value. */
export const stateSet = `
redis.call('SET', ARGV[1] .. 'state:' .. ARGV[2], ARGV[3])
return 1
`;

/**
 * ARGV: prefix, agent, run JSON, startedAt, retentionMs. Keeps the last 200 runs per agent, none
 * older than the retention before this run (the runs' own clock, so a skewed host prunes its own
 * runs consistently); an agent that stops running has its list expire after the retention.
 */
export const saveRun = `
local key = ARGV[1] .. 'runs:' .. ARGV[2]
local cutoff = tonumber(ARGV[4]) - tonumber(ARGV[5])
redis.call('LPUSH', key, ARGV[3])
redis.call('LTRIM', key, 0, 199)
for _ = 1, 200 do
  local oldest = redis.call('LINDEX', key, -1)
  if not oldest then break end
  local ok, run = pcall(cjson.decode, oldest)
  if ok and type(run) == 'table' and tonumber(run.startedAt) and tonumber(run.startedAt) >= cutoff then break end
  redis.call('RPOP', key)
end
redis.call('PEXPIRE', key, tonumber(ARGV[5]))
redis.call('SADD', ARGV[1] .. 'agents', ARGV[2])
return 1
`;
