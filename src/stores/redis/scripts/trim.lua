-- trim: retention for completed and cancelled jobs. Deletes those that finished before
-- now - max age, those beyond the newest keepLast, and (for a partitioned queue, where the
-- caller works out the queue-wide cut) those ordered before (cut score, cut seq).
-- At most MAX_DELETES per call, so one call never blocks the server for long; the worker
-- trims again soon enough.
-- ARGV: wake channel, keepLast (''), max age ms (''), cut score (''), cut seq.
-- Returns how many jobs were deleted.
--@include partition
--@include due
--@include record
--@include state

local MAX_DELETES = 10000
local keepLast = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local cutScore, cutSeq = tonumber(ARGV[4]), tonumber(ARGV[5])
local deleted = 0

local function deleteEntry(m)
  deleteJob(loadRecord(seqOf(m)))
  deleted = deleted + 1
end

-- Oldest first across both states: the next entry of each, merged.
local heads = {}
local function headOf(state)
  local item = redis.call('ZRANGE', finishedKey(state), 0, 0, 'WITHSCORES')
  if not item[1] then return nil end
  return { m = item[1], score = tonumber(item[2]) }
end
local function oldest()
  local c, x = headOf(COMPLETED), headOf(CANCELLED)
  if not c then return x end
  if not x then return c end
  if x.score < c.score or (x.score == c.score and x.m < c.m) then return x end
  return c
end

local total = tonumber(redis.call('HGET', COUNTS, COMPLETED) or 0) + tonumber(redis.call('HGET', COUNTS, CANCELLED) or 0)
while deleted < MAX_DELETES do
  local e = oldest()
  if not e then break end
  local doomed = (keepLast and total - deleted > keepLast)
    or (maxAge and e.score < now - maxAge)
    or (cutScore and (e.score < cutScore or (e.score == cutScore and seqOf(e.m) < cutSeq)))
  if not doomed then break end
  deleteEntry(e.m)
end
commit()
return deleted
