-- Due entries in claim-rank order (flow/priority.ts), for claim and peek.
--@include due
--@include record

-- Up to `limit` entries due by `upTo`, best claim rank first: dueUpTo's entries merged with the
-- heads of the priority levels, each entry { member, score, bucket start, expired, level, rank }.
-- With no priority level in use and no lease run out this is dueUpTo (rank = due instant). An
-- expired lease ranks with its job's priority, read from its record (an active prioritized job
-- is in no level, so this is looked at whenever a lease ran out); within level 0 the order stays dueUpTo's,
-- so the bucket entries taken are still the first of their buckets (dueRemoveMany relies on it).
local function dueRanked(upTo, limit)
  local out = dueUpTo(upTo, limit, true)
  local expiredSeqs = {}
  for _, entry in ipairs(out) do
    if entry[4] then expiredSeqs[#expiredSeqs + 1] = seqOf(entry[1]) end
  end
  local levels = levelsInUse()
  if not levels and #expiredSeqs == 0 then return out end
  local expiredArrays = #expiredSeqs > 0 and loadArrays(expiredSeqs) or {}
  for _, entry in ipairs(out) do
    local a = entry[4] and expiredArrays[seqOf(entry[1])]
    entry[6] = rankOf(entry[2], a and a[F_PRIORITY] or 0)
  end
  for _, level in ipairs(levels and redis.call('SMEMBERS', LEVELS) or {}) do
    local p = tonumber(level)
    local items = redis.call('ZRANGEBYSCORE', levelKey(level), '-inf', upTo, 'WITHSCORES', 'LIMIT', 0, limit)
    for i = 1, #items, 2 do
      local score = tonumber(items[i + 1])
      out[#out + 1] = { items[i], score, false, false, p, rankOf(score, p) }
    end
  end
  table.sort(out, function(a, b) return a[6] < b[6] or (a[6] == b[6] and a[1] < b[1]) end)
  for k = #out, limit + 1, -1 do out[k] = nil end
  return out
end
