-- push: accept one request's events, all or nothing: a stream entry, and each event in its learner's
-- pending set.
-- KEYS[1] the shard's stream, KEYS[2] its stats, then as many of each as ARGV[1] says, in this order:
--   `counters` throttle counters (0 or 1), `pending` pending sets, `exists` learner-exists marks
-- ARGV[1] JSON {"counters": n, "pending": n, "exists": n, "limit": n, "seconds": n, "pending_prefix": text}
-- ARGV[2] the entry's events (JSON, see tutor/buffer/entries.py), stored as they are
-- Returns the learner-exists marks that are missing (nothing was written or counted), else the
-- request's count (0 without a counter): a count over the limit wrote nothing else.
-- Counting is the first write: with the buffer full (noeviction) Redis refuses that first write
-- and the script writes nothing, so a request is accepted whole or not at all.
assert(#ARGV == 2, 'push takes ARGV options, events')
local options = cjson.decode(ARGV[1])
assert(#KEYS == 2 + options.counters + options.pending + options.exists,
  'push takes KEYS stream, stats, then the counters, pending sets and marks ARGV[1] counts')
local unknown = {}
for i = 3 + options.counters + options.pending, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then unknown[#unknown + 1] = KEYS[i] end
end
if #unknown > 0 then return unknown end
local n = 0
if options.counters == 1 then
  n = count(KEYS[3], options.seconds)
  if n > options.limit then return n end
end
redis.call('XADD', KEYS[1], '*', 'events', ARGV[2])
local entry = cjson.decode(ARGV[2])
local at = {}
for i, name in ipairs(entry.fields) do at[name] = i end
-- Times go to ZADD as integers written out in full: Lua would print a float with 14 digits and
-- lose the microseconds.
for _, row in ipairs(entry.rows) do
  redis.call('ZADD', pending_key(options.pending_prefix, row[at.user_id]), string.format('%d', row[at.micros]),
    member(row[at.event_id], row[at.subcategory]))
end
redis.call('HINCRBY', KEYS[2], 'accepted', #entry.rows)
return n
