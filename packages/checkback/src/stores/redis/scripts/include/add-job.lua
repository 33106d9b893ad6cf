-- Adding jobs, shared by add, complete and settle (follow-up jobs). The jobs are passed as
-- (see encodeNewJobs in codec.ts): the number of distinct back-off policies, their json, then
-- JOB_FIELDS consecutive ARGV entries per job:
--   key ('' for none), payload, when kind ('d' delay | 'a' runAt), when value, maxAttempts,
--   back-off (1-based index into the policies), on duplicate ('keep' | 'replace'),
--   seq ('' to draw one here), priority (an integer, 0 for none)
-- Sending each policy once keeps a batch of a thousand jobs from repeating the same json.
local JOB_FIELDS = 9
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

  local seq = tonumber(ARGV[offset + 7]) or drawSeq(offset)
  local r = {
    priority = tonumber(ARGV[offset + 8]), seq = seq, state = SCHEDULED, createdAt = now, updatedAt = now, runAt = runAt, attempts = 0,
    maxAttempts = maxAttempts, backoff = backoff, payload = payload, key = key,
    leaseToken = false, leaseExpiresAt = false, errors = false, result = false,
  }
  enter(r)
  saveRecord(r)
  if key then redis.call('HSET', KEY_INDEX, key, seq) end
  noteWake(runAt)
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
  -- together (dueAddSorted). A keyed job is looked up and added on its own, in order.
  local saves, due = {}, {}
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
      if priority ~= 0 then
        fillTo(fields, F_RESULT)
        fields[F_PRIORITY] = priority
        levelAdd(member(seq), runAt, priority)
      else
        due[#due + 1] = { runAt, member(seq) }
      end
      saves[#saves + 1] = { seq, cmsgpack.pack(fields) }
      if not earliest or runAt < earliest then earliest = runAt end
      out[#out + 1] = { 'created', seq }
    else
      local outcome, r = addJob(offset)
      if outcome == 'created' then
        out[#out + 1] = { outcome, r.seq }
      else
        out[#out + 1] = { outcome, r.seq, reply(r) }
      end
    end
  end
  if #saves > 0 then
    savePackedMany(saves)
    table.sort(due, function(a, b) return a[1] < b[1] end)
    dueAddSorted(due)
    countChange(SCHEDULED, #saves)
    noteWake(earliest)
  end
  return out
end
