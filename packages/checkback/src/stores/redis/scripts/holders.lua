-- holders: which of some business keys an unfinished job of this partition holds. A partitioned
-- store asks every partition before adding keyed grouped jobs, whose partition is their
-- group's, not their key's: an unfinished holder elsewhere must see the add (keep or replace).
-- ARGV: wake channel, keys... Returns one entry per key: the holder's seq, or 0.
--@include partition
--@include record

local out = {}
for i = 2, #ARGV do
  local r = findJob('k', ARGV[i])
  out[#out + 1] = (r and isUnfinished(r)) and r.seq or 0
end
return out
