-- fair-release: owner-checked delete, then tell every process who is first in line, so that only
-- that waiter tries (see fair-acquire.lua); or, when the caller names a waiter of its own that is
-- first in line, hand the lock straight to it. Safe to run twice, as release.lua (a latch).
-- KEYS[1]  the lock key
-- KEYS[2]  the release latch of this token: <lock key>:released:<token>
-- KEYS[3]  the wait list (sorted set, token -> arrival number)
-- KEYS[4]  the places (sorted set, token -> end of its place, server ms)
-- KEYS[5]  the key's fence counter (as in acquire.lua)
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the releasing instance's id: the message is '<id> <first waiter's token>', or '<id>'
--          when nobody waits (its own instance has woken that waiter already, and skips it)
-- ARGV[4]  how long the latch is kept, in ms
-- ARGV[5]  how long the first waiter's place is kept from now at most, in ms: it is told now and
--          comes at once, unless its process died (then the callers behind it wait no longer)
-- ARGV[6]  optional, a hand-over: the token of a waiter of the caller's instance, taken only if it
--          is first in line; ARGV[7] its lease in ms, ARGV[8] how long the fence counter is kept
-- Returns  {2, fence} when handed over to ARGV[6] (its new fencing token; nothing is published);
--          {1, first} when released (or a run of this same release did that): first is the token
--          of the first waiter with a kept place, '' if none;
--          {0, ''} when the lock was not held by ARGV[1] (nothing changes).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {redis.call('EXISTS', KEYS[2]), ''}
end
local first = ''
local now
if redis.call('EXISTS', KEYS[3]) == 1 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _, waiter in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do redis.call('ZREM', KEYS[3], waiter) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  first = redis.call('ZRANGE', KEYS[3], 0, 0)[1] or ''
end
if ARGV[6] and first == ARGV[6] then
  redis.call('SET', KEYS[1], ARGV[6], 'PX', ARGV[7])
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('ZREM', KEYS[4], ARGV[6])
  local fence = redis.call('INCR', KEYS[5])
  if fence == 1 then
    -- A missing counter starts at the server's clock in microseconds (see acquire.lua).
    local t = redis.call('TIME')
    fence = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', KEYS[5], fence, 'PX', ARGV[8])
  else
    redis.call('PEXPIRE', KEYS[5], ARGV[8])
    if fence >= 9007199254740992 then fence = redis.call('GET', KEYS[5]) end
  end
  return {2, fence}
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
if first ~= '' and tonumber(redis.call('ZSCORE', KEYS[4], first)) > now + tonumber(ARGV[5]) then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), first)
end
if first == '' then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
else
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. first)
end
return {1, first}
