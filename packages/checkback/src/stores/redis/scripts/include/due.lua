-- The due index: every scheduled job at its runAt. Active jobs are due again when their
-- lease runs out; they wait in ACTIVE at that instant instead (see dueUpTo and dueHead), a
-- plain sorted set: they are few, and each claim and completion adds and removes a batch of
-- them, which a listpack bucket would pay for with an O(n) scan per entry.
--
-- One big sorted set would cost ~100 bytes per entry once it outgrows the compact listpack
-- encoding (skiplist node + dict entry + member string). Instead the index is split into
-- buckets of at most BUCKET_SIZE entries, each a small sorted set that Redis keeps as a
-- listpack (~20 bytes per entry), plus one directory zset of bucket start times.
--
-- A bucket "<base>:d:<start>" holds exactly the entries whose score s satisfies
-- start <= s < next bucket's start; so an entry is always found in the bucket with the
-- largest start <= its score, and walking buckets in start order walks the index in order.
-- A full bucket splits at its median score before it would grow past the listpack limit
-- (Redis never converts a grown zset back). Entries with one identical score cannot be split
-- apart: such a bucket simply grows (and costs what a plain zset costs).
--
-- The same bucketed layout serves two more indexes (include/groups.lua): GROUPED, every
-- scheduled job of a group at its runAt — grouped jobs are claimed from their groups' own sets,
-- never from here; this index only lets list.lua walk them in due order with the others, at the
-- compact layout's ~20 bytes per job — and each group's own set of jobs. A group's set starts
-- as one bucket, a key of its own, and gains a directory only once it splits: most groups hold
-- few jobs, and a directory per group would cost more than their jobs. The functions below take
-- the index they work on; `keyOf` names its buckets, and with `zero` its first bucket ("0") is
-- never in the directory but found whenever no start in it is low enough. `size` is its buckets'
-- most entries: GROUPED loses its entries by member, not from the front of a bucket as the others
-- do, and every ZREM scans its bucket, so its buckets are smaller (a few bytes more per entry).
local BUCKET_SIZE = 128
local function bucketIndex(directory, bucketPrefix, keyOf, size)
  return {
    directory = directory, prefix = bucketPrefix, keys = {}, keyOf = keyOf, zero = keyOf and '0' or nil,
    size = size or BUCKET_SIZE,
  }
end
local DUE = bucketIndex(base .. ':t', base .. ':d:')
local GROUPED = bucketIndex(base .. ':gt', base .. ':gx:', nil, 32)

-- Prioritized jobs (priority other than 0, see flow/priority.ts) wait outside the buckets, in
-- one plain sorted set per level, "<base>:p:<level>", score = runAt; LEVELS is the set of
-- levels that hold any. A queue that never uses priorities has no LEVELS key, and every read
-- below pays one SCARD to learn it. Among due jobs a claim takes the lowest rank first:
-- rank = due instant - priority * PRIORITY_STEP_MS (ties by seq).
local LEVELS = base .. ':pl'
local PRIORITY_STEP_MS = 60000
local function levelKey(level) return base .. ':p:' .. level end
local function rankOf(score, priority) return score - (priority or 0) * PRIORITY_STEP_MS end
local usesLevels = nil
local function levelsInUse()
  if usesLevels == nil then usesLevels = redis.call('SCARD', LEVELS) > 0 end
  return usesLevels
end
local function levelAdd(m, score, level)
  redis.call('ZADD', levelKey(level), score, m)
  redis.call('SADD', LEVELS, level)
  usesLevels = true
end
local function levelRemove(m, level)
  local key = levelKey(level)
  redis.call('ZREM', key, m)
  if redis.call('EXISTS', key) == 0 then
    redis.call('SREM', LEVELS, level)
    usesLevels = nil
  end
end

local function bucketKey(ix, start)
  local key = ix.keys[start]
  if not key then
    key = ix.keyOf and ix.keyOf(start) or ix.prefix .. start
    ix.keys[start] = key
  end
  return key
end

-- The start of the bucket that holds (or would hold) an entry with this score.
local function bucketFor(ix, score)
  local found = redis.call('ZREVRANGEBYSCORE', ix.directory, score, '-inf', 'LIMIT', 0, 1)
  return found[1] or ix.zero
end

local function splitBucket(ix, start)
  local key = bucketKey(ix, start)
  local lowest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local middle = redis.call('ZRANGE', key, ix.size / 2, ix.size / 2, 'WITHSCORES')
  local at = middle[2]
  if tonumber(at) <= tonumber(lowest[2]) then
    -- The lower half is one instant: split just above it, if anything is above it.
    local above = redis.call('ZRANGEBYSCORE', key, '(' .. lowest[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if not above[1] then return end
    at = above[2]
  end
  local moving = redis.call('ZRANGEBYSCORE', key, at, '+inf', 'WITHSCORES')
  local args = {}
  for i = 1, #moving, 2 do
    args[#args + 1] = moving[i + 1]
    args[#args + 1] = moving[i]
  end
  callChunked('ZADD', bucketKey(ix, at), args)
  redis.call('ZREMRANGEBYSCORE', key, at, '+inf')
  redis.call('ZADD', ix.directory, at, at)
end

local function indexAdd(ix, m, score)
  local start = bucketFor(ix, score)
  if not start then
    start = '0'
    redis.call('ZADD', ix.directory, 0, start)
  elseif redis.call('ZCARD', bucketKey(ix, start)) >= ix.size then
    splitBucket(ix, start)
    start = bucketFor(ix, score)
  end
  redis.call('ZADD', bucketKey(ix, start), score, m)
end

local function indexRemove(ix, m, score)
  local start = bucketFor(ix, score)
  if not start then return end
  local key = bucketKey(ix, start)
  redis.call('ZREM', key, m)
  if redis.call('EXISTS', key) == 0 then redis.call('ZREM', ix.directory, start) end
end

local function dueAdd(m, score, priority)
  if priority and priority ~= 0 then return levelAdd(m, score, priority) end
  indexAdd(DUE, m, score)
end

local function dueRemove(m, score, priority)
  if priority and priority ~= 0 then return levelRemove(m, priority) end
  indexRemove(DUE, m, score)
end

-- The start of the bucket after `start`, as a number (math.huge for the last bucket).
local function nextBucketStart(ix, start)
  local after = redis.call('ZRANGEBYSCORE', ix.directory, '(' .. start, '+inf', 'LIMIT', 0, 1)[1]
  return after and tonumber(after) or math.huge
end

-- Writes `entries` ({ score, member }, sorted by score) as buckets of about half the bucket
-- size, the first under `start` (already in the directory), each following one under its
-- first score. A cut only falls between two different scores, so a bucket keeps holding
-- exactly the scores from its start to the next one's.
local function writeBuckets(ix, start, entries)
  local half = ix.size / 2
  local i = 1
  while i <= #entries do
    local j = math.min(#entries, i + half - 1)
    while j < #entries and entries[j + 1][1] == entries[j][1] do j = j + 1 end
    -- Leave no sliver behind: a short remainder joins this bucket if it fits.
    if #entries - j < half / 2 and #entries - i + 1 <= ix.size then j = #entries end
    local chunkStart = start
    if i > 1 then
      chunkStart = string.format('%d', entries[i][1])
      redis.call('ZADD', ix.directory, chunkStart, chunkStart)
    end
    local args = {}
    for k = i, j do
      args[#args + 1] = entries[k][1]
      args[#args + 1] = entries[k][2]
    end
    callChunked('ZADD', bucketKey(ix, chunkStart), args)
    i = j + 1
  end
end

-- Adds many entries ({ score, member }, sorted by score) with a few commands per bucket they
-- land in, rather than a lookup and an insert per entry. A bucket that would outgrow the
-- listpack limit is read, merged with its new entries and written out again split.
local function indexAddSorted(ix, entries)
  local i = 1
  while i <= #entries do
    local start = bucketFor(ix, entries[i][1])
    if not start then
      start = '0'
      redis.call('ZADD', ix.directory, 0, start)
    end
    local stop = nextBucketStart(ix, start)
    local j = i
    while j < #entries and entries[j + 1][1] < stop do j = j + 1 end
    local key = bucketKey(ix, start)
    local held = redis.call('ZCARD', key)
    if held + (j - i + 1) <= ix.size then
      local args = {}
      for k = i, j do
        args[#args + 1] = entries[k][1]
        args[#args + 1] = entries[k][2]
      end
      callChunked('ZADD', key, args)
    else
      local merged = {}
      local existing = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      for k = 1, #existing, 2 do merged[#merged + 1] = { tonumber(existing[k + 1]), existing[k] } end
      for k = i, j do merged[#merged + 1] = entries[k] end
      table.sort(merged, function(a, b) return a[1] < b[1] end)
      redis.call('DEL', key)
      writeBuckets(ix, start, merged)
    end
    i = j + 1
  end
end

-- Removes many entries, { member, score [, bucket start [, expired [, level]]] } each (an entry
-- of a priority level leaves its level's set): one ZREM per bucket. Buckets
-- not given (dueUpTo gives them) are looked up before anything is removed, so the lookups
-- stay valid. Expired leases among them (from ACTIVE, marked by dueUpTo) are left alone.
-- Entries dueUpTo gave are the first of their bucket by rank, so a bucket that lost only
-- such entries is cut with one ZREMRANGEBYRANK: a listpack removes a run in one move, where
-- ZREM scans the bucket for every member.
local function indexRemoveMany(ix, entries)
  local buckets, order, startOf, byRank = {}, {}, {}, {}
  for _, entry in ipairs(entries) do
    local start = entry[3] or startOf[entry[2]]
    if entry[5] then
      levelRemove(entry[1], entry[5])
      start = false
    elseif entry[4] then
      start = false
    elseif start == nil then
      start = bucketFor(ix, entry[2]) or false
      startOf[entry[2]] = start
    end
    if start then
      local members = buckets[start]
      if not members then
        members = {}
        buckets[start] = members
        order[#order + 1] = start
        byRank[start] = true
      end
      members[#members + 1] = entry[1]
      if not entry[3] then byRank[start] = false end
    end
  end
  for _, start in ipairs(order) do
    local key = bucketKey(ix, start)
    if byRank[start] then
      redis.call('ZREMRANGEBYRANK', key, 0, #buckets[start] - 1)
    else
      callChunked('ZREM', key, buckets[start])
    end
    -- An index's implicit first bucket is never in its directory.
    if start ~= ix.zero and redis.call('EXISTS', key) == 0 then redis.call('ZREM', ix.directory, start) end
  end
end
local function dueAddSorted(entries) indexAddSorted(DUE, entries) end
local function dueRemoveMany(entries) indexRemoveMany(DUE, entries) end

-- The earliest instant something is due: a scheduled job's runAt or an active job's lease
-- expiry. Returns member and score, or nil.
local function dueHead()
  local m, score
  local first = redis.call('ZRANGE', DUE.directory, 0, 0)
  if first[1] then
    local head = redis.call('ZRANGE', bucketKey(DUE, first[1]), 0, 0, 'WITHSCORES')
    m, score = head[1], tonumber(head[2])
  end
  if levelsInUse() then
    for _, level in ipairs(redis.call('SMEMBERS', LEVELS)) do
      local head = redis.call('ZRANGE', levelKey(level), 0, 0, 'WITHSCORES')
      if head[1] and (not score or tonumber(head[2]) < score) then m, score = head[1], tonumber(head[2]) end
    end
  end
  local lease = redis.call('ZRANGE', ACTIVE, 0, 0, 'WITHSCORES')
  if lease[1] and lease[1] ~= ACTIVE_SENTINEL then
    local expiry = tonumber(lease[2])
    if not score or expiry < score then return lease[1], expiry end
  end
  return m, score
end

-- Up to `limit` entries with score <= upTo, in order (ties by member, i.e. by seq): a list of
-- { member, score, bucket start } for scheduled jobs — the first entries of each bucket by
-- rank — and { member, score, false, true } for active jobs whose lease ran out. With `uncut`,
-- up to `limit` of each kind, not cut to `limit` in all (dueRanked ranks and cuts them).
local function dueUpTo(upTo, limit, uncut)
  local out = {}
  local expired = redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', upTo, 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #expired, 2 do out[#out + 1] = { expired[i], tonumber(expired[i + 1]), false, true } end
  local starts = redis.call('ZRANGEBYSCORE', DUE.directory, '-inf', upTo, 'LIMIT', 0, limit)
  for _, start in ipairs(starts) do
    -- Both sources are read up to `limit`, then merged and cut.
    local need = limit + #expired / 2 - #out
    if need <= 0 then break end
    local items = redis.call('ZRANGEBYSCORE', bucketKey(DUE, start), '-inf', upTo, 'WITHSCORES', 'LIMIT', 0, need)
    for i = 1, #items, 2 do out[#out + 1] = { items[i], tonumber(items[i + 1]), start } end
  end
  if #expired > 0 and not uncut then
    table.sort(out, function(a, b) return a[2] < b[2] or (a[2] == b[2] and a[1] < b[1]) end)
    for k = #out, limit + 1, -1 do out[k] = nil end
  end
  return out
end

-- An index's entries in order starting after (score, member) — or from the start when score is
-- nil — calling visit(member, score) until it returns false.
local function indexWalk(ix, fromScore, fromMember, visit)
  local first = fromScore and (bucketFor(ix, fromScore) or '-inf') or '-inf'
  local offset, chunk = 0, 16
  while true do
    local starts = redis.call('ZRANGEBYSCORE', ix.directory, first, '+inf', 'LIMIT', offset, chunk)
    if offset == 0 and ix.zero and (first == '-inf' or first == ix.zero) then table.insert(starts, 1, ix.zero) end
    for _, start in ipairs(starts) do
      local items = redis.call('ZRANGEBYSCORE', bucketKey(ix, start), fromScore or '-inf', '+inf', 'WITHSCORES')
      for i = 1, #items, 2 do
        local m, s = items[i], tonumber(items[i + 1])
        if not fromScore or s > fromScore or m > fromMember then
          if visit(m, s) == false then return end
        end
      end
    end
    if #starts < chunk then return end
    offset = offset + chunk
  end
end

-- Every scheduled job in (due instant, seq) order — the buckets, the priority levels and the
-- grouped jobs' index together: the first `want` entries of each source after the cursor,
-- merged. A partition with neither levels nor groups walks its buckets alone.
local function dueWalkAll(fromScore, fromMember, want, visit)
  local grouped = redis.call('EXISTS', GROUPED.directory) == 1
  if not levelsInUse() and not grouped then return indexWalk(DUE, fromScore, fromMember, visit) end
  local merged = {}
  local function collectFrom(ix)
    local taken = 0
    indexWalk(ix, fromScore, fromMember, function(m, s)
      merged[#merged + 1] = { s, m }
      taken = taken + 1
      return taken < want
    end)
  end
  collectFrom(DUE)
  if grouped then collectFrom(GROUPED) end
  for _, level in ipairs(levelsInUse() and redis.call('SMEMBERS', LEVELS) or {}) do
    local taken, offset = 0, 0
    while taken < want do
      local items =
        redis.call('ZRANGEBYSCORE', levelKey(level), fromScore or '-inf', '+inf', 'WITHSCORES', 'LIMIT', offset, want)
      for i = 1, #items, 2 do
        local m, s = items[i], tonumber(items[i + 1])
        if taken < want and (not fromScore or s > fromScore or m > fromMember) then
          merged[#merged + 1] = { s, m }
          taken = taken + 1
        end
      end
      if #items < want * 2 then break end
      offset = offset + want
    end
  end
  table.sort(merged, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  for _, entry in ipairs(merged) do
    if visit(entry[2], entry[1]) == false then return end
  end
end

-- Wake-ups: the lowest due time this script created. Published at the end (publishWake, in
-- include/groups.lua, which knows the ready groups too) only if it is the head of this
-- partition, i.e. earlier than anything a sleeping worker already waits for.
local wakeAt = nil
local function noteWake(runAt)
  if not wakeAt or runAt < wakeAt then wakeAt = runAt end
end
