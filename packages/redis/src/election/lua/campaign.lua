-- campaign: lead an election if nobody leads, with the election's next term, and tell observers.
-- KEYS[1]  the leader: a hash {token, value, term}; its PTTL is the leader's lease
-- KEYS[2]  the election's counter: terms and change versions (kept ARGV[3] ms after the last use)
-- ARGV[1]  the candidate's token (128 random bits, hex)
-- ARGV[2]  the lease length in ms (an integer >= 1)
-- ARGV[3]  how long the counter is kept, in ms: the lease plus the counter retention
-- ARGV[4]  the candidate's value
-- ARGV[5]  the channel changes are published on
-- Returns  {1, term} when elected (term: a decimal string; the same again for the caller's own
--          token, a request resent after a reconnect); {0, pttl} when someone else leads: the
--          ms left on their lease.
-- Publishes "L <version> <term> <ttl ms> <value>" (version = term) when elected.
local holder = redis.call('HGET', KEYS[1], 'token')
if holder then
  if holder == ARGV[1] then
    return {1, redis.call('HGET', KEYS[1], 'term')}
  end
  return {0, redis.call('PTTL', KEYS[1])}
end
-- The next number of the counter, as a decimal string. A missing counter (first use, a server that
-- came back empty, or unused for longer than the retention) starts at the server's clock in
-- microseconds: above every number handed out before unless the clock stepped back that far.
local n = redis.call('INCR', KEYS[2])
if n == 1 then
  local now = redis.call('TIME')
  n = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], n, 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  n = redis.call('GET', KEYS[2])
end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'value', ARGV[4], 'term', n)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], 'L ' .. n .. ' ' .. n .. ' ' .. ARGV[2] .. ' ' .. ARGV[4])
return {1, n}
