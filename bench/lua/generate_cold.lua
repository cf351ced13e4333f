-- GET /api/generate-exercise, each learner once (the cache was emptied before): every thread
-- walks its own slice of the learners and stops at its end.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local threads = tonumber(os.getenv("BENCH_THREADS"))
local users, headers, next_index, last_index
setup = common.setup

function init(args)
  users = common.users()
  headers = common.headers()
  local size = math.floor(#users / threads)
  next_index = (id - 1) * size + 1
  last_index = id * size
end

function request()
  local user = users[math.min(next_index, last_index)]
  next_index = next_index + 1
  return wrk.format("GET", "/api/generate-exercise?user_id=" .. user .. "&top_n_errors=3&last_n_days=7", headers)
end

function response(status, headers, body)
  if next_index > last_index then wrk.thread:stop() end
end

done = common.done
