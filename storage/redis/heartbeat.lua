-- A worker renews its lease on a running attempt; the answer tells it to stop when the
-- execution ended or the attempt was superseded.
-- KEYS: exec, claim, leases
-- ARGV: member, node, attempt, worker, lease_ms
local holder = redis.call('GET', KEYS[2])
if holder ~= ARGV[4] then return {'lost', 0, 'the claim expired or belongs to ' .. tostring(holder)} end
local ph = tonumber(redis.call('HGET', KEYS[1], 'ph') or '0')
if not live(KEYS[1], ph, ARGV[2]) then return {'abort', ph, 'execution is in phase ' .. ph} end
local nd = node_get(KEYS[1], ARGV[2])
if not nd or nd.a ~= tonumber(ARGV[3]) or (nd.p ~= READY and nd.p ~= RUNNING) then
  return {'abort', 0, 'attempt superseded'}
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local now = now_us()
redis.call('ZADD', KEYS[3], 'XX', math.floor(now / 1000) + tonumber(ARGV[5]), ARGV[1])
return {'ok', 0, ''}
