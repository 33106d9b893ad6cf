-- settle: completes an unfinished job from outside, without a lease (a check resolved by the
-- other party's notification). A running holder's lease is voided with it. Whichever of
-- complete and settle comes first wins; the other changes nothing.
-- ARGV: wake channel, ref kind ('i'|'k'), ref, has result, result, then follow-up jobs.
-- Returns { changed (0|1), record reply } or {} if there is no such job.
--@include partition
--@include due
--@include record
--@include state
--@include add-job

local r = findJob(ARGV[2], ARGV[3])
if not r then return {} end
if not isUnfinished(r) then return { 0, reply(r) } end
finish(r, COMPLETED, ARGV[4] == '1' and ARGV[5] or false)
addJobs(6)
commit()
return { 1, reply(r) }
