-- A branch node's decision (ID.when) is made: it succeeds, the case taken becomes READY,
-- the others are SKIPPED and count as done for the join (ID), which becomes READY once the
-- taken case ended. A case already terminal (RECOVERED) is left as it is.
-- KEYS: epoch, exec, log, outbox, finalize
-- ARGV: epoch, exec_id, decision node, attempt, the case taken, the join, every case ("4,5,6")
local E = ARGV[2]
local nd, answer = leader_node(READY, RUNNING)
if not nd then return answer end
local i, a = ARGV[3], tonumber(ARGV[4])
local now = now_us()
local ms = math.floor(now / 1000)
nd.p = SUCCEEDED
node_put(KEYS[2], i, nd)
redis.call('ZREM', KEYS[4], E .. '|' .. i .. '|' .. a)
redis.call('RPUSH', KEYS[3], i .. '|' .. a .. '|' .. SUCCEEDED .. '|0||leader|' .. str(now) ..
  '|' .. str(now) .. '|')
local left = redis.call('HINCRBY', KEYS[2], 'left', -1)
local out = {'ok', 0, ''}
local taken, j = tonumber(ARGV[5]), ARGV[6]
for _, c in ipairs(split_ints(ARGV[7])) do
  if c == taken then
    release(KEYS[2], E, c, ms, out)
  else
    local cn = node_get(KEYS[2], c)
    if cn and cn.p == QUEUED then
      cn.p = SKIPPED
      node_put(KEYS[2], c, cn)
      left = redis.call('HINCRBY', KEYS[2], 'left', -1)
      release(KEYS[2], E, j, ms, out) -- the join: one case fewer to wait for
    end
  end
end
if left <= 0 then
  local fail = tonumber(redis.call('HGET', KEYS[2], 'fail') or '0')
  local fin = fail > 0 and FAILED or SUCCEEDED
  redis.call('HSET', KEYS[2], 'ph', fin, 't1', str(now))
  redis.call('SADD', KEYS[5], E)
  out[2] = fin
end
return out
