-- What one node knows about a lock.
--
-- KEYS[1]  lock key
-- KEYS[2]  fencing counter key
-- ARGV     none
--
-- Returns  {}                        free on this node
--          {holder, pttl, counter}   holder = first 16 characters of the token, pttl in ms,
--                                    counter = this node's fencing counter ('0' if none)
local holder = redis.call('GET', KEYS[1])
if not holder then return {} end
return {string.sub(holder, 1, 16), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}
