-- quota-invalidate: drop a quota hash so the next check rebuilds it from PostgreSQL, and move the key's
-- fence generation so that no rebuild from a row read before this moment can land afterwards
-- (used in direct mode, where PostgreSQL holds every cost: admin changes, repairs, and recovery after an
-- increment whose reply was lost). With an op given, the op is first cancelled in the op map if it was
-- never seen, so a late delivery of that increment can no longer apply; an op that had been a no-op
-- gets its lease released.
--
-- KEYS[1] quota hash   KEYS[2] fence hash   KEYS[3] op map (or any key when ARGV[1] is "")
-- ARGV[1] op index or ""   ARGV[2] op id   ARGV[3] fence TTL s
-- Returns the op's previous state (0 unseen → now cancelled, 1 applied, 2 no-op, 3 cancelled), or -1
-- without an op.
local prev = -1
if ARGV[1] ~= '' then
  local bit = '#' .. ARGV[1]
  prev = redis.call('BITFIELD', KEYS[3], 'GET', 'u2', bit)[1]
  if prev == 0 then
    redis.call('BITFIELD', KEYS[3], 'SET', 'u2', bit, 3)
  elseif prev == 2 then
    redis.call('HDEL', KEYS[2], 'l:' .. ARGV[2])
  end
end
redis.call('DEL', KEYS[1])
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return prev
