-- wrk script: GET a path with a bearer token or a session cookie; reports percentiles.
local token = os.getenv("KESU_BENCH_TOKEN")
local cookie = os.getenv("KESU_BENCH_COOKIE")
local threads = {}

function setup(thread) table.insert(threads, thread) end

function init(args) bad = 0 end

function request()
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", wrk.path, headers)
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + t:get("bad") end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non_200":%d,"p50_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, total_bad, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
end
