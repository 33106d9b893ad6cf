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
-- Worked on the packed arrays, like a claim (see include/record.lua).
local arrays, bigs = loadArrays(seqs)

local done, saves, activeMembers, finishedArgs = {}, {}, {}, {}
for i = 1, n do
  local at = 3 + (i - 1) * 4
  local seq = seqs[i]
  local a = arrays[seq]
  if a and a[F_STATE] == ACTIVE_STATE and a[F_LEASE] and (a[F_LEASE] .. '.' .. seq) == ARGV[at + 1] then
    local createdAt = a[F_CREATED]
    local m = member(seq)
    -- Rule 6: a grouped job leaving active frees its place; commit() recomputes the group and,
    -- if that makes it ready, wakes the workers sleeping while it was held.
    if a[F_GROUP] then groupActiveChange(a[F_GROUP], -1) end
    activeMembers[#activeMembers + 1] = m
    finishedArgs[#finishedArgs + 1] = now
    finishedArgs[#finishedArgs + 1] = m
    fillTo(a, F_RESULT)
    a[F_STATE] = COMPLETED
    a[F_UPDATED] = now - createdAt
    a[F_LEASE] = false
    a[F_EXPIRES] = false
    a[F_RESULT] = ARGV[at + 2] == '1' and ARGV[at + 3] or false
    trimArray(a)
    saves[#saves + 1] = { seq, cmsgpack.pack(a), bigs[seq] or false }
    done[i] = 1
  else
    done[i] = 0
  end
end
if #saves > 0 then
  countChange(ACTIVE_STATE, -#saves)
  countChange(COMPLETED, #saves)
  callChunked('ZREM', ACTIVE, activeMembers)
  callChunked('ZADD', finishedKey(COMPLETED), finishedArgs)
  savePackedMany(saves)
end
if n == 1 and done[1] == 1 then addJobs(3 + n * 4) end
commit()
return done
