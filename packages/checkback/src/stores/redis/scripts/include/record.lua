-- Job records. A record is one MessagePack array (see packRecord) — no field names, instants
-- as small deltas from createdAt, the back-off policy as a number interned per partition —
-- so a job with a small payload packs into ~30 bytes plus its payload.
--
-- Records live in hash buckets of 128 consecutive sequence numbers, "<base>:r:<seq div 128>",
-- field = seq mod 128. A small hash is a listpack (a few bytes of overhead per field, where
-- one key per job would cost ~70 bytes), but only while every value is at most 64 bytes
-- (hash-max-listpack-value). Records larger than that go to one ordinary hash, "<base>:R",
-- so one big payload does not turn its whole bucket into a hashtable.
local SMALL_RECORD_BYTES = 64
local BIG_RECORDS = base .. ':R'

-- Key names are built once per bucket and script: string building is a large part of what a
-- script spends per job.
local recordBuckets = {}
local function recordBucket(seq)
  local n = math.floor(seq / 128)
  local key = recordBuckets[n]
  if not key then
    key = base .. ':r:' .. n
    recordBuckets[n] = key
  end
  return key
end
local function recordField(seq) return seq % 128 end

local internCache = {}
local function internBackoff(json)
  local id = internCache[json]
  if id then return id end
  id = redis.call('HGET', BACKOFFS, json)
  if id then
    id = tonumber(id)
  else
    id = redis.call('HINCRBY', BACKOFFS, '#next', 1)
    redis.call('HSET', BACKOFFS, json, id, '#' .. id, json)
  end
  internCache[json] = id
  return id
end

local backoffCache = {}
local function backoffJson(id)
  local json = backoffCache[id]
  if not json then
    json = redis.call('HGET', BACKOFFS, '#' .. id)
    backoffCache[id] = json
  end
  return json
end

-- Field order of the packed array (positions below). Optional trailing fields are left off
-- when unset. A lease is kept small, so that an active job with a small payload still fits a
-- listpack value: the token as its random part only (the full token is "<part>.<seq>") and
-- the expiry as a delta from createdAt, like every other instant.
-- A job's group (flow/groups.ts) is its name, last: it is set once, when the job is created,
-- and an ungrouped record leaves the field off (the fields before it cost a byte each when unset).
local F_STATE, F_CREATED, F_UPDATED, F_RUN_AT, F_ATTEMPTS = 1, 2, 3, 4, 5
local F_KEY, F_LEASE, F_EXPIRES, F_ERRORS, F_RESULT, F_PRIORITY, F_GROUP = 9, 10, 11, 12, 13, 14, 15

local function packRecord(r)
  local leased = r.leaseToken and true or false
  local fields = {
    r.state, r.createdAt, r.updatedAt - r.createdAt, r.runAt - r.createdAt, r.attempts, r.maxAttempts,
    r.backoff, r.payload, r.key, leased and r.leasePart, leased and (r.leaseExpiresAt - r.createdAt), r.errors,
    r.result, r.priority ~= 0 and r.priority, r.group,
  }
  local n = 15
  while n > 8 and not fields[n] do n = n - 1 end
  local packed = {}
  for i = 1, n do packed[i] = fields[i] or false end
  return cmsgpack.pack(packed)
end

-- The hot paths (claim, complete) change the unpacked array in place and pack it again:
-- building a named record and its field list is most of what they would otherwise spend per
-- job. These keep such an array in the same shape packRecord gives.
local function fillTo(a, n)
  for i = #a + 1, n do a[i] = false end
end
local function trimArray(a)
  local n = #a
  while n > 8 and not a[n] do
    a[n] = nil
    n = n - 1
  end
end

local function recordOf(seq, a, big)
  local leasePart = a[10] or false
  return {
    seq = seq, big = big,
    state = a[1], createdAt = a[2], updatedAt = a[2] + a[3], runAt = a[2] + a[4],
    attempts = a[5], maxAttempts = a[6], backoff = a[7], payload = a[8],
    key = a[9] or false, leasePart = leasePart, leaseToken = leasePart and (leasePart .. '.' .. seq),
    leaseExpiresAt = leasePart and (a[2] + a[11]), errors = a[12] or false, result = a[13] or false,
    priority = a[14] or 0, group = a[15] or false,
  }
end

local function unpackRecord(seq, packed, big)
  return recordOf(seq, cmsgpack.unpack(packed), big)
end

-- Gives r a new lease token: a random part (one per claim) and the job's seq.
local function setLeaseToken(r, part)
  r.leasePart = part
  r.leaseToken = part .. '.' .. r.seq
end

local function loadRecord(seq)
  local packed = redis.call('HGET', recordBucket(seq), recordField(seq))
  if packed then return unpackRecord(seq, packed, false) end
  packed = redis.call('HGET', BIG_RECORDS, seq)
  if packed then return unpackRecord(seq, packed, true) end
  return nil
end

-- Many records as packed arrays, with one HMGET per record bucket. Returns seq -> array and
-- seq -> true for those kept as large records; a missing job is absent from both.
local function loadArrays(seqs)
  local buckets, order = {}, {}
  for _, seq in ipairs(seqs) do
    local key = recordBucket(seq)
    local bucket = buckets[key]
    if not bucket then
      bucket = { fields = {}, seqs = {} }
      buckets[key] = bucket
      order[#order + 1] = key
    end
    bucket.fields[#bucket.fields + 1] = recordField(seq)
    bucket.seqs[#bucket.seqs + 1] = seq
  end
  local arrays, bigs, missing = {}, {}, {}
  for _, key in ipairs(order) do
    local bucket = buckets[key]
    local values = redis.call('HMGET', key, unpack(bucket.fields))
    for i, seq in ipairs(bucket.seqs) do
      if values[i] then arrays[seq] = cmsgpack.unpack(values[i]) else missing[#missing + 1] = seq end
    end
  end
  -- Not in its bucket: a large record, or no job at all.
  for i = 1, #missing, CALL_CHUNK do
    local chunk = { unpack(missing, i, math.min(#missing, i + CALL_CHUNK - 1)) }
    local values = redis.call('HMGET', BIG_RECORDS, unpack(chunk))
    for k, seq in ipairs(chunk) do
      if values[k] then
        arrays[seq] = cmsgpack.unpack(values[k])
        bigs[seq] = true
      end
    end
  end
  return arrays, bigs
end

-- Many records, named: seq -> record; a missing job is absent.
local function loadRecords(seqs)
  local arrays, bigs = loadArrays(seqs)
  local out = {}
  for seq, a in pairs(arrays) do
    out[seq] = recordOf(seq, a, bigs[seq] or false)
  end
  return out
end

-- Writes one packed record where its size says it belongs, moving it if it changed sides.
-- Returns whether it is now a large record.
local function storePacked(seq, packed, wasBig)
  if #packed <= SMALL_RECORD_BYTES then
    redis.call('HSET', recordBucket(seq), recordField(seq), packed)
    if wasBig then redis.call('HDEL', BIG_RECORDS, seq) end
    return false
  end
  redis.call('HSET', BIG_RECORDS, seq, packed)
  if wasBig == false then redis.call('HDEL', recordBucket(seq), recordField(seq)) end
  return true
end

local function saveRecord(r)
  r.big = storePacked(r.seq, packRecord(r), r.big)
end

-- Saves many packed records ({ seq, packed, wasBig } each) with one HSET per record bucket;
-- records that are (or were) large take the one-by-one path.
local function savePackedMany(items)
  local buckets, order = {}, {}
  for _, item in ipairs(items) do
    local seq, packed = item[1], item[2]
    if #packed <= SMALL_RECORD_BYTES and not item[3] then
      local key = recordBucket(seq)
      local args = buckets[key]
      if not args then
        args = {}
        buckets[key] = args
        order[#order + 1] = key
      end
      args[#args + 1] = recordField(seq)
      args[#args + 1] = packed
    else
      storePacked(seq, packed, item[3])
    end
  end
  for _, key in ipairs(order) do callChunked('HSET', key, buckets[key]) end
end

local function deleteRecord(r)
  if r.big then
    redis.call('HDEL', BIG_RECORDS, r.seq)
  else
    redis.call('HDEL', recordBucket(r.seq), recordField(r.seq))
  end
end

-- A record as the store's client decodes it (codec.ts): a flat array, false for null.
local function reply(r)
  return {
    r.seq, STATE_NAMES[r.state], r.runAt, r.attempts, r.maxAttempts, backoffJson(r.backoff), r.payload,
    r.key, r.createdAt, r.updatedAt, r.leaseToken, r.leaseExpiresAt, r.errors, r.result, r.priority, r.group,
  }
end

-- The job's due-index member, encoded once per script run.
local function memberOf(r)
  if not r.member then r.member = member(r.seq) end
  return r.member
end

local function isUnfinished(r) return r.state == SCHEDULED or r.state == ACTIVE_STATE end

-- A job by reference: kind 'i' (ref = seq) or 'k' (ref = business key).
local function findJob(kind, ref)
  local seq
  if kind == 'k' then
    seq = redis.call('HGET', KEY_INDEX, ref)
    if not seq then return nil end
  else
    seq = ref
  end
  return loadRecord(tonumber(seq))
end

-- The active job `seq` if `token` holds its lease, else nil.
local function heldJob(seq, token)
  local r = loadRecord(tonumber(seq))
  if not r or r.state ~= ACTIVE_STATE or r.leaseToken ~= token then return nil end
  return r
end

local function appendError(r, message)
  local errors = r.errors and cjson.decode(r.errors) or {}
  errors[#errors + 1] = { attempt = r.attempts, at = now, message = message }
  r.errors = cjson.encode(errors)
end
