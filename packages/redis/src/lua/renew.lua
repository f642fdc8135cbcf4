-- renew: owner-checked lease extension; also keeps the key's fence counter alive.
-- KEYS[1]  the lock key
-- KEYS[2]  the key's fence counter
-- ARGV[1]  the holder's token
-- ARGV[2]  the new lease length in ms, counted from now (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept from now, in ms: the lease plus the fence retention
-- Returns  1 when the lock is still held by ARGV[1] (its value is the token, or, on a fair lock
--          someone waits for, the token and '+') and its lease was reset to ARGV[2] ms;
--          0 when it is not held by ARGV[1] any more: the lock is lost.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or holder == ARGV[1] .. '+' then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
