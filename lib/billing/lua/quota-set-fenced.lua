-- quota-set-fenced: write a rebuilt quota entry (or a sentinel) only when that cannot lose usage.
--
-- The bytes written are exactly the gateway's SetUserPlatformQuotaCache (the 11 fields in order, then
-- EXPIRE). It refuses to write when
--   * a current-schema entry is already there (a second rebuild would wipe increments made since the
--     first one landed);
--   * the key's fence generation moved since the caller read it before loading the row: a usage op
--     whose Redis step was a no-op committed to PostgreSQL in between, or an admin change or repair
--     invalidated the key — the row the caller holds may lack that cost;
--   * a usage op holds a live lease on the key: its PostgreSQL write is not confirmed yet.
-- Expired leases (their owner died) are pruned here.
--
-- KEYS[1] quota hash   KEYS[2] fence hash
-- ARGV[1] TTL s   ARGV[2] schema version   ARGV[3] the fence generation the caller read ("" = none)
-- ARGV[4..25] the 11 field/value pairs
-- Returns 1 written | 0 a current entry exists | -1 fenced (generation moved) | -2 fenced (live lease)
local schema = redis.call('HGET', KEYS[1], 'schema_version')
if schema and tonumber(schema) == tonumber(ARGV[2]) then
  return 0
end
local f = redis.call('HGETALL', KEYS[2])
local gen = ''
local now = nil
for i = 1, #f, 2 do
  local name = f[i]
  if name == 'gen' then
    gen = f[i + 1]
  elseif string.sub(name, 1, 2) == 'l:' then
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    if tonumber(f[i + 1]) > now then
      return -2
    end
    redis.call('HDEL', KEYS[2], name)
  end
end
if gen ~= ARGV[3] then
  return -1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
