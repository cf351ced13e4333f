-- snapshot: what a reader needs of a learner, read atomically, and the request counted in the same
-- round trip.
-- KEYS[1] pending set, KEYS[2] version, KEYS[3] generation, KEYS[4] bank version, KEYS[5] kept state,
--   then `counters` throttle counters (0 or 1)
-- ARGV[1] JSON {"counters": n, "seconds": n}
-- Returns {pending members with scores, version, generation, bank version, state, count or false}.
-- A full buffer only costs the count (false): the request is let through.
assert(#ARGV == 1, 'snapshot takes ARGV options')
local options = cjson.decode(ARGV[1])
assert(#KEYS == 5 + options.counters,
  'snapshot takes KEYS pending, version, generation, bank version, state, then the counters ARGV[1] counts')
local members = redis.call('ZRANGE', KEYS[1], '-inf', '+inf', 'BYSCORE', 'WITHSCORES')
local counted = false
if options.counters == 1 then
  local ok, n = pcall(count, KEYS[6], options.seconds)
  if ok then counted = n end
end
local values = redis.call('MGET', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return {members, values[1], values[2], values[3], values[4], counted}
