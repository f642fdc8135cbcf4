-- leader: read the election's leader and the counter atomically (read-only).
-- KEYS[1]  the leader hash
-- KEYS[2]  the election's counter
-- ARGV     none
-- Returns  {version} when nobody leads; {version, term, value, pttl, token} otherwise. version is
--          the counter (a decimal string, '0' when missing): every change raises it, except the
--          end of a lease, which only the leader hash's expiry shows.
local version = redis.call('GET', KEYS[2]) or '0'
local leader = redis.call('HMGET', KEYS[1], 'term', 'value', 'token')
if not leader[3] then
  return {version}
end
return {version, leader[1], leader[2], redis.call('PTTL', KEYS[1]), leader[3]}
