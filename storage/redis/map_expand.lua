-- A map node starts: one node per item of its list, the first `concurrency` READY and the
-- rest QUEUED, each started as one ends (item_done in lib.lua); the map node RUNNING until
-- every item ended, then READY again, to be gathered. Each item's value is kept in field
-- v<index>, read by its dispatch. An item a recovered execution takes over (field
-- r<index>, its outputs, written by exec_create) starts RECOVERED and runs no more.
-- KEYS: epoch, exec, log, outbox
-- ARGV: epoch, exec_id, node, attempt, first item's index, concurrency (0: all), then the
--       items (packed floe.Value each)
local E = ARGV[2]
local nd, answer = leader_node(READY, READY)
if not nd then return answer end
local p, a = ARGV[3], tonumber(ARGV[4])
if redis.call('HEXISTS', KEYS[2], 'm' .. p) == 1 then return {'noop', 0, 'map already started'} end
local base, conc = tonumber(ARGV[5]), tonumber(ARGV[6])
local n = #ARGV - 6
if conc == 0 then conc = n end
local now = now_us()
local ms = math.floor(now / 1000)
redis.call('ZREM', KEYS[4], E .. '|' .. p .. '|' .. a)
local out = {'ok', 0, ''}
-- The items taken over (fields r<index>), read a chunk a call, and the items made ready,
-- added in one call at the end (issue 25: two calls an item were ~1 s of a map of 100,000
-- items, Redis doing nothing else meanwhile).
local taken, gone, ready = {}, {}, {}
for s = 0, n - 1, CHUNK do
  local names = {}
  for k = s, math.min(s + CHUNK, n) - 1 do names[#names + 1] = 'r' .. (base + k) end
  local vs = redis.call('HMGET', KEYS[2], unpack(names))
  for j = 1, #names do taken[s + j - 1] = vs[j] end
end
local batch = {}
local running, left, cursor = 0, 0, n
for k = 0, n - 1 do
  local idx = base + k
  local r = taken[k]
  batch[#batch + 1] = idx
  if r then
    batch[#batch + 1] = RECOVERED .. ',0,0,0,0'
    batch[#batch + 1] = 'o' .. idx
    batch[#batch + 1] = r
    gone[#gone + 1] = 'r' .. idx
  else
    left = left + 1
    if running < conc then
      running = running + 1
      batch[#batch + 1] = READY .. ',1,0,0,0'
      ready[#ready + 1] = ms
      ready[#ready + 1] = E .. '|' .. idx .. '|1'
      out[#out + 1] = idx
    else
      if cursor == n then cursor = k end
      batch[#batch + 1] = QUEUED .. ',0,1,0,0'
    end
  end
  batch[#batch + 1] = 'v' .. idx
  batch[#batch + 1] = ARGV[7 + k]
  if #batch >= 1000 then
    redis.call('HSET', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('HSET', KEYS[2], unpack(batch)) end
for g = 1, #gone, CHUNK do
  redis.call('HDEL', KEYS[2], unpack(gone, g, math.min(g + CHUNK - 1, #gone)))
end
put_pairs('ZADD', KEYS[4], ready)
redis.call('HSET', KEYS[2], 'm' .. p, n, 'mc' .. p, cursor, 's' .. p, str(now) .. '|')
redis.call('HINCRBY', KEYS[2], 'left', left)
nd.u = left
if left == 0 then
  nd.p = READY -- every item taken over: gathered at once
  redis.call('ZADD', KEYS[4], ms, E .. '|' .. p .. '|' .. a)
  out[#out + 1] = tonumber(p)
else
  nd.p = RUNNING
end
node_put(KEYS[2], p, nd)
return out
