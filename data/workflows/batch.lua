-- batch: one large change split into units, one worker per unit in a
-- worktree of its own (all from one recorded commit), each checked,
-- committed on galley/batch-RUN-N, pushed and opened as a PR one at a
-- time. `galley batch` plans, asks, makes the worktrees and starts this;
-- run by hand it needs the same args:
--   mode=plan: instruction, schema (JSON), units (LO-HI), runtime, model
--   mode=work: batch (the run's id), plan (JSON), base (commit),
--              base_ref (its branch), repo (the main checkout), remote,
--              runtime, model
-- With runtime=fake the planner's instruction and each unit's prompt
-- are fake-agent scripts (with exec, shell commands), so a batch runs
-- offline.
meta = {
  name = "batch",
  description = "one change split over isolated workers, each a PR",
  phases = {"plan", "work"},
}

local function q(s) -- one shell word
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

local function short(s)
  s = tostring(s or ""):gsub("%s+", " ")
  return #s > 300 and s:sub(1, 297) .. "..." or s
end

local function planner_prompt(a)
  return "Plan a batch change. Research this repository (read only) and "
    .. "split the change below into " .. a.units .. " independent units, "
    .. "each separately mergeable as its own pull request, touching files "
    .. "no other unit touches wherever possible.\n\nThe change: "
    .. a.instruction .. "\n\nAlso find an end-to-end test recipe: the "
    .. "shell commands that prove a unit works (the project's tests, its "
    .. "build). Reply with JSON only: {\"recipe\": [\"cmd\", ...], "
    .. "\"units\": [{\"title\": \"short title\", \"prompt\": \"everything "
    .. "the worker needs to know\", \"files\": [\"glob\", ...], \"check\": "
    .. "\"a shell command that passes once the unit is done\"}]}"
end

local function worker_prompt(a, plan, n, u)
  local recipe = table.concat(plan.recipe or {}, "; ")
  return "You are worker " .. n .. " of " .. #plan.units .. " in a batch: "
    .. "one large change split into independent units, each its own "
    .. "branch and pull request.\n\nThe whole change: "
    .. (plan.instruction or "") .. "\n\nYour unit: " .. u.title .. "\n"
    .. u.prompt .. "\n\nFiles this unit owns (change only these unless "
    .. "there is no other way): " .. table.concat(u.files or {}, ", ")
    .. "\n\nWhen the change is made: run this unit's check ("
    .. (u.check ~= "" and u.check or "none") .. "), the end-to-end recipe ("
    .. (recipe ~= "" and recipe or "none") .. ") and the project's tests; "
    .. "fix what fails; then commit your work on the current branch with "
    .. "a message that says what the unit changed. Do not push and do not "
    .. "open a pull request: galley does that once your commit passes. "
    .. "End with one line saying what you changed."
end

local function plan_mode(a)
  phase("plan")
  local prompt = (a.runtime == "fake" or a.runtime == "exec")
    and a.instruction or planner_prompt(a)
  local plan = agent(prompt, {label = "planner", schema = json.decode(a.schema),
    runtime = a.runtime, model = a.model, tools = {"Read", "Grep", "Glob"}})
  plan.instruction = plan.instruction or a.instruction
  return plan
end

-- the unit's state, as the table shows it
local state = {}
local function set(n, fields)
  for k, v in pairs(fields) do state[n][k] = v end
  progress({units = state})
end

local function deliver(a, n, u, branch, wt)
  if a.remote == "" then
    set(n, {status = "done", branch = branch})
    return
  end
  set(n, {status = "delivering"})
  local body = u.prompt .. "\n\n---\nUnit " .. n .. " of galley batch "
    .. a.batch .. " (`galley batch status " .. a.batch .. "`), based on "
    .. a.base .. ".\n\nThe whole change: " .. (a.instruction or "")
  local pr = "gh pr create --head " .. q(branch) .. " --base "
    .. q(a.base_ref) .. " --title " .. q(u.title) .. " --body " .. q(body)
  local cmd = "git push -q " .. q(a.remote) .. " " .. q(branch .. ":" .. branch)
    .. " || exit 1\n"
  if a.base_ref ~= "" then
    cmd = cmd .. "if command -v gh >/dev/null 2>&1 && gh auth status "
      .. ">/dev/null 2>&1; then " .. pr .. " || exit 1; else echo "
      .. "galley-no-gh; fi\n"
  end
  -- one at a time across the batch: the remote's and gh's rate limits
  local ok, out = pcall(sh, cmd, {cwd = wt, label = "deliver-" .. n,
    serial = "deliver"})
  if not ok then
    set(n, {status = "failed", error = "push or PR: " .. short(out)})
    return
  end
  local url = out:match("(https?://%S+)%s*$")
  set(n, {status = "done", branch = branch, pushed = true, pr = url,
    pr_command = (url == nil and a.base_ref ~= "") and pr or nil})
end

local function unit(a, plan, n, u)
  local name = "batch-" .. a.batch .. "-" .. n
  local wt = a.repo .. "/.galley/worktrees/" .. name
  local branch = "galley/" .. name
  set(n, {status = "working"})
  -- a fake worker's script, or an exec worker's command, as written
  local prompt = (a.runtime == "fake" or a.runtime == "exec") and u.prompt
    or worker_prompt(a, plan, n, u)
  local ok, err = pcall(agent, prompt, {label = "unit-" .. n,
    isolation = "worktree", name = name, base = a.base,
    base_ref = a.base_ref ~= "" and a.base_ref or nil,
    runtime = a.runtime, model = a.model})
  if not ok then
    set(n, {status = "failed", error = "worker: " .. short(err)})
    return
  end
  set(n, {status = "testing"})
  local checks = {}
  if u.check and u.check ~= "" then checks[#checks + 1] = u.check end
  for _, c in ipairs(plan.recipe or {}) do checks[#checks + 1] = c end
  local tests, why = "-", nil
  if #checks > 0 then
    local passed, out = pcall(sh, "set -e\n" .. table.concat(checks, "\n"),
      {cwd = wt, label = "check-" .. n})
    tests = passed and "pass" or "fail"
    why = not passed and "check failed: " .. short(out) or nil
  end
  -- what the worker left uncommitted is committed: no work is lost
  local msg = "batch " .. a.batch .. " unit " .. n .. ": " .. u.title
  local committed, count = pcall(sh, "git add -A && { git diff --cached "
    .. "--quiet || { if git config user.email >/dev/null; then git commit "
    .. "-q -m " .. q(msg) .. "; else git -c user.name=galley -c "
    .. "user.email=galley@localhost commit -q -m " .. q(msg) .. "; fi; }; }"
    .. " && git rev-list --count " .. q(a.base .. "..HEAD"),
    {cwd = wt, label = "commit-" .. n})
  set(n, {tests = tests, branch = branch})
  if not committed then
    set(n, {status = "failed", error = "commit: " .. short(count)})
  elseif why then
    set(n, {status = "failed", error = why})
  elseif tonumber(tostring(count):match("(%d+)%s*$")) == 0 then
    set(n, {status = "failed", error = "the worker changed nothing"})
  else
    deliver(a, n, u, branch, wt)
  end
end

function run(a)
  if a.mode == "plan" then return plan_mode(a) end
  local plan = json.decode(a.plan)
  phase("work")
  local jobs = {}
  for n, u in ipairs(plan.units) do
    state[n] = {n = n, title = u.title, status = "queued", tests = "-"}
    jobs[n] = function() return unit(a, plan, n, u) end
  end
  progress({units = state})
  parallel(jobs)
  local done, failed = 0, 0
  for _, s in ipairs(state) do
    if s.status == "done" then done = done + 1 else failed = failed + 1 end
  end
  log("batch " .. a.batch .. ": " .. done .. " done, " .. failed
    .. " failed")
  return {batch = a.batch, base = a.base, base_ref = a.base_ref,
    units = state, done = done, failed = failed}
end
