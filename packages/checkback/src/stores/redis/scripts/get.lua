-- get: one job by id or by key. ARGV: wake channel, ref kind, ref. Returns a record reply or {}.
--@include partition
--@include due
--@include record
--@include state

local r = findJob(ARGV[2], ARGV[3])
if not r then return {} end
return reply(r)
