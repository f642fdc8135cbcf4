-- release: owner-checked delete, then (optionally) wake the key's waiters in every process through
-- pub/sub. Shared by @dlock/redis and, on each node, @dlock/redlock.
-- Safe to run twice: ioredis re-sends a command whose reply was lost when the connection broke,
-- and the second run must not report a lock that the first run released as lost.
-- KEYS[1]  the lock key
-- KEYS[2]  the release latch of this token: <lock key>:released:<token>
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel, or '' to publish nothing
-- ARGV[3]  the message to publish (@dlock/redis: the releasing instance's id, which has already
--          woken its own next waiter and skips its own message, or '' for every subscriber to act
--          on; @dlock/redlock: the first 16 characters of the token)
-- ARGV[4]  how long the latch is kept, in ms (longer than the caller waits for this reply),
--          or 0 for no latch (a clean-up whose answer nobody reads)
-- Returns  1 when the lock was held by ARGV[1] and is now deleted (and the release published),
--          or when a run of this same release already did that (the latch is still there);
--          0 when it was not (expired, or someone else's): nothing is deleted or published.
-- A holder a fair waiter marked ('<token>+', see fair-acquire.lua: fair and fair: false instances
-- on one key) is released too; the message wakes that waiter.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or holder == ARGV[1] .. '+' then
  redis.call('DEL', KEYS[1])
  if ARGV[4] ~= '0' then
    redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
  end
  if ARGV[2] ~= '' then
    redis.call('PUBLISH', ARGV[2], ARGV[3])
  end
  return 1
end
return redis.call('EXISTS', KEYS[2])
