-- claim-acquire: admit a read-write lock's or a semaphore's claim on a key, or keep the caller's place
-- in the key's FIFO wait list; expired holders and places are purged first (and the waiters that
-- admits are told). Runs after claim-lib.lua (its counts spare reading every holder and waiter).
-- KEYS[1]  holders: sorted set, token -> end of its lease (server time, ms)
-- KEYS[2]  wait list: sorted set, token -> arrival number (FIFO order)
-- KEYS[3]  claims: hash, token -> '<kind> <permits> <limit> <n>': kind x (exclusive), s (shared) or
--          p (permits); n is a holder's fencing token, or the end of a waiter's place (server ms);
--          and the key's running counts (see claim-lib.lua)
-- KEYS[4]  the key's fence counter (shared by every claim of the key, and by the mutex of the key)
-- ARGV[1]  the caller's token;  ARGV[2] the lease in ms (an integer >= 1)
-- ARGV[3]  the claim's kind: x, s or p;  ARGV[4] permits, ARGV[5] limit (0 and 0 unless p)
-- ARGV[6]  1: the caller waits (its place is taken or kept when not admitted); 0: a single attempt,
--          judged as if queued last, which leaves no trace
-- ARGV[7]  how long a place outlives the answer's retry delay, in ms (its caller comes back sooner)
-- ARGV[8]  how long the fence counter is kept, in ms: the lease plus the fence retention
-- ARGV[9]  the key's release channel: when expired holders or places went, ' <token> <token> ...'
--          is published there, naming the waiters the key admits now (nothing when none)
-- Returns  {1, fence}: admitted, with the new fencing token (a decimal string); the caller's own
--          token (a request re-sent after a reconnect) gets the fence it was given again;
--          {0, retryAfter}: not admitted; ms until the first lease ends or, with callers queued
--          before the caller, until the first place may end (-1: none);
--          {2, limit}: the key's holders or waiters use another limit (permits claims only);
--          nothing was taken or queued.
local fenceKey = KEYS[4]
local token, kind, permits, limit = ARGV[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

-- Keeps the key's three structures at least `ms` (they never outlive their last lease or place by
-- much). One that is raised gets half a second more: the callers right behind then need not raise it.
local function keep(ms)
  ms = math.ceil(ms)
  for _, name in ipairs({holders, queue, claims}) do
    local pttl = redis.call('PTTL', name)
    if pttl ~= -2 and pttl < ms then redis.call('PEXPIRE', name, string.format('%d', ms + 500)) end
  end
end

local mine = redis.call('ZSCORE', holders, token)
if mine and tonumber(mine) > now then
  local _, _, _, fence = string.match(redis.call('HGET', claims, token) or '', pattern)
  return {1, fence or '0'}
end

local purged = prepare()
-- The caller's rank in the wait list; nil for a newcomer or a single attempt (judged as queued last).
local heldBy = c.hx + c.hs + c.hp
local waiting = c.wx + c.ws + c.wp
local rank
if waiting > 0 then rank = redis.call('ZRANK', queue, token) or nil end

local function answer()
  if kind == 'p' and c.hp + c.wp > 0 and c.lim ~= limit then return {2, string.format('%d', c.lim)} end
  -- Whether the claim fits with every holder and every waiter before the caller; `ahead`: someone
  -- waits before it (a place that may end makes it worth looking again).
  local ok
  local ahead = rank ~= 0 and waiting > 0
  if rank == nil then
    ok = fits(kind, permits, limit, heldBy + waiting, c.hs + c.ws, c.hp + c.wp, c.hu + c.wu)
  elseif rank == 0 then
    ok = fits(kind, permits, limit, heldBy, c.hs, c.hp, c.hu)
  elseif kind == 'x' or (kind == 's' and c.hx + c.hp > 0) or (kind == 'p' and (c.hx + c.hs > 0 or c.hu + rank + permits > limit)) then
    ok = false -- every waiter before takes at least one permit
  elseif (kind == 's' and c.wx + c.wp == 0) or (kind == 'p' and c.wx + c.ws == 0 and c.wu == c.wp) then
    ok = true -- every waiter before is a reader, or takes one permit (and those fit)
  else
    local n, ns, np, used = heldBy, c.hs, c.hp, c.hu
    walk(queue, 0, function(waiter, k, p)
      if waiter == token then return false end
      n = n + 1
      if k == 's' then ns = ns + 1 elseif k == 'p' then np = np + 1; used = used + p end
    end)
    ok = fits(kind, permits, limit, n, ns, np, used)
  end

  if ok then
    if rank ~= nil then
      redis.call('ZREM', queue, token)
      count('w', kind, permits, -1)
    end
    local n = redis.call('INCR', fenceKey)
    local fence
    if n == 1 then
      -- A missing counter starts at the server's clock in microseconds (above every earlier token;
      -- see acquire.lua of the mutex, which shares this counter).
      fence = clock[1] .. string.format('%06d', tonumber(clock[2]))
      redis.call('SET', fenceKey, fence, 'PX', ARGV[8])
    else
      redis.call('PEXPIRE', fenceKey, ARGV[8])
      if n >= 9007199254740992 then fence = redis.call('GET', fenceKey) else fence = string.format('%d', n) end
    end
    redis.call('ZADD', holders, string.format('%.3f', now + tonumber(ARGV[2])), token)
    redis.call('HSET', claims, token, kind .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. fence)
    count('h', kind, permits, 1)
    if kind == 'p' then c.lim = limit end
    keep(tonumber(ARGV[2]))
    return {1, fence}
  end

  local soonest
  if heldBy > 0 then soonest = tonumber(redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')[2]) end
  if ahead and c.purge > 0 and (soonest == nil or c.purge < soonest) then soonest = c.purge end
  local retryAfter = -1
  if soonest ~= nil then retryAfter = math.max(0, math.ceil(soonest - now)) end
  if ARGV[6] == '1' then
    local ends = now + math.max(retryAfter, 0) + tonumber(ARGV[7])
    if rank == nil then
      local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
      local arrival = 1
      if last[2] then arrival = tonumber(last[2]) + 1 end
      redis.call('ZADD', queue, arrival, token)
      count('w', kind, permits, 1)
      if kind == 'p' then c.lim = limit end
    end
    redis.call('HSET', claims, token, kind .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. string.format('%.3f', ends))
    if c.purge == 0 or ends < c.purge then
      c.purge = ends
      changed = true
    end
    keep(ends - now)
  end
  return {0, retryAfter}
end

local reply = answer()
save()
if purged then tell(ARGV[9], '', admissible()) end
return reply
