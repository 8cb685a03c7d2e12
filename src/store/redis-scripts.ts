// The Redis store's state changes, each one Lua script run atomically by the server. Redis TIME is
// the only clock, so hosts whose clocks disagree (or a client's CLAW_CLOCK_OFFSET_MS) change nothing
// and share one exact limit. The admission script makes only the yes/no of limiter/admission.ts
// (decide) and reads the figures decide() needs for the rest (see RedisStore.admit); every figure of
// the gateway (window, capacity, burst span) comes from TypeScript, never copied here.
//
// Every script gets one more ARGV, last: '' (the server's TIME), or a time in ms that stands in for
// TIME. Only tests set it (RedisStore's `testClock`, never reachable from configuration or input).
import { defaultMaxRetryAfterMs, maxBlockMs } from '../limiter/backoff.js';

// The server's own clock stepping back must neither mint capacity nor freeze the gateway (the old
// rule, max(TIME, highest time seen), stood still for as long as the step). So the store clock is
// TIME + skew: when it would go below the high mark, the skew grows by the difference and the clock
// carries on from the mark at the real rate. A step forwards cannot be told from time passing (Lua
// has no monotonic clock); run NTP in slewing mode on the Redis host. A mark more than ten years
// ahead of TIME is not a time and is dropped.
//
// Only writes move the stored clock (as in the SQLite store, whose reads never write): a read (peek)
// gives the same time a write would at that moment, and stores nothing.
const rawTime = `
local function rawTime()
  local override = ARGV[#ARGV]
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
// The stored skew and high-water mark, or zeros when they are not sane times (an older claw's or a
// broken value): one reading shared by the clock that writes and the peek that only reads.
const clockState = `${rawTime}
local function clockState(P)
  local raw = rawTime()
  local skew = tonumber(redis.call('GET', P .. 'clockskew') or '0') or 0
  local high = tonumber(redis.call('GET', P .. 'clock') or '0') or 0
  if skew < 0 or skew > 315360000000 or high > raw + 315360000000 then return raw, 0, 0, true end
  return raw, skew, high, false
end
`;
const clock = `${clockState}
local function clock(P)
  local raw, skew, high, reset = clockState(P)
  if reset then redis.call('DEL', P .. 'clockskew') end
  local now = raw + skew
  if now < high then
    redis.call('SET', P .. 'clockskew', high - raw)
    return high
  end
  if now > high then redis.call('SET', P .. 'clock', now) end
  return now
end
`;
const peek = `${clockState}
local function peek(P)
  local raw, skew, high = clockState(P)
  return math.max(raw + skew, high)
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

/**
 * ARGV: prefix, gateway, effective window (ms), capacity for this priority, burst (0 = none), burst
 * span (ms), priority, waiterId, leaseMs, queue (1/0), wait bucket counter ('' = none).
 * Admitted: {1, now}. Not admitted: {0, now, ahead, used, inSpan, blockedUntil, oldest, atNeeded,
 * oldestInSpan}, the times as strings ('' = not asked: no such admission) for decide().
 * Every read is O(log n): ZCOUNT and ranks, never the window's members.
 */
export const admit = `${clock}${blockEnd}
local P, G = ARGV[1], ARGV[2]
local win, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local burst, span, prio = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local id, leaseMs, queue, bucket = ARGV[8], tonumber(ARGV[9]), ARGV[10] == '1', ARGV[11]
local now = clock(P)
local adm, wait, lease = P .. 'adm:' .. G, P .. 'wait:' .. G, P .. 'lease:' .. G
redis.call('SADD', P .. 'gateways', G)
-- After this, every member is inside the window: rank 0 is the oldest admission in it.
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
local used = redis.call('ZCARD', adm)
local inSpan = 0
local free = cap - used
if burst > 0 then
  inSpan = redis.call('ZCOUNT', adm, '(' .. (now - span), '+inf')
  free = math.min(free, burst - inSpan)
end
if free < 0 then free = 0 end
if now >= blocked and ahead < free then
  redis.call('ZADD', adm, now, id)
  redis.call('PEXPIRE', adm, win * 2)
  if mine then
    redis.call('ZREM', wait, id)
    redis.call('HDEL', lease, id)
  end
  redis.call('HINCRBY', P .. 'ctr:' .. G, 'admitted', 1)
  if bucket ~= '' then redis.call('HINCRBY', P .. 'ctr:' .. G, bucket, 1) end
  return {1, now}
end
local oldest, atNeeded, oldestInSpan = '', '', ''
if used > 0 then oldest = redis.call('ZRANGE', adm, 0, 0, 'WITHSCORES')[2] end
local needed = used - cap + ahead
if needed >= 0 and needed < used then atNeeded = redis.call('ZRANGE', adm, needed, needed, 'WITHSCORES')[2] end
if inSpan > 0 then oldestInSpan = redis.call('ZRANGEBYSCORE', adm, '(' .. (now - span), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2] end
if queue then
  if not mine then
    local seq = redis.call('INCR', P .. 'seq')
    redis.call('ZADD', wait, prio * 1e13 + seq, id)
  end
  redis.call('HSET', lease, id, now + leaseMs)
  redis.call('PEXPIRE', wait, 3600000)
  redis.call('PEXPIRE', lease, 3600000)
end
return {0, now, ahead, used, inSpan, blocked, oldest, atNeeded, oldestInSpan}
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

/** ARGV: prefix. The store clock (read: nothing stored). */
export const now = `${peek}
return peek(ARGV[1])
`;

/** ARGV: prefix, gateway, windowMs + marginMs, limit + 1 (0 = all). */
export const gatewayState = `${peek}
local P, G = ARGV[1], ARGV[2]
local now = peek(P)
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
-- The block as stored (a read writes nothing): RedisStore bounds it as the SQLite store does (activeBlock).
local blocked = redis.call('GET', P .. 'block:' .. G) or ''
local info = redis.call('HMGET', P .. 'blockinfo:' .. G, 'setAt', 'reason', 'origin', 'message')
for i = 1, 4 do if not info[i] then info[i] = '' end end
return {now, used, times, waiters, blocked, redis.call('HGETALL', P .. 'ctr:' .. G), info}
`;

/** ARGV: prefix, key. Returns {now} or {now, category, value, storedAt, expiresAt}. */
export const cacheGet = `${peek}
local now = peek(ARGV[1])
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
export const leaseHolder = `${peek}
local now = peek(ARGV[1])
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
