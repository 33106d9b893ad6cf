-- sequence: draws `count` queue-wide sequence numbers for a partitioned queue and reads the
-- clock once for the whole batch. KEYS[1] is the queue's sequence counter (a slot of its own).
-- With one clock reading, jobs added together "now" share one due instant in every partition,
-- so their order is decided by sequence number (FIFO), not by which partition ran first.
-- ARGV: (unused wake channel), count. Returns { last seq drawn, now }.
local last = redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]))
local t = redis.call('TIME')
return { last, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) }
