-- Groups: THE RULE of flow/groups.ts, in Redis. Every job of a group lives in one partition
-- (the client picks it by the group's name), so each script sees the whole group and keeps the
-- rule atomically. Per partition:
--
--   <base>:g:<group>  zset  the group's scheduled jobs: score runAt, member the 6-byte seq, so
--                           its head is its earliest job and one instant keeps FIFO (rule 1).
--                           Bucketed like the due index once it outgrows one listpack (a plain
--                           sorted set would cost ~95 bytes a job beyond 128): this is then its
--                           first bucket, the others "<base>:gb:<start>:<group>", their starts
--                           in the directory "<base>:gd:<group>" (see bucketIndex)
--   <base>:gs         hash  group -> its packed state (servedAt, own limits, bucket, pause); a
--                           group with no job and nothing worth keeping has no field (rule: a
--                           group exists only while it holds work or flow state)
--   <base>:gr         zset  ready groups at their readyAt (rule 2); one instant: by name, and a
--                           group ready again at the instant it was served behind those, in
--                           the order served (its score's fraction, see readyScore)
--   <base>:gh         set   groups held by their concurrency (scheduled jobs, no room): they
--                           have no readyAt, and a change of limits must find them again
--   <base>:ga         zset  groups with active jobs, score -active: most active first, ties by
--                           name (busiestGroups), and the one active count of a group
--   <base>:gi         zset  groups kept only for a bucket still refilling or a pause, at the
--                           instant they stop being worth keeping (claims sweep them)
--   <base>:gl         hash  the queue's default limits for groups (every partition has a copy)
--   <base>:gc         string  the last turn handed out, "<instant>:<turn>", for a second (readyScore)
--
-- plus GROUPED (include/due.lua), the due-ordered index of grouped jobs that list.lua walks.
-- A grouped job's lease is in ACTIVE like any other (rule 5), and its record names its group.
--
-- Every change to a group's jobs goes through groupJobAdd / groupJobRemove / groupActiveChange,
-- which mark the group touched; commit() (include/state.lua) then recomputes each touched group
-- once (groupRecompute: rule 6), whatever the script did to it.
--@include limit
-- READY, BUSIEST and GROUP_STATES change at every turn of every group. Small, Redis keeps them
-- as listpacks, where each change scans the whole set (and READY parses every score on the way);
-- one member (field) too long for a listpack, never a group's name (it holds a NUL, which names
-- refuse), keeps them a skiplist (hashtable) for good, as ACTIVE's sentinel does: O(log n) a
-- change, for a few hundred bytes per partition. READY's sits at +inf (never ready), BUSIEST's at
-- +inf (last, never listed).
local GROUP_SENTINEL = '\0' .. string.rep('~', 70)
local GROUP_STATES = base .. ':gs'
local READY = base .. ':gr'
local HELD = base .. ':gh'
local BUSIEST = base .. ':ga'
local IDLE = base .. ':gi'
local GROUP_DEFAULTS = base .. ':gl'
local TURNS = base .. ':gc'

local groupIndexes = {}
local function groupIndex(name)
  local ix = groupIndexes[name]
  if not ix then
    local first = base .. ':g:' .. name
    ix = bucketIndex(base .. ':gd:' .. name, nil, function(start)
      if start == '0' then return first end
      return base .. ':gb:' .. start .. ':' .. name
    end)
    groupIndexes[name] = ix
  end
  return ix
end

-- The group's first `count` scheduled jobs, in order: { member, runAt, bucket start } each.
local function groupJobsFirst(name, count)
  local ix = groupIndex(name)
  local out = {}
  local function take(start)
    local items = redis.call('ZRANGE', bucketKey(ix, start), 0, count - #out - 1, 'WITHSCORES')
    for i = 1, #items, 2 do out[#out + 1] = { items[i], tonumber(items[i + 1]), start } end
  end
  take('0')
  local offset = 0
  while #out < count do
    local starts = redis.call('ZRANGE', ix.directory, offset, offset + 15)
    for _, start in ipairs(starts) do
      if #out < count then take(start) end
    end
    if #starts < 16 then break end
    offset = offset + 16
  end
  return out
end

-- How many scheduled jobs the group holds (a split group's buckets are counted one by one: only
-- groups of more than 128 jobs have more than one).
local function groupScheduled(name)
  local ix = groupIndex(name)
  local n = redis.call('ZCARD', bucketKey(ix, '0'))
  for _, start in ipairs(redis.call('ZRANGE', ix.directory, 0, -1)) do n = n + redis.call('ZCARD', bucketKey(ix, start)) end
  return n
end

-- A group's state, as read once per script and changed in place. Packed as one MessagePack
-- array in a field of GROUP_STATES (one hash for the partition: a key per group would cost some
-- 50 bytes more per group). `own` says the group has its own limits (conc, rate, per: null
-- fields mean none); tokens and at are its bucket, absent while full; `held` and `idle` say
-- whether it is in HELD or IDLE, so a recompute leaves those sets alone when nothing changed;
-- `turn` is the serve order of its last start within that instant (readyScore).
local groupCache = {}
local function groupLoad(name)
  local st = groupCache[name]
  if st then return st end
  local packed = redis.call('HGET', GROUP_STATES, name)
  local a = packed and cmsgpack.unpack(packed) or {}
  st = {
    name = name, packed = packed or false,
    servedAt = a[1] or nil, own = a[2] or false, conc = a[3] or nil, rate = a[4] or nil, per = a[5] or nil,
    tokens = a[6] or nil, at = a[7] or nil, paused = a[8] or nil, held = a[9] or false, idle = a[10] or false,
    turn = a[11] or nil,
  }
  groupCache[name] = st
  return st
end

local function groupSave(st)
  local packed = cmsgpack.pack({
    st.servedAt or false, st.own, st.conc or false, st.rate or false, st.per or false, st.tokens or false,
    st.at or false, st.paused or false, st.held, st.idle, st.turn or false,
  })
  if packed ~= st.packed then
    redis.call('HSET', GROUP_STATES, st.name, packed, GROUP_SENTINEL, '')
    st.packed = packed
  end
end

local function groupForget(st)
  if st.packed then redis.call('HDEL', GROUP_STATES, st.name) end
  groupCache[st.name] = nil
end

local defaultLimits = nil
local function groupDefaults()
  if not defaultLimits then
    local f = redis.call('HMGET', GROUP_DEFAULTS, 'conc', 'rate', 'per', 'set')
    defaultLimits = { conc = tonumber(f[1]), rate = tonumber(f[2]), per = tonumber(f[3]), set = f[4] and true or false }
  end
  return defaultLimits
end

-- The limits in force: the group's own, else the queue's default. Returns conc, rate, per.
local function groupLimits(st)
  if st.own then return st.conc, st.rate, st.per end
  local d = groupDefaults()
  return d.conc, d.rate, d.per
end

-- The group's bucket in include/limit.lua's shape (rate, per, tokens, at, paused), nil when it
-- has neither a rate nor a pause. A bucket never charged is full.
local function groupBucket(st, rate, per)
  if not rate and not st.paused then return nil end
  local b = { rate = rate, per = per, paused = st.paused, tokens = 0, at = now }
  if rate then
    if st.tokens then
      b.tokens, b.at = st.tokens, st.at
    else
      b.tokens = rate
    end
  end
  return b
end

-- What this script already knows of a group, so a recompute does not read it again: its active
-- count, its head ({ member, runAt, bucket start }, false: none) and its score in READY (false:
-- not there). nil: not known; whatever changes one of them sets or forgets it.
local knownActive, knownHead, knownReady = {}, {}, {}

local function groupActive(name)
  local active = knownActive[name]
  if active == nil then
    local score = redis.call('ZSCORE', BUSIEST, name)
    active = score and -tonumber(score) or 0
    knownActive[name] = active
  end
  return active
end

-- Rule 2: readyAt = max(head's runAt, servedAt, the bucket's next start, pausedUntil), nil when
-- the group has no scheduled job or no room under its concurrency. A bucket short of a token is
-- asked from the later of that instant and its last charge (groupReadyAt in flow/groups.ts).
local function groupReadyAt(headRunAt, servedAt, active, conc, b)
  if not headRunAt then return nil end
  if conc and active >= conc then return nil end
  local at = headRunAt
  if servedAt and servedAt > at then at = servedAt end
  if b then
    local from = at
    if b.rate and flowRefill(b, math.max(at, b.at)) < 1 then from = math.max(at, b.at) end
    local start = flowNextStart(b, from)
    if start > at then at = start end
  end
  return at
end

-- A group's score in READY. Rule 3 orders groups ready at one instant by name, except that a
-- group ready again at the very instant it was served goes behind those, in the order the
-- groups were served: its score carries its turn as a fraction of a millisecond, turn / 2048
-- (exact in a double until the year 2109; a partition serving more than 2047 group turns in
-- one millisecond gives the rest the last one, and they fall back to name order). So readyAt is
-- the score's whole part, and "ready by now" means a score below now + 1.
local TURN_SLOTS = 2048
local function readyScore(readyAt, st)
  if st.turn and readyAt == st.servedAt then return readyAt + st.turn / TURN_SLOTS end
  return readyAt
end
local function scoreText(score) return string.format('%.17g', score) end
local function readyBy(at) return '(' .. (at + 1) end

-- The turns handed out at `now` so far in this partition, and the next one.
local turnsAt, turnsTaken = nil, 0
local function nextTurn()
  if turnsAt ~= now then
    local last = redis.call('GET', TURNS)
    local at, taken = string.match(last or '', '^(%d+):(%d+)$')
    turnsAt, turnsTaken = now, (tonumber(at) == now) and tonumber(taken) or 0
  end
  turnsTaken = math.min(turnsTaken + 1, TURN_SLOTS - 1)
  return turnsTaken
end
local function saveTurns()
  -- Only the current millisecond's count matters: the key goes by itself a second later.
  if turnsAt then redis.call('SET', TURNS, turnsAt .. ':' .. turnsTaken, 'PX', 1000) end
end

local touchedGroups, touchedOrder = {}, {}
local function groupTouch(name)
  if not touchedGroups[name] then
    touchedGroups[name] = true
    touchedOrder[#touchedOrder + 1] = name
  end
end

-- The group's set of jobs changed (its head may have): recompute it.
local function groupJobsChanged(name)
  knownHead[name] = nil
  groupTouch(name)
end

local function groupJobAdd(name, m, runAt)
  indexAdd(groupIndex(name), m, runAt)
  indexAdd(GROUPED, m, runAt)
  groupJobsChanged(name)
end

local function groupJobRemove(name, m, runAt)
  indexRemove(groupIndex(name), m, runAt)
  indexRemove(GROUPED, m, runAt)
  groupJobsChanged(name)
end

-- Adds `by` to the group's active count (BUSIEST); returns the new count.
local busiestKept = false
local function groupActiveAdd(name, by)
  local score = tonumber(redis.call('ZINCRBY', BUSIEST, -by, name))
  if score >= 0 then
    redis.call('ZREM', BUSIEST, name)
  elseif score == -by and not busiestKept then
    -- The group just became active: BUSIEST may have been created by it.
    redis.call('ZADD', BUSIEST, 'NX', 'inf', GROUP_SENTINEL)
    busiestKept = true
  end
  knownActive[name] = math.max(0, -score)
  return knownActive[name]
end

local function groupActiveChange(name, by)
  groupActiveAdd(name, by)
  groupTouch(name)
end

-- Rule 6: puts the group where its state says — in READY at its readyAt, in HELD, or in neither
-- — and keeps, parks in IDLE or forgets its state. A group whose readyAt comes earlier than it
-- was (a job added, a place freed) notes a wake-up, so a worker sleeping past it is woken.
local function groupRecompute(name)
  local st = groupLoad(name)
  local conc, rate, per = groupLimits(st)
  if not rate then st.tokens, st.at = nil, nil end -- a lifted rate leaves no bucket behind
  local head = knownHead[name]
  if head == nil then
    head = groupJobsFirst(name, 1)[1] or false
    knownHead[name] = head
  end
  local headRunAt = head and head[2] or nil
  local active = groupActive(name)
  local b = groupBucket(st, rate, per)
  local readyAt = groupReadyAt(headRunAt, st.servedAt, active, conc, b)

  if not (readyAt and readyAt == st.servedAt) then st.turn = nil end
  local was = knownReady[name]
  if was == nil then
    was = redis.call('ZSCORE', READY, name)
    was = was and tonumber(was)
  end
  if readyAt then
    local score = readyScore(readyAt, st)
    if was ~= score then redis.call('ZADD', READY, scoreText(score), name, 'inf', GROUP_SENTINEL) end
    if not was or readyAt < math.floor(was) then noteWake(readyAt) end
    knownReady[name] = score
  else
    if was then redis.call('ZREM', READY, name) end
    knownReady[name] = false
  end
  local held = headRunAt ~= nil and readyAt == nil
  if held ~= st.held then
    redis.call(held and 'SADD' or 'SREM', HELD, name)
    st.held = held
  end

  -- What keeps a group without unfinished jobs: its own limits, or until a pause ends and its
  -- bucket is full again (then it is worth nothing more: a fresh group is the same).
  local keepUntil = nil
  if not headRunAt and active == 0 and not st.own then
    if st.paused and st.paused > now then keepUntil = st.paused end
    if b and b.rate and st.tokens then
      local tokens = flowRefill(b, now)
      if tokens < rate then
        local full = now + math.ceil((rate - tokens) * per / rate)
        if not keepUntil or full > keepUntil then keepUntil = full end
      end
    end
    if not keepUntil then
      if st.idle then redis.call('ZREM', IDLE, name) end
      groupForget(st)
      return
    end
  end
  if keepUntil then
    redis.call('ZADD', IDLE, keepUntil, name)
    st.idle = true
  elseif st.idle then
    redis.call('ZREM', IDLE, name)
    st.idle = false
  end
  -- A group that was never served and has no flow state of its own needs no field at all: its
  -- jobs and its place in READY say everything (a backlog of many small groups costs no state).
  if not (st.servedAt or st.own or st.tokens or st.paused or st.held or st.idle or st.turn) then
    groupForget(st)
    return
  end
  groupSave(st)
end

-- Recomputes every group this script touched, once each (commit() calls it).
local function groupsSettle()
  local order = touchedOrder
  touchedGroups, touchedOrder = {}, {}
  for _, name in ipairs(order) do groupRecompute(name) end
end

-- Forgets a few groups whose pause ended and bucket refilled since they were parked (a claim
-- calls it: bounded work per call, and claims are what charge buckets in the first place).
local function groupsSweepIdle()
  local due = redis.call('ZRANGEBYSCORE', IDLE, '-inf', now, 'LIMIT', 0, 16)
  for _, name in ipairs(due) do groupTouch(name) end
end

-- The earliest instant this partition has work: the due head (scheduled, leases) or the first
-- ready group (rule 4; a group held by its concurrency has no instant: a finish wakes workers).
local function partitionHead()
  local _, score = dueHead()
  local ready = redis.call('ZRANGE', READY, 0, 0, 'WITHSCORES')
  if ready[1] and ready[1] ~= GROUP_SENTINEL then
    local readyAt = math.floor(tonumber(ready[2]))
    if not score or readyAt < score then score = readyAt end
  end
  return score
end

local function publishWake()
  if not wakeAt then return end
  local head = partitionHead()
  if head and wakeAt <= head then redis.call('PUBLISH', WAKE_CHANNEL, wakeAt) end
end

-- A group as groupState tells it (decodeGroupState in codec.ts): name, own limits (0|1),
-- concurrency, rate, per, active, scheduled, paused until (a pause in force) and whole tokens.
local function groupReply(name)
  local st = groupLoad(name)
  local conc, rate, per = groupLimits(st)
  local b = groupBucket(st, rate, per)
  local tokens = rate and math.floor(flowRefill(b, now)) or false
  local paused = st.paused and st.paused > now and st.paused or false
  return {
    name, st.own and 1 or 0, conc or false, rate or false, per or false, groupActive(name),
    groupScheduled(name), paused, tokens,
  }
end
