-- wrk script: send each request of a prepared file exactly once, then report.
--
-- The file (written by bench/wrk.py) holds records "<path>\n<byte length>\n<body>\n". Extra
-- arguments are "Name: value" headers. Every request is formatted in init(), before the clock
-- starts. Once the file is used up, connections send GET /api/v1/health (answered 200, not
-- counted) until the last webhook is answered; the thread then prints "DONE <status>=<n> ..."
-- and bench/wrk.py stops wrk with SIGINT. One wrk thread: it alone sends the whole file.

local requests = {}
local count = 0
local next_request = 1
local answered = 0
local statuses = {}
local probe
local verified = false

function init(args)
   local headers = {}
   for i = 2, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      headers[name] = value
   end
   local file = assert(io.open(args[1], "rb"))
   while true do
      local path = file:read("*l")
      if not path or path == "" then break end
      local length = tonumber(file:read("*l"))
      local body = file:read(length)
      file:read(1)
      local own = {}
      for name, value in pairs(headers) do own[name] = value end
      count = count + 1
      requests[count] = wrk.format("POST", path, own, body)
   end
   file:close()
   probe = wrk.format("GET", "/api/v1/health", {})
   io.write("READY " .. count .. "\n")
   io.flush()
end

function request()
   if not verified then
      -- wrk calls request() once before the run to check the script: not a request to spend
      verified = true
      return probe
   end
   if next_request <= count then
      local prepared = requests[next_request]
      requests[next_request] = nil
      next_request = next_request + 1
      return prepared
   end
   return probe
end

function response(status, headers, body)
   if status == 200 then return end
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
   if answered == count then
      local parts = {}
      for code, n in pairs(statuses) do parts[#parts + 1] = code .. "=" .. n end
      io.write("DONE " .. table.concat(parts, " ") .. "\n")
      io.flush()
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "SUMMARY {\"requests\": %d, \"duration_us\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, " ..
      "\"timeout\": %d, \"mean\": %.1f, \"p50\": %d, \"p90\": %d, \"p95\": %d, \"p99\": %d, \"max\": %d}\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
      latency.max))
   io.flush()
end
