-- Attempts succeeded, applied in order as if each were a call of its own (issue 25: the
-- leader's successes that arrive together go in one call, of one execution or several;
-- most of a script's cost is its calls into Redis, and a group makes four a success
-- instead of thirteen). Each success records its outputs, releases its downstream nodes
-- (O(out-degree)) and finishes its execution when it was the last node.
-- A success answers its attempt's cache key (field k<node>, set by cache_reserve) as the
-- note, so the caller records the outputs in the catalog; a duplicate of a success already
-- applied answers it again ({'ok', 0, key}) so a recording cut short by a crash is
-- completed. A CACHED node (outputs from the catalog) leaves the outbox and no attempt
-- record.
-- KEYS: epoch, finalize, leases, outbox (KEYS[4], as item_done and handler_start in lib.lua
--       want it), then for each success: exec, log, claim
-- ARGV: epoch, then for each success: exec_id, node, attempt, outputs, worker, started_us,
--       finished_us, downstream ("3,7,..."), phase (SUCCEEDED or CACHED), logs ("<stdout
--       uri>|<stderr uri>", may be empty), map item ("map node,first item,item,concurrency";
--       empty when the node is no map item: see item_done in lib.lua)
-- Answers one {status, phase, note, ready nodes...} for each success, in order.
-- What no later success of the group reads (the leases, claims, start fields, the attempt
-- logs, the outbox and the counts of nodes left) is written once, at the end.
local n = (#KEYS - 4) / 3
local res = {}
local stale = fence(KEYS[1], ARGV[1])
if stale then
  for j = 1, n do res[j] = {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
  return res
end
local now = now_us()
local ms = math.floor(now / 1000)
local msx = str(ms)
local leases, claims, ready, maps = {}, {}, {}, {}
-- by execution hash: its start fields to delete (the array part) and left, its nodes left
-- (read when first needed); by log key: attempt records; each with its keys in the order first met
local execs, logs, hashes, logkeys = {}, {}, {}, {}

local function per(t, order, k)
  local v = t[k]
  if v == nil then
    v = {}
    t[k] = v
    order[#order + 1] = k
  end
  return v
end

local function succeed(kx, kl, kc, E, i, as, outputs, worker, started, finished, down, phase,
    lrefs, item)
  local a = tonumber(as)
  -- A map node whose items ended earlier in this call: its record as they left it.
  map_flush_one(maps, kx, i)
  -- What the success reads of the execution, in one call: its phase, the node, its cache
  -- key, its running attempt's start, the on_failure handler running.
  local f = redis.call('HMGET', kx, 'ph', i, 'k' .. i, 's' .. i, 'hr')
  local ph = tonumber(f[1] or '0')
  if ph == 0 then return {'noop', 0, 'no such execution'} end
  local nd = node_parse(f[2])
  if not nd then return {'noop', 0, 'no such node'} end
  local p = tonumber(phase)
  if nd.p == SUCCEEDED and nd.a == a and p == SUCCEEDED then
    if f[3] then return {'ok', 0, f[3]} end
  end
  local handler = ph == FAILED and f[5] == i
  if exec_terminal(ph) and not handler then return {'noop', 0, 'execution is terminal'} end
  if a ~= nd.a then return {'noop', 0, 'stale attempt ' .. as .. ' (current ' .. nd.a .. ')'} end
  if node_terminal(nd.p) then return {'noop', 0, 'node is already terminal (phase ' .. nd.p .. ')'} end
  if nd.p ~= READY and nd.p ~= RUNNING then return {'noop', 0, 'node is in phase ' .. nd.p} end
  -- A success counts only from the worker that holds the attempt's claim (review H1):
  -- another sender (a forged result, a worker whose lease lapsed and was taken over)
  -- changes nothing.
  if p == SUCCEEDED then
    local holder = redis.call('GET', kc)
    if holder and holder ~= worker then
      return {'noop', 0, 'a success from ' .. worker .. ', but ' .. holder .. ' holds the claim'}
    end
  end
  nd.p = p
  local key = ''
  if nd.p == CACHED then
    redis.call('ZREM', KEYS[4], E .. '|' .. i .. '|' .. as)
    nd.a = 0
  else
    key = f[3] or ''
  end
  local put = {i, node_str(nd), 'o' .. i, outputs}
  if lrefs ~= '' then
    put[5] = 'l' .. i .. '.' .. as
    put[6] = lrefs
  end
  leases[#leases + 1] = E .. '|' .. i .. '|' .. as
  -- The claim goes with the attempt (a duplicate dispatch finds the node terminal) instead
  -- of holding ~120 bytes a node until its lease would have expired.
  claims[#claims + 1] = kc
  if started == '0' then started = string.match(f[4] or '0', '^(%d+)') end
  -- only the running attempt's start is kept (~60 bytes a node)
  if f[4] then
    local h = per(execs, hashes, kx)
    h[#h + 1] = 's' .. i
  end
  if nd.p ~= CACHED then
    local l = per(logs, logkeys, kl)
    l[#l + 1] = i .. '|' .. as .. '|' .. phase .. '|0||' .. worker .. '|' .. started ..
      '|' .. (finished ~= '0' and finished or str(now)) .. '|'
  end
  local out = {'ok', 0, key}
  release_all(kx, E, split_digits(down), msx, out, put, ready)
  put_pairs('HSET', kx, put)
  if handler then -- the on_failure handler ran: the failed execution ends now
    redis.call('HSET', kx, 'hr', '-', 't1', str(now))
    redis.call('SADD', KEYS[2], E)
    out[2] = FAILED
    return out
  end
  item_done(kx, E, item, ms, out, maps)
  local x = per(execs, hashes, kx)
  local left = (x.left or tonumber(redis.call('HGET', kx, 'left') or '0')) - 1
  x.left = left
  if left <= 0 then
    local fail = tonumber(redis.call('HGET', kx, 'fail') or '0')
    local fin = fail > 0 and FAILED or SUCCEEDED
    redis.call('HSET', kx, 'ph', fin, 't1', str(now))
    local h = fin == FAILED and handler_start(kx, E, ms) or nil
    if h then
      out[#out + 1] = h -- ready: the execution ends once it ran
    else
      redis.call('SADD', KEYS[2], E)
      out[2] = fin
    end
  end
  return out
end

for j = 1, n do
  local b, k = 1 + 11 * (j - 1), 4 + 3 * (j - 1)
  res[j] = succeed(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3],
    ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9], ARGV[b + 10],
    ARGV[b + 11])
end
-- An attempt over leaves the outbox too: the broker's acknowledgement of its dispatch may
-- come after its result, and would give it a claim deadline (outbox_ack.lua).
for s = 1, #leases, CHUNK do
  local e = math.min(s + CHUNK - 1, #leases)
  redis.call('ZREM', KEYS[3], unpack(leases, s, e))
  redis.call('ZREM', KEYS[4], unpack(leases, s, e))
  redis.call('DEL', unpack(claims, s, e))
end
put_pairs('ZADD', KEYS[4], ready)
map_flush(maps)
for _, kx in ipairs(hashes) do
  local x = execs[kx] -- its start fields in its array part
  for s = 1, #x, CHUNK do redis.call('HDEL', kx, unpack(x, s, math.min(s + CHUNK - 1, #x))) end
  if x.left then redis.call('HSET', kx, 'left', x.left) end
end
for _, kl in ipairs(logkeys) do
  local l = logs[kl]
  for s = 1, #l, CHUNK do redis.call('RPUSH', kl, unpack(l, s, math.min(s + CHUNK - 1, #l))) end
end
return res
