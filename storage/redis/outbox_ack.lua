-- The broker acknowledged these dispatches: clear their outbox entries. Each attempt gets
-- a deadline in the leases (unless a worker claimed it already): a dispatch no worker
-- claims in claim_ms (lost with the topic's retention, no worker of the class running)
-- expires like a lease and is retried instead of waiting for ever (review M5).
-- KEYS: epoch, outbox, leases
-- ARGV: epoch, claim_ms, member... (a member "E|i|a#MS" has a claim time of its own: its
--       task's queue_timeout)
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local now = math.floor(now_us() / 1000)
local members, due, seen = {}, {}, {}
for k = 3, #ARGV do
  local m, own = string.match(ARGV[k], '^([^#]+)#(%d+)$')
  m = m or ARGV[k]
  if not seen[m] then
    seen[m] = true
    members[#members + 1] = m
    due[#due + 1] = now + tonumber(own or ARGV[2])
  end
end
-- Which are still in the outbox, then those removed and given deadlines: three calls a
-- chunk where it was two a dispatch.
local n = 0
for s = 1, #members, CHUNK do
  local e = math.min(s + CHUNK - 1, #members)
  local sc = redis.call('ZMSCORE', KEYS[2], unpack(members, s, e))
  local gone, add = {}, {}
  for k = s, e do
    if sc[k - s + 1] then
      gone[#gone + 1] = members[k]
      add[#add + 1] = due[k]
      add[#add + 1] = members[k]
    end
  end
  if #gone > 0 then
    redis.call('ZREM', KEYS[2], unpack(gone))
    redis.call('ZADD', KEYS[3], 'NX', unpack(add))
    n = n + #gone
  end
end
return {'ok', n, ''}
