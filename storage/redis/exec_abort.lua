-- Ends a running execution as ABORTED or TIMED_OUT. Workers see it on their next
-- heartbeat and stop their attempts.
-- KEYS: epoch, exec, finalize
-- ARGV: epoch, exec_id, phase, message
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
if ph == 0 then return {'noop', 0, 'no such execution'} end
if exec_terminal(ph) then return {'noop', ph, 'execution is terminal'} end
redis.call('HSET', KEYS[2], 'ph', ARGV[3], 't1', str(now_us()), 'err', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[2])
return {'ok', tonumber(ARGV[3]), ''}
