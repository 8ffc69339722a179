-- A worker claims the attempts it received together in one call (issue 25: a script a
-- claim cost Redis twice the claim itself), each as claim.lua would (claim_one, lib.lua).
-- The attempts may be of several executions; the lease deadlines and start fields are
-- written once at the end (claims_write), one call for the leases and one an execution.
-- KEYS: leases, then the exec and claim keys of each attempt
-- ARGV: worker, then the member, node, attempt and lease_ms of each attempt
-- Answers one {status, 0, note} for each attempt, in order.
local now, out, acc = now_us(), {}, claims_acc()
for j = 1, (#KEYS - 1) / 2 do
  local b = 4 * (j - 1) + 1
  out[j] = claim_one(KEYS[2 * j], KEYS[2 * j + 1], KEYS[1], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3],
    ARGV[1], ARGV[b + 4], now, acc)
end
claims_write(KEYS[1], acc)
return out
