-- A node the leader runs starts waiting: a gate (docs/engine.md#gates), or a node whose
-- child execution runs (docs/engine.md#child-executions). RUNNING, and when it has a due
-- time (a sleep's end, an approval's or a signal's timeout, a child's next check) an entry
-- in the lease set, so the leader's lease sweep sees it then.
-- A dynamic task's node waits from its worker's success: that worker must hold the
-- attempt's claim (review H1), which goes with the wait (the node ends without a worker).
-- KEYS: epoch, exec, outbox, leases, claim (of this attempt)
-- ARGV: epoch, exec_id, node, attempt, due in (ms from now by Redis's clock; -1: never),
--       "1" when the node may already wait (a child's check due again), worker (dynamic:
--       the claim holder; else empty)
local E = ARGV[2]
local nd, answer = leader_node(READY, ARGV[6] == '1' and RUNNING or READY)
if not nd then return answer end
local i, a = ARGV[3], tonumber(ARGV[4])
local member = E .. '|' .. i .. '|' .. a
local now = now_us()
if ARGV[7] ~= '' then
  local holder = redis.call('GET', KEYS[5])
  if holder and holder ~= ARGV[7] then
    return {'noop', 0, 'a success from ' .. ARGV[7] .. ', but ' .. holder .. ' holds the claim'}
  end
  redis.call('DEL', KEYS[5])
end
redis.call('ZREM', KEYS[3], member)
nd.p = RUNNING
node_put(KEYS[2], i, nd)
if redis.call('HEXISTS', KEYS[2], 's' .. i) == 0 then
  redis.call('HSET', KEYS[2], 's' .. i, str(now) .. '|leader')
end
local d = tonumber(ARGV[5])
if d >= 0 then
  redis.call('ZADD', KEYS[4], str(math.floor(now / 1000) + d), member)
else
  redis.call('ZREM', KEYS[4], member)
end
return {'ok', 0, ''}
