-- fair-leave: a waiting caller gave up (abort, timeout, close): its place goes (values of the lock
-- key as in fair-acquire.lua). When the key was kept for it, or it was first in line for a free
-- key, the key is kept for the next waiter instead, which is told as a release would tell it (see
-- fair-release.lua); with nobody left, a key kept for it is deleted.
-- KEYS[1]  the lock key
-- KEYS[2]  the wait list (sorted set, token -> arrival number)
-- KEYS[3]  the places (sorted set, token -> end of its place, server ms)
-- ARGV[1]  the waiter's token
-- ARGV[2]  the key's release channel
-- ARGV[3]  the leaving instance's id (the message is '<id> <next waiter's token>')
-- ARGV[4]  how long the next waiter's place (and the key kept for it) lasts from now at most, in ms
-- Returns  the token of the waiter the key is now kept for (it was told); '' otherwise (also when
--          there was no place: granted, or expired).
local lock, queue, places = KEYS[1], KEYS[2], KEYS[3]
local first = redis.call('ZRANGE', queue, 0, 0)[1]
if redis.call('ZREM', queue, ARGV[1]) == 0 then return '' end
redis.call('ZREM', places, ARGV[1])
local value = redis.call('GET', lock)
local kept = value == '~' .. ARGV[1]
if not kept and not (first == ARGV[1] and not value) then return '' end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, waiter in ipairs(redis.call('ZRANGEBYSCORE', places, '-inf', now)) do redis.call('ZREM', queue, waiter) end
redis.call('ZREMRANGEBYSCORE', places, '-inf', now)
local next = redis.call('ZRANGE', queue, 0, 0)[1]
if not next then
  if kept then redis.call('DEL', lock) end
  return ''
end
local ends = math.min(tonumber(redis.call('ZSCORE', places, next)), now + tonumber(ARGV[4]))
redis.call('ZADD', places, ends, next)
redis.call('SET', lock, '~' .. next, 'PX', math.max(1, ends - now))
redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. next)
return next
