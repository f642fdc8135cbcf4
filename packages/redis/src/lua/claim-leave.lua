-- claim-leave: a waiting caller gave up (abort, timeout, close): its place in the key's wait list goes,
-- and the departure is published (the callers behind it may fit now).
-- KEYS[1]  wait list: sorted set, token -> arrival number
-- KEYS[2]  claims: hash, token -> claim (see claim-acquire.lua)
-- ARGV[1]  the waiter's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the message (the leaving instance's id, which woke its own waiters already)
-- Returns  1 when the place was there and is gone; 0 when there was none (admitted, or expired).
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
