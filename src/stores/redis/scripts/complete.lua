-- complete: active -> completed for lease holders. One call completes a batch (the store
-- gathers the completions of one event-loop turn), worked in bulk like a claim; or a single
-- job together with its follow-up jobs, which then exist if and only if that job completed.
-- ARGV: wake channel, n, then n times (seq, token, has result '1'|'0', result), then the
-- follow-up jobs (only with n = 1).
-- Returns one entry per job: 1, or 0 if its token no longer holds the lease.
--@include partition
--@include due
--@include record
--@include state
--@include add-job

local n = tonumber(ARGV[2])
local seqs = {}
for i = 1, n do seqs[i] = tonumber(ARGV[3 + (i - 1) * 4]) end
local records = loadRecords(seqs)

local done, finished, dueEntries, activeMembers, finishedArgs = {}, {}, {}, {}, {}
for i = 1, n do
  local at = 3 + (i - 1) * 4
  local r = records[seqs[i]]
  if r and r.state == ACTIVE_STATE and r.leaseToken == ARGV[at + 1] then
    local m = memberOf(r)
    dueEntries[#dueEntries + 1] = { m, r.leaseExpiresAt }
    activeMembers[#activeMembers + 1] = m
    finishedArgs[#finishedArgs + 1] = now
    finishedArgs[#finishedArgs + 1] = m
    countChange(ACTIVE_STATE, -1)
    countChange(COMPLETED, 1)
    r.state = COMPLETED
    r.updatedAt = now
    r.leaseToken = false
    r.leaseExpiresAt = false
    r.result = ARGV[at + 2] == '1' and ARGV[at + 3] or false
    finished[#finished + 1] = r
    done[i] = 1
  else
    done[i] = 0
  end
end
if #finished > 0 then
  dueRemoveMany(dueEntries)
  callChunked('ZREM', ACTIVE, activeMembers)
  callChunked('ZADD', finishedKey(COMPLETED), finishedArgs)
  saveRecords(finished)
end
if n == 1 and done[1] == 1 then addJobs(3 + n * 4) end
commit()
return done
