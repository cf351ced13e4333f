-- count: count one request on a throttle's window counter.
-- KEYS[1] counter
-- ARGV[1] JSON {"seconds": n}
-- Returns the window's count.
assert(#KEYS == 1 and #ARGV == 1, 'count takes KEYS counter; ARGV options')
return count(KEYS[1], cjson.decode(ARGV[1]).seconds)
