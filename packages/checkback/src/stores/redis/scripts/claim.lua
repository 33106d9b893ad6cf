-- claim: gives up to `limit` due jobs a lease, best claim rank first (include/ranked.lua; with
-- no priorities in use, earliest due first, FIFO within an instant), taking turns with the
-- ready groups (include/turns.lua, flow/groups.ts rule 3).
-- A due entry is a scheduled job whose runAt has come, or an active job whose lease ran out
-- (found in ACTIVE, see include/due.lua):
-- the latter's attempt is recorded as failed ("lease expired") and, with no attempts left, the
-- job goes dead instead of being handed out again.
-- ARGV: wake channel, limit, lease ms, token part (random per call; a job's token is that part,
-- a dot and its seq, so tokens are unique and unguessable without one random draw per job).
-- ARGV[5], when not '', is the instant to claim at: a claim across partitions reads the
-- clock once (peek.lua) and claims every partition at that same instant, so all its leases
-- end together. Its queue's rate limit and pause are then kept by the caller (take.lua):
-- a partition holds no bucket of its own.
-- The batch is worked in bulk — records read and written per record bucket, index entries
-- removed per bucket, every new lease added at its one expiry — because per-job commands
-- are what a claim's cost is made of.
-- Returns { now, next due instant or false, lease expiry, { claimed jobs }, { back-off id,
-- json, ... } }: a claimed job is only what the client cannot work out itself (see
-- claimReply); the back-off policies its jobs use come once each.
--@include partition
--@include due
--@include record
--@include state
--@include limit
--@include turns

if ARGV[5] ~= '' then now = tonumber(ARGV[5]) end
local limit = tonumber(ARGV[2])
-- A rate limit or pause (include/limit.lua) caps the claim at the starts it allows.
local bucket = flowBucket()
if bucket then limit = flowAllowed(bucket, now, limit) end
local expiresAt = now + tonumber(ARGV[3])
local tokenPart = ARGV[4]
local claimed = {}

-- A claimed job for the client (decodeClaimed in codec.ts): its state is active, updatedAt is
-- now, its token is the token part and its seq, and its lease ends at expiresAt, all of which
-- the client knows; the rest comes from the packed array.
local backoffsUsed, backoffList = {}, {}
local function claimReply(seq, a)
  local backoff = a[7]
  if not backoffsUsed[backoff] then
    backoffsUsed[backoff] = true
    backoffList[#backoffList + 1] = backoff
    backoffList[#backoffList + 1] = backoffJson(backoff)
  end
  local createdAt = a[F_CREATED]
  return {
    seq, createdAt + a[F_RUN_AT], a[F_ATTEMPTS], a[6], backoff, a[8], a[F_KEY], createdAt, a[F_ERRORS] or false,
    a[F_RESULT] or false, a[F_PRIORITY] or 0, a[F_GROUP] or false,
  }
end

-- Every job leased in one pass goes into ACTIVE at the lease's expiry ((score, member) pairs)
-- and is written back per record bucket.
local saves, leasedArgs = {}, {}
local fromScheduled = 0

-- The common case, worked on the packed array: scheduled -> active under a new lease.
local function start(seq, a, m, big)
  local createdAt = a[F_CREATED]
  a[F_STATE] = ACTIVE_STATE
  a[F_UPDATED] = now - createdAt
  if createdAt + a[F_RUN_AT] > now then a[F_RUN_AT] = now - createdAt end
  a[F_ATTEMPTS] = a[F_ATTEMPTS] + 1
  fillTo(a, F_KEY)
  a[F_LEASE] = tokenPart
  a[F_EXPIRES] = expiresAt - createdAt
  saves[#saves + 1] = { seq, cmsgpack.pack(a), big or false }
  fromScheduled = fromScheduled + 1
  leasedArgs[#leasedArgs + 1] = expiresAt
  leasedArgs[#leasedArgs + 1] = m
  return claimReply(seq, a)
end

groupsSweepIdle()
while #claimed < limit do
  local picks, turns = planTurns(limit - #claimed)
  if #picks == 0 then break end
  local replies = {}
  saves, leasedArgs, fromScheduled = {}, {}, 0

  -- Ungrouped due entries and expired leases: a prefix of dueRanked's entries, worked in bulk.
  local due, dueAt, groupPicks = {}, {}, {}
  for i, pick in ipairs(picks) do
    if pick.entry then
      due[#due + 1] = pick.entry
      dueAt[#due] = i
    else
      groupPicks[#groupPicks + 1] = i
    end
  end
  if #due > 0 then
    local seqs = {}
    for i, entry in ipairs(due) do seqs[i] = seqOf(entry[1]) end
    local arrays, bigs = loadArrays(seqs)
    dueRemoveMany(due)
    for i, entry in ipairs(due) do
      -- An index entry without a record (never written by these scripts) is dropped, not served.
      local seq = seqs[i]
      local a = arrays[seq]
      if a and a[F_STATE] == SCHEDULED then
        replies[dueAt[i]] = start(seq, a, entry[1], bigs[seq])
      elseif a and a[F_STATE] == ACTIVE_STATE then
        -- A lease ran out: its attempt failed ("lease expired"); with none left the job is dead.
        -- A grouped job counted in its group's active count all along (rule 5): it stops
        -- counting only when it goes dead.
        local r = recordOf(seq, a, bigs[seq] or false)
        r.member = entry[1]
        appendError(r, 'lease expired')
        if r.attempts >= r.maxAttempts then
          -- Leave the active set and finish as dead.
          redis.call('ZREM', ACTIVE, r.member)
          countChange(ACTIVE_STATE, -1)
          if r.group then groupActiveChange(r.group, -1) end
          r.state = DEAD
          r.updatedAt = now
          r.leaseToken = false
          r.leaseExpiresAt = false
          enter(r)
          saveRecord(r)
        else
          r.attempts = r.attempts + 1
          r.updatedAt = now
          setLeaseToken(r, tokenPart)
          r.leaseExpiresAt = expiresAt
          leasedArgs[#leasedArgs + 1] = expiresAt
          leasedArgs[#leasedArgs + 1] = entry[1]
          local packed = packRecord(r)
          r.big = storePacked(seq, packed, r.big)
          replies[dueAt[i]] = claimReply(seq, cmsgpack.unpack(packed))
        end
      elseif entry[4] then
        -- An ACTIVE entry whose job is no longer active (never left by these scripts): dropped.
        redis.call('ZREM', ACTIVE, entry[1])
      end
    end
  end

  -- Groups' heads: each group's first `taken` jobs leave its set, cut by rank per bucket; the
  -- group is charged what actually started (active count, servedAt, bucket) and recomputed.
  if #groupPicks > 0 then
    local seqs, listed = {}, {}
    for k, i in ipairs(groupPicks) do
      local pick = picks[i]
      seqs[k] = seqOf(pick.member)
      listed[k] = { pick.member, pick.runAt }
    end
    local arrays, bigs = loadArrays(seqs)
    for k, i in ipairs(groupPicks) do
      local pick = picks[i]
      local seq = seqs[k]
      local a = arrays[seq]
      -- An entry whose job is not a scheduled job of this group (never left by these scripts) is dropped.
      if a and a[F_STATE] == SCHEDULED and a[F_GROUP] == pick.turn.name then
        replies[i] = start(seq, a, pick.member, bigs[seq])
        pick.turn.started = pick.turn.started + 1
        pick.turn.lastTurn = nextTurn()
      end
    end
    indexRemoveMany(GROUPED, listed)
    for name, t in pairs(turns) do
      if t.taken > 0 then
        local taken = {}
        for k = 1, t.taken do taken[k] = t.jobs[k] end
        indexRemoveMany(groupIndex(name), taken)
        -- The turns read the group's next job already (or found it has none).
        local nextJob = t.jobs[t.taken + 1]
        if nextJob then
          knownHead[name] = nextJob
        elseif t.complete then
          knownHead[name] = false
        end
        if t.started > 0 then
          local st = t.st
          local _, rate, per = groupLimits(st)
          if rate then
            local b = groupBucket(st, rate, per)
            st.tokens = flowRefill(b, now) - t.started
            st.at = now
          end
          st.servedAt = now
          st.turn = t.lastTurn
          groupActiveAdd(name, t.started)
        end
        groupTouch(name)
      end
    end
  end

  countChange(SCHEDULED, -fromScheduled)
  countChange(ACTIVE_STATE, fromScheduled)
  if #leasedArgs > 0 then
    leasedArgs[#leasedArgs + 1] = 'inf'
    leasedArgs[#leasedArgs + 1] = ACTIVE_SENTINEL
    callChunked('ZADD', ACTIVE, leasedArgs)
  end
  savePackedMany(saves)
  for i = 1, #picks do
    if replies[i] then claimed[#claimed + 1] = replies[i] end
  end
  -- The groups served are back in READY at their new readyAt before any further pass.
  groupsSettle()
end

saveTurns()
commit()
local nextDueAt = partitionHead()
if bucket then
  flowCharge(bucket, now, #claimed)
  if nextDueAt then nextDueAt = math.max(nextDueAt, flowNextStart(bucket, now)) end
end
return { now, nextDueAt or false, expiresAt, claimed, backoffList }
