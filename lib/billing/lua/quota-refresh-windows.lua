-- quota-refresh-windows: reset the expired windows of an entry, only if they are still as the check saw
-- them (same start bytes), atomically — so an increment that landed after the check's read is never
-- lost (the gateway re-writes the whole hash here and can wipe it). The bytes are what the gateway's
-- refresh writes for those fields: usage "0", the new start, version "0", TTL reset.
--
-- KEYS[1] quota hash
-- ARGV[1] schema version   ARGV[2] TTL s
-- ARGV[3..8] (seen start, new start | "-") for daily, weekly, monthly
-- Returns the number of windows reset.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local schema = redis.call('HGET', KEYS[1], 'schema_version')
if not schema or tonumber(schema) ~= tonumber(ARGV[1]) then
  return 0
end
local changed = 0
local windows = {'daily', 'weekly', 'monthly'}
for i = 1, 3 do
  local fresh = ARGV[2 + i * 2]
  if fresh ~= '-' then
    local field = windows[i] .. '_window_start'
    local current = redis.call('HGET', KEYS[1], field) or ''
    if current == ARGV[1 + i * 2] then
      redis.call('HSET', KEYS[1], windows[i] .. '_usage', '0', field, fresh)
      changed = changed + 1
    end
  end
end
if changed > 0 then
  redis.call('HSET', KEYS[1], 'version', '0')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return changed
