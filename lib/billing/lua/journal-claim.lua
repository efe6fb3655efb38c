-- journal-claim: hand up to N due journal entries to one repairer, pushing their due time out by the
-- claim period so concurrent repairers (every gateway process runs one) do not work on the same op.
-- A repairer that dies simply lets the claim run out.
--
-- KEYS[1] journal   KEYS[2] journal payloads
-- ARGV[1] max entries   ARGV[2] claim ms
-- Returns a flat list: op id, payload, op id, payload, …
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = id
    out[#out + 1] = payload
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
