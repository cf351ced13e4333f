#!lua flags=allow-oom
-- create_group: make the stream and its consumer group, if they do not exist; even with the buffer full.
-- KEYS[1] stream
-- ARGV[1] JSON {"group": name}
assert(#KEYS == 1 and #ARGV == 1, 'create_group takes KEYS stream; ARGV options')
redis.pcall('XGROUP', 'CREATE', KEYS[1], cjson.decode(ARGV[1]).group, '0', 'MKSTREAM')
