-- The result for a cache key is in the catalog: the reservation becomes "=done" for a
-- moment (a miss racing the recording looks again instead of running), and waiters move
-- from the delayed set to the outbox now. Answers the members moved.
-- KEYS: epoch, reservation, waiters, outbox, delayed
-- ARGV: epoch, done_ms
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
redis.call('SET', KEYS[2], '=done', 'PX', tonumber(ARGV[2]))
local ms = math.floor(now_us() / 1000)
local out = {'ok', 0, ''}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('ZREM', KEYS[5], m) == 1 then
    redis.call('ZADD', KEYS[4], ms, m)
    out[#out + 1] = m
  end
end
redis.call('DEL', KEYS[3])
return out
