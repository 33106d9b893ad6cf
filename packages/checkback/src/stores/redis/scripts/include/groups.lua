-- Groups: THE RULE of flow/groups.ts, in Redis. Every job of a group lives in one partition
-- (the client picks it by the group's name), so each script sees the whole group and keeps the
-- rule atomically. Per partition:
--
--   <base>:g:<group>  zset  the group's scheduled jobs: score runAt, member the 6-byte seq, so
--                           its head is its earliest job and one instant keeps FIFO (rule 1)
--   <base>:gs         hash  group -> its packed state (servedAt, own limits, bucket, pause); a
--                           group with no job and nothing worth keeping has no field (rule: a
--                           group exists only while it holds work or flow state)
--   <base>:gr         zset  ready groups at their readyAt (rule 2); one instant: by name
--   <base>:gh         set   groups held by their concurrency (scheduled jobs, no room): they
--                           have no readyAt, and a change of limits must find them again
--   <base>:ga         zset  groups with active jobs, score -active: most active first, ties by
--                           name (busiestGroups), and the one active count of a group
--   <base>:gi         zset  groups kept only for a bucket still refilling or a pause, at the
--                           instant they stop being worth keeping (claims sweep them)
--   <base>:gd         hash  the queue's default limits for groups (every partition has a copy)
--
-- plus GROUPED (include/due.lua), the due-ordered index of grouped jobs that list.lua walks.
-- A grouped job's lease is in ACTIVE like any other (rule 5), and its record names its group.
--
-- Every change to a group's jobs goes through groupJobAdd / groupJobRemove / groupActiveChange,
-- which mark the group touched; commit() (include/state.lua) then recomputes each touched group
-- once (groupRecompute: rule 6), whatever the script did to it.
--@include limit
local GROUP_STATES = base .. ':gs'
local READY = base .. ':gr'
local HELD = base .. ':gh'
local BUSIEST = base .. ':ga'
local IDLE = base .. ':gi'
local GROUP_DEFAULTS = base .. ':gd'

local groupKeys = {}
local function groupJobsKey(name)
  local key = groupKeys[name]
  if not key then
    key = base .. ':g:' .. name
    groupKeys[name] = key
  end
  return key
end

-- A group's state, as read once per script and changed in place. Packed as one MessagePack
-- array in a field of GROUP_STATES (one hash for the partition: a key per group would cost some
-- 50 bytes more per group). `own` says the group has its own limits (conc, rate, per: null
-- fields mean none); tokens and at are its bucket, absent while full; `held` and `idle` say
-- whether it is in HELD or IDLE, so a recompute leaves those sets alone when nothing changed.
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
  }
  groupCache[name] = st
  return st
end

local function groupSave(st)
  local packed = cmsgpack.pack({
    st.servedAt or false, st.own, st.conc or false, st.rate or false, st.per or false, st.tokens or false,
    st.at or false, st.paused or false, st.held, st.idle,
  })
  if packed ~= st.packed then
    redis.call('HSET', GROUP_STATES, st.name, packed)
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

local function groupActive(name)
  local score = redis.call('ZSCORE', BUSIEST, name)
  return score and -tonumber(score) or 0
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

local touchedGroups, touchedOrder = {}, {}
local function groupTouch(name)
  if not touchedGroups[name] then
    touchedGroups[name] = true
    touchedOrder[#touchedOrder + 1] = name
  end
end

local function groupJobAdd(name, m, runAt)
  redis.call('ZADD', groupJobsKey(name), runAt, m)
  indexAdd(GROUPED, m, runAt)
  groupTouch(name)
end

local function groupJobRemove(name, m, runAt)
  redis.call('ZREM', groupJobsKey(name), m)
  indexRemove(GROUPED, m, runAt)
  groupTouch(name)
end

local function groupActiveChange(name, by)
  local score = tonumber(redis.call('ZINCRBY', BUSIEST, -by, name))
  if score >= 0 then redis.call('ZREM', BUSIEST, name) end
  groupTouch(name)
end

-- Rule 6: puts the group where its state says — in READY at its readyAt, in HELD, or in neither
-- — and keeps, parks in IDLE or forgets its state. A group whose readyAt comes earlier than it
-- was (a job added, a place freed) notes a wake-up, so a worker sleeping past it is woken.
local function groupRecompute(name)
  local st = groupLoad(name)
  local conc, rate, per = groupLimits(st)
  if not rate then st.tokens, st.at = nil, nil end -- a lifted rate leaves no bucket behind
  local head = redis.call('ZRANGE', groupJobsKey(name), 0, 0, 'WITHSCORES')
  local headRunAt = head[1] and tonumber(head[2]) or nil
  local active = groupActive(name)
  local b = groupBucket(st, rate, per)
  local readyAt = groupReadyAt(headRunAt, st.servedAt, active, conc, b)

  local was = redis.call('ZSCORE', READY, name)
  was = was and tonumber(was)
  if readyAt then
    if was ~= readyAt then redis.call('ZADD', READY, readyAt, name) end
    if not was or readyAt < was then noteWake(readyAt) end
  elseif was then
    redis.call('ZREM', READY, name)
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
  if not (st.servedAt or st.own or st.tokens or st.paused or st.held or st.idle) then
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
  if ready[1] and (not score or tonumber(ready[2]) < score) then score = tonumber(ready[2]) end
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
    redis.call('ZCARD', groupJobsKey(name)), paused, tokens,
  }
end
