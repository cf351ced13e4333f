-- GET /api/generate-exercise for random learners (repeats allowed: the cache is warm).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local users, headers
setup = common.setup

function init(args)
  common.seed(id)
  users = common.users()
  headers = common.headers()
end

function request()
  local user = users[math.random(#users)]
  return wrk.format("GET", "/api/generate-exercise?user_id=" .. user .. "&top_n_errors=3&last_n_days=7", headers)
end

done = common.done
