-- quota-lease: before a parked usage op is written to PostgreSQL, make sure its lease on the quota key
-- still fences rebuilds. If the lease is live it is extended. If it ran out (its owner was slow or
-- died) a rebuild may already have landed without the cost:
--   * with a current entry in Redis (mode "redis-if-present", flusher mode) the caller must apply the
--     cost to that entry instead — the flusher will carry it to PostgreSQL;
--   * otherwise a fresh lease is taken and the caller writes PostgreSQL.
--
-- KEYS[1] quota hash   KEYS[2] fence hash
-- ARGV[1] op id   ARGV[2] lease ms   ARGV[3] fence TTL s   ARGV[4] schema version   ARGV[5] mode
-- Returns 1 lease live (extended) | 2 apply to the Redis entry instead | 3 lease re-taken (write PostgreSQL)
local field = 'l:' .. ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('HGET', KEYS[2], field)
if expiry and tonumber(expiry) > now then
  redis.call('HSET', KEYS[2], field, now + tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
if ARGV[5] == 'redis-if-present' then
  local schema = redis.call('HGET', KEYS[1], 'schema_version')
  if schema and tonumber(schema) == tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[2], field)
    return 2
  end
end
redis.call('HSET', KEYS[2], field, now + tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 3
