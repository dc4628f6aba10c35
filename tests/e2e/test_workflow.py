"""Workflows (issue 16): Lua scripts in the daemon whose agent() calls are
headless fake-runtime sessions, with a journal that survives a daemon
kill -9, a sandbox, and limits."""
import json
import os
import signal
import time
from pathlib import Path

from conftest import pid_alive, poll, scaled

THREE = """
meta = {name = "three", phases = {"find", "fix", "check"}}
function run(args)
  phase("find")
  local found = parallel{
    function() return agent("say a", {runtime = "fake", label = "a"}) end,
    function() return agent("think 0.3; say b",
                            {runtime = "fake", label = "b"}) end,
  }
  log("found " .. found[1] .. found[2])
  phase("fix")
  local j = agent('say {"n": 3}', {runtime = "fake", label = "fix",
    schema = {type = "object", required = {"n"},
              properties = {n = {type = "integer"}}}})
  phase("check")
  local ok, why = pcall(agent, 'say {"n": "x"}', {runtime = "fake",
    label = "bad", schema = {type = "object",
                             properties = {n = {type = "integer"}}}})
  return {found = found, n = j.n, who = args.who, bad = why}
end
"""


def write(repo, name, text):
    d = repo / ".galley" / "workflows"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.lua").write_text(text)
    return d / f"{name}.lua"


def runs(galley, repo):
    return galley.json("workflow", "runs", cwd=repo)


def status(galley, repo, run):
    return galley.json("workflow", "status", run, cwd=repo)


def test_three_phases_parallel_agents_and_a_schema(galley, repo):
    write(repo, "three", THREE)
    st = galley.json("workflow", "run", "three", "--arg", "who=me",
                     cwd=repo, timeout=120)
    assert st["state"] == "done", st
    res = st["result"]
    assert res["found"] == ["a", "b"] and res["n"] == 3 and res["who"] == "me"
    assert "does not fit the schema: $.n: expected integer" in res["bad"]
    assert [(p["name"], p["done"], p["total"]) for p in st["phases"]] == \
        [("find", 2, 2), ("fix", 1, 1), ("check", 1, 1)]
    assert [a["label"] for a in st["agents"]] == ["a", "b", "fix", "bad"]
    # every agent is a session that says whose it is
    mine = [s for s in galley.ls() if s.get("workflow") == st["run"]]
    assert len(mine) == 4 and all(s["state"] == "done" for s in mine)
    logs = galley.json("workflow", "logs", st["run"], cwd=repo)
    assert [x["text"] for x in logs] == ["found ab"]
    # ls --tree: the run, its phases, then their agents
    tree = galley.json("ls", "--tree", "--all")
    node = next(n for n in tree if n["id"] == st["run"])
    assert node["kind"] == "workflow" and node["name"] == "three"
    assert [(p["kind"], p["name"]) for p in node["children"]] == [
        ("phase", "find"), ("phase", "fix"), ("phase", "check")]
    assert [[a["name"] for a in p["children"]] for p in node["children"]] \
        == [["three.a", "three.b"], ["three.fix"], ["three.bad"]]
    assert node["total_cost_usd"] == 0
    text = galley.ok("ls", "--tree", "--all").stdout
    assert f"{st['run']}  three" in text and "└ " in text
    # without --json: the result on stdout
    out = galley.ok("workflow", "run", "three", cwd=repo, timeout=120).stdout
    assert json.loads(out)["n"] == 3


def test_a_daemon_killed_mid_run_resumes_without_paying_twice(galley, repo):
    write(repo, "slow", """
function run(args)
  phase("one")
  local a = agent("say first", {runtime = "fake", label = "first"})
  phase("two")
  local r = parallel{
    function() return agent("think 2; say x", {runtime = "fake",
                                              label = "x"}) end,
    function() return agent("think 2; say y", {runtime = "fake",
                                              label = "y"}) end,
  }
  phase("three")
  return a .. r[1] .. r[2] .. agent("say z", {runtime = "fake"})
end
""")
    bg = galley.json("workflow", "run", "slow", "--bg", cwd=repo)
    assert set(bg) == {"run", "status"}, bg
    run = bg["run"]
    poll(lambda: status(galley, repo, run)["phase"] == "two", 30,
         what="phase two")
    os.kill(galley.daemon_pid(), signal.SIGKILL)
    # a new daemon replays the journal: first is fed back, x and y are
    # taken as they are (alive, or ended while it was away)
    st = poll(lambda: (lambda s: s if s["state"] == "done" else None)(
        status(galley, repo, run)), 60, what="the run done")
    assert st["result"] == "firstxyz", st
    mine = [s for s in galley.ls() if s.get("workflow") == run]
    assert len(mine) == 4, [s["name"] for s in mine]  # 4 calls, 4 sessions
    assert [a["replayed"] for a in st["agents"]][:1] in ([True], [False])


def test_a_changed_script_stops_with_a_nondeterminism_error(galley, repo):
    f = write(repo, "change", """
function run(args)
  agent("say one", {runtime = "fake", label = "one"})
  return agent("think 30; say two", {runtime = "fake", label = "two"})
end
""")
    run = galley.ok("workflow", "run", "change", "--bg", cwd=repo).stdout
    run = run.strip()
    poll(lambda: len(status(galley, repo, run)["agents"]) == 2, 30,
         what="the second call")
    galley.ok("workflow", "stop", run, cwd=repo)
    assert status(galley, repo, run)["state"] == "stopped"
    # the journal stays: both calls are on record
    assert len(status(galley, repo, run)["agents"]) == 2
    f.write_text(f.read_text().replace("say one", "say ONE"))
    galley.ok("workflow", "resume", run, cwd=repo)
    st = status(galley, repo, run)
    assert st["state"] == "failed"
    assert "nondeterminism: call 1 (agent one)" in st["error"], st
    assert len([s for s in galley.ls() if s.get("workflow") == run]) == 2


def test_stop_then_resume_replays_and_restarts_only_the_unfinished(galley,
                                                                    repo):
    write(repo, "again", """
function run(args)
  local a = agent("say one", {runtime = "fake", label = "one"})
  local b = agent("think 30; say two", {runtime = "fake", label = "two",
                                        timeout = 1})
  return a .. b
end
""")
    run = galley.ok("workflow", "run", "again", "--bg", cwd=repo).stdout
    run = run.strip()
    st = poll(lambda: (lambda s: s if s["state"] == "failed" else None)(
        status(galley, repo, run)), 30, what="the timeout")
    assert "longer than its 1 s" in st["error"], st
    # a failed call is on record too: a resume replays it, not re-runs it
    galley.ok("workflow", "resume", run, cwd=repo)
    st = poll(lambda: (lambda s: s if s["state"] != "running" else None)(
        status(galley, repo, run)), 30, what="the replay")
    assert st["state"] == "failed" and all(a["replayed"]
                                           for a in st["agents"]), st
    assert len([s for s in galley.ls() if s.get("workflow") == run]) == 2


def test_the_sandbox_refuses_escapes_naming_the_line(galley, repo):
    for i, (name, code) in enumerate([("os", 'os.execute("touch x")'),
                                      ("io", 'io.open("x", "w")'),
                                      ("require", 'require("x")'),
                                      ("os", "os.time()"),
                                      ("load", 'load("return 1")')]):
        write(repo, f"esc{i}", f"function run(args)\n  {code}\nend\n")
        p = galley.run("workflow", "run", f"esc{i}", cwd=repo, check=1)
        assert f"esc{i}:2: galley: '{name}' is not available" in p.stderr, \
            p.stderr
    assert not (repo / "x").exists()


def test_an_endless_loop_is_stopped_while_the_daemon_answers(galley, repo):
    write(repo, "loop", "function run(args)\n  while true do end\nend\n")
    run = galley.ok("workflow", "run", "loop", "--bg", cwd=repo).stdout
    st = status(galley, repo, run.strip())
    assert st["state"] == "failed" and "without waiting" in st["error"], st
    galley.ok("ls")  # the daemon still answers
    write(repo, "hog", "function run(args)\n  local t = {}\n"
          "  for i = 1, 1e9 do t[i] = string.rep('x', 1000) end\nend\n")
    run = galley.ok("workflow", "run", "hog", "--bg", cwd=repo).stdout
    st = status(galley, repo, run.strip())
    assert st["state"] == "failed", st
    assert "memory" in st["error"] or "without waiting" in st["error"], st


def test_work_inside_a_library_call_is_bounded_too(galley, repo):
    """string.rep looped in C, where the instruction limit never looks:
    string.rep("", 1e15) held the daemon (tests/fuzz/fuzz-lua.c)."""
    write(repo, "rep", "function run(args)\n"
          "  assert(string.rep('', 1e15) == '')\n"
          "  assert(('ab'):rep(3, ',') == 'ab,ab,ab')\n"
          "  local t = {}\n"
          "  for i = 1, 1e300 do t[i] = string.rep('', 4000) end\n"
          "end\n")
    run = galley.ok("workflow", "run", "rep", "--bg", cwd=repo).stdout
    st = status(galley, repo, run.strip())
    assert st["state"] == "failed", st
    assert "memory" in st["error"] or "without waiting" in st["error"], st
    write(repo, "big", "function run(args) return ('x'):rep(1e12) end\n")
    p = galley.run("workflow", "run", "big", cwd=repo, check=1)
    assert "too large" in p.stderr, p.stderr
    galley.ok("ls")  # the daemon still answers


def test_project_workflows_win_over_personal_ones(galley, repo):
    personal = galley.home / ".config" / "galley" / "workflows"
    personal.mkdir(parents=True)
    (personal / "same.lua").write_text(
        'function run() return "personal" end\n')
    (personal / "mine.lua").write_text(
        'function run() return "mine" end\n')
    write(repo, "same", 'function run() return "project" end\n')
    ls = galley.json("workflow", "ls", cwd=repo)
    assert [(w["name"], w["where"], w["shadowed"]) for w in ls] == [
        ("same", "project", False), ("mine", "personal", False),
        ("same", "personal", True), ("deep-research", "built-in", False),
        ("audit", "built-in", False), ("batch", "built-in", False)]
    assert galley.ok("workflow", "run", "same", cwd=repo).stdout == \
        "project\n"
    assert galley.ok("workflow", "run", "mine", cwd=repo).stdout == "mine\n"
    galley.fail("workflow", "run", "nope", cwd=repo, code=3,
                match="no workflow 'nope'")
    galley.fail("workflow", "status", "zz", cwd=repo, code=2,
                match="1 to 8 hex digits")


def test_rm_deletes_the_journal(galley, repo):
    write(repo, "tiny", 'function run() return agent("say t", '
          '{runtime = "fake"}) end\n')
    st = galley.json("workflow", "run", "tiny", cwd=repo, timeout=60)
    galley.ok("workflow", "rm", st["run"], cwd=repo)
    assert runs(galley, repo) == []
    galley.fail("workflow", "status", st["run"], cwd=repo, code=3)


def test_sh_is_a_journaled_shell_step(galley, repo):
    write(repo, "shell", """
function run(args)
  local out = sh("echo hi; echo there")
  local ok, why = pcall(sh, "echo nope; exit 3", {label = "bad"})
  return out .. "|" .. why
end
""")
    st = galley.json("workflow", "run", "shell", cwd=repo, timeout=60)
    assert st["state"] == "done", st
    out, why = st["result"].split("|")
    assert out == "hi\nthere"
    assert "exit 3: nope" in why, why
    jobs = [s for s in galley.ls() if s.get("workflow") == st["run"]]
    assert [s["kind"] for s in jobs] == ["job", "job"]


def test_a_reboot_restarts_in_flight_calls_and_replays_done_ones(galley,
                                                                 repo):
    galley.env["GALLEY_LOG"] = "info"  # what a failure prints
    write(repo, "boot", """
function run(args)
  local a = agent("say before", {runtime = "fake", label = "before"})
  return a .. agent("think 300; say never", {runtime = "fake",
                                             label = "long"})
end
""")
    run = galley.ok("workflow", "run", "boot", "--bg", cwd=repo).stdout
    run = run.strip()
    poll(lambda: len(status(galley, repo, run)["agents"]) == 2 and
         galley.get("boot.long")["pid"], 30, what="the long agent")
    s = galley.get("boot.long")
    galley.ok("daemon", "stop")
    # a reboot: every process gone, then a new boot id
    os.killpg(s["pid"], signal.SIGKILL)
    os.kill(s["host_pid"], signal.SIGKILL)
    poll(lambda: not pid_alive(s["host_pid"]), 5, what="host gone")
    galley.env["GALLEY_BOOT_ID"] = "another-boot"
    # the same call, restarted in a new session (its old one died with
    # the boot); the test ends it by hand
    last = {}

    def restarted():
        x = last["st"] = status(galley, repo, run)
        return (x if len(x["agents"]) == 2 and
                x["agents"][1]["session"] != s["id"] else None)
    try:
        st = poll(restarted, 30, what="the long call restarted")
    except AssertionError:
        log = (galley.ghome / "state" / "daemon.log").read_text()
        raise AssertionError(f"not restarted: {last.get('st')}\n"
                             f"{galley.ls()}\n{log[-6000:]}")
    assert st["agents"][0]["replayed"] and st["state"] == "running", st
    new = st["agents"][1]["session"]
    galley.ok("stop", new)
    st = poll(lambda: (lambda x: x if x["state"] != "running" else None)(
        status(galley, repo, run)), 30, what="the run's end")
    assert "before" not in (st["error"] or "") and st["state"] == "failed"
    sessions = [x for x in galley.ls() if x.get("workflow") == run]
    assert len(sessions) == 3  # before once, long twice (the reboot)


def test_restart_agent_save_and_logs_follow(galley, repo):
    write(repo, "rs", """
function run(args)
  log("start")
  local r = agent("think 300; say slow", {runtime = "fake", label = "w"})
  log("got " .. r)
  return r
end
""")
    run = galley.ok("workflow", "run", "rs", "--bg", cwd=repo).stdout.strip()
    poll(lambda: status(galley, repo, run)["agents"] and
         status(galley, repo, run)["agents"][0]["session"], 30,
         what="the agent")
    first = status(galley, repo, run)["agents"][0]["session"]
    # the same call in a new session
    galley.ok("workflow", "restart-agent", run, "w", cwd=repo)
    poll(lambda: status(galley, repo, run)["agents"][0]["session"] != first,
         20, what="a new session")
    second = status(galley, repo, run)["agents"][0]["session"]
    poll(lambda: galley.get(first)["state"] == "stopped", 20,
         what="the old one stopped")
    assert status(galley, repo, run)["state"] == "running"
    galley.fail("workflow", "restart-agent", run, "nope", cwd=repo, code=3,
                match="no agent 'nope' in flight")
    # logs -f prints what was logged and follows to the end
    p = galley.popen("workflow", "logs", run, "-f", cwd=repo)
    galley.ok("stop", second)
    out, _ = p.communicate(timeout=30)
    assert out.splitlines() == ["start"], out
    # save: the script by name, in the project; again only with --force
    galley.ok("workflow", "save", run, "kept", cwd=repo)
    kept = repo / ".galley" / "workflows" / "kept.lua"
    assert "think 300" in kept.read_text()
    galley.fail("workflow", "save", run, "kept", cwd=repo, code=1,
                match="--force")
    galley.ok("workflow", "save", run, "kept", "--personal", cwd=repo)
    assert (galley.home / ".config/galley/workflows/kept.lua").exists()


def test_the_run_budget_stops_new_agents_until_raised(galley, repo):
    # 50k+50k tokens of sonnet: $0.90 over a $0.80 budget (under the hard
    # cap, 150%, which would stop the agent itself)
    write(repo, "spend", """
function run(args)
  budget{agents = 2}
  agent("usage 50000 50000 claude-sonnet-4-5; say spent", {runtime = "fake",
                                                          label = "big"})
  local r = agent("say after", {runtime = "fake", label = "after"})
  local ok, why = pcall(agent, "say third", {runtime = "fake"})
  return r .. "|" .. why
end
""")
    run = galley.ok("workflow", "run", "spend", "--bg", "--budget-usd",
                    "0.8", cwd=repo).stdout.strip()
    st = poll(lambda: (lambda s: s if s["waiting_for"] else None)(
        status(galley, repo, run)), 30, what="the next agent held")
    assert "budget is spent ($0.90 of $0.80" in st["waiting_for"], st
    assert "galley workflow budget " + run in st["waiting_for"]
    # the call is on record, its agent not started
    assert st["state"] == "running" and st["agents"][1]["session"] is None
    assert st["budget"]["usd"] == 0.8 and st["usage"]["cost_usd"] > 0.8
    galley.ok("workflow", "budget", run, "--usd", "5", cwd=repo)
    st = poll(lambda: (lambda s: s if s["state"] == "done" else None)(
        status(galley, repo, run)), 30, what="the run done after a raise")
    after, third = st["result"].split("|")
    assert after == "after" and "at most 2 agent calls" in third
    galley.fail("workflow", "run", "spend", "--budget-usd", "x", cwd=repo,
                code=2, match="--budget-usd takes a number")


def test_built_in_deep_research_runs_offline(galley, repo):
    st = galley.json("workflow", "run", "deep-research", "why", "is", "it?",
                     "runtime=fake", "subquestions=2", "voters=3", cwd=repo,
                     timeout=180)
    assert st["state"] == "done", st
    assert st["result"] == {"report": "deep-research-report.md",
                            "claims": 2, "supported": 2}
    assert [(p["name"], p["total"]) for p in st["phases"]] == [
        ("plan", 1), ("research", 2), ("cross-check", 6), ("report", 1)]
    report = (repo / "deep-research-report.md").read_text()
    assert report.startswith("# why is it?\n")
    assert "| finding on part 1 of: why is it? | 3 | 0 | 0 | " \
        "https://example.org/1 |" in report, report
    # research agents may read and search, never write
    research = [s for s in galley.ls() if s.get("workflow") == st["run"]
                and s["name"].startswith("deep-research.research")]
    assert research and all(s["policy"]["tools"] == [
        "WebSearch", "WebFetch", "Read", "Grep", "Glob"] for s in research)


def test_built_in_audit_merges_and_dedups(galley, repo):
    st = galley.json("workflow", "run", "audit", "runtime=fake",
                     "lens=security,perf", "dirs=src,lib", cwd=repo,
                     timeout=120)
    assert st["state"] == "done", st
    found = st["result"]["findings"]
    assert len(found) == 6  # 2 dirs x (1 shared + 2 lens problems)
    shared = [f for f in found if f["title"] == "shared problem"]
    assert [f["lenses"] for f in shared] == [["security", "perf"]] * 2
    assert [f["severity"] for f in found[:2]] == ["high", "high"]
    assert "| high | lib/a | 1 | shared problem | security, perf |" in \
        st["result"]["table"]
    ls = galley.json("workflow", "ls", cwd=repo)
    assert {("deep-research", "built-in"), ("audit", "built-in")} <= \
        {(w["name"], w["where"]) for w in ls}
    galley.fail("workflow", "run", "audit", "runtime=fake", cwd=repo,
                code=1, match="audit needs lens=L1,L2 and dirs=D1,D2")


def test_pipeline_and_a_sub_workflow(galley, repo):
    write(repo, "child", """
function run(a)
  return agent("say child-" .. a.x, {runtime = "fake", label = "child"})
end
""")
    write(repo, "parent", """
function run(args)
  local piped = pipeline({"a", "b"},
    function(v) return agent("say " .. v .. "1", {runtime = "fake"}) end,
    function(v) return agent("say " .. v .. "2", {runtime = "fake"}) end)
  local sub = workflow("child", {x = "y"})
  local ok, why = pcall(workflow, "nope")
  return {piped = piped, sub = sub, missing = why}
end
""")
    st = galley.json("workflow", "run", "parent", cwd=repo, timeout=120)
    assert st["state"] == "done", st
    assert st["result"]["piped"] == ["a12", "b12"]
    assert st["result"]["sub"] == "child-y"
    assert "no workflow 'nope'" in st["result"]["missing"]
    # the sub-workflow's call is keyed in the parent's journal
    assert sorted(a["key"] for a in st["agents"]) == [
        "1.1.1", "1.1.2", "1.2.1", "1.2.2", "2"]


def test_new_writes_checks_and_saves_a_workflow(galley, repo):
    # the fake writer's script is the description: its last say line, the
    # Lua the "agent" wrote
    lua = ('function run(args) local r = agent(\'say {"n": 2}\', {runtime = '
           '"fake", schema = {type = "object", properties = {n = {type = '
           '"integer"}}}}) return r.n end')
    # not approved (no terminal, no --yes): shown, not saved
    p = galley.run("workflow", "new", "-r", "fake", "say " + lua, "--name",
                   "made", cwd=repo, check=4)
    assert "function run(args)" in p.stdout and "not saved" in p.stderr
    assert not (repo / ".galley/workflows/made.lua").exists()
    galley.ok("workflow", "new", "-r", "fake", "say " + lua, "--name",
              "made", "--yes", cwd=repo)
    assert (repo / ".galley/workflows/made.lua").read_text().strip() == lua
    ls = galley.json("workflow", "ls", cwd=repo)
    assert ("made", "project") in {(w["name"], w["where"]) for w in ls}
    # saved, then run by name
    assert galley.ok("workflow", "run", "made", cwd=repo).stdout == "2\n"
    # a script that fails its dry run is not saved
    p = galley.run("workflow", "new", "-r", "fake",
                   "say function run(args) return os.time() end", "--name",
                   "broken", "--yes", cwd=repo, check=1)
    assert "the dry run failed" in p.stderr and "'os'" in p.stderr, p.stderr
    assert not (repo / ".galley/workflows/broken.lua").exists()
    # the dry run started no agent: only the two writers ran
    assert sorted(s["name"] for s in galley.ls()) == [
        "made.agent", "write-broken", "write-made", "write-made"]


def test_agents_in_worktrees_of_their_own(galley, repo):
    write(repo, "iso", """
function run(args)
  return parallel{
    function() return agent("write a.txt from one; say one",
      {runtime = "fake", label = "one", isolation = "worktree"}) end,
    function() return agent("write a.txt from two; say two",
      {runtime = "fake", label = "two", isolation = "worktree"}) end,
  }
end
""")
    st = galley.json("workflow", "run", "iso", cwd=repo, timeout=120)
    assert st["state"] == "done" and st["result"] == ["one", "two"], st
    agents = {s["name"]: s for s in galley.ls()
              if s.get("workflow") == st["run"]}
    one, two = agents["iso.one"], agents["iso.two"]
    assert one["worktree"] != two["worktree"]
    assert one["branch"] == f"galley/{st['run']}-1-1-1"
    assert (Path(one["worktree"]) / "a.txt").read_text().strip() == \
        "from one"
    assert (Path(two["worktree"]) / "a.txt").read_text().strip() == \
        "from two"
    assert not (repo / "a.txt").exists()
    write(repo, "bad", 'function run() return agent("say x", '
          '{runtime = "fake", isolation = "moon"}) end\n')
    p = galley.run("workflow", "run", "bad", cwd=repo, check=1)
    assert 'opts.isolation is "worktree" or "shared"' in p.stderr


def test_a_run_keeps_to_its_concurrency(galley, repo):
    write(repo, "wide", """
function run(args)
  budget{parallel = 2}
  local jobs = {}
  for i = 1, 5 do
    jobs[i] = function()
      return agent("think 0.4; say " .. i, {runtime = "fake"})
    end
  end
  return table.concat(parallel(jobs), ",")
end
""")
    run = galley.ok("workflow", "run", "wide", "--bg", cwd=repo).stdout.strip()
    most, deadline = 0, time.monotonic() + scaled(60)
    while True:  # sampled while it runs: never more than 2 at once
        assert time.monotonic() < deadline, "the run did not end"
        st = status(galley, repo, run)
        live = [a for a in st["agents"] if a["state"] == "started" and
                a["session"]]
        most = max(most, len(live))
        assert len(live) <= 2, st["agents"]
        if st["state"] != "running":
            break
    assert st["state"] == "done" and st["result"] == "1,2,3,4,5", st
    assert most == 2


def test_stop_with_branches_in_flight(galley, repo):
    """Stopped while two parallel branches wait: their agents stop, and
    the daemon frees the branches (ASan's leak check at its exit)."""
    write(repo, "fan", """
function run(args)
  return parallel{
    function() return agent("think 300", {runtime = "fake"}) end,
    function() return agent("think 300", {runtime = "fake"}) end,
  }
end
""")
    run = galley.ok("workflow", "run", "fan", "--bg", cwd=repo).stdout.strip()
    poll(lambda: len([a for a in status(galley, repo, run)["agents"]
                      if a["session"]]) == 2, 30, what="both agents")
    galley.ok("workflow", "stop", run, cwd=repo)
    st = status(galley, repo, run)
    assert st["state"] == "stopped"
    poll(lambda: all(s["state"] == "stopped" for s in galley.ls()
                     if s.get("workflow") == run), 20,
         what="the agents stopped")


def test_json_in_scripts_and_sh_in_a_directory(galley, repo):
    (repo / "sub").mkdir()
    write(repo, "js", """
function run(args)
  local plan = json.decode(args.plan)
  local ok, why = pcall(json.decode, "{bad")
  return {units = #plan.units, first = plan.units[1].title,
          back = json.encode({b = 1, a = {true, "x"}}),
          bad = why, where = sh("pwd", {cwd = "sub"})}
end
""")
    plan = json.dumps({"units": [{"title": "one"}, {"title": "two"}]})
    st = galley.json("workflow", "run", "js", "plan=" + plan, cwd=repo,
                     timeout=60)
    assert st["state"] == "done", st
    r = st["result"]
    assert r["units"] == 2 and r["first"] == "one"
    assert r["back"] == '{"a":[true,"x"],"b":1}'
    assert "json.decode:" in r["bad"] and "line 1" in r["bad"]
    assert r["where"] == str(repo / "sub")


def test_a_worktree_agent_named_and_based_as_asked(galley, repo):
    import subprocess
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "checkout", "-qb", "other"], cwd=repo, check=True)
    (repo / "only-on-other.txt").write_text("x\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "other"], cwd=repo, check=True)
    subprocess.run(["git", "checkout", "-q", "-"], cwd=repo, check=True)
    write(repo, "based", """
function run(args)
  local ok, why = pcall(agent, "say x", {runtime = "fake",
    isolation = "worktree", base = "no-such-ref"})
  return {agent("say y", {runtime = "fake", label = "w",
    isolation = "worktree", name = "batch-t-1", base = "other"}), why}
end
""")
    st = galley.json("workflow", "run", "based", cwd=repo, timeout=60)
    assert st["state"] == "done", st
    assert "opts.base 'no-such-ref': no such commit" in st["result"][1]
    w = next(s for s in galley.ls() if s["name"] == "based.w")
    assert w["branch"] == "galley/batch-t-1"
    assert (Path(w["worktree"]) / "only-on-other.txt").exists()


def test_a_script_stuck_in_c_restarts_the_daemon_and_fails_its_run(galley,
                                                                   repo):
    """A pattern that backtracks loops in C, where the instruction limit
    never looks: the watchdog restarts the daemon (same pid, sessions
    adopted) and the run fails with why, instead of hanging everything."""
    galley.env["GALLEY_WF_STUCK_MS"] = "1500"
    galley.env["GALLEY_LOG"] = "info"
    galley.exec("sleep", "300", name="bystander")
    d = galley.daemon_pid()
    write(repo, "stuck", """
function run(args)
  log("before")
  return string.find(string.rep("a", 40), string.rep("a-", 25) .. "b")
end
""")
    # the request that boots the run is the one cut short by the restart
    p = galley.run("workflow", "run", "stuck", "--bg", cwd=repo, timeout=60)
    assert p.returncode == 5 and "restarted" in p.stderr, p.stderr
    runs = galley.json("workflow", "runs", cwd=repo)
    runs = runs if isinstance(runs, list) else runs["runs"]
    run = [r for r in runs if r["name"] == "stuck"][0]["run"]
    st = poll(lambda: (lambda x: x if x["state"] == "failed" else None)(
        status(galley, repo, run)), 30, what="the stuck run failed")
    assert "library call" in st["error"], (st, p.stdout, p.stderr)
    assert galley.daemon_pid() == d  # the same daemon, exec'd afresh
    assert galley.get("bystander")["state"] == "working"
    assert not list((galley.ghome / "state" / "workflows").glob("*.stuck"))
    # the daemon answers, and another run works
    write(repo, "fine", 'function run(args) return "ok" end\n')
    assert galley.json("workflow", "run", "fine", cwd=repo)["state"] == "done"
