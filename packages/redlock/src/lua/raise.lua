-- Redlock, one node, second round of a fenced acquire: while we still hold the lock here,
-- raise this node's fencing counter to the token chosen from the quorum's floors, so that any
-- later acquisition whose quorum includes this node gets a larger token.
--
-- KEYS[1]  lock key
-- KEYS[2]  fencing counter key
-- ARGV[1]  owner token
-- ARGV[2]  fencing token (decimal, < 2^53)
--
-- Returns  1  still ours; the counter is now >= ARGV[2]
--          0  not ours any more (expired or taken); nothing written
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > counter then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
