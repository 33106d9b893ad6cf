-- Adding jobs, shared by add, complete and settle (follow-up jobs). The jobs are passed as
-- (see encodeNewJobs in codec.ts): the number of distinct back-off policies, their json, then
-- JOB_FIELDS consecutive ARGV entries per job:
--   key ('' for none), payload, when kind ('d' delay | 'a' runAt), when value, maxAttempts,
--   back-off (1-based index into the policies), on duplicate ('keep' | 'replace'),
--   seq ('' to draw one here), priority (an integer, 0 for none), group ('' for none; led by
--   VISITING when the job was sent here only because its key's holder lives here, see below)
-- Sending each policy once keeps a batch of a thousand jobs from repeating the same json.
local JOB_FIELDS = 10
local VISITING = '\1'
local batchBackoffs = {}

-- Sequence numbers for the batch's new jobs come from one INCRBY sized for every job left in
-- it; a job that turns out to exist already leaves a gap, which is harmless.
local seqNext, seqLast = 1, 0
local function drawSeq(offset)
  if seqNext > seqLast then
    local left = math.floor((#ARGV - offset) / JOB_FIELDS) + 1
    seqLast = redis.call('INCRBY', SEQ_KEY, left)
    seqNext = seqLast - left + 1
  end
  seqNext = seqNext + 1
  return seqNext - 1
end

-- Returns outcome, record.
local function addJob(offset)
  local key = ARGV[offset]
  if key == '' then key = false end
  local payload = ARGV[offset + 1]
  local runAt = tonumber(ARGV[offset + 3])
  if ARGV[offset + 2] == 'd' then runAt = now + runAt end
  local maxAttempts = tonumber(ARGV[offset + 4])
  local backoff = batchBackoffs[tonumber(ARGV[offset + 5])]

  if key then
    local holder = findJob('k', key)
    if holder and isUnfinished(holder) then
      if ARGV[offset + 6] ~= 'replace' or holder.state ~= SCHEDULED then return 'existing', holder end
      moveTo(holder, SCHEDULED, { payload = payload, runAt = runAt, maxAttempts = maxAttempts, backoff = backoff })
      return 'replaced', holder
    end
  end
  -- A grouped job lives in its group's partition. On a partitioned queue the client sends a
  -- keyed grouped job to another partition only when its key's unfinished holder lives there;
  -- if that holder finished meanwhile, the job is not created here but sent back to its group's.
  local group = ARGV[offset + 9]
  if string.sub(group, 1, 1) == VISITING then return 'moved', nil end
  if group == '' then group = false end
  local seq = tonumber(ARGV[offset + 7]) or drawSeq(offset)
  local r = {
    priority = tonumber(ARGV[offset + 8]), seq = seq, state = SCHEDULED, createdAt = now, updatedAt = now, runAt = runAt, attempts = 0,
    maxAttempts = maxAttempts, backoff = backoff, payload = payload, key = key, group = group,
    leaseToken = false, leaseExpiresAt = false, errors = false, result = false,
  }
  enter(r)
  saveRecord(r)
  if key then redis.call('HSET', KEY_INDEX, key, seq) end
  if not group then noteWake(runAt) end
  return 'created', r
end

-- Adds the jobs from ARGV[first] on. Returns per job { 'created', seq } — the client knows
-- everything else about a job it just created, so the reply stays small — or
-- { 'existing' | 'replaced', seq, record reply }.
local function addJobs(first)
  local policies = tonumber(ARGV[first])
  if not policies then return {} end -- no jobs passed at all
  for i = 1, policies do batchBackoffs[i] = internBackoff(ARGV[first + i]) end
  local out = {}
  -- Jobs without a business key cannot meet another job, so they are added in bulk: packed
  -- straight into records, written one HSET per record bucket, and entered into the due index
  -- together (dueAddSorted); grouped ones into their groups' sets, one ZADD per group, and the
  -- grouped jobs' index together. A keyed job is looked up and added on its own, in order.
  local saves, due, grouped, groupArgs, groupOrder = {}, {}, {}, {}, {}
  local earliest
  for offset = first + policies + 1, #ARGV, JOB_FIELDS do
    if ARGV[offset] == '' then
      local runAt = tonumber(ARGV[offset + 3])
      if ARGV[offset + 2] == 'd' then runAt = now + runAt end
      local seq = tonumber(ARGV[offset + 7]) or drawSeq(offset)
      -- packRecord's layout for a new job: scheduled, no attempts, optional fields left off.
      local fields = {
        SCHEDULED, now, 0, runAt - now, 0, tonumber(ARGV[offset + 4]), batchBackoffs[tonumber(ARGV[offset + 5])],
        ARGV[offset + 1],
      }
      local priority = tonumber(ARGV[offset + 8])
      local group = ARGV[offset + 9]
      if group ~= '' then
        -- Rule 1: a grouped job waits in its group (its priority is 0: checked by the client).
        fillTo(fields, F_PRIORITY)
        fields[F_GROUP] = group
        local m = member(seq)
        local entries = groupArgs[group]
        if not entries then
          entries = {}
          groupArgs[group] = entries
          groupOrder[#groupOrder + 1] = group
        end
        entries[#entries + 1] = { runAt, m }
        grouped[#grouped + 1] = { runAt, m }
      elseif priority ~= 0 then
        fillTo(fields, F_RESULT)
        fields[F_PRIORITY] = priority
        levelAdd(member(seq), runAt, priority)
        if not earliest or runAt < earliest then earliest = runAt end
      else
        due[#due + 1] = { runAt, member(seq) }
        if not earliest or runAt < earliest then earliest = runAt end
      end
      saves[#saves + 1] = { seq, cmsgpack.pack(fields) }
      out[#out + 1] = { 'created', seq }
    else
      local outcome, r = addJob(offset)
      if outcome == 'created' then
        out[#out + 1] = { outcome, r.seq }
      elseif r then
        out[#out + 1] = { outcome, r.seq, reply(r) }
      else
        out[#out + 1] = { outcome, 0 }
      end
    end
  end
  if #saves > 0 then
    savePackedMany(saves)
    if #due > 0 then
      table.sort(due, function(a, b) return a[1] < b[1] end)
      dueAddSorted(due)
    end
    if #grouped > 0 then
      local function byRunAt(a, b) return a[1] < b[1] end
      for _, group in ipairs(groupOrder) do
        local entries = groupArgs[group]
        table.sort(entries, byRunAt)
        indexAddSorted(groupIndex(group), entries)
        groupJobsChanged(group)
      end
      table.sort(grouped, byRunAt)
      indexAddSorted(GROUPED, grouped)
    end
    countChange(SCHEDULED, #saves)
    if earliest then noteWake(earliest) end
  end
  return out
end
