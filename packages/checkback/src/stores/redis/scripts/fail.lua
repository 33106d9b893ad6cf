-- fail: records a failed attempt; back to scheduled after the retry delay, or dead.
-- ARGV: wake channel, seq, token, error message, retry delay ms ('' = no retry: dead).
-- Returns the record reply, or 0 if the token no longer holds the lease.
--@include partition
--@include due
--@include record
--@include state

local r = heldJob(ARGV[2], ARGV[3])
if not r then return 0 end
appendError(r, ARGV[4])
local retryDelay = tonumber(ARGV[5])
if retryDelay then
  moveTo(r, SCHEDULED, { runAt = now + retryDelay })
else
  finish(r, DEAD)
end
commit()
return reply(r)
