-- Prepended to every Floe script at build time (storage/embed_lua.cmake), after
-- phases.lua: the phase constants and node_terminal/exec_terminal, generated from
-- common/floe_phase.c.
-- Node record: hash field "<index>" = "phase,attempt,unresolved,user_failures,system_failures".

-- A record's value (false from HMGET: none) as a table, or nil.
local function node_parse(v)
  if not v then return nil end
  local p, a, u, fu, fs = string.match(v, '^(%d+),(%d+),(%d+),(%d+),(%d+)$')
  return {p = tonumber(p), a = tonumber(a), u = tonumber(u), fu = tonumber(fu), fs = tonumber(fs)}
end

-- One format, not five number concatenations (each a %.14g formatting in Lua 5.1):
-- ~1 us less a record written.
local function node_str(n)
  return string.format('%d,%d,%d,%d,%d', n.p, n.a, n.u, n.fu, n.fs)
end

local function node_get(h, i)
  return node_parse(redis.call('HGET', h, i))
end

local function node_put(h, i, n)
  redis.call('HSET', h, i, node_str(n))
end

-- Each redis.call costs a script ~1.5 us over the command itself (arguments converted,
-- the reply encoded and parsed back, the write propagated): the hot scripts read and
-- write several fields or members in one call. Lists go in chunks so that unpack() stays
-- within Lua's C stack (8,000 values).
local CHUNK = 1000

-- The records of nodes ids (a list) of hash h, nil where there is none, one HMGET a chunk.
local function nodes_get(h, ids)
  local out = {}
  for s = 1, #ids, CHUNK do
    local vs = redis.call('HMGET', h, unpack(ids, s, math.min(s + CHUNK - 1, #ids)))
    for k = 1, #vs do out[s + k - 1] = node_parse(vs[k]) end
  end
  return out
end

-- cmd (HSET, ZADD) on key with a flat list of pairs, a chunk of pairs a call.
local function put_pairs(cmd, key, list)
  for s = 1, #list, 2 * CHUNK do
    redis.call(cmd, key, unpack(list, s, math.min(s + 2 * CHUNK - 1, #list)))
  end
end

-- Lua 5.1 prints numbers with 14 significant digits: format microseconds explicitly.
local function str(n)
  return string.format('%d', n)
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- The fence: refuse callers whose leader epoch is older than the highest seen.
local function fence(key, epoch)
  epoch = tonumber(epoch)
  local cur = tonumber(redis.call('GET', key) or '0')
  if epoch < cur then return cur end
  if epoch > cur then redis.call('SET', key, epoch) end
  return nil
end

-- One upstream of node d of execution h (key E) is done: d waits for one less, and with
-- none left is READY (attempt 1) in the outbox (KEYS[4]) and appended to out.
local function release(h, E, d, ms, out)
  local dn = node_get(h, d)
  if dn and dn.p == QUEUED and dn.u > 0 then
    dn.u = dn.u - 1
    if dn.u == 0 then
      dn.p = READY
      dn.a = 1
      redis.call('ZADD', KEYS[4], ms, E .. '|' .. d .. '|1')
      out[#out + 1] = tonumber(d)
    end
    node_put(h, d, dn)
  end
end

-- release for each node of ds (a list of indices as strings; a node listed twice waits for
-- two), in one read of the records. The records that moved are appended to put (field,
-- value pairs of hash h) and the nodes made ready to ready (score, member pairs of the
-- outbox) and to out: the caller writes them, with what else it writes, in one call each.
local function release_all(h, E, ds, ms, out, put, ready)
  if #ds == 0 then return end
  local recs, seen, order = nodes_get(h, ds), {}, {}
  for k, d in ipairs(ds) do
    local dn = seen[d]
    if dn == nil then
      dn = recs[k] or false
      seen[d] = dn
      order[#order + 1] = d
    end
    if dn and dn.p == QUEUED and dn.u > 0 then
      dn.u = dn.u - 1
      dn.moved = true
      if dn.u == 0 then
        dn.p = READY
        dn.a = 1
        ready[#ready + 1] = ms
        ready[#ready + 1] = E .. '|' .. d .. '|1'
        out[#out + 1] = tonumber(d)
      end
    end
  end
  for _, d in ipairs(order) do
    local dn = seen[d]
    if dn and dn.moved then
      put[#put + 1] = d
      put[#put + 1] = node_str(dn)
    end
  end
end

local function split_ints(s)
  local out = {}
  if s == nil or s == '' then return out end
  for x in string.gmatch(s, '%d+') do out[#out + 1] = tonumber(x) end
  return out
end

-- "3,7,..." as strings: indices used as hash fields and in members, where a number would
-- be formatted back.
local function split_digits(s)
  local out = {}
  if s == nil or s == '' then return out end
  for x in string.gmatch(s, '%d+') do out[#out + 1] = x end
  return out
end

-- What item_done keeps of map node p of execution hash h: its item count, the first item
-- not yet looked at, its record (dirty once moved).
local function map_read(h, p)
  local f = redis.call('HMGET', h, 'm' .. p, 'mc' .. p, p)
  local n = tonumber(f[1] or '0')
  return {h = h, p = p, n = n, c = tonumber(f[2] or n), pn = node_parse(f[3])}
end

local function map_write(m)
  if m.dirty then
    redis.call('HSET', m.h, 'mc' .. m.p, m.c, m.p, node_str(m.pn))
  else
    redis.call('HSET', m.h, 'mc' .. m.p, m.c)
  end
end

-- A map item ended for good (succeeded, cached or failed): the next waiting item starts
-- (field mc<map node>: the first item not yet looked at), and the map node becomes READY
-- again, to be gathered, once every item ended. spec: "map node,first item's index,item,
-- concurrency" (empty: not an item). Appends the nodes made ready to out. With maps (a
-- table of several calls of one script), the map node's fields are read once and written
-- by map_flush at the end (issue 25: five of a map item's ~17 calls into Redis were its
-- map node's, the same three fields each time); without, at once.
local function item_done(h, E, spec, ms, out, maps)
  if spec == nil or spec == '' then return end
  local p, base = string.match(spec, '^(%d+),(%d+),%d+,%d+$')
  if not p then return end
  base = tonumber(base)
  local m = maps and maps[h .. '|' .. p]
  if not m then
    m = map_read(h, p)
    if maps then
      maps[h .. '|' .. p] = m
      maps[#maps + 1] = m
    end
  end
  while m.c < m.n do
    local idx = base + m.c
    local dn = node_get(h, idx)
    m.c = m.c + 1
    if dn and dn.p == QUEUED then
      dn.p = READY
      dn.a = 1
      dn.u = 0
      node_put(h, idx, dn)
      redis.call('ZADD', KEYS[4], ms, E .. '|' .. idx .. '|1')
      out[#out + 1] = idx
      break
    end
  end
  local pn = m.pn
  if pn and pn.p == RUNNING and pn.u > 0 then
    pn.u = pn.u - 1
    if pn.u == 0 then
      pn.p = READY
      redis.call('ZADD', KEYS[4], ms, E .. '|' .. p .. '|' .. pn.a)
      out[#out + 1] = tonumber(p)
    end
    m.dirty = true
  end
  if not maps then map_write(m) end
end

-- Writes what item_done kept in maps. Node i of hash h about to be read by the same script
-- (map_flush_one) is written first, and not again at the end.
local function map_flush_one(maps, h, i)
  local m = maps[h .. '|' .. i]
  if m then
    map_write(m)
    maps[h .. '|' .. i] = nil
    m.done = true
  end
end

local function map_flush(maps)
  for _, m in ipairs(maps) do
    if not m.done then map_write(m) end
  end
end

-- The on_failure handler (docs/engine.md#on_failure): field hf is its index when the
-- workflow has one; hr is its index while it runs after the execution failed ("-" once it
-- ended). Whether node i of execution h (in phase ph) may still move: the execution runs,
-- or it failed and i is its running handler.
local function live_hr(ph, hr, i)
  return ph == RUNNING or (ph == FAILED and hr == tostring(i))
end

local function live(h, ph, i)
  if ph == RUNNING then return true end
  return live_hr(ph, redis.call('HGET', h, 'hr'), i)
end

-- The execution just failed: its handler, if it has one not yet run, starts (READY in the
-- outbox; the failed node and error are in fields fn and fe). Answers its index, or nil.
local function handler_start(h, E, ms)
  local hf = redis.call('HGET', h, 'hf')
  if not hf or redis.call('HEXISTS', h, 'hr') == 1 then return nil end
  local hn = node_get(h, hf)
  if not hn or hn.p ~= QUEUED then return nil end
  hn.p = READY
  hn.a = 1
  hn.u = 0
  node_put(h, hf, hn)
  redis.call('HSET', h, 'hr', hf)
  redis.call('ZADD', KEYS[4], ms, E .. '|' .. hf .. '|1')
  return tonumber(hf)
end

-- The start of a leader script that moves node ARGV[3] of execution KEYS[2] for attempt
-- ARGV[4] (KEYS[1] the epoch key, ARGV[1] the caller's epoch): the fence, the execution
-- still running, the node current and in one of the phases asked. Answers the node record,
-- or nil and the script's answer.
local function leader_node(p1, p2)
  local stale = fence(KEYS[1], ARGV[1])
  if stale then return nil, {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
  local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
  if ph == 0 then return nil, {'noop', 0, 'no such execution'} end
  if exec_terminal(ph) then return nil, {'noop', 0, 'execution is terminal'} end
  local nd = node_get(KEYS[2], ARGV[3])
  if not nd then return nil, {'noop', 0, 'no such node'} end
  if nd.a ~= tonumber(ARGV[4]) or (nd.p ~= p1 and nd.p ~= p2) then
    return nil, {'noop', 0, 'node is in phase ' .. nd.p}
  end
  return nd
end

-- A worker claims attempt a of node i (member m) of execution hash kx before running it:
-- SET NX of claim key kc with a lease of lease ms, its deadline in leases (at now, in
-- microseconds). Answers {status, 0, note}. claim.lua claims one, claim_many.lua several:
-- with acc, the lease deadlines and start fields are left in it for claims_write to write
-- once for all (no later claim reads them).
local function claim_one(kx, kc, leases, m, i, a, worker, lease, now, acc)
  local f = redis.call('HMGET', kx, 'ph', i, 'hr')
  local ph = tonumber(f[1] or '0')
  if ph == 0 then return {'stale', 0, 'no such execution'} end
  if not live_hr(ph, f[3], i) then return {'stale', 0, 'execution is in phase ' .. ph} end
  local nd = node_parse(f[2])
  if not nd then return {'stale', 0, 'no such node'} end
  if nd.a ~= tonumber(a) then return {'stale', 0, 'attempt ' .. a .. ' is not current (' .. nd.a .. ')'} end
  if nd.p ~= READY and nd.p ~= RUNNING then return {'stale', 0, 'node is in phase ' .. nd.p} end
  if not redis.call('SET', kc, worker, 'NX', 'PX', lease) then
    local holder = redis.call('GET', kc) or ''
    if holder ~= worker then return {'dup', 0, 'claimed by ' .. holder} end
  end
  local due = math.floor(now / 1000) + tonumber(lease)
  -- Who holds it since when, as TaskStarted would say (the worker sends that only for an
  -- attempt that runs on): a lost worker's lease then reads as lost, not as never claimed.
  local since = nd.p == READY and (str(now) .. '|' .. worker) or nil
  if not acc then
    redis.call('ZADD', leases, due, m)
    if since then redis.call('HSET', kx, 's' .. i, since) end
    return {'ok', 0, ''}
  end
  acc.due[#acc.due + 1] = due
  acc.due[#acc.due + 1] = m
  if since then
    local h = acc.since[kx]
    if not h then
      h = {}
      acc.since[kx] = h
      acc.keys[#acc.keys + 1] = kx
    end
    h[#h + 1] = 's' .. i
    h[#h + 1] = since
  end
  return {'ok', 0, ''}
end

local function claims_acc()
  return {due = {}, since = {}, keys = {}}
end

-- What claim_one left in acc: one ZADD of the deadlines, one HSET a execution.
local function claims_write(leases, acc)
  put_pairs('ZADD', leases, acc.due)
  for _, kx in ipairs(acc.keys) do put_pairs('HSET', kx, acc.since[kx]) end
end
