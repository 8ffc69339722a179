-- The broker acknowledged these dispatches: clear their outbox entries.
-- KEYS: epoch, outbox
-- ARGV: epoch, member...
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local n = 0
for k = 2, #ARGV do n = n + redis.call('ZREM', KEYS[2], ARGV[k]) end
return {'ok', n, ''}
