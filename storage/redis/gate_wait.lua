-- A gate node starts waiting: RUNNING, and when it has a due time (a sleep's end, an
-- approval's or a signal's timeout) an entry in the lease set, so the leader's lease sweep
-- ends it then (docs/engine.md#gates).
-- KEYS: epoch, exec, outbox, leases
-- ARGV: epoch, exec_id, node, attempt, due in (ms from now by Redis's clock; -1: never)
local E = ARGV[2]
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
if ph == 0 then return {'noop', 0, 'no such execution'} end
if exec_terminal(ph) then return {'noop', 0, 'execution is terminal'} end
local i, a = ARGV[3], tonumber(ARGV[4])
local nd = node_get(KEYS[2], i)
if not nd then return {'noop', 0, 'no such node'} end
if nd.p ~= READY or nd.a ~= a then return {'noop', 0, 'node is in phase ' .. nd.p} end
local member = E .. '|' .. i .. '|' .. a
local now = now_us()
redis.call('ZREM', KEYS[3], member)
nd.p = RUNNING
node_put(KEYS[2], i, nd)
redis.call('HSET', KEYS[2], 's' .. i, str(now) .. '|gate')
local d = tonumber(ARGV[5])
if d >= 0 then redis.call('ZADD', KEYS[4], str(math.floor(now / 1000) + d), member) end
return {'ok', 0, ''}
