-- acquire: take a lock if it is free (or, with ARGV[4], straight from its current holder) and hand
-- out the key's next fencing token, in one round trip.
-- KEYS[1]  the lock key; its value is the holder's token, its PTTL the holder's lease
-- KEYS[2]  the key's fence counter (an integer; expires ARGV[3] ms after the last acquire or renewal)
-- ARGV[1]  the caller's token (128 random bits, hex)
-- ARGV[2]  the lease length in ms (an integer >= 1)
-- ARGV[3]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[4]  optional, a hand-over: the current holder's token. The lock passes from it to ARGV[1]
--          without a release in between (nothing is published: the key stays taken).
-- Returns  {1, fence} when acquired: fence is the new fencing token (an integer below 2^53, or a
--          decimal string above it, where Lua's doubles would round);
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
  local fence = redis.call('INCR', KEYS[2])
  if fence == 1 then
    -- The counter was missing: first use of the key, a server that came back empty, or no acquire
    -- for longer than the retention. Start it at the server's clock in microseconds: every token
    -- handed out before is at most the clock of its own acquire (a key cannot be acquired twice
    -- in one microsecond), so tokens keep increasing unless the clock stepped back by more than
    -- the retention.
    local now = redis.call('TIME')
    fence = now[1] .. string.format('%06d', tonumber(now[2]))
    redis.call('SET', KEYS[2], fence, 'PX', ARGV[3])
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
    if fence >= 9007199254740992 then
      fence = redis.call('GET', KEYS[2])
    end
  end
  return {1, fence}
end
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == ARGV[1] .. '+' then
  return {1, redis.call('GET', KEYS[2]) or '0'}
end
return {0, redis.call('PTTL', KEYS[1])}
