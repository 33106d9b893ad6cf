-- group: a queue's groups (include/groups.lua): their limits, pauses and state.
-- ARGV: wake channel, op, then per op:
--   'limits' group own ('1' | '0') concurrency rate per  ('' for none): a group's own limits, or
--            back to the queue's default (own '0')
--   'defaults' set ('1' | '0') concurrency rate per: the queue's default limits (this partition's copy)
--   'pause' group (d delay | a instant) value | 'resume' group
--   'state' group | 'busiest' limit | 'get-defaults'
-- Returns: a group reply (groupReply) for 'limits', 'pause', 'resume' and 'state';
-- { active groups, { group replies } } for 'busiest'; { concurrency, rate, per } (false for
-- none) or {} for 'defaults' and 'get-defaults'.
--@include partition
--@include due
--@include record
--@include state

local op = ARGV[2]

local function defaultsReply()
  local d = groupDefaults()
  if not d.set then return {} end
  return { d.conc or false, d.rate or false, d.per or false }
end

-- A change of limits keeps what the bucket holds, never above the new bucket (withLimit in
-- flow/rate-limit.ts); without a rate in force there is no bucket.
local function carryTokens(st, change)
  local _, rate, per = groupLimits(st)
  local tokens = rate and st.tokens and flowRefill(groupBucket(st, rate, per), now) or nil
  change()
  local _, newRate = groupLimits(st)
  if tokens and newRate then
    st.tokens, st.at = math.min(newRate, tokens), now
  else
    st.tokens, st.at = nil, nil
  end
end

if op == 'limits' then
  local name = ARGV[3]
  local st = groupLoad(name)
  carryTokens(st, function()
    st.own = ARGV[4] == '1'
    st.conc, st.rate, st.per = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
    if not st.own then st.conc, st.rate, st.per = nil, nil, nil end
  end)
  groupTouch(name)
  commit()
  return groupReply(name)
elseif op == 'defaults' then
  if ARGV[3] == '1' then
    redis.call('DEL', GROUP_DEFAULTS)
    local fields = {}
    for i, field in ipairs({ 'conc', 'rate', 'per' }) do
      if ARGV[3 + i] ~= '' then
        fields[#fields + 1] = field
        fields[#fields + 1] = ARGV[3 + i]
      end
    end
    -- Both null is still a default ("no limits"): kept as a set field of its own.
    fields[#fields + 1] = 'set'
    fields[#fields + 1] = 1
    redis.call('HSET', GROUP_DEFAULTS, unpack(fields))
  else
    redis.call('DEL', GROUP_DEFAULTS)
  end
  defaultLimits = nil
  -- Groups held by their concurrency may have room now, and groups waiting for their bucket may
  -- start sooner or later: recompute them. Groups ready by now stay where they are; a claim
  -- checks each against its limits before starting it. The held ones are few (each has a job
  -- active); of those waiting, the first 10,000 are recomputed here, the rest keep their instant
  -- (at most one token interval of the old limit) until their next change.
  for _, name in ipairs(redis.call('SMEMBERS', HELD)) do groupTouch(name) end
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', READY, now + 1, '+inf', 'LIMIT', 0, 10000)) do
    if name ~= GROUP_SENTINEL then groupTouch(name) end
  end
  commit()
  return defaultsReply()
elseif op == 'pause' or op == 'resume' then
  local name = ARGV[3]
  local st = groupLoad(name)
  if op == 'pause' then
    st.paused = tonumber(ARGV[5])
    if ARGV[4] == 'd' then st.paused = now + st.paused end
  else
    st.paused = nil
  end
  groupTouch(name)
  commit()
  return groupReply(name)
elseif op == 'state' then
  return groupReply(ARGV[3])
elseif op == 'busiest' then
  local out = {}
  for _, name in ipairs(redis.call('ZRANGE', BUSIEST, 0, tonumber(ARGV[3]) - 1)) do
    if name ~= GROUP_SENTINEL then out[#out + 1] = groupReply(name) end
  end
  local groups = redis.call('ZCARD', BUSIEST)
  return { groups > 0 and groups - 1 or 0, out }
else
  return defaultsReply()
end
