-- Owner-checked release on one node, safe to run twice (ioredis re-sends a command whose reply
-- a broken connection lost, and the first run may have deleted the key already).
--
-- KEYS[1]  lock key
-- KEYS[2]  release latch `<lock key>:released:<owner token>` (same hash tag as the lock)
-- ARGV[1]  owner token
-- ARGV[2]  channel to announce the release on (`<prefix>:{<key>}:released`), or '' for none
-- ARGV[3]  latch lifetime in ms (twice the longest the caller waits for this reply), or 0 for no latch
--
-- Returns  1  it was ours and is deleted now (latched for ARGV[3] ms, and announced with the
--             token's first 16 characters); or it is gone and the latch says an earlier run of
--             this release deleted it (a re-sent copy: nothing is done again)
--          0  not ours (expired, or someone else's) and no latch: nothing deleted
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[3] ~= '0' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], string.sub(ARGV[1], 1, 16)) end
  return 1
end
return redis.call('EXISTS', KEYS[2])
