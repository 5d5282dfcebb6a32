-- wrk script for the side-by-side intake figure (benchmarks/run.py --only compare).
-- BENCH_TARGET=kesu posts POST /api/v1/complaints (bearer token, an Idempotency-Key per
-- request); BENCH_TARGET=helpdesk posts django-helpdesk's POST /api/tickets/ (DRF token).
-- Request number n gets the same title, description and contact e-mail on both sides.
-- BENCH_BASE offsets n so a warm-up and the measured run never reuse a number.
-- The title carries "BENCH-<n>"; every 201's n is written to BENCH_ACK_FILE (one a line), so
-- the bench can check that each acknowledged request was stored exactly once.
local target = os.getenv("BENCH_TARGET")
local token = os.getenv("BENCH_TOKEN")
local queue = tonumber(os.getenv("BENCH_QUEUE") or "0")
local base = tonumber(os.getenv("BENCH_BASE") or "0")
local ack_file = os.getenv("BENCH_ACK_FILE")
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  created = 0
  other = 0
  acked = {}
end

local function fields(n)
  local title = string.format("压测投诉 BENCH-%d：耳机左耳没有声音", n)
  local description = string.format(
    "第%d号压测投诉：收到的耳机左耳没有声音，包装也有破损，要求换货。", n)
  local email = string.format("bench%d@example.com", n)
  return title, description, email
end

function request()
  counter = counter + 1
  local n = base + tid * 10000000 + counter
  local title, description, email = fields(n)
  if target == "kesu" then
    local body = string.format(
      '{"channel":"api","customer":{"name":"压测客户%d","email":"%s"},' ..
      '"title":"%s","content":"%s"}', n, email, title, description)
    return wrk.format("POST", "/api/v1/complaints", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = "compare-" .. n,
    }, body)
  end
  -- django-helpdesk's TicketForm requires a priority; 3 is its "normal".
  local body = string.format(
    '{"queue":%d,"title":"%s","description":"%s","submitter_email":"%s","priority":3}',
    queue, title, description, email)
  return wrk.format("POST", "/api/tickets/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Token " .. token,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    acked[#acked + 1] = string.match(body, "BENCH%-(%d+)") or "?"
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  local out = ack_file and io.open(ack_file, "w")
  for _, t in ipairs(threads) do
    ok = ok + t:get("created")
    bad = bad + t:get("other")
    if out then
      for _, n in ipairs(t:get("acked")) do out:write(n, "\n") end
    end
  end
  if out then out:close() end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"created":%d,"non_201":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, ok, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
