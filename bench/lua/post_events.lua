-- POST /api/error-events with BENCH_BATCH events per request, for random learners.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local batch = tonumber(os.getenv("BENCH_BATCH"))
local category = {1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4}
local users, headers
setup = common.setup

function init(args)
  common.seed(id)
  users = common.users()
  headers = common.headers({["Content-Type"] = "application/json"})
end

local function event()
  local sub = math.random(12)
  return string.format('{"user_id":"%s","errorCategory":%d,"errorSubCategory":%d}',
    users[math.random(#users)], category[sub], sub)
end

function request()
  local items = {}
  for i = 1, batch do items[i] = event() end
  local body = batch == 1 and items[1] or "[" .. table.concat(items, ",") .. "]"
  return wrk.format("POST", "/api/error-events", headers, body)
end

done = common.done
