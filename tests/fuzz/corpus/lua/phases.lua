function run(args)
  phase("plan")
  local plan = agent("plan the work", {schema = {type = "object"}})
  phase("work")
  local r = parallel{
    function() return agent("{\"a\":1}", {schema = {type = "object", properties = {a = {type = "number"}}}}) end,
    function() return sh("echo hi") end,
    function() return parallel{function() return agent("nested") end} end,
  }
  progress({done = #r})
  log("done", json.encode(r))
  return {ok = true, n = args.n}
end
