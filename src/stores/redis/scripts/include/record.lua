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

-- Field order of the packed array. Optional trailing fields are left off when unset.
local function packRecord(r)
  local fields = {
    r.state, r.createdAt, r.updatedAt - r.createdAt, r.runAt - r.createdAt, r.attempts, r.maxAttempts,
    r.backoff, r.payload, r.key, r.leaseToken, r.leaseExpiresAt, r.errors, r.result,
  }
  local n = 13
  while n > 8 and not fields[n] do n = n - 1 end
  local packed = {}
  for i = 1, n do packed[i] = fields[i] or false end
  return cmsgpack.pack(packed)
end

local function unpackRecord(seq, packed, big)
  local a = cmsgpack.unpack(packed)
  return {
    seq = seq, big = big,
    state = a[1], createdAt = a[2], updatedAt = a[2] + a[3], runAt = a[2] + a[4],
    attempts = a[5], maxAttempts = a[6], backoff = a[7], payload = a[8],
    key = a[9] or false, leaseToken = a[10] or false, leaseExpiresAt = a[11] or false,
    errors = a[12] or false, result = a[13] or false,
  }
end

local function loadRecord(seq)
  local packed = redis.call('HGET', recordBucket(seq), recordField(seq))
  if packed then return unpackRecord(seq, packed, false) end
  packed = redis.call('HGET', BIG_RECORDS, seq)
  if packed then return unpackRecord(seq, packed, true) end
  return nil
end

-- Many records with one HMGET per record bucket (a claimed or completed batch is mostly
-- consecutive jobs). Returns seq -> record; a missing job is absent.
local function loadRecords(seqs)
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
  local out = {}
  for _, key in ipairs(order) do
    local bucket = buckets[key]
    local values = redis.call('HMGET', key, unpack(bucket.fields))
    for i, seq in ipairs(bucket.seqs) do
      if values[i] then out[seq] = unpackRecord(seq, values[i], false) else out[seq] = loadRecord(seq) end
    end
  end
  return out
end

local function saveRecord(r)
  local packed = packRecord(r)
  if #packed <= SMALL_RECORD_BYTES then
    redis.call('HSET', recordBucket(r.seq), recordField(r.seq), packed)
    if r.big then redis.call('HDEL', BIG_RECORDS, r.seq) end
    r.big = false
  else
    redis.call('HSET', BIG_RECORDS, r.seq, packed)
    if r.big == false then redis.call('HDEL', recordBucket(r.seq), recordField(r.seq)) end
    r.big = true
  end
end

-- Saves many records with one HSET per record bucket; records that are (or were) large take
-- the one-by-one path.
local function saveRecords(records)
  local buckets, order = {}, {}
  for _, r in ipairs(records) do
    local packed = packRecord(r)
    if #packed <= SMALL_RECORD_BYTES and not r.big then
      local key = recordBucket(r.seq)
      local args = buckets[key]
      if not args then
        args = {}
        buckets[key] = args
        order[#order + 1] = key
      end
      args[#args + 1] = recordField(r.seq)
      args[#args + 1] = packed
    else
      saveRecord(r)
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
    r.key, r.createdAt, r.updatedAt, r.leaseToken, r.leaseExpiresAt, r.errors, r.result,
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
