-- claim-inspect: every live holder of a read-write lock or semaphore key, and how many callers wait
-- (read-only: expired holders and places are skipped, not purged).
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set, token -> arrival number
-- KEYS[3]  claims: hash, token -> '<kind> <permits> <limit> <n>' (see claim-acquire.lua)
-- ARGV     none
-- Returns  {waiting, token1, claim1, pttl1, token2, claim2, pttl2, ...}: the number of live places,
--          then per live holder (earliest lease end first) its full token, its claim as stored (n:
--          its fencing token) and the ms left on its lease.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local reply = {0}
local held = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.3f', now), '+inf', 'WITHSCORES')
for i = 1, #held, 2 do
  reply[#reply + 1] = held[i]
  reply[#reply + 1] = redis.call('HGET', KEYS[3], held[i]) or ''
  reply[#reply + 1] = math.ceil(tonumber(held[i + 1]) - now)
end
for _, waiter in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local ends = string.match(redis.call('HGET', KEYS[3], waiter) or '', ' (%S+)$')
  if ends and tonumber(ends) > now then reply[1] = reply[1] + 1 end
end
return reply
