-- flowflag: tells one partition of a partitioned queue whether the queue has a rate limit or
-- pause, so its peek says whether a claim must take from the queue's bucket (take.lua) — a
-- queue without one pays no extra step. The flag carries the version of the change it follows
-- (flow.lua): an older change arriving late is ignored.
-- ARGV: wake channel, version, has a bucket ('1' | '0'). Returns 1 if written, 0 if older.
--@include partition

local key = base .. ':lf'
local version = tonumber(ARGV[2])
local current = redis.call('GET', key)
if current and tonumber(string.match(current, '^(%d+)')) >= version then return 0 end
redis.call('SET', key, version .. ':' .. ARGV[3])
return 1
