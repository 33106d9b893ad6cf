-- reschedule: moves a scheduled job to a new due instant (on this server's clock).
-- ARGV: wake channel, ref kind, ref, when kind ('d'|'a'), when value.
-- Returns { changed, record reply } or {}.
--@include partition
--@include due
--@include record
--@include state

local r = findJob(ARGV[2], ARGV[3])
if not r then return {} end
if r.state ~= SCHEDULED then return { 0, reply(r) } end
local runAt = tonumber(ARGV[5])
if ARGV[4] == 'd' then runAt = now + runAt end
moveTo(r, SCHEDULED, { runAt = runAt })
commit()
return { 1, reply(r) }
