-- tail: the newest n completed and cancelled jobs as { score, seq, ... }, newest first per
-- state; the caller merges partitions to find a queue-wide keepLast cut.
-- ARGV: wake channel, n.
--@include partition

local out = {}
for _, state in ipairs({ COMPLETED, CANCELLED }) do
  local items = redis.call('ZREVRANGE', finishedKey(state), 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
  for i = 1, #items, 2 do
    out[#out + 1] = tonumber(items[i + 1])
    out[#out + 1] = seqOf(items[i])
  end
end
return out
