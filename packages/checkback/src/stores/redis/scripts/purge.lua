-- purge: deletes finished jobs of one state.
-- ARGV: wake channel, state code, mode ('ids'|'all'), limit, then the seqs ('ids') or the
-- number of the oldest to pass over ('all', see selectJobs). Returns { deleted, examined }.
--@include partition
--@include due
--@include record
--@include state

local state = tonumber(ARGV[2])
if state == SCHEDULED or state == ACTIVE_STATE then return { 0, 0 } end
local doomed = selectJobs(state, ARGV[3], tonumber(ARGV[4]), 5)
for _, r in ipairs(doomed) do deleteJob(r) end
commit()
return { #doomed, #doomed }
