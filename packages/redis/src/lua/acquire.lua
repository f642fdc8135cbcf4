-- acquire: take a lock if it is free and hand out the key's next fencing token, in one round trip.
-- KEYS[1]  the lock key; its value is the holder's token, its PTTL the holder's lease
-- KEYS[2]  the key's fence counter (an integer that never expires)
-- ARGV[1]  the caller's token (128 random bits, hex)
-- ARGV[2]  the lease length in ms (an integer >= 1)
-- Returns  {1, fence} when acquired: fence is the new fencing token, as a decimal string
--          (a string, because Lua numbers are doubles and would round tokens above 2^53);
--          {0, pttl} when someone else holds it: pttl is the ms left on their lease (-1: none).
--          The holder's own token (a request resent after a reconnect) gets {1, fence} again,
--          with the fence it was given and the lease untouched.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('INCR', KEYS[2]) == 1 then
    -- The counter was missing (first use of the key, or a server that came back empty): start
    -- it at the server's clock in microseconds, so tokens keep increasing across an empty restart.
    local now = redis.call('TIME')
    redis.call('SET', KEYS[2], now[1] .. string.format('%06d', tonumber(now[2])))
  end
  return {1, redis.call('GET', KEYS[2])}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, redis.call('GET', KEYS[2]) or '0'}
end
return {0, redis.call('PTTL', KEYS[1])}
