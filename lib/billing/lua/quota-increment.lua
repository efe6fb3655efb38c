-- quota-increment: record one usage op on a user × platform quota hash.
--
-- The effect on the gateway's keys is byte for byte the gateway's updateUserPlatformQuotaUsageScript
-- (spec §6.2): on a current-schema entry three HINCRBYFLOAT, HINCRBY version, EXPIRE, and the optional
-- SADD + EXPIRE of the dirty set; a missing or legacy entry is not touched. What we add lives in
-- console-owned keys:
--   * every op has an index in a 2-bit op map (0 unseen, 1 applied, 2 no-op, 3 cancelled); an op
--     already seen is never applied again, so a retried or late-delivered command cannot count twice,
--     and the repairer can ask what became of an op whose reply was lost;
--   * a no-op leaves a lease `l:{op}` in the key's fence hash: until the op's PostgreSQL write is
--     confirmed (and the lease released), no rebuild of this key may land (quota-set-fenced.lua), so
--     a hash built from a row read before that write cannot lose the cost;
--   * an entry whose usage or version bytes the increment could not process (HINCRBYFLOAT would fail
--     half-way, or Go reads them differently) is treated as a no-op with code 2 so the caller records
--     the cost in PostgreSQL and repairs the hash.
--
-- KEYS[1] quota hash            billing:user_platform_quota:{user}:{platform}
-- KEYS[2] dirty set             billing:upq:dirty
-- KEYS[3] op map                qc:billing:ops:{epoch}
-- KEYS[4] fence hash            qc:billing:fence:{user}:{platform}
-- ARGV[1] cost (Go 'f' format)   ARGV[2] hash TTL s          ARGV[3] schema version ("1")
-- ARGV[4] dirty member or ""     ARGV[5] dirty-set TTL s     ARGV[6] op index in the map
-- ARGV[7] op id (lease field)    ARGV[8] lease ms            ARGV[9] fence TTL s   ARGV[10] op-map TTL s
-- Returns 1 applied | 0 no-op (missing/legacy entry, lease taken) | 2 no-op (malformed entry, lease taken)
--         11 / 12 / 13 the op was already applied / a no-op / cancelled (nothing written)
local bit = '#' .. ARGV[6]
local v = redis.call('HMGET', KEYS[1], 'schema_version', 'daily_usage', 'weekly_usage', 'monthly_usage', 'version')
local state = 1
local code = 1
if v[1] == false or tonumber(v[1]) ~= tonumber(ARGV[3]) then
  state, code = 2, 0
else
  for i = 2, 4 do
    if not v[i] or not string.find(v[i], '^%-?%d+%.?%d*$') then state, code = 2, 2 end
  end
  if not v[5] or not string.find(v[5], '^%-?%d+$') then state, code = 2, 2 end
end
local prev = redis.call('BITFIELD', KEYS[3], 'SET', 'u2', bit, state)[1]
if prev ~= 0 then
  redis.call('BITFIELD', KEYS[3], 'SET', 'u2', bit, prev)
  return 10 + prev
end
if tonumber(ARGV[6]) % 4096 == 0 then redis.call('EXPIRE', KEYS[3], ARGV[10]) end
if state == 2 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('HSET', KEYS[4], 'l:' .. ARGV[7], now + tonumber(ARGV[8]))
  redis.call('EXPIRE', KEYS[4], ARGV[9])
  return code
end
redis.call('HINCRBYFLOAT', KEYS[1], 'daily_usage', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'weekly_usage', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'monthly_usage', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1
