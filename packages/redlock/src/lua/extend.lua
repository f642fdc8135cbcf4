-- Owner-checked lease extension on one node (same as @dlock/redis's renew).
--
-- KEYS[1]  lock key
-- ARGV[1]  owner token
-- ARGV[2]  new ttl in ms
--
-- Returns  1  still ours; expires ARGV[2] ms from now
--          0  not ours (expired or taken); nothing changed
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
