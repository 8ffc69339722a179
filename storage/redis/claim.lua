-- A worker claims an attempt before running it (SET NX with a lease): a duplicate
-- dispatch of a claimed attempt runs at most once while the lease lives.
-- KEYS: exec, claim, leases
-- ARGV: member, node, attempt, worker, lease_ms
local f = redis.call('HMGET', KEYS[1], 'ph', ARGV[2], 'hr')
local ph = tonumber(f[1] or '0')
if ph == 0 then return {'stale', 0, 'no such execution'} end
if not live_hr(ph, f[3], ARGV[2]) then return {'stale', 0, 'execution is in phase ' .. ph} end
local nd = node_parse(f[2])
if not nd then return {'stale', 0, 'no such node'} end
if nd.a ~= tonumber(ARGV[3]) then return {'stale', 0, 'attempt ' .. ARGV[3] .. ' is not current (' .. nd.a .. ')'} end
if nd.p ~= READY and nd.p ~= RUNNING then return {'stale', 0, 'node is in phase ' .. nd.p} end
if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then
  local holder = redis.call('GET', KEYS[2]) or ''
  if holder ~= ARGV[4] then return {'dup', 0, 'claimed by ' .. holder} end
end
local now = now_us()
redis.call('ZADD', KEYS[3], math.floor(now / 1000) + tonumber(ARGV[5]), ARGV[1])
-- Who holds it since when, as TaskStarted would say (the worker sends that only for an
-- attempt that runs on): a lost worker's lease then reads as lost, not as never claimed.
if nd.p == READY then redis.call('HSET', KEYS[1], 's' .. ARGV[2], str(now) .. '|' .. ARGV[4]) end
return {'ok', 0, ''}
