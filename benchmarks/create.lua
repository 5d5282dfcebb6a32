-- wrk script: POST /api/v1/complaints with a unique Idempotency-Key per request.
-- KESU_BENCH_BASE offsets the request numbers, so the measured run does not replay the
-- warm-up's keys (a replay answers 201 from the stored result without creating anything);
-- keep base + 30,000,000 below 10^8, the phone numbers are n mod 10^8.
local token = os.getenv("KESU_BENCH_TOKEN")
local base = tonumber(os.getenv("KESU_BENCH_BASE") or "0")
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  non_201 = 0
end

function request()
  counter = counter + 1
  local n = base + tid * 10000000 + counter
  local body = string.format(
    '{"channel":"api","customer":{"name":"压测客户%d","phone":"139%08d","region":"上海"},' ..
    '"content":"第%d号压测投诉：收到的耳机左耳没有声音，包装也有破损，要求换货。",' ..
    '"order_no":"BENCH-%d","product":"降噪耳机 X1","remedy":"replacement"}', n, n % 100000000, n, n)
  return wrk.format("POST", "/api/v1/complaints", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "bench-" .. n,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then non_201 = non_201 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non_201") end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non_201":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
