-- redrive: dead jobs back to scheduled, attempts reset, error history kept. A dead job whose
-- key is meanwhile held by another unfinished job stays dead (keys stay unique).
-- ARGV: wake channel, when kind, when value, mode ('ids'|'all'), limit, then the seqs ('ids')
-- or how many of the oldest to pass over ('all', see selectJobs). Returns { moved, examined }.
--@include partition
--@include due
--@include record
--@include state

local runAt = tonumber(ARGV[3])
if ARGV[2] == 'd' then runAt = now + runAt end
local moved = 0
local chosen = selectJobs(DEAD, ARGV[4], tonumber(ARGV[5]), 6)
for _, r in ipairs(chosen) do
  local holder = r.key and findJob('k', r.key)
  if not (holder and holder.seq ~= r.seq and isUnfinished(holder)) then
    if r.key then redis.call('HSET', KEY_INDEX, r.key, r.seq) end
    moveTo(r, SCHEDULED, { runAt = runAt, attempts = 0 })
    moved = moved + 1
  end
end
commit()
return { moved, #chosen }
