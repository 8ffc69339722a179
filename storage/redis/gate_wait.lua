-- A gate node starts waiting: RUNNING, and when it has a due time (a sleep's end, an
-- approval's or a signal's timeout) an entry in the lease set, so the leader's lease sweep
-- ends it then (docs/engine.md#gates).
-- KEYS: epoch, exec, outbox, leases
-- ARGV: epoch, exec_id, node, attempt, due in (ms from now by Redis's clock; -1: never)
local E = ARGV[2]
local nd, answer = leader_node(READY, READY)
if not nd then return answer end
local i, a = ARGV[3], tonumber(ARGV[4])
local member = E .. '|' .. i .. '|' .. a
local now = now_us()
redis.call('ZREM', KEYS[3], member)
nd.p = RUNNING
node_put(KEYS[2], i, nd)
redis.call('HSET', KEYS[2], 's' .. i, str(now) .. '|gate')
local d = tonumber(ARGV[5])
if d >= 0 then redis.call('ZADD', KEYS[4], str(math.floor(now / 1000) + d), member) end
return {'ok', 0, ''}
