-- fair-release: owner-checked release of a fair lock (values as in fair-acquire.lua). A holder
-- nobody waited for ('<token>') is deleted, as release.lua does: every fair waiter of every process
-- marks the holder it waits for ('<token>+'). A marked holder passes the key on: to a waiter of the
-- caller's own instance when the caller names it and it is first in line (a hand-over, new fence);
-- otherwise it keeps the key for the first waiter ('~<first>', until that waiter's place ends) and
-- publishes its token, so that only that waiter tries. Safe to run twice, as release.lua (a latch).
-- KEYS[1]  the lock key. The others are named after it, under its hash tag: <lock>:released (the
--          release channel), <lock>:released:<token> (this token's release latch), <lock>:fence,
--          <lock>:waiters and <lock>:places (see fair-acquire.lua)
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the releasing instance's id: the message is '<id> <first waiter's token>', or '<id>'
--          when nobody waits (its own instance has woken that waiter already, and skips it)
-- ARGV[3]  how long the latch is kept, in ms
-- ARGV[4]  how long the first waiter's place (and the key kept for it) lasts from now at most, in
--          ms: it is told now and comes at once, unless its process died (then the callers behind
--          it wait no longer)
-- ARGV[5]  optional, a hand-over: the token of a waiter of the caller's instance, taken only if it
--          is first in line; ARGV[6] its lease in ms, ARGV[7] how long the fence counter is kept
-- ARGV[8]  optional, '1': the hand-over continues the caller's instance's turn (its waiters queued
--          before the turn began take the key before the line goes on): ARGV[5] takes it wherever
--          it stands, and its place, if it has one, goes
-- Returns  {2, fence} when handed over to ARGV[5] (its new fencing token; nothing is published);
--          {1, first} when released (or a run of this same release did that): first is the token
--          of the first waiter with a kept place, '' if none;
--          {0, ''} when the lock was not held by ARGV[1] (nothing changes).
local lock, token = KEYS[1], ARGV[1]
local channel = lock .. ':released'
local latch = channel .. ':' .. token
local value = redis.call('GET', lock)
local turn = ARGV[8] == '1'
if value == token and not turn then
  -- Nobody waited for this holder: the uncontended path, as release.lua (the message wakes
  -- waiters that do not take places: fair: false instances on the same key).
  redis.call('DEL', lock)
  redis.call('SET', latch, '1', 'PX', ARGV[3])
  redis.call('PUBLISH', channel, ARGV[2])
  return {1, ''}
end
if value ~= token .. '+' and not (turn and value == token) then
  return {redis.call('EXISTS', latch), ''}
end
local queue, places, fenceKey = lock .. ':waiters', lock .. ':places', lock .. ':fence'

-- The key passes to ARGV[5], with a new fence; the '+' stays while others wait.
local function handOver()
  local to = ARGV[5]
  redis.call('ZREM', queue, to)
  redis.call('ZREM', places, to)
  local mark = redis.call('ZCARD', queue) > 0 and '+' or ''
  redis.call('SET', lock, to .. mark, 'PX', ARGV[6])
  return {2, nextFence(fenceKey, ARGV[7])}
end

if turn then return handOver() end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, waiter in ipairs(redis.call('ZRANGEBYSCORE', places, '-inf', now)) do redis.call('ZREM', queue, waiter) end
redis.call('ZREMRANGEBYSCORE', places, '-inf', now)
local first = redis.call('ZRANGE', queue, 0, 0)[1] or ''

if ARGV[5] and first == ARGV[5] then return handOver() end

redis.call('SET', latch, '1', 'PX', ARGV[3])
if first == '' then
  redis.call('DEL', lock)
  redis.call('PUBLISH', channel, ARGV[2])
  return {1, ''}
end
-- Keep the key for the first waiter until its (shortened) place ends.
local ends = math.min(tonumber(redis.call('ZSCORE', places, first)), now + tonumber(ARGV[4]))
redis.call('ZADD', places, ends, first)
redis.call('SET', lock, '~' .. first, 'PX', math.max(1, ends - now))
redis.call('PUBLISH', channel, ARGV[2] .. ' ' .. first)
return {1, first}
