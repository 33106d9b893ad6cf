-- claim: gives up to `limit` due jobs a lease, earliest due first (FIFO within an instant).
-- A due entry is a scheduled job whose runAt has come, or an active job whose lease ran out:
-- the latter's attempt is recorded as failed ("lease expired") and, with no attempts left, the
-- job goes dead instead of being handed out again.
-- ARGV: wake channel, limit, lease ms, token prefix (random per call; a job's token is the
-- prefix plus its seq, so tokens are unique and unguessable without one random draw per job).
-- ARGV[5], when not '', is the instant to claim at: a claim across partitions reads the
-- clock once (peek.lua) and claims every partition at that same instant, so all its leases
-- end together.
-- The batch is worked in bulk — records read and written per record bucket, index entries
-- removed per bucket, every new lease added at its one expiry — because per-job commands
-- are what a claim's cost is made of.
-- Returns { now, next due instant or false, { record replies } }.
--@include partition
--@include due
--@include record
--@include state

if ARGV[5] ~= '' then now = tonumber(ARGV[5]) end
local limit = tonumber(ARGV[2])
local expiresAt = now + tonumber(ARGV[3])
local tokenPrefix = ARGV[4]
local claimed = {}

while #claimed < limit do
  local due = dueUpTo(now, limit - #claimed)
  if #due == 0 then break end
  local seqs = {}
  for i, entry in ipairs(due) do seqs[i] = seqOf(entry[1]) end
  local records = loadRecords(seqs)
  dueRemoveMany(due)

  local leased, leasedMembers, newlyActive = {}, {}, {}
  local function lease(r)
    if r.state == SCHEDULED then
      newlyActive[#newlyActive + 1] = r.seq
      newlyActive[#newlyActive + 1] = r.member
    end
    countChange(r.state, -1)
    countChange(ACTIVE_STATE, 1)
    r.state = ACTIVE_STATE
    r.attempts = r.attempts + 1
    r.leaseToken = tokenPrefix .. r.seq
    r.leaseExpiresAt = expiresAt
    r.updatedAt = now
    if r.runAt > now then r.runAt = now end
    leased[#leased + 1] = r
    leasedMembers[#leasedMembers + 1] = r.member
    claimed[#claimed + 1] = reply(r)
  end
  local function expireToDead(r)
    -- Its due entry is gone already; leave the active set and finish as dead.
    redis.call('ZREM', ACTIVE, r.member)
    countChange(ACTIVE_STATE, -1)
    r.state = DEAD
    r.updatedAt = now
    r.leaseToken = false
    r.leaseExpiresAt = false
    enter(r)
    saveRecord(r)
  end

  for i, entry in ipairs(due) do
    -- An index entry without a record (never written by these scripts) is dropped, not served.
    local r = records[seqs[i]]
    if r then
      r.member = entry[1]
      if r.state == ACTIVE_STATE then
        appendError(r, 'lease expired')
        if r.attempts >= r.maxAttempts then expireToDead(r) else lease(r) end
      else
        lease(r)
      end
    end
  end
  if #leasedMembers > 0 then dueAddMany(leasedMembers, expiresAt) end
  if #newlyActive > 0 then callChunked('ZADD', ACTIVE, newlyActive) end
  saveRecords(leased)
end

commit()
local _, nextDueAt = dueHead()
return { now, nextDueAt or false, claimed }
