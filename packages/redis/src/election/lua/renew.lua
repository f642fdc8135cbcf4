-- renew: owner-checked extension of a leader's lease; also keeps the election's counter alive.
-- KEYS[1]  the leader hash
-- KEYS[2]  the election's counter
-- ARGV[1]  the leader's token
-- ARGV[2]  the new lease length in ms, counted from now
-- ARGV[3]  how long the counter is kept from now, in ms
-- Returns  1 when ARGV[1] still leads and its lease was reset; 0 when it does not: leadership lost.
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
