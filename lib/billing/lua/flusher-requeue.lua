-- flusher-requeue: put members back into the dirty set (the gateway's re-add: SADD + EXPIRE 86400) and
-- take them out of this flusher's processing set, atomically.
--
-- KEYS[1] dirty set   KEYS[2] processing set
-- ARGV[1] dirty-set TTL s   ARGV[2..] members
if #ARGV < 2 then return 0 end
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], unpack(ARGV, 2))
return #ARGV - 1
