-- peek: a read-only look at what is due, for claiming across partitions: the claimer peeks
-- at every partition, merges by (claim rank, seq), and then claims from each partition its share.
-- ARGV: wake channel, limit. Returns { now, head score or false, { seq, claim rank, ... } }.
--@include partition
--@include due
--@include record
--@include ranked

local due = dueRanked(now, tonumber(ARGV[2]))
local flat = {}
for _, entry in ipairs(due) do
  flat[#flat + 1] = seqOf(entry[1])
  flat[#flat + 1] = entry[6] or entry[2]
end
local _, head = dueHead()
return { now, head or false, flat }
