-- A worker claims an attempt before running it (SET NX with a lease): a duplicate
-- dispatch of a claimed attempt runs at most once while the lease lives (claim_one, lib.lua).
-- KEYS: exec, claim, leases
-- ARGV: member, node, attempt, worker, lease_ms
return claim_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], now_us())
