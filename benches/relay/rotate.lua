-- wrk script for the many-sessions run of benches/relay.sh: every request carries the next
-- session's Cookie header, round-robin over the file named by WRK_COOKIES (one Cookie header
-- value per line). The requests are formatted once in init(), so request() costs wrk only a
-- table lookup.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local requests = {}
local n, i = 0, 0

function init(args)
  local path = os.getenv("WRK_COOKIES")
  assert(path, "WRK_COOKIES is not set")
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if line ~= "" then
      n = n + 1
      requests[n] = wrk.format(nil, nil, { ["Host"] = wrk.headers["Host"], ["Cookie"] = line })
    end
  end
  file:close()
  assert(n > 0, "no cookies in " .. path)
end

function request()
  i = i % n + 1
  return requests[i]
end
