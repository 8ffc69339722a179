-- The broker acknowledged these dispatches: clear their outbox entries. Each attempt gets
-- a deadline in the leases (unless a worker claimed it already): a dispatch no worker
-- claims in claim_ms (lost with the topic's retention, no worker of the class running)
-- expires like a lease and is retried instead of waiting for ever (review M5).
-- KEYS: epoch, outbox, leases
-- ARGV: epoch, claim_ms, member... (a member "E|i|a#MS" has a claim time of its own: its
--       task's queue_timeout)
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local n = 0
local now = math.floor(now_us() / 1000)
for k = 3, #ARGV do
  local m, own = string.match(ARGV[k], '^([^#]+)#(%d+)$')
  m = m or ARGV[k]
  if redis.call('ZREM', KEYS[2], m) == 1 then
    n = n + 1
    redis.call('ZADD', KEYS[3], 'NX', now + tonumber(own or ARGV[2]), m)
  end
end
return {'ok', n, ''}
