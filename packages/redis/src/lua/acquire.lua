-- acquire: take a lock if it is free (or, with ARGV[4], straight from its current holder) and hand
-- out the key's next fencing token, in one round trip.
-- KEYS[1]  the lock key; its value is the holder's token, its PTTL the holder's lease
-- KEYS[2]  the key's fence counter (an integer; expires ARGV[3] ms after the last acquire or renewal)
-- ARGV[1]  the caller's token (128 random bits, hex)
-- ARGV[2]  the lease length in ms (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[4]  optional, a hand-over: the current holder's token. The lock passes from it to ARGV[1]
--          without a release in between (nothing is published: the key stays taken).
-- Returns  {1, fence} when acquired: fence is the new fencing token (see fence-lib.lua, which runs
--          first);
--          {0, pttl} when someone else holds it (with ARGV[4]: someone other than ARGV[4]): pttl is
--          the ms left on their lease (-1: none, -2: free).
--          The caller's own token (a request resent after a reconnect) gets {1, fence} again,
--          with the fence it was given and the lease untouched.
local taken
if ARGV[4] then
  local holder = redis.call('GET', KEYS[1])
  -- (a holder a fair waiter marked, '<token>+', see fair-acquire.lua, passes too)
  taken = holder == ARGV[4] or holder == ARGV[4] .. '+'
  if taken then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
else
  taken = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if taken then
  return {1, nextFence(KEYS[2], ARGV[3])}
end
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == ARGV[1] .. '+' then
  return {1, redis.call('GET', KEYS[2]) or '0'}
end
return {0, redis.call('PTTL', KEYS[1])}
