-- A worker gives an attempt back (shutdown): its lease expires now, so the leader
-- retries it at once as a SYSTEM error.
-- KEYS: exec, claim, leases
-- ARGV: member, worker
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {'noop', 0, 'not the holder'} end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[3], 'XX', 0, ARGV[1])
return {'ok', 0, ''}
