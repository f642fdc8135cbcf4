-- claim-leave: a waiting caller gave up (abort, timeout, close): its place in the key's wait list goes,
-- and the waiters the key admits then are named on the key's channel. Runs after claim-lib.lua.
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set, token -> arrival number
-- KEYS[3]  claims: hash, token -> claim, and the key's counts (see claim-acquire.lua, claim-lib.lua)
-- ARGV[1]  the waiter's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the leaving instance's id (it wakes its own waiters from the reply): the message is
--          '<id> <token> <token> ...', naming every waiter the key admits now (nothing is published
--          when it admits nobody)
-- Returns  {1, token, token, ...} when the place was there and is gone: the waiters the key admits
--          now (named in the message); {0} when there was none (admitted, or expired).
local token = ARGV[1]
if not redis.call('ZSCORE', queue, token) then return {0} end
local purged = prepare()
local k, p = string.match(redis.call('HGET', claims, token) or '', pattern)
if redis.call('ZREM', queue, token) == 0 then
  -- Its place had ended: prepare() dropped it; the waiters that admits are told.
  save()
  if purged then tell(ARGV[2], '', admissible()) end
  return {0}
end
redis.call('HDEL', claims, token)
count('w', k or 'x', tonumber(p) or 0, -1)
save()
local group = admissible()
tell(ARGV[2], ARGV[3], group)
return {1, unpack(group)}
