-- transfer: hand a held lock straight to another token of the same instance (a local waiter),
-- with a new fencing token, without a release in between (no other process is woken).
-- KEYS[1]  the lock key
-- KEYS[2]  the key's fence counter
-- ARGV[1]  the current holder's token
-- ARGV[2]  the new holder's token
-- ARGV[3]  the new lease length in ms (an integer >= 1)
-- ARGV[4]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- Returns  {1, fence} when ARGV[1] held the lock and ARGV[2] now does: fence as in acquire.lua;
--          {0, pttl} when ARGV[1] did not hold it (expired, or someone else's): nothing changed.
--          ARGV[2] already holding it (a resend after a reconnect) gets {1, fence} again.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[2] then
  return {1, redis.call('GET', KEYS[2]) or '0'}
end
if holder ~= ARGV[1] then
  return {0, redis.call('PTTL', KEYS[1])}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local fence = redis.call('INCR', KEYS[2])
if fence == 1 then
  -- The counter is missing although the key was held (a counter deleted by hand): start it
  -- at the server's clock in microseconds, as acquire.lua does.
  local now = redis.call('TIME')
  fence = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], fence, 'PX', ARGV[4])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  if fence >= 9007199254740992 then
    fence = redis.call('GET', KEYS[2])
  end
end
return {1, fence}
