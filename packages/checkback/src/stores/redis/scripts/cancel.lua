-- cancel: a scheduled or active job becomes cancelled; an active job's lease is voided, so
-- its holder can no longer complete it.
-- ARGV: wake channel, ref kind ('i'|'k'), ref. Returns { changed, record reply } or {}.
--@include partition
--@include due
--@include record
--@include state

local r = findJob(ARGV[2], ARGV[3])
if not r then return {} end
if not isUnfinished(r) then return { 0, reply(r) } end
finish(r, CANCELLED)
commit()
return { 1, reply(r) }
