-- A worker started attempt ARGV[4] of node ARGV[3].
-- KEYS: epoch, exec
-- ARGV: epoch, exec_id, node, attempt, worker, started_us
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
if ph == 0 then return {'noop', 0, 'no such execution'} end
local i, a = ARGV[3], tonumber(ARGV[4])
if exec_terminal(ph) and not live(KEYS[2], ph, i) then return {'noop', 0, 'execution is terminal'} end
local nd = node_get(KEYS[2], i)
if not nd then return {'noop', 0, 'no such node'} end
if a < nd.a then return {'noop', 0, 'stale attempt ' .. a .. ' (current ' .. nd.a .. ')'} end
if a > nd.a then return {'noop', 0, 'attempt ' .. a .. ' was never dispatched'} end
if nd.p == RUNNING then return {'noop', 0, 'already running'} end
if nd.p ~= READY then return {'noop', 0, 'node is in phase ' .. nd.p} end
nd.p = RUNNING
node_put(KEYS[2], i, nd)
redis.call('HSET', KEYS[2], 's' .. i, ARGV[6] .. '|' .. ARGV[5])
return {'ok', 0, ''}
