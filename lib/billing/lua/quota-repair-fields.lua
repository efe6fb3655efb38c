-- quota-repair-fields: overwrite fields of a malformed quota hash, each only if it still holds the bad
-- bytes the caller saw (compare-and-set), so a concurrent legitimate write is never clobbered.
-- Used in flusher mode, where the rest of the hash (unflushed usage) must be kept.
--
-- KEYS[1] quota hash
-- ARGV: triples (field, bytes seen or "\0absent", new bytes)
-- Returns the number of fields rewritten.
local n = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local seen = ARGV[i + 1]
  if (cur == false and seen == '\0absent') or cur == seen then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n
