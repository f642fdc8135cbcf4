-- renew: owner-checked lease extension.
-- KEYS[1]  the lock key
-- ARGV[1]  the holder's token
-- ARGV[2]  the new lease length in ms, counted from now (an integer >= 1)
-- Returns  1 when the lock is still held by ARGV[1] and its lease was reset to ARGV[2] ms;
--          0 when it is not held by ARGV[1] any more: the lock is lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
