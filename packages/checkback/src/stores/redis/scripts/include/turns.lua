-- Turns: which jobs a claim at `now` starts, and in what order (flow/groups.ts, rule 3), worked
-- out without changing anything. claim.lua starts exactly these; peek.lua reports them, so a
-- claim across partitions merges every partition's turns by the same numbers.
--
-- Two sources merge by one number: ungrouped due entries (include/ranked.lua) by claim rank,
-- and ready groups by readyAt (ties: ungrouped first, then group name, which READY's order
-- gives). Taking from a group starts its head, stamps servedAt = now and charges its bucket;
-- if it is still ready at `now` it goes behind every group already waiting at or before `now`:
-- a queue of its own ("again"), served after READY's entries up to `now`, in the order served.
-- So within one claim groups take one job per pass, in turn.
--@include ranked
--@include groups

-- A group as a claim would leave it, kept in memory while turns are worked out: its next jobs
-- (read from its set a few at a time), active count, servedAt and bucket.
local function turnOf(name)
  local st = groupLoad(name)
  local conc, rate, per = groupLimits(st)
  return {
    name = name, st = st, conc = conc, rate = rate, per = per, active = groupActive(name),
    bucket = groupBucket(st, rate, per), servedAt = st.servedAt, members = {}, scores = {}, taken = 0,
    complete = false, started = 0,
  }
end

-- The group's next job not yet taken: member and runAt, or nil.
local function turnHead(t, want)
  local i = t.taken + 1
  if i > #t.members and not t.complete then
    local count = math.max(2, want)
    local items = redis.call('ZRANGE', groupJobsKey(t.name), i - 1, i + count - 2, 'WITHSCORES')
    for k = 1, #items, 2 do
      t.members[#t.members + 1] = items[k]
      t.scores[#t.scores + 1] = tonumber(items[k + 1])
    end
    if #items < count * 2 then t.complete = true end
  end
  return t.members[i], t.scores[i]
end

local function turnReadyAt(t, want)
  local _, runAt = turnHead(t, want)
  return groupReadyAt(runAt, t.servedAt, t.active, t.conc, t.bucket)
end

-- Up to `limit` picks in claim order: { entry = due entry, value = rank } for an ungrouped one,
-- { turn = group, member, runAt, value, klass } for a group's head (klass 1: its first turn in
-- this claim, from READY; klass 2: a further turn). Also returns the groups looked at, by name.
-- A READY entry the group's state no longer agrees with (its limits changed since) is skipped
-- and its group touched, so commit() puts it right.
local function planTurns(limit)
  local picks, turns = {}, {}
  if limit <= 0 then return picks, turns end
  local due = dueRanked(now, limit)
  local ready = redis.call('ZRANGEBYSCORE', READY, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local ui, ri = 1, 1
  local again, ai = {}, 1
  while #picks < limit do
    local u = due[ui]
    local uValue = u and (u[6] or u[2])
    local rName = ready[ri]
    local rValue = rName and tonumber(ready[ri + 1])
    local a = again[ai]
    if u and (not rName or uValue <= rValue) and (not a or uValue <= now) then
      picks[#picks + 1] = { entry = u, value = uValue }
      ui = ui + 1
    elseif rName or a then
      local t, value, klass
      if rName then
        ri = ri + 2
        t = turns[rName]
        if not t then
          t = turnOf(rName)
          turns[rName] = t
        end
        local at = turnReadyAt(t, limit - #picks)
        if not at or at > now then
          groupTouch(rName)
          t = nil
        end
        value, klass = rValue, 1
      else
        t, value, klass = a, now, 2
        ai = ai + 1
      end
      if t then
        local m, runAt = turnHead(t, limit - #picks)
        t.taken = t.taken + 1
        t.active = t.active + 1
        t.servedAt = now
        if t.rate then
          t.bucket.tokens = flowRefill(t.bucket, now) - 1
          t.bucket.at = now
        end
        picks[#picks + 1] = { turn = t, member = m, runAt = runAt, value = value, klass = klass }
        local at = turnReadyAt(t, limit - #picks)
        if at and at <= now then again[#again + 1] = t end
      end
    else
      break
    end
  end
  return picks, turns
end
