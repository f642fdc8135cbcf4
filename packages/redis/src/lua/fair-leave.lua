-- fair-leave: a waiting caller gave up (abort, timeout, close): its place goes. When it was first in
-- line and the lock is free, the next waiter is told, as a release would (see fair-release.lua).
-- KEYS[1]  the lock key
-- KEYS[2]  the wait list (sorted set, token -> arrival number)
-- KEYS[3]  the places (sorted set, token -> end of its place, server ms)
-- ARGV[1]  the waiter's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the leaving instance's id (the message is '<id> <next waiter's token>')
-- ARGV[4]  how long the next waiter's place is kept from now at most, in ms (see fair-release.lua)
-- Returns  the token of the waiter now first in line when the leaving caller was first and the lock
--          is free (it was told); '' otherwise (also when there was no place: granted, or expired).
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return '' end
redis.call('ZREM', KEYS[3], ARGV[1])
if first == ARGV[1] and redis.call('EXISTS', KEYS[1]) == 0 then
  local next = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if next then
    local t = redis.call('TIME')
    local until_ = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4])
    if tonumber(redis.call('ZSCORE', KEYS[3], next)) > until_ then redis.call('ZADD', KEYS[3], until_, next) end
    redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. next)
    return next
  end
end
return ''
