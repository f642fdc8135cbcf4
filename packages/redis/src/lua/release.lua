-- release: owner-checked delete, then wake the key's waiters (in every process) through pub/sub.
-- KEYS[1]  the lock key
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the message to publish: the releasing instance's id (it has already woken its own
--          next waiter, and skips its own message), or '' (every subscriber acts on it)
-- Returns  1 when the lock was held by ARGV[1] and is now deleted (and the release published);
--          0 when it was not (expired, or someone else's): nothing is deleted or published.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
