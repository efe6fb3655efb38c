-- quota-release: a usage op whose PostgreSQL write is now committed gives up its lease on the key and
-- moves the fence generation, so a rebuild that read the row before that commit cannot land.
-- In direct mode, when the lease had already expired (its owner was slow or died, so a rebuild may
-- have landed without the cost) the hash is dropped as well: the next check rebuilds it from
-- PostgreSQL, which now has the cost. Flusher mode never drops a hash (it may hold unflushed usage).
--
-- KEYS[1] quota hash   KEYS[2] fence hash
-- ARGV[1] op id   ARGV[2] "1" = direct mode (may drop the hash)   ARGV[3] fence TTL s
-- Returns 1 released a live lease | 0 the lease had expired or was gone (2 when the hash was dropped)
local field = 'l:' .. ARGV[1]
local expiry = redis.call('HGET', KEYS[2], field)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = expiry and tonumber(expiry) > now
redis.call('HDEL', KEYS[2], field)
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
if live then
  return 1
end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1])
  return 2
end
return 0
