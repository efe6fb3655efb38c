-- gateway-increment: the Go gateway's updateUserPlatformQuotaUsageScript (spec §6.2), kept verbatim in
-- behaviour so tests can run the gateway's own script next to ours on the same hash and compare the
-- bytes, and so the benchmark can compare the cost of both. lib/billing never records through it.
--
-- KEYS[1] quota hash   KEYS[2] dirty set
-- ARGV[1] cost   ARGV[2] TTL s   ARGV[3] schema version   ARGV[4] dirty member or ""   ARGV[5] dirty TTL s
if redis.call("EXISTS", KEYS[1]) == 0 then
    return 0
end
local ver = redis.call("HGET", KEYS[1], "schema_version")
if ver == false or tonumber(ver) ~= tonumber(ARGV[3]) then
    return 0
end
redis.call("HINCRBYFLOAT", KEYS[1], "daily_usage", ARGV[1])
redis.call("HINCRBYFLOAT", KEYS[1], "weekly_usage", ARGV[1])
redis.call("HINCRBYFLOAT", KEYS[1], "monthly_usage", ARGV[1])
redis.call("HINCRBY", KEYS[1], "version", 1)
redis.call("EXPIRE", KEYS[1], ARGV[2])
if ARGV[4] ~= "" then
    redis.call("SADD", KEYS[2], ARGV[4])
    redis.call("EXPIRE", KEYS[2], ARGV[5])
end
return 1
