-- State changes. Each state keeps its own index; leave() and enter() are the only places that
-- touch them, so the indexes and the per-state counts cannot drift apart. Count changes are
-- summed here and written once by commit(), which every script that changes jobs ends with.
--   scheduled: due index at runAt; a grouped job in its group's set instead (include/groups.lua)
--   active:    ACTIVE at leaseExpiresAt (an expired lease is found like a due job), grouped or not;
--              a grouped job also counts in its group's active count
--   finished:  finishedKey(state), score = updatedAt
--@include groups
local countChanges = {}
local function countChange(state, by)
  countChanges[state] = (countChanges[state] or 0) + by
end

local function commit()
  for state, by in pairs(countChanges) do
    if by ~= 0 then redis.call('HINCRBY', COUNTS, state, by) end
  end
  countChanges = {}
  groupsSettle()
  publishWake()
end

local function leave(r)
  local m = memberOf(r)
  if r.state == SCHEDULED then
    if r.group then
      groupJobRemove(r.group, m, r.runAt)
    else
      dueRemove(m, r.runAt, r.priority)
    end
  elseif r.state == ACTIVE_STATE then
    redis.call('ZREM', ACTIVE, m)
    if r.group then groupActiveChange(r.group, -1) end
  else
    redis.call('ZREM', finishedKey(r.state), m)
  end
  countChange(r.state, -1)
end

local function enter(r)
  local m = memberOf(r)
  if r.state == SCHEDULED then
    if r.group then
      groupJobAdd(r.group, m, r.runAt)
    else
      dueAdd(m, r.runAt, r.priority)
    end
  elseif r.state == ACTIVE_STATE then
    redis.call('ZADD', ACTIVE, r.leaseExpiresAt, m, 'inf', ACTIVE_SENTINEL)
    if r.group then groupActiveChange(r.group, 1) end
  else
    redis.call('ZADD', finishedKey(r.state), r.updatedAt, m)
  end
  countChange(r.state, 1)
end

-- Moves a job to `state`, stamping updatedAt and dropping any lease, and saves it.
local function moveTo(r, state, fields)
  leave(r)
  r.state = state
  r.updatedAt = now
  r.leaseToken = false
  r.leaseExpiresAt = false
  if fields then
    for name, value in pairs(fields) do r[name] = value end
  end
  enter(r)
  saveRecord(r)
  -- A grouped job wakes workers through its group's readyAt (groupRecompute), not its own runAt.
  if state == SCHEDULED and not r.group then noteWake(r.runAt) end
end

local function finish(r, state, result)
  if result ~= nil then r.result = result end
  moveTo(r, state)
end

-- Renews the lease of an active job (same token) and re-indexes it at the new expiry. The job
-- stays active throughout: no count and no group changes.
local function renewLease(r, expiresAt)
  r.updatedAt = now
  r.leaseExpiresAt = expiresAt
  redis.call('ZADD', ACTIVE, expiresAt, memberOf(r))
  saveRecord(r)
end

-- Removes a finished job for good; its key is freed if it still points at this job.
local function deleteJob(r)
  leave(r)
  deleteRecord(r)
  if r.key and tonumber(redis.call('HGET', KEY_INDEX, r.key)) == r.seq then
    redis.call('HDEL', KEY_INDEX, r.key)
  end
end

-- Finished jobs of one state in (finished at, seq) order, after the cursor (score, member) if
-- given, calling visit(member, score) until it returns false.
local function finishedWalk(state, fromScore, fromMember, visit)
  local key = finishedKey(state)
  local offset, chunk = 0, 256
  while true do
    local items = redis.call('ZRANGEBYSCORE', key, fromScore or '-inf', '+inf', 'WITHSCORES', 'LIMIT', offset, chunk)
    for i = 1, #items, 2 do
      local m, s = items[i], tonumber(items[i + 1])
      if not fromScore or s > fromScore or m > fromMember then
        if visit(m, s) == false then return end
      end
    end
    if #items < chunk * 2 then return end
    offset = offset + chunk
  end
end

-- Jobs chosen by an admin operation: listed seqs (ARGV from `first` on) in `state`, or, with
-- mode 'all', the oldest `limit` of them after skipping the oldest ARGV[first]: those a previous
-- batch examined and left in place (a redrive leaves a job whose key is held). A caller works
-- through a large set in bounded batches this way, never in one long script that blocks Redis.
local function selectJobs(state, mode, limit, first)
  local out = {}
  if mode == 'all' then
    if state == SCHEDULED or state == ACTIVE_STATE then return out end
    local skip = tonumber(ARGV[first]) or 0
    for _, m in ipairs(redis.call('ZRANGE', finishedKey(state), skip, skip + limit - 1)) do
      out[#out + 1] = loadRecord(seqOf(m))
    end
  else
    for i = first, #ARGV do
      local seq = tonumber(ARGV[i])
      local r = seq and loadRecord(seq)
      if r and r.state == state then out[#out + 1] = r end
    end
  end
  return out
end
