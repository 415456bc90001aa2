-- wrk summary for benches/relay.sh: one machine-readable line after the run.
--   WRK_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"status_errors":..,...}
-- status_errors are wrk's own count of responses with a status >= 400 (no contender answers
-- 3xx on the relayed route: the Express peer is told to answer 401 rather than redirect).
-- No response() callback on purpose: calling Lua per response would slow wrk itself down,
-- and wrk shares the machine's 2 cores with the servers.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.0f,"p90_us":%.0f,'
      .. '"p99_us":%.0f,"max_us":%.0f,"status_errors":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
