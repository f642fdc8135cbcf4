-- fair-acquire: take a lock in the FIFO order of the key's waiters (every process's), and hand out
-- the key's next fencing token, in one round trip. The lock key's value says who may take it:
--   absent           free: the first caller to come takes it (a plain SET NX, the uncontended path);
--   '<token>'        held, and nobody waited for it: its release just deletes it;
--   '<token>+'       held, and someone waited for it (a waiter adds the '+'): its release passes
--                    the key on to the first waiter in line (see fair-release.lua);
--   '~<token>'       free, but kept for <token>, the first in line, which was told and is coming:
--                    only it may take the key until the reservation ends (its place's end).
-- A caller that waits takes (or keeps) a place at the end of the line. The key is absent while
-- others wait only after a lease or a reservation expired (a holder or a first waiter died): then
-- whoever comes first takes it, and the line's order resumes with the next release.
-- KEYS[1]  the lock key. The others are named after it, under its hash tag (so that the call
--          carries one key: the uncontended path costs what acquire.lua does):
--          <lock>:fence, the key's fence counter (as in acquire.lua);
--          <lock>:waiters, the wait list: sorted set, waiting token -> arrival number (FIFO order);
--          <lock>:places, sorted set, waiting token -> end of its place (server time, ms); a
--          waiter that stops coming back (its process died) loses its place then
-- ARGV[1]  the caller's token;  ARGV[2] the lease in ms (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[4]  1: the caller waits (its place is taken or kept when not granted); 0: a single attempt,
--          which leaves no trace
-- ARGV[5]  how long a place outlives the answer's retry delay, in ms (its caller comes back sooner)
-- ARGV[6]  1: the caller may have a place already (it was refused before): the line is looked at
--          even when the key is absent; 0: its first attempt
-- Returns  {1, fence} when acquired (the caller's own token, a request re-sent after a reconnect,
--          gets the fence it was given again, lease untouched);
--          {0, retryAfter} otherwise: ms until the holder's lease ends, or, when the key is kept
--          for (or free but first in line is) another caller, until that caller's place would
--          end, at most 1000 (-1: unknown). The cap keeps places from stacking up: a place lasts
--          the retry delay plus ARGV[5], so waiters told to wait for a dead first waiter's place
--          would otherwise each outlast the one before them by ARGV[5].
local lock = KEYS[1]
local fenceKey = lock .. ':fence'
local token = ARGV[1]

-- The uncontended path first: one SET NX (a first attempt cannot have a place to give up).
if ARGV[6] == '0' and redis.call('SET', lock, token, 'NX', 'PX', ARGV[2]) then
  return {1, nextFence(fenceKey, ARGV[3])}
end

local queue, places = lock .. ':waiters', lock .. ':places'

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local value = redis.call('GET', lock)
if value == token or value == token .. '+' then
  return {1, redis.call('GET', fenceKey) or '0'}
end

-- The first waiter whose place is kept (places that ended are dropped on the way); nil when none.
local now = clock()
local head
if redis.call('EXISTS', queue) == 1 then
  local gone = redis.call('ZRANGEBYSCORE', places, '-inf', now)
  for _, waiter in ipairs(gone) do redis.call('ZREM', queue, waiter) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', places, '-inf', now) end
  head = redis.call('ZRANGE', queue, 0, 0)[1]
end

if value == '~' .. token or (not value and (head == nil or head == token)) then
  local others = 0
  if head then
    redis.call('ZREM', queue, token)
    redis.call('ZREM', places, token)
    others = redis.call('ZCARD', queue)
  end
  -- Waiters remain: the '+' makes this holder's release pass the key on.
  redis.call('SET', lock, others > 0 and (token .. '+') or token, 'PX', ARGV[2])
  return {1, nextFence(fenceKey, ARGV[3])}
end

local pttl = redis.call('PTTL', lock)
local retryAfter = pttl
if not value and head then
  -- Free, but someone else is first: it is about to come (or its place ends).
  retryAfter = math.min(1000, math.max(0, tonumber(redis.call('ZSCORE', places, head)) - now))
elseif value and string.sub(value, 1, 1) == '~' then
  -- Kept for the first waiter, which was told: it comes now, or its place (and this) ends.
  retryAfter = math.min(1000, retryAfter)
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
  -- A holder someone now waits for: its release must pass the key on.
  if value and pttl > 0 and string.sub(value, 1, 1) ~= '~' and string.sub(value, -1) ~= '+' then
    redis.call('SET', lock, value .. '+', 'PX', pttl)
  end
end
return {0, retryAfter}
