-- resign: owner-checked end of a leadership; tells candidates and observers.
-- KEYS[1]  the leader hash
-- KEYS[2]  the election's counter
-- ARGV[1]  the leader's token
-- ARGV[2]  how long the counter is kept, in ms
-- ARGV[3]  the channel changes are published on
-- Returns  1 when ARGV[1] led and no longer does; 0 when it did not lead (any more).
-- Publishes "N <version>": nobody leads.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
local n = redis.call('INCR', KEYS[2])
if n == 1 then
  local now = redis.call('TIME')
  n = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], n, 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  n = redis.call('GET', KEYS[2])
end
redis.call('PUBLISH', ARGV[3], 'N ' .. n)
return 1
