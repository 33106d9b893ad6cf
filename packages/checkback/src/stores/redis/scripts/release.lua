-- release: gives a held job back without spending the attempt, due again after a delay,
-- optionally with a new payload (a check keeps its probe history this way).
-- ARGV: wake channel, seq, token, delay ms, has payload ('1'|'0'), payload.
-- Returns 1, or 0 if the token no longer holds the lease.
--@include partition
--@include due
--@include record
--@include state

local r = heldJob(ARGV[2], ARGV[3])
if not r then return 0 end
local fields = { runAt = now + tonumber(ARGV[4]), attempts = r.attempts - 1 }
if ARGV[5] == '1' then fields.payload = ARGV[6] end
moveTo(r, SCHEDULED, fields)
commit()
return 1
