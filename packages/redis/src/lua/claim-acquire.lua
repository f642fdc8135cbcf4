-- claim-acquire: admit a read-write lock's or a semaphore's claim on a key, or keep the caller's place
-- in the key's FIFO wait list; expired holders and places are purged first (and that is published).
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set, token -> arrival number (FIFO order)
-- KEYS[3]  claims: hash, token -> '<kind> <permits> <limit> <n>': kind x (exclusive), s (shared) or
--          p (permits); n is a holder's fencing token, or the end of a waiter's place (server ms)
-- KEYS[4]  the key's fence counter (shared by every claim of the key, and by the mutex of the key)
-- ARGV[1]  the caller's token;  ARGV[2] the lease in ms (an integer >= 1)
-- ARGV[3]  the claim's kind: x, s or p;  ARGV[4] permits, ARGV[5] limit (0 and 0 unless p)
-- ARGV[6]  1: the caller waits (its place is taken or kept when not admitted); 0: a single attempt,
--          judged as if queued last, which leaves no trace
-- ARGV[7]  how long a place outlives the answer's retry delay, in ms (its caller comes back sooner)
-- ARGV[8]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[9]  the key's release channel: '' is published there when expired holders or places went
-- Returns  {1, fence}: admitted, with the new fencing token (a decimal string); the caller's own
--          token (a request re-sent after a reconnect) gets the fence it was given again;
--          {0, retryAfter}: not admitted; ms until the first lease, or place queued before the
--          caller, ends (-1: none); {2, limit}: the key's holders or waiters use another limit
--          (permits claims only); nothing was taken or queued.
local holders, queue, claims, fenceKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, kind, permits, limit = ARGV[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local pattern = '^(%a) (%d+) (%d+) (%S+)$'

-- Keeps the key's three structures at least `ms` (they never outlive their last lease or place by much).
local function keep(ms)
  ms = math.ceil(ms)
  for _, name in ipairs({holders, queue, claims}) do
    local pttl = redis.call('PTTL', name)
    if pttl ~= -2 and pttl < ms then redis.call('PEXPIRE', name, string.format('%d', ms)) end
  end
end

local mine = redis.call('ZSCORE', holders, token)
if mine and tonumber(mine) > now then
  local _, _, _, fence = string.match(redis.call('HGET', claims, token) or '', pattern)
  return {1, fence or '0'}
end

local purged = false
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', holders, '-inf', string.format('%.3f', now))) do
  redis.call('ZREM', holders, gone)
  redis.call('HDEL', claims, gone)
  purged = true
end
local waiters = {}
for _, waiter in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  local k, p, l, ends = string.match(redis.call('HGET', claims, waiter) or '', pattern)
  if k == nil or tonumber(ends) <= now then
    redis.call('ZREM', queue, waiter)
    redis.call('HDEL', claims, waiter)
    purged = true
  else
    waiters[#waiters + 1] = {waiter, k, tonumber(p), tonumber(l), tonumber(ends)}
  end
end
if purged then redis.call('PUBLISH', ARGV[9], '') end

-- The group: every holder, and every waiter queued before the caller (all of them for a newcomer).
local count, shared, holding, used = 0, 0, 0, 0
local soonest
local held = redis.call('ZRANGE', holders, 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do
  local k, p, l = string.match(redis.call('HGET', claims, held[i]) or '', pattern)
  if kind == 'p' and k == 'p' and tonumber(l) ~= limit then return {2, l} end
  count = count + 1
  if k == 's' then shared = shared + 1 elseif k == 'p' then holding = holding + 1; used = used + tonumber(p) end
  if i == 1 then soonest = tonumber(held[2]) end
end
if kind == 'p' then
  for _, w in ipairs(waiters) do
    if w[2] == 'p' and w[4] ~= limit then return {2, string.format('%d', w[4])} end
  end
end
local queued = false
for _, w in ipairs(waiters) do
  if w[1] == token then queued = true; break end
  count = count + 1
  if w[2] == 's' then shared = shared + 1 elseif w[2] == 'p' then holding = holding + 1; used = used + w[3] end
  if soonest == nil or w[5] < soonest then soonest = w[5] end
end

local fits
if kind == 'x' then fits = count == 0
elseif kind == 's' then fits = shared == count
else fits = holding == count and used + permits <= limit end

if fits then
  redis.call('ZREM', queue, token)
  local n = redis.call('INCR', fenceKey)
  local fence
  if n == 1 then
    -- A missing counter starts at the server's clock in microseconds (above every earlier token;
    -- see acquire.lua of the mutex, which shares this counter).
    fence = clock[1] .. string.format('%06d', tonumber(clock[2]))
    redis.call('SET', fenceKey, fence, 'PX', ARGV[8])
  else
    redis.call('PEXPIRE', fenceKey, ARGV[8])
    if n >= 9007199254740992 then fence = redis.call('GET', fenceKey) else fence = string.format('%d', n) end
  end
  redis.call('ZADD', holders, string.format('%.3f', now + tonumber(ARGV[2])), token)
  redis.call('HSET', claims, token, kind .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. fence)
  keep(tonumber(ARGV[2]))
  return {1, fence}
end

local retryAfter = -1
if soonest ~= nil then retryAfter = math.max(0, math.ceil(soonest - now)) end
if ARGV[6] == '1' then
  local ends = now + math.max(retryAfter, 0) + tonumber(ARGV[7])
  if not queued then
    local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
    local arrival = 1
    if last[2] then arrival = tonumber(last[2]) + 1 end
    redis.call('ZADD', queue, arrival, token)
  end
  redis.call('HSET', claims, token, kind .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. string.format('%.3f', ends))
  keep(ends - now)
end
return {0, retryAfter}
