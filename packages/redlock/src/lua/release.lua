-- Owner-checked release on one node (same as @dlock/redis's release).
--
-- KEYS[1]  lock key
-- ARGV[1]  owner token
-- ARGV[2]  channel to announce the release on (`<prefix>:{<key>}:released`), or '' for none
--
-- Returns  1  it was ours and is deleted (and announced with the token's first 16 characters)
--          0  not ours (gone or someone else's); nothing deleted
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], string.sub(ARGV[1], 1, 16)) end
return 1
