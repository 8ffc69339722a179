-- Attempt ARGV[4] of node ARGV[3] failed. Retry within the budget of its error kind
-- (exponential backoff with jitter), else fail the node: fail-fast ends the execution;
-- finish-independent skips the node's downstream closure (given by the caller) and lets
-- the rest run.
-- KEYS: epoch, exec, log, outbox, delayed, leases, finalize, claim (of this attempt)
-- ARGV: epoch, exec_id, node, attempt, kind (1 user, 2 system), retriable (0/1),
--       user_budget, system_budget, backoff_initial_ms, backoff_max_ms,
--       backoff_multiplier_milli, jitter_milli (0..1000), code, message, worker,
--       started_us, finished_us, closure ("4,9,..."), lease_check (1: only if the lease
--       has expired by Redis's clock), logs ("<stdout uri>|<stderr uri>", may be empty),
--       node id (names the node in the execution's error; empty: its index), map item
--       ("map node,first item,item,concurrency", empty when the node is no map item)
-- A map item that fails for good fails neither its map node nor the execution: the map
-- node decides when it is gathered (min_success_ratio); answers {'failed', 0, 'item',
-- nodes made ready...}.
local E = ARGV[2]
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local i, a = ARGV[3], tonumber(ARGV[4])
local member = E .. '|' .. i .. '|' .. a
local now = now_us()
if ARGV[19] == '1' then
  local s = redis.call('ZSCORE', KEYS[6], member)
  if not s then return {'noop', 0, 'no lease'} end
  if tonumber(s) > math.floor(now / 1000) then return {'noop', 0, 'lease was renewed'} end
end
local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
if ph == 0 then redis.call('ZREM', KEYS[6], member) return {'noop', 0, 'no such execution'} end
local handler = ph == FAILED and redis.call('HGET', KEYS[2], 'hr') == i
if exec_terminal(ph) and not handler then redis.call('ZREM', KEYS[6], member) return {'noop', 0, 'execution is terminal'} end
local nd = node_get(KEYS[2], i)
if not nd then return {'noop', 0, 'no such node'} end
if a ~= nd.a then redis.call('ZREM', KEYS[6], member) return {'noop', 0, 'stale attempt ' .. a .. ' (current ' .. nd.a .. ')'} end
if nd.p ~= READY and nd.p ~= RUNNING then
  redis.call('ZREM', KEYS[6], member)
  return {'noop', 0, 'node is in phase ' .. nd.p}
end
-- A failure a worker reports counts only from the worker that holds the attempt's claim,
-- as a success does (review H1): a forged failure, or one from a worker whose claim was
-- taken over, changes nothing. The engine's own lease expiry has no sender to check.
if ARGV[19] ~= '1' then
  local holder = redis.call('GET', KEYS[8])
  if holder and holder ~= ARGV[15] then
    return {'noop', 0, 'a failure from ' .. ARGV[15] .. ', but ' .. holder .. ' holds the claim'}
  end
end
-- A lease that expired on an attempt no worker ever claimed (its dispatch lost, or no
-- worker of the class running): the deadline outbox_ack set, said as such.
local code = ARGV[13]
local unclaimed = ARGV[19] == '1' and nd.p == READY and redis.call('EXISTS', KEYS[8]) == 0 and
  redis.call('HEXISTS', KEYS[2], 's' .. i) == 0
redis.call('ZREM', KEYS[6], member)
redis.call('ZREM', KEYS[4], member) -- its dispatch's acknowledgement may come later (outbox_ack)
redis.call('DEL', KEYS[8]) -- the attempt is over: a duplicate dispatch finds it stale
local kind = tonumber(ARGV[5])
if kind == ERR_SYSTEM then nd.fs = nd.fs + 1 else nd.fu = nd.fu + 1 end
local started = ARGV[16]
if started == '0' then started = string.match(redis.call('HGET', KEYS[2], 's' .. i) or '0', '^(%d+)') end
local finished = ARGV[17] ~= '0' and ARGV[17] or str(now)
local msg = ARGV[14]
if unclaimed then
  code = 'not_claimed'
  msg = 'no worker claimed the attempt within its queue time (the task\'s queue_timeout, else engine.claim_timeout): is a worker of its resource class running?'
end
if ARGV[20] ~= '' then redis.call('HSET', KEYS[2], 'l' .. i .. '.' .. a, ARGV[20]) end
local budget_left = (kind == ERR_SYSTEM and nd.fs <= tonumber(ARGV[8])) or (kind ~= ERR_SYSTEM and nd.fu <= tonumber(ARGV[7]))
if ARGV[6] == '1' and budget_left then
  local n = nd.fu + nd.fs
  local delay = tonumber(ARGV[9]) * (tonumber(ARGV[11]) / 1000) ^ (n - 1)
  if delay > tonumber(ARGV[10]) then delay = tonumber(ARGV[10]) end
  delay = math.floor(delay / 2 + delay / 2 * tonumber(ARGV[12]) / 1000)
  redis.call('RPUSH', KEYS[3], i .. '|' .. a .. '|' .. RETRYING .. '|' .. kind .. '|' .. code ..
    '|' .. ARGV[15] .. '|' .. started .. '|' .. finished .. '|' .. msg)
  nd.a = a + 1
  local next_member = E .. '|' .. i .. '|' .. nd.a
  local due = str(math.floor(now / 1000) + delay)
  if delay <= 0 then
    nd.p = READY
    redis.call('ZADD', KEYS[4], due, next_member)
  else
    nd.p = RETRYING
    redis.call('ZADD', KEYS[5], due, next_member)
  end
  node_put(KEYS[2], i, nd)
  redis.call('HDEL', KEYS[2], 's' .. i)
  return {'retry', 0, '', nd.a, delay}
end
nd.p = FAILED
node_put(KEYS[2], i, nd)
redis.call('HSET', KEYS[2], 'e' .. i, kind .. '|' .. code .. '|' .. msg)
redis.call('RPUSH', KEYS[3], i .. '|' .. a .. '|' .. FAILED .. '|' .. kind .. '|' .. code ..
  '|' .. ARGV[15] .. '|' .. started .. '|' .. finished .. '|' .. msg)
if ARGV[22] ~= nil and ARGV[22] ~= '' then
  local out = {'failed', 0, 'item'}
  item_done(KEYS[2], E, ARGV[22], math.floor(now / 1000), out)
  redis.call('HINCRBY', KEYS[2], 'left', -1)
  return out
end
if handler then -- the on_failure handler failed too: the failed execution ends now
  redis.call('HSET', KEYS[2], 'hr', '-', 't1', str(now))
  redis.call('SADD', KEYS[7], E)
  return {'failed', FAILED, ''}
end
-- what the on_failure handler reads (when the workflow has one)
if redis.call('HEXISTS', KEYS[2], 'hf') == 1 then
  redis.call('HSET', KEYS[2], 'fn', ARGV[21] ~= '' and ARGV[21] or i, 'fe', msg)
end
redis.call('HINCRBY', KEYS[2], 'fail', 1)
local left = redis.call('HINCRBY', KEYS[2], 'left', -1)
local out = {'failed', 0, ''}
local fin = 0
if redis.call('HGET', KEYS[2], 'pol') == '1' then
  fin = FAILED
else
  for _, c in ipairs(split_ints(ARGV[18])) do
    local cn = node_get(KEYS[2], c)
    if cn and (cn.p == QUEUED) then
      cn.p = SKIPPED
      node_put(KEYS[2], c, cn)
      left = redis.call('HINCRBY', KEYS[2], 'left', -1)
      out[#out + 1] = c
    end
  end
  if left <= 0 then fin = FAILED end
end
if fin ~= 0 then
  redis.call('HSET', KEYS[2], 'ph', fin, 't1', str(now), 'err',
    'node ' .. (ARGV[21] ~= '' and ARGV[21] or i) .. ': ' .. msg)
  local h = handler_start(KEYS[2], E, math.floor(now / 1000))
  if h then -- the execution ends once its handler ran; the handler, last of the items
    out[3] = 'handler'
    out[#out + 1] = h
  else
    redis.call('SADD', KEYS[7], E)
    out[2] = fin
  end
end
return out
