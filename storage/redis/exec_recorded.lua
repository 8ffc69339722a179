-- The execution's terminal state is in PostgreSQL: keep the Redis state for the
-- retention period only.
-- KEYS: epoch, exec, log, finalize, deadlines
-- ARGV: epoch, exec_id, retention_ms
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {'ok', 0, ''}
