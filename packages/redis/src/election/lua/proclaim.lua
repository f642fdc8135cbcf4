-- proclaim: owner-checked change of the leader's value; tells observers.
-- KEYS[1]  the leader hash
-- KEYS[2]  the election's counter
-- ARGV[1]  the leader's token
-- ARGV[2]  the new value
-- ARGV[3]  how long the counter is kept, in ms
-- ARGV[4]  the channel changes are published on
-- Returns  1 when ARGV[1] leads and its value is now ARGV[2]; 0 when it does not lead (any more).
-- Publishes "L <version> <term> <pttl ms> <value>".
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'value', ARGV[2])
local n = redis.call('INCR', KEYS[2])
if n == 1 then
  local now = redis.call('TIME')
  n = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], n, 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  n = redis.call('GET', KEYS[2])
end
local term = redis.call('HGET', KEYS[1], 'term')
redis.call('PUBLISH', ARGV[4], 'L ' .. n .. ' ' .. term .. ' ' .. redis.call('PTTL', KEYS[1]) .. ' ' .. ARGV[2])
return 1
