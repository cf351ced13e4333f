#!lua flags=allow-oom
-- ack: after the commit, forget a batch's entries and pending events; keep its dead letters, bump versions.
-- KEYS[1] the shard's stream, KEYS[2] its dead letters, KEYS[3] its stats (the learners named are all of the shard)
-- ARGV[1] JSON {"group": name, "pending_prefix": text, "version_prefix": text, "version_seconds": n,
--   "pending": [{"user": id, "count": n}, ...], "entries": [id, ...], "dead": [[field, value, ...], ...],
--   "changed_users": [id, ...], "counters": {name: n, ...}, "seconds": the flush's duration}
-- ARGV[2...] the pending members, `count` for each learner of ARGV[1].pending in turn
-- The batch's pending members and entries go first: that frees memory, and a reader sees the
-- events either still pending under the old versions or gone under the new ones (one script, so
-- one atomic step). Then what needs new memory: dead letters, versions, counters. allow-oom: a
-- full buffer must drain, and this frees at least what it adds.
assert(#KEYS == 3 and #ARGV >= 1, 'ack takes KEYS stream, dead letters, stats; ARGV batch, members')
local batch = cjson.decode(ARGV[1])
local members = 0
for _, group in ipairs(batch.pending) do members = members + group.count end
assert(#ARGV == 1 + members, 'ack takes as many members as ARGV[1].pending counts')
local at = 2
for _, group in ipairs(batch.pending) do
  local last = at + group.count - 1
  -- In slices: Lua unpacks at most a few thousand values at once.
  for first = at, last, 1000 do
    redis.call('ZREM', pending_key(batch.pending_prefix, group.user), unpack(ARGV, first, math.min(first + 999, last)))
  end
  at = last + 1
end
for _, id in ipairs(batch.entries) do
  redis.call('XACK', KEYS[1], batch.group, id)
  redis.call('XDEL', KEYS[1], id)
end
for _, letter in ipairs(batch.dead) do
  redis.call('XADD', KEYS[2], '*', unpack(letter))
end
for _, user in ipairs(batch.changed_users) do
  redis.call('INCR', batch.version_prefix .. user)
  redis.call('EXPIRE', batch.version_prefix .. user, batch.version_seconds)
end
for name, n in pairs(batch.counters) do
  redis.call('HINCRBY', KEYS[3], name, n)
end
redis.call('HINCRBYFLOAT', KEYS[3], 'flush_seconds_sum', tostring(batch.seconds))
