-- peek: a read-only look at what is due, for claiming across partitions: the claimer peeks
-- at every partition, merges by (due, seq), and then claims from each partition its share.
-- ARGV: wake channel, limit. Returns { now, head score or false, { seq, score, ... } }.
--@include partition
--@include due

local due = dueUpTo(now, tonumber(ARGV[2]))
local flat = {}
for _, entry in ipairs(due) do
  flat[#flat + 1] = seqOf(entry[1])
  flat[#flat + 1] = entry[2]
end
local _, head = dueHead()
return { now, head or false, flat }
