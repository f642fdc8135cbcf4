-- fair-acquire: take a lock in the FIFO order of the key's waiters (every process's), and hand out
-- the key's next fencing token, in one round trip. A free lock goes to the first waiter whose place
-- is still kept; a caller that waits takes (or keeps) a place at the end of the line.
-- KEYS[1]  the lock key; its value is the holder's token, its PTTL the holder's lease
-- KEYS[2]  the key's fence counter (as in acquire.lua)
-- KEYS[3]  the wait list: sorted set, waiting token -> arrival number (FIFO order)
-- KEYS[4]  the places: sorted set, waiting token -> end of its place (server time, ms); a waiter
--          that stops coming back (its process died) loses its place then
-- ARGV[1]  the caller's token;  ARGV[2] the lease in ms (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[4]  1: the caller waits (its place is taken or kept when not granted); 0: a single attempt,
--          granted only when nobody waits, which leaves no trace
-- ARGV[5]  how long a place outlives the answer's retry delay, in ms (its caller comes back sooner)
-- Returns  {1, fence} when acquired (the caller's own token, a request re-sent after a reconnect,
--          gets the fence it was given again, lease untouched);
--          {0, retryAfter} otherwise: ms until the holder's lease ends, or, when the lock is free
--          but another caller is first in line, until that caller's place would end, at most
--          1000 (-1: unknown). The cap keeps places from stacking up: a place lasts the retry
--          delay plus ARGV[5], so waiters told to wait for a dead first waiter's place would
--          otherwise each outlast the one before them by ARGV[5].
local lock, fenceKey, queue, places = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token = ARGV[1]

-- Server time in ms; read only when someone waits (the uncontended path needs no clock).
local now
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The first waiter whose place is kept (places that ended are dropped on the way); nil when none.
local head
if redis.call('EXISTS', queue) == 1 then
  now = clock()
  local gone = redis.call('ZRANGEBYSCORE', places, '-inf', now)
  for _, waiter in ipairs(gone) do redis.call('ZREM', queue, waiter) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', places, '-inf', now) end
  head = redis.call('ZRANGE', queue, 0, 0)[1]
end

if (head == nil or head == token) and redis.call('SET', lock, token, 'NX', 'PX', ARGV[2]) then
  if head then
    redis.call('ZREM', queue, token)
    redis.call('ZREM', places, token)
  end
  local fence = redis.call('INCR', fenceKey)
  if fence == 1 then
    -- A missing counter starts at the server's clock in microseconds (see acquire.lua).
    local t = redis.call('TIME')
    fence = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', fenceKey, fence, 'PX', ARGV[3])
  else
    redis.call('PEXPIRE', fenceKey, ARGV[3])
    if fence >= 9007199254740992 then fence = redis.call('GET', fenceKey) end
  end
  return {1, fence}
end
if redis.call('GET', lock) == token then
  return {1, redis.call('GET', fenceKey) or '0'}
end

local pttl = redis.call('PTTL', lock)
now = now or clock()
local retryAfter = pttl
if pttl == -2 and head then
  -- Free, but someone else is first: it is about to come (or its place ends).
  retryAfter = math.min(1000, math.max(0, tonumber(redis.call('ZSCORE', places, head)) - now))
end
if ARGV[4] == '1' then
  local ends = now + math.max(retryAfter, 0) + tonumber(ARGV[5])
  if not redis.call('ZSCORE', queue, token) then
    local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
    local arrival = 1
    if last[2] then arrival = tonumber(last[2]) + 1 end
    redis.call('ZADD', queue, arrival, token)
  end
  redis.call('ZADD', places, ends, token)
  -- Both sets outlive their last place, never much longer.
  local keep = ends - now
  for _, name in ipairs({queue, places}) do
    if redis.call('PTTL', name) < keep then redis.call('PEXPIRE', name, keep) end
  end
end
return {0, retryAfter}
