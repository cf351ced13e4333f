-- count(key, seconds): count one request on a throttle's window counter and return the window's count.
-- The counter expires `seconds` after the window's first request.
local function count(key, seconds)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, seconds) end
  return n
end
