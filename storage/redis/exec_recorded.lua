-- The executions' terminal states are in PostgreSQL: keep their Redis state for the
-- retention period only. The executions recorded in one loop pass (one finish statement
-- records ~14) come in one call (store_redis_script_group; issue 25: it was a call each).
-- KEYS: epoch, finalize, deadlines, then for each execution: exec, log
-- ARGV: epoch, retention_ms, then each execution's id (in the order of its keys)
-- Answers one {status, 0, note} for each execution, in order.
local n = #ARGV - 2
local res = {}
local stale = fence(KEYS[1], ARGV[1])
for j = 1, n do
  res[j] = stale and {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} or {'ok', 0, ''}
end
if stale then return res end
for s = 3, #ARGV, CHUNK do
  local e = math.min(s + CHUNK - 1, #ARGV)
  redis.call('SREM', KEYS[2], unpack(ARGV, s, e))
  redis.call('ZREM', KEYS[3], unpack(ARGV, s, e))
end
for k = 4, #KEYS do redis.call('PEXPIRE', KEYS[k], ARGV[2]) end
return res
