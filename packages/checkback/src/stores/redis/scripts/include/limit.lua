-- A queue's rate limit and pause: the token bucket of flow/rate-limit.ts, the same arithmetic in
-- Lua, kept in one hash per queue: in partition 0 of a single-partition queue (charged by
-- claim.lua), in the queue's own slot of a partitioned one (charged by take.lua). Fields:
-- rate, per (ms), tokens, at (when tokens were counted), paused (until, ms). A queue without
-- a limit or a pause has no hash; a claim pays one HMGET inside the script. The functions
-- below also serve each group's bucket (include/groups.lua), a table of the same shape.
local FLOW = base .. ':l'

local function flowBucket()
  local f = redis.call('HMGET', FLOW, 'rate', 'per', 'tokens', 'at', 'paused')
  if not f[3] then return nil end
  return { rate = tonumber(f[1]), per = tonumber(f[2]), tokens = tonumber(f[3]), at = tonumber(f[4]), paused = tonumber(f[5]) }
end

local function flowRefill(b, at)
  if not b.rate then return math.huge end
  return math.min(b.rate, b.tokens + math.max(0, at - b.at) * b.rate / b.per)
end

local function flowAllowed(b, at, wanted)
  if b.paused and b.paused > at then return 0 end
  return math.min(wanted, math.floor(flowRefill(b, at)))
end

local function flowSave(b)
  if not b.rate and not b.paused then
    redis.call('DEL', FLOW)
    return
  end
  redis.call('DEL', FLOW)
  local args = { 'tokens', string.format('%.17g', b.tokens), 'at', b.at }
  if b.rate then
    args[#args + 1] = 'rate'
    args[#args + 1] = b.rate
    args[#args + 1] = 'per'
    args[#args + 1] = b.per
  end
  if b.paused then
    args[#args + 1] = 'paused'
    args[#args + 1] = b.paused
  end
  redis.call('HSET', FLOW, unpack(args))
end

local function flowCharge(b, at, started)
  if b.rate then
    b.tokens = flowRefill(b, at) - started
    b.at = at
    flowSave(b)
  end
end

local function flowNextStart(b, at)
  if b.paused and b.paused > at then at = b.paused end
  if b.rate then
    local tokens = flowRefill(b, at)
    if tokens < 1 then at = at + math.ceil((1 - tokens) * b.per / b.rate) end
  end
  return at
end
