-- claim-release: owner-checked release of one holder of a read-write lock or semaphore key, published
-- on the key's channel. Safe to run twice (a copy re-sent after a reconnect): the release latch the
-- first run leaves makes the second report the release, not a loss.
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  claims: hash, token -> claim (see claim-acquire.lua)
-- KEYS[3]  the release latch of this token: <channel>:<token>
-- ARGV[1]  the releasing holder's token
-- ARGV[2]  the key's release channel, or '' to publish nothing
-- ARGV[3]  the message (the releasing instance's id, which woke its own waiters already, or '')
-- ARGV[4]  how long the latch is kept, in ms (0: no latch)
-- Returns  1 when ARGV[1] held the key and now does not (or a run of this release did that: the
--          latch is still there); 0 when it did not hold it (expired, or never).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ends then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  if tonumber(ends) > now then
    if ARGV[4] ~= '0' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[4]) end
    if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
    return 1
  end
  -- Expired but not purged yet: gone now; everyone may re-check.
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], '') end
end
return redis.call('EXISTS', KEYS[3])
