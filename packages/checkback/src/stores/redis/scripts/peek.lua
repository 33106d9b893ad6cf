-- peek: a read-only look at what a claim here would start, for claiming across partitions: the
-- claimer peeks at every partition, merges their turns by the numbers a single claim orders
-- them by (partition-merge.ts), takes what the queue's bucket allows, and then claims from each
-- partition its share.
-- ARGV: wake channel, limit.
-- Returns { now, head instant or false, { seq, value, klass, group, ... }, flow }: one entry
-- per turn (include/turns.lua) — value its claim rank or readyAt (as text: a group's may carry
-- a fraction), klass 0 for an ungrouped job, 1 to 3 for a group's turn (planTurns), group ''
-- for none — and flow 1 when the queue has a rate limit or pause (kept in a slot of its own:
-- take.lua).
--@include partition
--@include due
--@include record
--@include turns

local picks = planTurns(tonumber(ARGV[2]))
local flat = {}
for _, pick in ipairs(picks) do
  if pick.entry then
    flat[#flat + 1] = seqOf(pick.entry[1])
    flat[#flat + 1] = pick.value
    flat[#flat + 1] = 0
    flat[#flat + 1] = ''
  else
    flat[#flat + 1] = seqOf(pick.member)
    flat[#flat + 1] = scoreText(pick.value)
    flat[#flat + 1] = pick.klass
    flat[#flat + 1] = pick.turn.name
  end
end
local flag = redis.call('GET', base .. ':lf')
local flow = flag and string.sub(flag, -2) == ':1' and 1 or 0
return { now, partitionHead() or false, flat, flow }
