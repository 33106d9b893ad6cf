-- extend: pushes an active job's lease out to now + lease ms, if the token still holds it.
-- ARGV: wake channel, seq, token, lease ms. Returns the new expiry, or -1 if the lease is lost.
--@include partition
--@include due
--@include record
--@include state

local r = heldJob(ARGV[2], ARGV[3])
if not r then return -1 end
renewLease(r, now + tonumber(ARGV[4]))
commit()
return r.leaseExpiresAt
