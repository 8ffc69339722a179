-- Moves retries whose backoff has elapsed, and cache waiters due to look again (READY
-- nodes parked by cache_reserve), from the delayed set to the outbox.
-- Execution hashes are derived from members ("<exec>|<node>|<attempt>"): this script
-- assumes one Redis (not a cluster).
-- KEYS: epoch, delayed, outbox
-- ARGV: epoch, limit
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local now = now_us()
local ms = math.floor(now / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {'ok', 0, ''}
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[2], m)
  local E, i, a = string.match(m, '^([^|]+)|(%d+)|(%d+)$')
  if E then
    local h = 'floe:{' .. E .. '}'
    local ph = tonumber(redis.call('HGET', h, 'ph') or '0')
    local nd = node_get(h, i)
    if live(h, ph, i) and nd and nd.a == tonumber(a) and (nd.p == RETRYING or nd.p == READY) then
      nd.p = READY
      node_put(h, i, nd)
      redis.call('ZADD', KEYS[3], ms, m)
      out[#out + 1] = m
    end
  end
end
return out
