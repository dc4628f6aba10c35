-- deep-research: a question split into sub-questions, each researched by
-- its own agent in parallel (web search and fetch allowed, no writes),
-- every claim then voted on by other agents, and one report file with the
-- sources and the votes.
--   galley workflow run deep-research "what limits SQLite's write speed?"
--   args: question (or the words after the name), subquestions (4),
--   voters (3), report (deep-research-report.md), runtime, model.
-- With runtime=fake each agent answers with canned JSON, so the whole
-- pipeline runs offline.
meta = {
  name = "deep-research",
  description = "sub-questions researched in parallel, claims cross-checked "
    .. "by vote, one report with sources and votes",
  phases = {"plan", "research", "cross-check", "report"},
}

local READ_ONLY = {"WebSearch", "WebFetch", "Read", "Grep", "Glob"}

-- an agent call; with the fake runtime its answer is `fake` (as JSON)
local function ask(label, prompt, schema, fake)
  local o = {label = label, schema = schema, tools = READ_ONLY,
             runtime = args.runtime, model = args.model}
  if args.runtime == "fake" then
    prompt = "say " .. fake
  end
  return agent(prompt, o)
end

local function json_str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local PLAN = {type = "object", required = {"questions"},
  properties = {questions = {type = "array", items = {type = "string"}}}}
local CLAIMS = {type = "object", required = {"claims"},
  properties = {claims = {type = "array", items = {type = "object",
    required = {"claim", "sources"},
    properties = {claim = {type = "string"},
                  sources = {type = "array", items = {type = "string"}}}}}}}
local VOTE = {type = "object", required = {"verdict"},
  properties = {verdict = {type = "string",
                           enum = {"supported", "refuted", "unsure"}},
                why = {type = "string"}}}

function run(args)
  local q = args.question or args._
  if q == nil or q == "" then
    error("deep-research needs a question: galley workflow run "
          .. "deep-research \"QUESTION\"")
  end
  local n = tonumber(args.subquestions or "4")
  local voters = tonumber(args.voters or "3")

  phase("plan")
  local fake_qs = {}
  for i = 1, n do fake_qs[i] = json_str("part " .. i .. " of: " .. q) end
  local plan = ask("plan",
    "Split this research question into at most " .. n .. " independent "
    .. "sub-questions that together answer it. Reply with JSON only: "
    .. '{"questions": ["..."]}\nQuestion: ' .. q,
    PLAN, '{"questions": [' .. table.concat(fake_qs, ", ") .. "]}")
  log("plan: " .. #plan.questions .. " sub-questions")

  phase("research")
  local jobs = {}
  for i, sq in ipairs(plan.questions) do
    jobs[i] = function()
      return ask("research-" .. i,
        "Research this question on the web. Reply with JSON only: "
        .. '{"claims": [{"claim": "...", "sources": ["https://..."]}]}, '
        .. "each claim short and checkable, each with its sources.\n"
        .. "Question: " .. sq,
        CLAIMS, '{"claims": [{"claim": ' .. json_str("finding on " .. sq)
          .. ', "sources": ["https://example.org/' .. i .. '"]}]}')
    end
  end
  local found = parallel(jobs)
  local claims = {}
  for i, f in ipairs(found) do
    for _, c in ipairs(f.claims) do
      c.question = plan.questions[i]
      claims[#claims + 1] = c
    end
  end
  log("research: " .. #claims .. " claims")

  phase("cross-check")
  local checks = {}
  for i, c in ipairs(claims) do
    checks[i] = function()
      local votes = {}
      for v = 1, voters do
        votes[v] = function()
          return ask("vote-" .. i .. "-" .. v,
            "Check this claim independently (search the web, read the "
            .. "sources). Reply with JSON only: {\"verdict\": "
            .. "\"supported\"|\"refuted\"|\"unsure\", \"why\": \"...\"}\n"
            .. "Claim: " .. c.claim .. "\nSources: "
            .. table.concat(c.sources, " "),
            VOTE, '{"verdict": "supported", "why": "the source says so"}')
        end
      end
      return parallel(votes)
    end
  end
  local verdicts = parallel(checks)

  phase("report")
  local lines = {"# " .. q, "", "| claim | supported | refuted | unsure | sources |",
                 "|---|---|---|---|---|"}
  local supported = 0
  for i, c in ipairs(claims) do
    local count = {supported = 0, refuted = 0, unsure = 0}
    for _, v in ipairs(verdicts[i]) do
      count[v.verdict] = count[v.verdict] + 1
    end
    if count.supported > voters / 2 then supported = supported + 1 end
    lines[#lines + 1] = "| " .. c.claim:gsub("|", "/") .. " | "
      .. count.supported .. " | " .. count.refuted .. " | "
      .. count.unsure .. " | " .. table.concat(c.sources, " ") .. " |"
  end
  local report = args.report or "deep-research-report.md"
  sh("cat > '" .. report:gsub("'", "") .. "' <<'GALLEY_REPORT_END'\n"
     .. table.concat(lines, "\n") .. "\nGALLEY_REPORT_END",
     {label = "report"})
  return {report = report, claims = #claims, supported = supported}
end
