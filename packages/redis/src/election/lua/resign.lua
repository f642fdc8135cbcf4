-- resign: owner-checked end of a leadership; tells candidates and observers.
-- Safe to run twice: ioredis re-sends a command whose reply was lost when the connection broke,
-- and the second run must not report a leadership that the first run ended as lost.
-- KEYS[1]  the leader hash
-- KEYS[2]  the election's counter
-- KEYS[3]  the resign latch of this token: <leader hash>:resigned:<token>
-- ARGV[1]  the leader's token
-- ARGV[2]  how long the counter is kept, in ms
-- ARGV[3]  the channel changes are published on
-- ARGV[4]  how long the latch is kept, in ms (longer than the caller waits for this reply), or 0
--          for no latch (a clean-up whose answer nobody reads)
-- Returns  1 when ARGV[1] led and no longer does, or when a run of this same resign already did
--          that (the latch is still there); 0 when it did not lead (any more): nothing changes.
-- Publishes "N <version>": nobody leads.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return redis.call('EXISTS', KEYS[3])
end
redis.call('DEL', KEYS[1])
if ARGV[4] ~= '0' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
end
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
