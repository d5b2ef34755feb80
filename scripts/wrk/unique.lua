-- wrk script: POST /sum?key=<unique>&number=1, one unique key per request.
-- wrk -s scripts/wrk/unique.lua URL -- RUNID   (RUNID keeps runs apart)
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run = args[1] or tostring(os.time())
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/sum?key=" .. run .. "-" .. tid .. "-" .. counter .. "&number=1")
end
