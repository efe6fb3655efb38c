-- journal-add: park a usage op whose PostgreSQL write failed (or whose commit is unconfirmed) until the
-- repairer writes it exactly once. Optionally takes (or extends) the op's lease on the quota key, so no
-- rebuild lands while PostgreSQL lacks the cost (quota-set-fenced.lua).
--
-- (Re)scheduling an entry releases any claim on it: whoever finds it due next may take it.
--
-- KEYS[1] journal (ZSET op id → due ms)   KEYS[2] journal payloads (HASH op id → JSON)   KEYS[3] fence hash
-- KEYS[4] claims
-- ARGV[1] op id   ARGV[2] payload JSON   ARGV[3] delay ms   ARGV[4] "1" take/extend the lease
-- ARGV[5] lease ms   ARGV[6] fence TTL s
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[3], 'l:' .. ARGV[1], now + tonumber(ARGV[5]))
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
return 1
