-- audit: every lens over every directory, one agent each (read-only), the
-- findings merged and deduplicated, as a table and as JSON.
--   galley workflow run audit lens=security,performance dirs=src,lib
--   args: lens, dirs (comma-separated), runtime, model.
-- With runtime=fake each agent answers with canned JSON (offline).
meta = {
  name = "audit",
  description = "lenses x directories, findings merged and deduplicated",
  phases = {"audit", "merge"},
}

local FINDINGS = {type = "object", required = {"findings"},
  properties = {findings = {type = "array", items = {type = "object",
    required = {"file", "title", "severity"},
    properties = {file = {type = "string"}, line = {type = "integer"},
                  severity = {type = "string",
                              enum = {"high", "medium", "low"}},
                  title = {type = "string"}, detail = {type = "string"}}}}}}

local function split(s)
  local out = {}
  for part in string.gmatch(s or "", "[^,]+") do
    out[#out + 1] = part:match("^%s*(.-)%s*$")
  end
  return out
end

function run(args)
  local lenses, dirs = split(args.lens), split(args.dirs)
  if #lenses == 0 or #dirs == 0 then
    error("audit needs lens=L1,L2 and dirs=D1,D2")
  end
  phase("audit")
  local jobs, where = {}, {}
  for _, l in ipairs(lenses) do
    for _, d in ipairs(dirs) do
      local i = #jobs + 1
      where[i] = {lens = l, dir = d}
      local prompt = "Audit the files under " .. d .. " for " .. l
        .. " problems. Read, do not edit. Reply with JSON only: "
        .. '{"findings": [{"file": "...", "line": 1, "severity": '
        .. '"high|medium|low", "title": "...", "detail": "..."}]}'
      if args.runtime == "fake" then
        -- every lens finds the same first problem: the merge dedups it
        prompt = 'say {"findings": [{"file": "' .. d .. '/a", "line": 1, '
          .. '"severity": "high", "title": "shared problem"}, {"file": "'
          .. d .. '/b", "line": 2, "severity": "low", "title": "' .. l
          .. ' problem"}]}'
      end
      jobs[i] = function()
        return agent(prompt, {label = l .. "-" .. d:gsub("[^%w]", "-"),
          schema = FINDINGS, runtime = args.runtime, model = args.model,
          tools = {"Read", "Grep", "Glob"}})
      end
    end
  end
  local results = parallel(jobs)

  phase("merge")
  local merged, seen = {}, {}
  for i, r in ipairs(results) do
    for _, f in ipairs(r.findings) do
      local key = f.file .. ":" .. tostring(f.line or 0) .. ":"
        .. string.lower(f.title)
      local m = seen[key]
      if m then
        m.lenses[#m.lenses + 1] = where[i].lens
      else
        f.lenses = {where[i].lens}
        seen[key] = f
        merged[#merged + 1] = f
      end
    end
  end
  local order = {high = 1, medium = 2, low = 3}
  table.sort(merged, function(a, b)
    if order[a.severity] ~= order[b.severity] then
      return order[a.severity] < order[b.severity]
    end
    return a.file .. tostring(a.line or 0) < b.file .. tostring(b.line or 0)
  end)
  local lines = {"| severity | file | line | title | lenses |",
                 "|---|---|---|---|---|"}
  for _, f in ipairs(merged) do
    lines[#lines + 1] = "| " .. f.severity .. " | " .. f.file .. " | "
      .. tostring(f.line or "") .. " | " .. f.title:gsub("|", "/") .. " | "
      .. table.concat(f.lenses, ", ") .. " |"
  end
  log(table.concat(lines, "\n"))
  return {findings = merged, table = table.concat(lines, "\n")}
end
