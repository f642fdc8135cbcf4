-- fence-lib: the fencing-token step every acquire and hand-over script runs after it took a key
-- (prepended to acquire.lua, fair-acquire.lua and fair-release.lua; it reads no KEYS or ARGV).
-- nextFence(fenceKey, keepMs) increments the key's fence counter and keeps it for keepMs more.
-- Returns the new fencing token: an integer below 2^53, or a decimal string above it (where Lua's
-- doubles would round).
local function nextFence(fenceKey, keepMs)
  local fence = redis.call('INCR', fenceKey)
  if fence == 1 then
    -- The counter was missing: first use of the key, a server that came back empty, or no acquire
    -- for longer than the retention. Start it at the server's clock in microseconds: every token
    -- handed out before is at most the clock of its own acquire (a key cannot be acquired twice
    -- in one microsecond), so tokens keep increasing unless the clock stepped back by more than
    -- the retention.
    local now = redis.call('TIME')
    fence = now[1] .. string.format('%06d', tonumber(now[2]))
    redis.call('SET', fenceKey, fence, 'PX', keepMs)
  else
    redis.call('PEXPIRE', fenceKey, keepMs)
    if fence >= 9007199254740992 then fence = redis.call('GET', fenceKey) end
  end
  return fence
end
