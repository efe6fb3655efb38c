-- journal-renew: extend a claimed journal entry's claim, only if it is still this repairer's, and
-- return its current payload (another repairer may have stored a txid in it). The caller writes the
-- entry only when this returns a payload: the renewed claim outlasts one write (bounded by the pool's
-- timeouts), so no other repairer can claim it meanwhile.
--
-- KEYS[1] journal   KEYS[2] journal payloads   KEYS[3] claims
-- ARGV[1] op id   ARGV[2] claimer token   ARGV[3] claim ms
-- Returns the payload, or false when the claim is lost or the entry is gone.
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return false
end
local payload = redis.call('HGET', KEYS[2], ARGV[1])
if not payload then
  return false
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return payload
