-- add: adds a batch of jobs to one partition, all or none (a script is atomic).
-- ARGV: wake channel, then the jobs (add-job.lua). Returns { now, { outcome per job } }.
--@include partition
--@include due
--@include record
--@include state
--@include add-job

local out = addJobs(2)
commit()
return { now, out }
