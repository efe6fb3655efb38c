-- quota-admin-apply: carry an admin change into a quota hash IN PLACE (flusher mode, where the hash holds
-- usage PostgreSQL has not seen yet, so it must never be deleted). Always moves the key's fence
-- generation, so a rebuild from a row read before the change cannot land afterwards.
--   "limits"  rewrite the three limit fields (usage and windows kept). Idempotent.
--   "reset"   one window: usage "0" and the new start, and mark the key dirty so the flusher writes the
--             reset to PostgreSQL. Idempotent per reset id (fence field r:{window}), so a retry never
--             zeroes usage recorded after the first application.
--   "replace" the key now stands for a different row (platform removed → sentinel; a new row): write
--             the given 11 fields and TTL; returns the previous usage fields so the caller can keep
--             them on the old row.
--
-- KEYS[1] quota hash   KEYS[2] fence hash   KEYS[3] dirty set
-- ARGV[1] kind   ARGV[2] schema version   ARGV[3] fence TTL s
--   limits:  ARGV[4..6] daily, weekly, monthly limit bytes
--   reset:   ARGV[4] window   ARGV[5] new start bytes   ARGV[6] reset id   ARGV[7] dirty member   ARGV[8] dirty TTL s
--   replace: ARGV[4] TTL s   ARGV[5..26] the 11 field/value pairs
-- Returns limits/reset: 1 applied | 0 no current entry (nothing to change) | 2 reset already applied;
--         replace: {} when there was no current entry, else {daily_usage, weekly_usage, monthly_usage,
--         daily_window_start, weekly_window_start, monthly_window_start} of the replaced entry
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
local schema = redis.call('HGET', KEYS[1], 'schema_version')
local current = schema and tonumber(schema) == tonumber(ARGV[2])
local kind = ARGV[1]
if kind == 'limits' then
  if not current then return 0 end
  redis.call('HSET', KEYS[1], 'daily_limit', ARGV[4], 'weekly_limit', ARGV[5], 'monthly_limit', ARGV[6])
  return 1
elseif kind == 'reset' then
  local field = 'r:' .. ARGV[4]
  if redis.call('HGET', KEYS[2], field) == ARGV[6] then return 2 end
  redis.call('HSET', KEYS[2], field, ARGV[6])
  if not current then return 0 end
  redis.call('HSET', KEYS[1], ARGV[4] .. '_usage', '0', ARGV[4] .. '_window_start', ARGV[5])
  redis.call('SADD', KEYS[3], ARGV[7])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
  return 1
elseif kind == 'replace' then
  if not current then return {} end
  local old = redis.call('HMGET', KEYS[1], 'daily_usage', 'weekly_usage', 'monthly_usage',
    'daily_window_start', 'weekly_window_start', 'monthly_window_start')
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, 5))
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return old
end
return redis.error_reply('unknown kind ' .. kind)
