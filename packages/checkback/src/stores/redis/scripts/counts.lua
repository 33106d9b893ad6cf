-- counts: jobs per state in this partition. ARGV: wake channel. Returns a flat hash reply.
--@include partition

return redis.call('HGETALL', COUNTS)
