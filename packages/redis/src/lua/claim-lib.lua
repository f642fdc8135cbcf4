-- claim-lib: what claim-acquire, claim-release and claim-leave share; it is prepended to each of them
-- when they are loaded (see claims/scripts.ts). It keeps running counts of a key's claims in the
-- claims hash, so that a script judges a claim without reading every holder and waiter, purges
-- expired holders and places, and finds the waiters the key admits now (the head of the wait list).
-- KEYS[1]  holders, KEYS[2] wait list, KEYS[3] claims (every claim script opens with these three;
--          see claim-acquire.lua). The claims hash also keeps the field '#counts' (no token starts
--          with '#'): 'hx hs hp hu wx ws wp wu lim purge': holders by kind (exclusive, shared,
--          permits) and the permits they use, the same of the waiters, the limit of the key's
--          permits claims, and a time before which no place ends (0: nobody waits)
-- ARGV     none of its own (the script's)
-- Returns  nothing: defines holders, queue, claims, now, pattern and the functions below
local holders, queue, claims = KEYS[1], KEYS[2], KEYS[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local pattern = '^(%a) (%d+) (%d+) (%S+)$'

-- The counts (see the header); `changed` once they differ from the stored ones.
local c
local changed = false

local function zero()
  return {hx = 0, hs = 0, hp = 0, hu = 0, wx = 0, ws = 0, wp = 0, wu = 0, lim = 0, purge = 0}
end

-- A claim counted in (sign 1) or out (-1) on side 'h' (holders) or 'w' (waiters).
local function count(side, kind, permits, sign)
  c[side .. kind] = c[side .. kind] + sign
  if kind == 'p' then c[side .. 'u'] = c[side .. 'u'] + sign * permits end
  changed = true
end

-- Walks `key` (a sorted set of tokens) from rank `from` in order, reading the stored claims in
-- batches; `visit(token, kind, permits, limit, n)` returns false to stop.
local function walk(key, from, visit)
  local size = 4
  while true do
    local batch = redis.call('ZRANGE', key, from, from + size - 1)
    if #batch == 0 then return end
    local stored = redis.call('HMGET', claims, unpack(batch))
    for i, token in ipairs(batch) do
      local k, p, l, n = string.match(stored[i] or '', pattern)
      if visit(token, k, tonumber(p), tonumber(l), tonumber(n)) == false then return end
    end
    if #batch < size then return end
    from = from + size
    size = math.min(size * 4, 512)
  end
end

-- Drops holder `token` (its lease ended, or it released) with its claim and counts.
local function dropHolder(token)
  local k, p = string.match(redis.call('HGET', claims, token) or '', pattern)
  redis.call('ZREM', holders, token)
  redis.call('HDEL', claims, token)
  count('h', k or 'x', tonumber(p) or 0, -1)
end

-- Counts everything again, dropping expired holders and places (and places without a claim).
-- Returns whether anything was dropped.
local function recount()
  c = zero()
  changed = true
  local dropped = false
  local gone = redis.call('ZRANGEBYSCORE', holders, '-inf', string.format('%.3f', now))
  for _, token in ipairs(gone) do
    redis.call('ZREM', holders, token)
    redis.call('HDEL', claims, token)
    dropped = true
  end
  walk(holders, 0, function(_, k, p, l)
    -- A holder without a claim cannot be told apart: it excludes everyone, as an exclusive one.
    count('h', k or 'x', p or 0, 1)
    if k == 'p' and c.lim == 0 then c.lim = l end
  end)
  local expired = {}
  walk(queue, 0, function(token, k, p, l, ends)
    if k == nil or ends <= now then
      expired[#expired + 1] = token
    else
      count('w', k, p, 1)
      if k == 'p' and c.lim == 0 then c.lim = l end
      if c.purge == 0 or ends < c.purge then c.purge = ends end
    end
  end)
  for _, token in ipairs(expired) do
    redis.call('ZREM', queue, token)
    redis.call('HDEL', claims, token)
    dropped = true
  end
  return dropped
end

-- Loads the counts, dropping expired holders; when a place may have ended (or the counts are
-- missing), counts everything again. Returns whether a holder or a place was dropped.
local function prepare()
  local stored = redis.call('HGET', claims, '#counts')
  if stored == nil or stored == false then
    if redis.call('EXISTS', holders, queue) == 0 then
      c = zero()
      return false
    end
    return recount()
  end
  local hx, hs, hp, hu, wx, ws, wp, wu, lim, purge = string.match(stored, '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%S+)$')
  if hx == nil then return recount() end
  c = {
    hx = tonumber(hx), hs = tonumber(hs), hp = tonumber(hp), hu = tonumber(hu),
    wx = tonumber(wx), ws = tonumber(ws), wp = tonumber(wp), wu = tonumber(wu),
    lim = tonumber(lim), purge = tonumber(purge),
  }
  if c.purge > 0 and c.purge <= now then return recount() end
  local dropped = false
  for _, token in ipairs(redis.call('ZRANGEBYSCORE', holders, '-inf', string.format('%.3f', now))) do
    dropHolder(token)
    dropped = true
  end
  return dropped
end

-- Stores the counts when they changed (and removes them once the key has no claims).
local function save()
  if not changed then return end
  if c.wx + c.ws + c.wp == 0 then c.purge = 0 end
  if c.hx + c.hs + c.hp + c.wx + c.ws + c.wp == 0 then
    redis.call('HDEL', claims, '#counts')
  else
    redis.call('HSET', claims, '#counts', string.format('%d %d %d %d %d %d %d %d %d %.3f', c.hx, c.hs, c.hp, c.hu, c.wx, c.ws, c.wp, c.wu, c.lim, c.purge))
  end
end

-- Whether a claim fits with `n` claims of which `ns` shared and `np` permits using `used`:
-- exclusive alone, shared with shared only, permits with permits within the limit.
local function fits(kind, permits, limit, n, ns, np, used)
  if kind == 'x' then return n == 0 end
  if kind == 's' then return ns == n end
  return np == n and used + permits <= limit
end

-- The waiters the key admits now, in queue order: each fits with the holders and every waiter
-- before it (consecutive readers, permits while they fit, or one writer). Call after prepare().
local function admissible()
  local n, ns, np, used = c.hx + c.hs + c.hp, c.hs, c.hp, c.hu
  local group = {}
  if c.wx + c.ws + c.wp == 0 or c.hx > 0 then return group end
  walk(queue, 0, function(token, k, p, l)
    if k == nil or not fits(k, p, l, n, ns, np, used) then return false end
    group[#group + 1] = token
    n = n + 1
    if k == 's' then ns = ns + 1 elseif k == 'p' then np = np + 1; used = used + p end
  end)
  return group
end

-- Publishes '<id> <token> <token> ...' on `channel` when `group` (from admissible()) is not empty.
local function tell(channel, id, group)
  if channel ~= '' and #group > 0 then redis.call('PUBLISH', channel, id .. ' ' .. table.concat(group, ' ')) end
end
