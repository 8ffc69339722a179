-- A cacheable attempt missed the catalog. Decides who runs identical work (same cache
-- key): the caller when nobody else is (it takes the reservation), or else the caller
-- waits for the run under way: its dispatch leaves the outbox for the delayed set (looked
-- at again after ARGV[7] ms, or as soon as cache_done wakes the waiters). A reservation
-- whose holder node is no longer running (failed, aborted, its execution gone) or that
-- expired (ARGV[6] ms) is void. "=done" means the result was recorded a moment ago: look
-- again ('again'), unless the caller already did (ARGV[8] = 1).
-- Reading the holder's execution hash assumes one Redis (not a cluster).
-- KEYS: epoch, exec, reservation, waiters, outbox, delayed
-- ARGV: epoch, exec_id, node, attempt, cache_key, reservation_ms, recheck_ms, looked_again,
--       mode ('reserve', or 'record': only remember the key, for --no-cache and
--       --overwrite-cache runs)
-- Answers {'ok', 0, 'run' | 'wait' | 'again', holder}
local E = ARGV[2]
local stale = fence(KEYS[1], ARGV[1])
if stale then return {'fenced', 0, 'epoch ' .. ARGV[1] .. ' is older than ' .. stale} end
local ph = tonumber(redis.call('HGET', KEYS[2], 'ph') or '0')
if ph ~= RUNNING then return {'noop', 0, 'execution is not running'} end
local i, a = ARGV[3], tonumber(ARGV[4])
local nd = node_get(KEYS[2], i)
if not nd or nd.a ~= a or nd.p ~= READY then return {'noop', 0, 'attempt is not ready'} end
redis.call('HSET', KEYS[2], 'k' .. i, ARGV[5])
if ARGV[9] == 'record' then return {'ok', 0, 'run'} end
local me = E .. '|' .. i
local h = redis.call('GET', KEYS[3])
if h == '=done' and ARGV[8] ~= '1' then return {'ok', 0, 'again'} end
if h and h ~= me and h ~= '=done' then
  local he, hi = string.match(h, '^(.+)|(%d+)$')
  local alive = false
  if he then
    local hk = 'floe:{' .. he .. '}'
    local hph = tonumber(redis.call('HGET', hk, 'ph') or '0')
    local hn = node_get(hk, hi)
    alive = hph == RUNNING and hn ~= nil and not node_terminal(hn.p)
  end
  if alive then
    local m = E .. '|' .. i .. '|' .. a
    local ms = math.floor(now_us() / 1000)
    redis.call('ZREM', KEYS[5], m)
    redis.call('ZADD', KEYS[6], ms + tonumber(ARGV[7]), m)
    redis.call('SADD', KEYS[4], m)
    redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[6]))
    return {'ok', 0, 'wait', h}
  end
end
redis.call('SET', KEYS[3], me, 'PX', tonumber(ARGV[6]))
return {'ok', 0, 'run', me}
