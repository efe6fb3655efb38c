-- flusher-claim: pop up to N dirty members and, in the same step, move them into this flusher's
-- processing set (renewing its heartbeat and registering it). A member leaves the processing set only
-- after its snapshot is committed to PostgreSQL (SREM), so a flusher killed between the pop and the
-- write loses nothing: flusher-recover.lua puts its members back once its heartbeat has expired.
--
-- KEYS[1] dirty set   KEYS[2] processing set   KEYS[3] heartbeat   KEYS[4] flusher registry
-- ARGV[1] N   ARGV[2] flusher id   ARGV[3] heartbeat ms   ARGV[4] processing-set TTL s
local members = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
redis.call('SET', KEYS[3], '1', 'PX', tonumber(ARGV[3]))
redis.call('SADD', KEYS[4], ARGV[2])
if #members > 0 then
  redis.call('SADD', KEYS[2], unpack(members))
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return members
