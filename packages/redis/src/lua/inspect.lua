-- inspect: read the current holder, lease and fencing token atomically (read-only).
-- KEYS[1]  the lock key
-- KEYS[2]  the key's fence counter
-- ARGV     none
-- Returns  nil when the key is free (also when a fair lock keeps it for its first waiter: '~<token>');
--          otherwise {token, pttl, fence}: the holder's full token (without a fair lock's '+' mark),
--          the ms left on its lease (-1: no expiry) and the fence counter as a decimal string
--          (the holder's fencing token: only a successful acquire increments it).
local token = redis.call('GET', KEYS[1])
if not token or string.sub(token, 1, 1) == '~' then
  return nil
end
if string.sub(token, -1) == '+' then
  token = string.sub(token, 1, -2)
end
return {token, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}
