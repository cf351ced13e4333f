#!lua flags=allow-oom
-- take_lock: take the flush lock, or renew it for the flusher that holds it (a full buffer must drain).
-- KEYS[1] lock
-- ARGV[1] JSON {"token": the flusher's token, "milliseconds": n}
-- Returns 1 when the lock is the token's now, else 0.
assert(#KEYS == 1 and #ARGV == 1, 'take_lock takes KEYS lock; ARGV options')
local options = cjson.decode(ARGV[1])
if redis.call('SET', KEYS[1], options.token, 'NX', 'PX', options.milliseconds) then return 1 end
if redis.call('GET', KEYS[1]) == options.token then return redis.call('PEXPIRE', KEYS[1], options.milliseconds) end
return 0
