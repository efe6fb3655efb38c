-- flusher-recover: give the members of every flusher whose heartbeat has expired (it was killed or
-- lost Redis for longer than the heartbeat) back to the dirty set. Snapshots are absolute, so a member
-- flushed twice is harmless; a member lost would not be.
-- (The per-flusher keys are derived from the registry inside the script: a single Redis instance is
-- assumed, as everywhere in the billing chain.)
--
-- KEYS[1] flusher registry   KEYS[2] dirty set
-- ARGV[1] heartbeat key prefix   ARGV[2] processing key prefix   ARGV[3] dirty-set TTL s
-- Returns the number of members given back.
local moved = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    local set = ARGV[2] .. id
    local members = redis.call('SMEMBERS', set)
    if #members > 0 then
      redis.call('SADD', KEYS[2], unpack(members))
      redis.call('EXPIRE', KEYS[2], ARGV[3])
      moved = moved + #members
    end
    redis.call('DEL', set)
    redis.call('SREM', KEYS[1], id)
  end
end
return moved
