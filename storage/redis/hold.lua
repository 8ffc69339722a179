-- Results in Kafka: each attempt's lease is stretched to ARGV[2] ms, so that a leader
-- reading a result late (failover, backlog) does not retry it as lease_expired (review
-- H3). One call for the attempts a worker finished within a few milliseconds (issue 25:
-- it was a heartbeat each). A claim that is gone (the result applied) or another
-- worker's is left alone. Answers how many were stretched.
-- KEYS: leases, claim...
-- ARGV: worker, hold_ms, member... (the member of KEYS[k] is ARGV[k + 1])
local n = 0
local due = math.floor(now_us() / 1000) + tonumber(ARGV[2])
for k = 2, #KEYS do
  if redis.call('GET', KEYS[k]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[k], ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', due, ARGV[k + 1])
    n = n + 1
  end
end
return {'ok', n, ''}
