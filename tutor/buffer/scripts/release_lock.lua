-- release_lock: release the flush lock if the token still holds it (it may have lapsed and been taken by another flusher).
-- KEYS[1] lock
-- ARGV[1] JSON {"token": the flusher's token}
-- Returns 1 when it was released, else 0.
assert(#KEYS == 1 and #ARGV == 1, 'release_lock takes KEYS lock; ARGV options')
if redis.call('GET', KEYS[1]) == cjson.decode(ARGV[1]).token then return redis.call('DEL', KEYS[1]) end
return 0
