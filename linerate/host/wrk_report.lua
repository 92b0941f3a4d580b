-- wrk's own summary as one JSON line, so that linerate/host/wrk.py reads numbers,
-- not wrk's human text (which switches units: 1.00m from 60 s on).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LINERATE_WRK_JSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, ' ..
    '"errors": {"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f}, ' ..
    '"latency_us": {"mean": %.1f, "max": %.0f, "p50": %.0f, "p99": %.0f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(99)))
end
