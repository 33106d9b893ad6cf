-- claim: gives up to `limit` due jobs a lease, earliest due first (FIFO within an instant).
-- A due entry is a scheduled job whose runAt has come, or an active job whose lease ran out:
-- the latter's attempt is recorded as failed ("lease expired") and, with no attempts left, the
-- job goes dead instead of being handed out again.
-- ARGV: wake channel, limit, lease ms, token prefix (random per call; a job's token is the
-- prefix plus its seq, so tokens are unique and unguessable without one random draw per job).
-- ARGV[5], when not '', is the instant to claim at: a claim across partitions reads the
-- clock once (peek.lua) and claims every partition at that same instant, so all its leases
-- end together.
-- Returns { now, next due instant or false, { record replies } }.
--@include partition
--@include due
--@include record
--@include state

if ARGV[5] ~= '' then now = tonumber(ARGV[5]) end
local limit = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local tokenPrefix = ARGV[4]
local claimed = {}

while #claimed < limit do
  local due = dueUpTo(now, limit - #claimed)
  if #due == 0 then break end
  for _, entry in ipairs(due) do
    local r = loadRecord(seqOf(entry[1]))
    r.member = entry[1]
    local expired = r.state == ACTIVE_STATE
    if expired then appendError(r, 'lease expired') end
    if expired and r.attempts >= r.maxAttempts then
      finish(r, DEAD)
    else
      if r.runAt > now then r.runAt = now end
      r.attempts = r.attempts + 1
      grantLease(r, tokenPrefix .. r.seq, now + leaseMs)
      claimed[#claimed + 1] = reply(r)
    end
  end
end

commit()
local _, nextDueAt = dueHead()
return { now, nextDueAt or false, claimed }
