-- claim-release: owner-checked release of one holder of a read-write lock or semaphore key; the waiters
-- the key admits then are named on the key's channel. Safe to run twice (a copy re-sent after a
-- reconnect): the release latch the first run leaves makes the second report the release, not a
-- loss. Runs after claim-lib.lua.
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set, token -> arrival number
-- KEYS[3]  claims: hash, token -> claim, and the key's counts (see claim-acquire.lua, claim-lib.lua)
-- KEYS[4]  the release latch of this token: <channel>:<token>
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel, or '' to publish nothing
-- ARGV[3]  the releasing instance's id (it wakes its own waiters from the reply), or '': the message
--          is '<id> <token> <token> ...', naming every waiter the key admits now (nothing is
--          published when it admits nobody)
-- ARGV[4]  how long the latch is kept, in ms (0: no latch)
-- Returns  {1, token, token, ...} when ARGV[1] held the key and now does not: the waiters the key
--          admits now (named in the message); {2} when a run of this release did that already
--          (the latch is still there); {0} when it did not hold it (expired, or never).
local token = ARGV[1]
local ends = redis.call('ZSCORE', holders, token)
if ends and tonumber(ends) > now then
  prepare()
  dropHolder(token)
  save()
  if ARGV[4] ~= '0' then redis.call('SET', KEYS[4], '1', 'PX', ARGV[4]) end
  local group = admissible()
  tell(ARGV[2], ARGV[3], group)
  return {1, unpack(group)}
end
if ends then
  -- Expired but not purged yet: it goes now (prepare drops it), and the waiters that admits are told.
  prepare()
  save()
  tell(ARGV[2], '', admissible())
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {2} end
return {0}
