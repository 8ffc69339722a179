-- Attempt ARGV[4] of node ARGV[3] succeeded: record its outputs, release its downstream
-- nodes (O(out-degree)), and finish the execution when it was the last node.
-- Answers the attempt's cache key (field k<node>, set by cache_reserve) as the note, so the
-- caller records the outputs in the catalog; a duplicate of a success already applied
-- answers it again ({'ok', 0, key}) so a recording cut short by a crash is completed.
-- A CACHED node (outputs from the catalog) leaves the outbox and no attempt record.
-- KEYS: epoch, exec, log, outbox, leases, finalize, claim (of this attempt)
-- ARGV: epoch, exec_id, node, attempt, outputs, worker, started_us, finished_us,
--       downstream ("3,7,..."), phase (SUCCEEDED or CACHED), logs ("<stdout uri>|<stderr
--       uri>", may be empty), map item ("map node,first item,item,concurrency"; empty when
--       the node is no map item: see item_done in lib.lua)
local E = ARGV[2]
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local i, a = ARGV[3], tonumber(ARGV[4])
-- What the script reads of the execution, in one call: its phase, the node, its cache key,
-- its running attempt's start, the on_failure handler running.
local f = redis.call('HMGET', KEYS[2], 'ph', i, 'k' .. i, 's' .. i, 'hr')
local ph = tonumber(f[1] or '0')
if ph == 0 then return {'noop', 0, 'no such execution'} end
local nd = node_parse(f[2])
if not nd then return {'noop', 0, 'no such node'} end
if nd.p == SUCCEEDED and nd.a == a and tonumber(ARGV[10]) == SUCCEEDED then
  if f[3] then return {'ok', 0, f[3]} end
end
local handler = ph == FAILED and f[5] == i
if exec_terminal(ph) and not handler then return {'noop', 0, 'execution is terminal'} end
if a ~= nd.a then return {'noop', 0, 'stale attempt ' .. a .. ' (current ' .. nd.a .. ')'} end
if node_terminal(nd.p) then return {'noop', 0, 'node is already terminal (phase ' .. nd.p .. ')'} end
if nd.p ~= READY and nd.p ~= RUNNING then return {'noop', 0, 'node is in phase ' .. nd.p} end
-- A success counts only from the worker that holds the attempt's claim (review H1): another
-- sender (a forged result, a worker whose lease lapsed and was taken over) changes nothing.
if tonumber(ARGV[10]) == SUCCEEDED then
  local holder = redis.call('GET', KEYS[7])
  if holder and holder ~= ARGV[6] then
    return {'noop', 0, 'a success from ' .. ARGV[6] .. ', but ' .. holder .. ' holds the claim'}
  end
end
local now = now_us()
nd.p = tonumber(ARGV[10])
local key = ''
if nd.p == CACHED then
  redis.call('ZREM', KEYS[4], E .. '|' .. i .. '|' .. a)
  nd.a = 0
else
  key = f[3] or ''
end
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[2], i, node_str(nd), 'o' .. i, ARGV[5], 'l' .. i .. '.' .. a, ARGV[11])
else
  redis.call('HSET', KEYS[2], i, node_str(nd), 'o' .. i, ARGV[5])
end
redis.call('ZREM', KEYS[5], E .. '|' .. i .. '|' .. a)
-- The claim goes with the attempt (a duplicate dispatch finds the node terminal) instead
-- of holding ~120 bytes a node until its lease would have expired.
redis.call('DEL', KEYS[7])
local started = ARGV[7]
if started == '0' then started = string.match(f[4] or '0', '^(%d+)') end
-- only the running attempt's start is kept (~60 bytes a node)
if f[4] then redis.call('HDEL', KEYS[2], 's' .. i) end
if nd.p ~= CACHED then
  redis.call('RPUSH', KEYS[3], i .. '|' .. a .. '|' .. nd.p .. '|0||' .. ARGV[6] .. '|' .. started ..
    '|' .. (ARGV[8] ~= '0' and ARGV[8] or str(now)) .. '|')
end
local out = {'ok', 0, key}
local ms = math.floor(now / 1000)
release_all(KEYS[2], E, split_ints(ARGV[9]), ms, out)
if handler then -- the on_failure handler ran: the failed execution ends now
  redis.call('HSET', KEYS[2], 'hr', '-', 't1', str(now))
  redis.call('SADD', KEYS[6], E)
  out[2] = FAILED
  return out
end
item_done(KEYS[2], E, ARGV[12], ms, out)
local left = redis.call('HINCRBY', KEYS[2], 'left', -1)
if left <= 0 then
  local fail = tonumber(redis.call('HGET', KEYS[2], 'fail') or '0')
  local fin = fail > 0 and FAILED or SUCCEEDED
  redis.call('HSET', KEYS[2], 'ph', fin, 't1', str(now))
  local h = fin == FAILED and handler_start(KEYS[2], E, ms) or nil
  if h then
    out[#out + 1] = h -- ready: the execution ends once it ran
  else
    redis.call('SADD', KEYS[6], E)
    out[2] = fin
  end
end
return out
