-- journal-claim: hand up to N due journal entries to one repairer, pushing their due time out by the
-- claim period and recording the claimer's token, so concurrent repairers (every gateway process runs
-- one) do not work on the same op. Before it writes an entry, the repairer renews its claim
-- (journal-renew.lua) and skips the entry if the claim is no longer its own — a claimed batch can take
-- longer than one claim period under a slow database, and two repairers must never both write one op.
-- A repairer that dies simply lets the claim run out.
--
-- KEYS[1] journal   KEYS[2] journal payloads   KEYS[3] claims (HASH op id → token)
-- ARGV[1] max entries   ARGV[2] claim ms   ARGV[3] claimer token
-- Returns a flat list: op id, payload, op id, payload, …
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', KEYS[3], id, ARGV[3])
    out[#out + 1] = id
    out[#out + 1] = payload
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return out
