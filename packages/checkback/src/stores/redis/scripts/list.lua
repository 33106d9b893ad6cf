-- list: one state's jobs a page at a time. Order: scheduled by due time, active by seq
-- (claim order), finished ones by when they finished; ties by seq.
-- ARGV: wake channel, state code, limit, cursor ('' or "<score>:<seq>").
-- Returns { more (0|1), { record replies }, { the cursor of each reply } }; a partitioned
-- queue merges pages of its partitions by those cursors.
--@include partition
--@include due
--@include record
--@include state

local state = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local fromScore, fromMember
if ARGV[4] ~= '' then
  local score, seq = string.match(ARGV[4], '^(-?%d+):(%d+)$')
  fromScore, fromMember = tonumber(score), member(tonumber(seq))
end

local page, cursors = {}, {}
local more = false
local function visit(m, score)
  local r = loadRecord(seqOf(m))
  if not r or r.state ~= state then return true end
  if #page == limit then
    more = true
    return false
  end
  page[#page + 1] = reply(r)
  cursors[#cursors + 1] = score .. ':' .. r.seq
  return true
end

if state == SCHEDULED then
  dueWalkAll(fromScore, fromMember, limit + 1, visit)
elseif state == ACTIVE_STATE then
  -- ACTIVE is ordered by lease expiry; listing is by seq. Few jobs are active at once (the
  -- workers' concurrency), so they are sorted here; the cursor's score is the seq.
  local seqs = {}
  for _, m in ipairs(redis.call('ZRANGE', ACTIVE, 0, -1)) do
    if m ~= ACTIVE_SENTINEL then
      local seq = seqOf(m)
      if not fromScore or seq > fromScore then seqs[#seqs + 1] = seq end
    end
  end
  table.sort(seqs)
  for _, seq in ipairs(seqs) do
    if visit(member(seq), seq) == false then break end
  end
else
  finishedWalk(state, fromScore, fromMember, visit)
end
return { more and 1 or 0, page, cursors }
