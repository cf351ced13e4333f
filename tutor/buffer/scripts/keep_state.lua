-- keep_state: keep what a reader computed of a learner, and mark the learner as existing.
-- KEYS[1] state, then `exists` learner-exists marks (0 or 1)
-- ARGV[1] JSON {"exists": n, "seconds": n, "exists_seconds": n}
-- ARGV[2] the state, bytes kept as they are
assert(#ARGV == 2, 'keep_state takes ARGV options, state')
local options = cjson.decode(ARGV[1])
assert(#KEYS == 1 + options.exists, 'keep_state takes KEYS state, then the marks ARGV[1] counts')
redis.call('SET', KEYS[1], ARGV[2], 'EX', options.seconds)
if options.exists == 1 then redis.call('SET', KEYS[2], 1, 'EX', options.exists_seconds) end
