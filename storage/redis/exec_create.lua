-- Creates an execution's state and makes its source nodes ready.
-- KEYS: epoch, exec, outbox, finalize, deadlines
-- ARGV: epoch, exec_id, workflow_ref, failure_policy, inputs, deadline_us (0: none),
--       n_nodes, unresolved counts ("0,1,2,...", one per node, not counting recovered
--       upstreams), flags ("n": --no-cache, "w": --overwrite-cache), recovered nodes
--       ("3,7,..."), then each recovered node's outputs (packed floe.ValueMap) in that order
-- A recovered node (taken over from the execution being recovered) starts RECOVERED; a
-- recovered map item (index n_nodes or more) waits in field r<index> for its map node.
local E = ARGV[2]
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'noop', 0, 'execution exists'}
end
local n = tonumber(ARGV[7])
local counts = split_ints(ARGV[8])
if #counts ~= n then return redis.error_reply('exec_create: ' .. #counts .. ' counts for ' .. n .. ' nodes') end
local now = now_us()
local rec = {}
local items = {}
for k, r in ipairs(split_ints(ARGV[10])) do
  if r < n then rec[r] = ARGV[10 + k]
  else -- a map item taken over: map_expand starts it RECOVERED
    items[#items + 1] = 'r' .. r
    items[#items + 1] = ARGV[10 + k]
  end
end
local n_rec = 0
for _ in pairs(rec) do n_rec = n_rec + 1 end
-- flag "h": the last node is the on_failure handler, which only a failure starts
local hf = string.find(ARGV[9], 'h', 1, true) and n - 1 or nil
redis.call('HSET', KEYS[2], 'ph', RUNNING, 'wf', ARGV[3], 'pol', ARGV[4], 'in', ARGV[5],
  'left', n - n_rec - (hf and 1 or 0), 'fail', 0, 't0', str(now), 'dl', ARGV[6], 'fl', ARGV[9])
if hf then redis.call('HSET', KEYS[2], 'hf', hf) end
local out = {'ok', 0, ''}
local batch = {}
for i = 1, n do
  local idx = i - 1
  local u = counts[i]
  if rec[idx] then
    batch[#batch + 1] = idx
    batch[#batch + 1] = RECOVERED .. ',0,0,0,0'
    batch[#batch + 1] = 'o' .. idx
    batch[#batch + 1] = rec[idx]
  elseif u == 0 then
    batch[#batch + 1] = idx
    batch[#batch + 1] = READY .. ',1,0,0,0'
    redis.call('ZADD', KEYS[3], math.floor(now / 1000), E .. '|' .. idx .. '|1')
    out[#out + 1] = idx
  else
    batch[#batch + 1] = idx
    batch[#batch + 1] = QUEUED .. ',0,' .. u .. ',0,0'
  end
  if #batch >= 1000 then
    redis.call('HSET', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('HSET', KEYS[2], unpack(batch)) end
for k = 1, #items, 1000 do
  redis.call('HSET', KEYS[2], unpack(items, k, math.min(k + 999, #items)))
end
if tonumber(ARGV[6]) > 0 then
  redis.call('ZADD', KEYS[5], math.floor(tonumber(ARGV[6]) / 1000), E)
end
if n - n_rec - (hf and 1 or 0) == 0 then
  redis.call('HSET', KEYS[2], 'ph', SUCCEEDED, 't1', str(now))
  redis.call('SADD', KEYS[4], E)
  out[2] = SUCCEEDED
end
return out
