-- complete: active -> completed for the lease holder, adding follow-up jobs in the same step
-- (they exist if and only if this job completed).
-- ARGV: wake channel, seq, token, has result ('1'|'0'), result, then follow-up jobs.
-- Returns 1, or 0 if the token no longer holds the lease.
--@include partition
--@include due
--@include record
--@include state
--@include add-job

local r = heldJob(ARGV[2], ARGV[3])
if not r then return 0 end
finish(r, COMPLETED, ARGV[4] == '1' and ARGV[5] or false)
addJobs(6)
publishWake()
return 1
