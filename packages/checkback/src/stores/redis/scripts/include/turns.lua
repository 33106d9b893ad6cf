-- Turns: which jobs a claim at `now` starts, and in what order (flow/groups.ts, rule 3), worked
-- out without changing anything. claim.lua starts exactly these; peek.lua reports them, so a
-- claim across partitions merges every partition's turns by the same numbers.
--
-- Two sources merge by one number: ungrouped due entries (include/ranked.lua) by claim rank,
-- and ready groups by readyAt (ties: ungrouped first, then group name, then groups ready again
-- at the instant they were served, in the order served: READY's scores give all of it, see
-- readyScore). Taking from a group starts its head, stamps servedAt = now and charges its
-- bucket; if it is still ready at `now` it goes behind every group already waiting at or
-- before `now`: a queue of its own ("again"), served after READY's entries up to `now`, in the
-- order served. So within one claim groups take one job per pass, in turn.
--@include ranked
--@include groups

-- A group as a claim would leave it, kept in memory while turns are worked out: its next jobs
-- (read from its set a few at a time), active count, servedAt and bucket.
local function turnOf(name)
  local st = groupLoad(name)
  local conc, rate, per = groupLimits(st)
  return {
    name = name, st = st, conc = conc, rate = rate, per = per, active = groupActive(name),
    bucket = groupBucket(st, rate, per), servedAt = st.servedAt, jobs = {}, taken = 0, complete = false,
    started = 0,
  }
end

-- The group's next job not yet taken: member, runAt and bucket start, or nil. Its jobs are read
-- two at first (most groups get one turn per claim, and the next head decides their readyAt),
-- then twice as many each time they run out.
local function turnHead(t)
  local i = t.taken + 1
  if i > #t.jobs and not t.complete then
    local count = math.max(2, 2 * #t.jobs)
    t.jobs = groupJobsFirst(t.name, count)
    if #t.jobs < count then t.complete = true end
  end
  local job = t.jobs[i]
  if job then return job[1], job[2], job[3] end
end

local function turnReadyAt(t)
  local _, runAt = turnHead(t)
  return groupReadyAt(runAt, t.servedAt, t.active, t.conc, t.bucket)
end

-- Up to `limit` picks in claim order: { entry = due entry, value = rank } for an ungrouped one,
-- { turn = group, member, runAt, value, klass } for a group's head: klass 1 and 2 its first turn
-- in this claim, from READY (2: it was ready again at the instant it was last served, and
-- `value` carries that turn as its fraction), klass 3 a further turn in this claim (valued now).
-- Also returns the groups looked at, by name.
-- A READY entry the group's state no longer agrees with (its limits changed since) is skipped
-- and its group touched, so commit() puts it right.
local function planTurns(limit)
  local picks, turns = {}, {}
  if limit <= 0 then return picks, turns end
  local due = dueRanked(now, limit)
  local ready = redis.call('ZRANGEBYSCORE', READY, '-inf', readyBy(now), 'WITHSCORES', 'LIMIT', 0, limit)
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
        knownReady[rName] = rValue
        t = turns[rName]
        if not t then
          t = turnOf(rName)
          turns[rName] = t
        end
        local at = turnReadyAt(t)
        if not at or at > now then
          groupTouch(rName)
          t = nil
        end
        value, klass = rValue, rValue % 1 == 0 and 1 or 2
      else
        t, value, klass = a, now, 3
        ai = ai + 1
      end
      if t then
        local m, runAt = turnHead(t)
        t.taken = t.taken + 1
        t.active = t.active + 1
        t.servedAt = now
        if t.rate then
          t.bucket.tokens = flowRefill(t.bucket, now) - 1
          t.bucket.at = now
        end
        picks[#picks + 1] = { turn = t, member = m, runAt = runAt, value = value, klass = klass }
        local at = turnReadyAt(t)
        if at and at <= now then again[#again + 1] = t end
      end
    else
      break
    end
  end
  return picks, turns
end
