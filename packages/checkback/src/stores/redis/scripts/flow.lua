-- flow: sets or reads a queue's rate limit and pause (include/limit.lua, flow/rate-limit.ts).
-- ARGV: wake channel, op ('limit' rate per | 'unlimit' | 'pause' (d delay | a instant) value | 'resume' | 'get').
-- Returns { now, rate or false, per or false, paused until or false, whole tokens now or false }.
--@include partition
--@include limit

local op = ARGV[2]
local b = flowBucket() or { tokens = 0, at = now }
if op == 'limit' then
  local rate, per = tonumber(ARGV[3]), tonumber(ARGV[4])
  local tokens = rate
  if b.rate then tokens = math.min(rate, flowRefill(b, now)) end
  b.rate, b.per, b.tokens, b.at = rate, per, tokens, now
  flowSave(b)
elseif op == 'unlimit' then
  b.rate, b.per, b.tokens, b.at = nil, nil, 0, now
  flowSave(b)
elseif op == 'pause' then
  b.paused = tonumber(ARGV[4])
  if ARGV[3] == 'd' then b.paused = now + b.paused end
  flowSave(b)
elseif op == 'resume' then
  b.paused = nil
  flowSave(b)
end
local paused = b.paused and b.paused > now and b.paused
local tokens = b.rate and math.floor(flowRefill(b, now))
return { now, b.rate or false, b.per or false, paused or false, tokens or false }
