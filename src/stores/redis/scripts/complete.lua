-- complete: active -> completed for lease holders. One call completes a batch (the store
-- gathers the completions of one event-loop turn), or a single job together with its
-- follow-up jobs, which then exist if and only if that job completed.
-- ARGV: wake channel, n, then n times (seq, token, has result '1'|'0', result), then the
-- follow-up jobs (only with n = 1).
-- Returns one entry per job: 1, or 0 if its token no longer holds the lease.
--@include partition
--@include due
--@include record
--@include state
--@include add-job

local n = tonumber(ARGV[2])
local done = {}
for i = 0, n - 1 do
  local at = 3 + i * 4
  local r = heldJob(ARGV[at], ARGV[at + 1])
  if r then
    finish(r, COMPLETED, ARGV[at + 2] == '1' and ARGV[at + 3] or false)
    done[#done + 1] = 1
  else
    done[#done + 1] = 0
  end
end
if n == 1 and done[1] == 1 then addJobs(3 + n * 4) end
commit()
return done
