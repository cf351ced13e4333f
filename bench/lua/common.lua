-- Shared by every wrk script: credentials, the learners to pick from, and a JSON summary.
local M = {}
local threads = 0

-- Number the threads, so that each can seed its own random numbers or take its own slice.
function M.setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function M.users()
  local users = {}
  for line in io.lines(os.getenv("BENCH_USERS_FILE")) do users[#users + 1] = line end
  return users
end

function M.headers(extra)
  local headers = {["Authorization"] = "Token " .. os.getenv("BENCH_TOKEN")}
  for k, v in pairs(extra or {}) do headers[k] = v end
  return headers
end

function M.seed(id)
  math.randomseed(os.time() * 1000 + id)
end

function M.done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end

return M
