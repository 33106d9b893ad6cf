-- Adding jobs, shared by add, complete and settle (follow-up jobs). A job is passed as
-- JOB_FIELDS consecutive ARGV entries (see encodeNewJob in codec.ts):
--   key ('' for none), payload, when kind ('d' delay | 'a' runAt), when value, maxAttempts,
--   back-off json, on duplicate ('keep' | 'replace'), seq ('' to draw one here)
local JOB_FIELDS = 8

-- Returns outcome, record.
local function addJob(offset)
  local key = ARGV[offset]
  if key == '' then key = false end
  local payload = ARGV[offset + 1]
  local runAt = tonumber(ARGV[offset + 3])
  if ARGV[offset + 2] == 'd' then runAt = now + runAt end
  local maxAttempts = tonumber(ARGV[offset + 4])
  local backoff = internBackoff(ARGV[offset + 5])

  if key then
    local holder = findJob('k', key)
    if holder and isUnfinished(holder) then
      if ARGV[offset + 6] ~= 'replace' or holder.state ~= SCHEDULED then return 'existing', holder end
      moveTo(holder, SCHEDULED, { payload = payload, runAt = runAt, maxAttempts = maxAttempts, backoff = backoff })
      return 'replaced', holder
    end
  end

  local seq = tonumber(ARGV[offset + 7])
  if not seq then seq = redis.call('INCR', SEQ_KEY) end
  local r = {
    seq = seq, state = SCHEDULED, createdAt = now, updatedAt = now, runAt = runAt, attempts = 0,
    maxAttempts = maxAttempts, backoff = backoff, payload = payload, key = key,
    leaseToken = false, leaseExpiresAt = false, errors = false, result = false,
  }
  enter(r)
  saveRecord(r)
  if key then redis.call('HSET', KEY_INDEX, key, seq) end
  noteWake(runAt)
  return 'created', r
end

-- Adds the jobs from ARGV[first] on; returns { outcome, record reply } per job.
local function addJobs(first)
  local out = {}
  for offset = first, #ARGV, JOB_FIELDS do
    local outcome, r = addJob(offset)
    out[#out + 1] = { outcome, reply(r) }
  end
  return out
end
