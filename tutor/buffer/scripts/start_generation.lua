#!lua flags=allow-oom
-- start_generation: give a new, reset or restarted shard of the buffer its generation and exercise bank version.
-- KEYS[1] generation, KEYS[2] bank version, KEYS[3] generation run (the Redis run_id the generation belongs to)
-- ARGV[1] JSON {"generation": fresh id, "bank_version": fresh id}
-- Returns {generation, bank version}, as they are after the call.
-- A Redis that restarted (a new run_id) gets a new generation and bank version, so state kept
-- before the restart (events written through to PostgreSQL meanwhile, a bank changed meanwhile)
-- is never taken as current. allow-oom: a full buffer must still be readable.
assert(#KEYS == 3 and #ARGV == 1, 'start_generation takes KEYS generation, bank version, run; ARGV fresh ids')
local fresh = cjson.decode(ARGV[1])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if redis.call('GET', KEYS[3]) ~= run or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], fresh.generation)
  redis.call('SET', KEYS[2], fresh.bank_version)
  redis.call('SET', KEYS[3], run)
end
return redis.call('MGET', KEYS[1], KEYS[2])
