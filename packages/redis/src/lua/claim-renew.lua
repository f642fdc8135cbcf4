-- claim-renew: owner-checked lease extension of one holder of a read-write lock or semaphore key;
-- also keeps the key's fence counter alive.
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set (its expiry is kept with the holders')
-- KEYS[3]  claims: hash, token -> claim (see claim-acquire.lua)
-- KEYS[4]  the key's fence counter
-- ARGV[1]  the holder's token
-- ARGV[2]  the new lease in ms, counted from now (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept from now, in ms: the lease plus the fence retention
-- Returns  1 when ARGV[1] still holds the key (its lease now ends ARGV[2] ms from now);
--          0 when it does not (its lease ended, or it was released): the claim is lost.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not ends or tonumber(ends) <= now then return 0 end
redis.call('ZADD', KEYS[1], 'XX', string.format('%.3f', now + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
for i = 1, 3 do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl ~= -2 and pttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
