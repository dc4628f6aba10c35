function run(args)
  local ok, e = pcall(function() return agent("x fails") end)
  local ok2 = pcall(function() return os.execute("id") end)
  budget({usd = 1, agents = 3})
  return workflow("batch", {mode = "plan", instruction = "x"})
end
