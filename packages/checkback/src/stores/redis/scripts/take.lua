-- take: the queue's bucket on a partitioned queue, where it lives in a slot of its own (the
-- queue's, "{<queue>}") apart from the partitions. A claim across partitions first takes up to
-- the starts it could make (one atomic step here, on this server's clock), claims at most what
-- it was granted, then gives back what it did not start. So the queue never starts more than
-- its bucket held: every start spends a token taken here. A claimer that dies between the two
-- steps loses what it took and did not give back — a few tokens once, the bucket then refills
-- at its rate: fewer starts, never a burst.
-- ARGV: wake channel, op ('take' | 'give'), n.
-- Returns { now, granted (n when the queue has no bucket), has a bucket (0|1), next start allowed or false }.
--@include partition
--@include limit

local n = tonumber(ARGV[3])
local b = flowBucket()
if not b then return { now, n, 0, false } end
if ARGV[2] == 'take' then
  n = flowAllowed(b, now, n)
  flowCharge(b, now, n)
elseif b.rate then
  -- Given back, never above the bucket: a bucket that refilled meanwhile is simply full.
  b.tokens = math.min(b.rate, flowRefill(b, now) + n)
  b.at = now
  flowSave(b)
end
return { now, n, 1, flowNextStart(b, now) }
