-- flow: sets or reads a queue's rate limit and pause (include/limit.lua, flow/rate-limit.ts).
-- KEYS[1] is partition 0's base on a single-partition queue, and the queue's own "{<queue>}"
-- base on a partitioned one (see take.lua). There, every change also counts a version, so the
-- flag each partition keeps of it (flowflag.lua) can be written in any order and still end at
-- the last change.
-- ARGV: wake channel, versioned ('1' | ''), op ('limit' rate per | 'unlimit' | 'pause' (d delay |
-- a instant) value | 'resume' | 'get').
-- Returns { now, rate or false, per or false, paused until or false, whole tokens now or false,
-- version or false, has a bucket (0|1) }.
--@include partition
--@include limit

local op = ARGV[3]
local b = flowBucket() or { tokens = 0, at = now }
if op == 'limit' then
  local rate, per = tonumber(ARGV[4]), tonumber(ARGV[5])
  local tokens = rate
  if b.rate then tokens = math.min(rate, flowRefill(b, now)) end
  b.rate, b.per, b.tokens, b.at = rate, per, tokens, now
  flowSave(b)
elseif op == 'unlimit' then
  b.rate, b.per, b.tokens, b.at = nil, nil, 0, now
  flowSave(b)
elseif op == 'pause' then
  b.paused = tonumber(ARGV[5])
  if ARGV[4] == 'd' then b.paused = now + b.paused end
  flowSave(b)
elseif op == 'resume' then
  b.paused = nil
  flowSave(b)
end
local version = false
if ARGV[2] == '1' and op ~= 'get' then version = redis.call('INCR', base .. ':lv') end
local paused = b.paused and b.paused > now and b.paused
local tokens = b.rate and math.floor(flowRefill(b, now))
local exists = (b.rate or b.paused) and 1 or 0
return { now, b.rate or false, b.per or false, paused or false, tokens or false, version, exists }
