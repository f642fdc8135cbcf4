-- Redlock, one node: take the lock if it is free (or already ours) and report this node's
-- fencing floor. Same key layout as @dlock/redis: lock `<prefix>:{<key>}`, counter `<prefix>:{<key>}:fence`.
--
-- KEYS[1]  lock key
-- KEYS[2]  fencing counter key (never expires; only raise.lua writes it)
-- ARGV[1]  owner token (32 hex)
-- ARGV[2]  ttl in ms
--
-- Returns  {1, floor}          taken: floor = max(counter, this node's time in microseconds),
--                              a decimal string; the client takes max(floors) + 1 as the token
--          {0, pttl, holder}   held by someone else: ms left on their lease (-1: no expiry)
--                              and the first 16 characters of their token
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, redis.call('PTTL', KEYS[1]), string.sub(holder, 1, 16)}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
-- The time floor only matters after this node lost its counter (restarted empty): a counter
-- that starts again at the present is still above every token handed out in the past.
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if counter > floor then floor = counter end
return {1, string.format('%.0f', floor)}
