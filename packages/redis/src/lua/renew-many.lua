-- renew-many: the owner-checked lease extension of renew.lua for many locks in one call (a slice
-- of a watchdog tick); each lock is checked and extended on its own, as renew.lua would.
-- KEYS[2i-1]  the i-th lock key
-- KEYS[2i]    the i-th lock's fence counter
-- ARGV[1]     the new lease length in ms shared by every lock (an integer >= 1), or 0 when each
--             lock has its own (below)
-- ARGV[2]     how long every fence counter is kept from now, in ms (the lease plus the fence
--             retention), or 0 when each lock has its own
-- ARGV[2+i]   shared lease: the i-th lock's token
-- ARGV[3i],   own lease: the i-th lock's token, lease length in ms, and fence keep in ms
-- ARGV[3i+1],
-- ARGV[3i+2]
-- Returns     an array with one entry per lock, in order: 1 when the lock is still held by its
--             token (a fair lock someone waits for: the token and '+') and its lease was reset; 0 when it is not held by that token any more (lost);
--             an error entry when Redis refused a command on that lock's keys (e.g. WRONGTYPE).
local n = #KEYS / 2
local shared = ARGV[1] ~= '0'
local results = {}
for i = 1, n do
  local token, ttl, keep
  if shared then
    token, ttl, keep = ARGV[2 + i], ARGV[1], ARGV[2]
  else
    token, ttl, keep = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  end
  local lock = KEYS[2 * i - 1]
  local held = redis.pcall('GET', lock)
  if type(held) == 'table' and held.err then
    results[i] = held
  elseif held == token or held == token .. '+' then
    redis.pcall('PEXPIRE', KEYS[2 * i], keep)
    results[i] = redis.pcall('PEXPIRE', lock, ttl)
  else
    results[i] = 0
  end
end
return results
