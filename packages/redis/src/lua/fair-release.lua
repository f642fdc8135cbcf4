-- fair-release: owner-checked delete, then tell every process who is first in line, so that only
-- that waiter tries (see fair-acquire.lua). Safe to run twice, as release.lua (a latch).
-- KEYS[1]  the lock key
-- KEYS[2]  the release latch of this token: <lock key>:released:<token>
-- KEYS[3]  the wait list (sorted set, token -> arrival number)
-- KEYS[4]  the places (sorted set, token -> end of its place, server ms)
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the releasing instance's id: the message is '<id> <first waiter's token>', or '<id>'
--          when nobody waits (its own instance has woken that waiter already, and skips it)
-- ARGV[4]  how long the latch is kept, in ms
-- ARGV[5]  how long the first waiter's place is kept from now at most, in ms: it is told now and
--          comes at once, unless its process died (then the callers behind it wait no longer)
-- Returns  {1, first} when the lock was held by ARGV[1] and is now deleted (or a run of this same
--          release did that): first is the token of the first waiter with a kept place, '' if
--          none; {0, ''} when it was not held by ARGV[1] (nothing is deleted or published).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {redis.call('EXISTS', KEYS[2]), ''}
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
local first = ''
if redis.call('EXISTS', KEYS[3]) == 1 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _, waiter in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do redis.call('ZREM', KEYS[3], waiter) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  first = redis.call('ZRANGE', KEYS[3], 0, 0)[1] or ''
  if first ~= '' and tonumber(redis.call('ZSCORE', KEYS[4], first)) > now + tonumber(ARGV[5]) then
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), first)
  end
end
if first == '' then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
else
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. first)
end
return {1, first}
