-- trim: retention for completed and cancelled jobs. Deletes those that finished before
-- now - max age, those beyond the newest keepLast, and (for a partitioned queue, where the
-- caller works out the queue-wide cut) those ordered before (cut score, cut seq).
-- Works in bulk — the oldest candidates of both states read in one go, records read and
-- deleted per record bucket — since a busy worker trims about as many jobs as it completes.
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

local function count(state) return tonumber(redis.call('HGET', COUNTS, state) or 0) end
local total = count(COMPLETED) + count(CANCELLED)

-- How many of the oldest could go at most: all beyond keepLast, or (age / cut rules) any.
local budget = MAX_DELETES
if keepLast and not maxAge and not cutScore then budget = math.min(budget, math.max(0, total - keepLast)) end
if budget == 0 then return 0 end

-- The oldest `budget` of each state, merged oldest first.
local function oldest(state)
  local items = redis.call('ZRANGE', finishedKey(state), 0, budget - 1, 'WITHSCORES')
  local out = {}
  for i = 1, #items, 2 do out[#out + 1] = { m = items[i], score = tonumber(items[i + 1]), state = state } end
  return out
end
local c, x = oldest(COMPLETED), oldest(CANCELLED)
local ci, xi = 1, 1
local doomed = {}
while #doomed < budget do
  local a, b = c[ci], x[xi]
  local e
  if a and (not b or a.score < b.score or (a.score == b.score and a.m < b.m)) then
    e, ci = a, ci + 1
  elseif b then
    e, xi = b, xi + 1
  else
    break
  end
  local gone = (keepLast and total - #doomed > keepLast)
    or (maxAge and e.score < now - maxAge)
    or (cutScore and (e.score < cutScore or (e.score == cutScore and seqOf(e.m) < cutSeq)))
  if not gone then break end
  doomed[#doomed + 1] = e
end
if #doomed == 0 then return 0 end

local seqs, byState = {}, { [COMPLETED] = {}, [CANCELLED] = {} }
for i, e in ipairs(doomed) do
  seqs[i] = seqOf(e.m)
  local members = byState[e.state]
  members[#members + 1] = e.m
end
for state, members in pairs(byState) do
  if #members > 0 then
    callChunked('ZREM', finishedKey(state), members)
    countChange(state, -#members)
  end
end
-- Records are read only to free their business keys; a queue whose jobs have no keys skips
-- that (and its unpacking), deleting fields blind: a record is in its bucket or in BIG_RECORDS.
local keyed = redis.call('HLEN', KEY_INDEX) > 0
local records = keyed and loadRecords(seqs) or {}
local hasBig = redis.call('EXISTS', BIG_RECORDS) == 1
local smallByBucket, order, big = {}, {}, {}
for _, seq in ipairs(seqs) do
  local r = records[seq]
  if hasBig and (not r or r.big) then big[#big + 1] = seq end
  if not (r and r.big) then
    local key = recordBucket(seq)
    local fields = smallByBucket[key]
    if not fields then
      fields = {}
      smallByBucket[key] = fields
      order[#order + 1] = key
    end
    fields[#fields + 1] = recordField(seq)
  end
  if r and r.key and tonumber(redis.call('HGET', KEY_INDEX, r.key)) == seq then redis.call('HDEL', KEY_INDEX, r.key) end
end
for _, key in ipairs(order) do callChunked('HDEL', key, smallByBucket[key]) end
if #big > 0 then callChunked('HDEL', BIG_RECORDS, big) end
commit()
return #doomed
