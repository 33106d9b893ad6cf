-- Every script works on one partition of one queue. KEYS[1] is the partition's base key,
-- "<prefix>:{<queue>:<partition>}"; every other key is derived from it, so they all share its
-- hash tag and live in one cluster slot. ARGV[1] is always the queue's wake-up channel.
local base = KEYS[1]
local WAKE_CHANNEL = ARGV[1]

local SEQ_KEY = base .. ':seq'      -- counter: job sequence numbers (single-partition stores)
local COUNTS = base .. ':n'         -- hash: state code -> number of jobs in that state
local KEY_INDEX = base .. ':k'      -- hash: business key -> seq of the newest job that held it
local BACKOFFS = base .. ':b'       -- hash: interned back-off policies (json <-> small number)
local ACTIVE = base .. ':a'         -- zset: active jobs, score = lease expiry (see include/due.lua)
-- A member longer than zset-max-listpack-value (64 by default), at +inf, that never leaves
-- ACTIVE: it keeps the set a skiplist (Redis does not convert a zset back), where adding or
-- removing an active job costs O(log n) rather than a listpack's O(n) scan and move. It is
-- never due and never listed.
local ACTIVE_SENTINEL = string.rep('~', 160)

-- State codes as stored in records.
local SCHEDULED, ACTIVE_STATE, COMPLETED, DEAD, CANCELLED = 0, 1, 2, 3, 4
local STATE_NAMES = { [0] = 'scheduled', 'active', 'completed', 'dead', 'cancelled' }

-- Finished jobs, per state: zset, score = when they finished (ms), member = seq bytes.
local function finishedKey(state) return base .. ':s' .. state end

-- The Redis server's clock in ms: the one clock every due time is computed on.
local function serverNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local now = serverNow()

-- Members of the due index are the job's sequence number as 6 big-endian bytes: fixed width,
-- so Redis's tie-break on equal scores (byte order of members) is insertion order.
local function member(seq)
  return struct.pack('>I6', seq)
end

local function seqOf(m)
  return (struct.unpack('>I6', m))
end

-- redis.call(command, key, ...items) in chunks: unpack() can spread only so many values (Lua's
-- C stack), and a batch can be larger. Chunks are even-sized, so (score, member) and
-- (field, value) pairs stay together.
local CALL_CHUNK = 1000
local function callChunked(command, key, items)
  for i = 1, #items, CALL_CHUNK do
    redis.call(command, key, unpack(items, i, math.min(#items, i + CALL_CHUNK - 1)))
  end
end
