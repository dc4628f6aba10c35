"""galley batch (issue 17): a plan of units, one fake worker per unit in
its own worktree from one recorded commit, each checked, committed,
pushed to a local bare origin and opened as a PR by a stub gh that
records its arguments; a daemon kill -9 mid-batch; retry and merge."""
import json
import os
import signal
import subprocess

from conftest import poll, scaled


def git(cwd, *a):
    return subprocess.run(["git", *a], cwd=cwd, check=True, text=True,
                          capture_output=True).stdout.strip()


def with_origin(galley, repo):
    """A bare origin holding main, and a stub gh on PATH that records its
    arguments (one JSON array a line) and answers a PR URL."""
    origin = galley.tmp / "origin.git"
    git(galley.tmp, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    stub_gh(galley)
    return origin


def stub_gh(galley):
    bindir = galley.tmp / "bin"
    bindir.mkdir(exist_ok=True)
    log = galley.tmp / "gh.log"
    (bindir / "gh").write_text(
        "#!/usr/bin/python3\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] == ['pr', 'create']:\n"
        "    import time\n"
        f"    with open({str(log)!r} + '.times', 'a') as f:\n"
        "        f.write('%f start\\n' % time.time())\n"
        "    time.sleep(0.1)\n"
        f"    with open({str(log)!r} + '.times', 'a') as f:\n"
        "        f.write('%f end\\n' % time.time())\n"
        "    head = sys.argv[sys.argv.index('--head') + 1]\n"
        "    print('https://example.invalid/pull/' + head.split('-')[-1])\n")
    (bindir / "gh").chmod(0o755)
    galley.env["PATH"] = f"{bindir}:{galley.env['PATH']}"
    return log


def gh_calls(galley):
    log = galley.tmp / "gh.log"
    if not log.exists():
        return []
    return [json.loads(l) for l in log.read_text().splitlines()]


def pr_creates(galley):
    return [c for c in gh_calls(galley) if c[:2] == ["pr", "create"]]


def arg(call, flag):
    return call[call.index(flag) + 1]


def plan_file(galley, units, recipe=("true",)):
    p = galley.tmp / "plan.json"
    p.write_text(json.dumps({"instruction": "one file per unit",
                             "recipe": list(recipe), "units": units}))
    return p


def unit(n, prompt=None, check=None):
    return {"title": f"add f{n}", "files": [f"f{n}.txt"],
            "prompt": prompt or f"write f{n}.txt {n}\nsay made f{n}",
            "check": check if check is not None else f"test -f f{n}.txt"}


def batch(galley, repo, plan, *extra, check=0, timeout=120):
    return galley.run("batch", "--plan", plan, "-r", "fake", "--yes",
                      *extra, cwd=repo, timeout=timeout, check=check)


def batch_json(galley, repo, plan, *extra, check=0):
    p = galley.run("batch", "--json", "--plan", plan, "-r", "fake", "--yes",
                   *extra, cwd=repo, timeout=120, check=check)
    return json.loads(p.stdout)


def unit_sessions(galley, run):
    return [s for s in galley.ls("--all") if s.get("workflow") == run and
            s["name"].startswith("batch.unit-")]


def ended(galley, repo, run):
    """The batch's status once it has ended (status exits 1 until every
    unit is done)."""
    st = json.loads(galley.run("batch", "--json", "status", run,
                               cwd=repo).stdout)
    return st if st["state"] != "running" else None


def test_five_units_five_branches_pushed_five_prs(galley, repo):
    origin = with_origin(galley, repo)
    base = git(repo, "rev-parse", "HEAD")
    p = batch(galley, repo, plan_file(galley, [unit(n) for n in range(1, 6)]))
    assert f"base: main {base[:12]}" in p.stderr
    run = p.stderr.split("batch ")[1].split(":")[0]
    # a pipe gets a line per change, then the summary
    assert p.stdout.count(": done: https://example.invalid/pull/") == 5
    assert f"batch {run} done: 5 done, 0 failed" in p.stdout
    branches = sorted(git(origin, "for-each-ref", "--format=%(refname:short)",
                          "refs/heads/galley/").split())
    assert branches == [f"galley/batch-{run}-{n}" for n in range(1, 6)]
    for n in range(1, 6):  # each on the recorded commit, its file added
        b = f"galley/batch-{run}-{n}"
        assert git(origin, "rev-parse", f"{b}~1") == base
        assert git(origin, "show", f"{b}:f{n}.txt") == str(n)
    prs = pr_creates(galley)
    assert sorted(arg(c, "--head") for c in prs) == \
        [f"galley/batch-{run}-{n}" for n in range(1, 6)]
    assert {arg(c, "--base") for c in prs} == {"main"}
    assert all(f"galley batch status {run}" in arg(c, "--body") for c in prs)
    # one at a time: no PR creation began before the one before it ended
    times = (galley.tmp / "gh.log.times").read_text().split("\n")[:-1]
    assert [t.split()[1] for t in times] == ["start", "end"] * 5
    assert sorted(arg(c, "--title") for c in prs) == \
        [f"add f{n}" for n in range(1, 6)]
    # the table again, later: a header and five rows
    out = galley.ok("batch", "status", run, cwd=repo).stdout
    rows = [l for l in out.splitlines() if l.startswith("| ")]
    assert len(rows) == 6 and rows[0].startswith("| # | Unit")
    assert all("| done " in r and "| pass " in r for r in rows[1:])
    st = galley.json("batch", "status", run, cwd=repo)
    assert st["base"] == base and st["base_ref"] == "main"
    assert [u["pr"] for u in st["units"]] == \
        [f"https://example.invalid/pull/{n}" for n in range(1, 6)]
    assert st["done"] == 5 and st["failed"] == 0
    # the view's and ls's workflow group: the batch's agents under its run
    # (and there under the phase that made them)
    tree = galley.json("ls", "--tree", "--all")
    node = next(n for n in tree if n["id"] == run)
    assert node["name"] == "batch"

    def agents(n):
        for c in n["children"]:
            yield from agents(c) if c.get("kind") == "phase" else [c]
    assert sum(c["name"].startswith("batch.unit-")
               for c in agents(node)) == 5


def test_a_failing_unit_is_failed_with_its_reason_and_retried(galley, repo):
    with_origin(galley, repo)
    units = [unit(1), unit(2, check="test -f fixed.txt"),
             unit(3, prompt="fail server_error the API fell over"),
             unit(4)]
    st = batch_json(galley, repo, plan_file(galley, units), check=1)
    run = st["batch"]
    by = {u["n"]: u for u in st["units"]}
    assert by[1]["status"] == by[4]["status"] == "done"
    assert by[2]["status"] == "failed" and by[2]["tests"] == "fail"
    assert by[2]["error"].startswith("check failed")
    assert by[3]["status"] == "failed"
    assert "the API fell over" in by[3]["error"]
    assert st["done"] == 2 and st["failed"] == 2
    assert sorted(arg(c, "--head") for c in pr_creates(galley)) == \
        [f"galley/batch-{run}-1", f"galley/batch-{run}-4"]
    # the failed unit's worktree and branch stay for inspection
    wt = repo / ".galley" / "worktrees" / f"batch-{run}-2"
    assert (wt / "f2.txt").read_text().strip() == "2"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    git(repo, "rev-parse", "--verify", f"galley/batch-{run}-2")
    # fixed by hand, retried: only unit 2 runs again, in its worktree
    (wt / "fixed.txt").write_text("ok")
    before = {s["id"] for s in unit_sessions(galley, run)}
    again = galley.run("batch", "--json", "retry", run, "2", cwd=repo,
                       timeout=120, check=1)  # unit 3 still failed
    st = json.loads(again.stdout)
    by = {u["n"]: u for u in st["units"]}
    assert by[2]["status"] == "done" and by[2]["tests"] == "pass"
    assert by[1]["status"] == "done" and by[3]["status"] == "failed"
    new = [s for s in unit_sessions(galley, run) if s["id"] not in before]
    assert [s["name"] for s in new] == ["batch.unit-2"]
    assert len(pr_creates(galley)) == 3
    galley.fail("batch", "retry", run, "9", cwd=repo, code=2,
                match="has units 1 to 4")


def test_thirty_units_from_a_warm_pool(galley, repo):
    base = git(repo, "rev-parse", "HEAD")
    galley.ok("config", "set", "--project", "worktree.pool", "30", cwd=repo)
    galley.ok("worktree", "pool", "--fill", cwd=repo, timeout=120)
    pool = repo / ".galley" / "pool" / base
    slots = {os.stat(s).st_ino for s in pool.iterdir()
             if not s.name.startswith(".")}
    assert len(slots) == 30
    units = [unit(n, prompt=f"think 1\nwrite f{n}.txt {n}\nsay ok")
             for n in range(1, 31)]
    run = galley.run("batch", "--bg", "--plan", plan_file(galley, units),
                     "-r", "fake", "--yes", cwd=repo, check=0,
                     timeout=60).stdout.strip()
    # all thirty at work at once: a batch's run is not held to 16
    poll(lambda: len([s for s in unit_sessions(galley, run)
                      if s["state"] in ("starting", "working")]) == 30,
         timeout=scaled(30), what="thirty workers at work")
    st = poll(lambda: ended(galley, repo, run), timeout=scaled(120),
              interval=0.3, what="batch ended")
    assert st["done"] == 30, [u for u in st["units"] if u["status"] != "done"]
    wts = [repo / ".galley" / "worktrees" / f"batch-{run}-{n}"
           for n in range(1, 31)]
    # every worktree a slot of the pool (renamed: the same inode), each
    # on its own branch, holding its own file only, on the recorded base
    assert {os.stat(w).st_ino for w in wts} == slots
    heads = [git(w, "rev-parse", "--abbrev-ref", "HEAD") for w in wts]
    assert heads == [f"galley/batch-{run}-{n}" for n in range(1, 31)]
    for n, w in enumerate(wts, 1):
        assert git(w, "rev-parse", "HEAD~1") == base
        assert git(w, "diff", "--name-only", "HEAD~1") == f"f{n}.txt"
    # no remote: nothing pushed, every branch listed as local
    assert gh_calls(galley) == []
    assert all(u["branch"] == f"galley/batch-{run}-{u['n']}" and
               not u.get("pushed") for u in st["units"])
    text = galley.ok("batch", "status", run, cwd=repo).stdout
    assert text.count("(local: no remote)") == 30


def test_no_remote_lists_branches_and_pushes_nothing(galley, repo):
    stub_gh(galley)  # there, but no remote: never called
    p = batch(galley, repo, plan_file(galley, [unit(1), unit(2)]))
    run = p.stderr.split("batch ")[1].split(":")[0]
    for n in (1, 2):
        assert f"unit {n}: branch galley/batch-{run}-{n} (local: no remote)" \
            in p.stdout
    assert gh_calls(galley) == []
    assert git(repo, "remote") == ""


def test_exec_workers_run_their_shell_commands(galley, repo):
    # -r exec: each unit's prompt is a shell command run in its worktree
    units = [unit(n, prompt=f"echo {n} > f{n}.txt") for n in (1, 2, 3)]
    st = batch_json(galley, repo, plan_file(galley, units), "-r", "exec")
    assert st["done"] == 3 and st["failed"] == 0
    run = st["batch"]
    for n in (1, 2, 3):
        assert git(repo, "show", f"galley/batch-{run}-{n}:f{n}.txt") == str(n)


def test_a_daemon_killed_mid_batch_resumes_and_no_unit_runs_twice(
        galley, repo):
    with_origin(galley, repo)
    units = [unit(n, prompt=f"think 2\nwrite f{n}.txt {n}\nsay ok")
             for n in range(1, 5)]
    p = galley.run("batch", "--bg", "--plan", plan_file(galley, units),
                   "-r", "fake", "--yes", cwd=repo, check=0, timeout=60)
    run = p.stdout.strip()
    poll(lambda: len([s for s in unit_sessions(galley, run)
                      if s["state"] in ("starting", "working")]) == 4,
         timeout=scaled(30), what="four workers at work")
    os.kill(galley.daemon_pid(), signal.SIGKILL)
    # the next command starts the daemon again, which replays the batch
    st = poll(lambda: ended(galley, repo, run), timeout=scaled(90),
              interval=0.3, what="batch ended")
    assert st["state"] == "done" and st["done"] == 4, st
    names = sorted(s["name"] for s in unit_sessions(galley, run))
    assert names == [f"batch.unit-{n}" for n in range(1, 5)]
    heads = sorted(arg(c, "--head") for c in pr_creates(galley))
    assert heads == [f"galley/batch-{run}-{n}" for n in range(1, 5)]


def test_merge_in_a_safe_order_stops_at_the_first_conflict(galley, repo):
    # a merge commit takes the repository's identity (galley merge)
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    units = [unit(1), unit(2),
             {"title": "clash a", "files": ["same.txt"],
              "prompt": "write same.txt from a", "check": ""},
             {"title": "clash b", "files": ["same.txt"],
              "prompt": "write same.txt from b", "check": ""}]
    p = batch(galley, repo, plan_file(galley, units, recipe=()))
    assert "predicted overlap: units 3 and 4 share same.txt" in p.stdout
    run = p.stderr.split("batch ")[1].split(":")[0]
    m = galley.run("batch", "--json", "merge", run, cwd=repo, check=1)
    out = json.loads(m.stdout)
    res = [(u["unit"], u["result"]) for u in out["units"]]
    # the two that overlap nothing first; then one clash merges and the
    # other stops the merge, naming the path
    assert res[:2] == [(1, "merged"), (2, "merged")]
    assert [r for _, r in res[2:]] == ["merged", "failed"]
    assert "same.txt" in out["units"][3]["error"] and out["stopped"]
    assert (repo / "f1.txt").exists() and (repo / "f2.txt").exists()
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    # run again: the merged ones are skipped, the conflict is still there
    again = json.loads(galley.run("batch", "--json", "merge", run, cwd=repo,
                                  check=1).stdout)
    assert [u["result"] for u in again["units"]][:3] == ["merged already"] * 3


def test_fake_planner_plan_only_then_the_plan_file(galley, repo):
    plan = {"recipe": ["true"],
            "units": [unit(n) for n in range(1, 3)]}
    script = "say " + json.dumps(plan).replace(";", "\\;")
    p = galley.run("batch", "-r", "fake", "--units", "2-3", "--plan-only",
                   "--out", galley.tmp / "p.json", script, cwd=repo,
                   check=0, timeout=60)
    assert "  1. add f1" in p.stdout and "  2. add f2" in p.stdout
    written = json.loads((galley.tmp / "p.json").read_text())
    assert [u["title"] for u in written["units"]] == ["add f1", "add f2"]
    # the planner's answer is checked too: too few units, named
    galley.fail("batch", "-r", "fake", "--yes", script, cwd=repo, code=1,
                match="units: 2 units, but 5 to 30 are wanted")
    # not approved without --yes (no terminal): refused, nothing made
    galley.fail("batch", "--plan", galley.tmp / "p.json", "-r", "fake",
                cwd=repo, code=4, match="approve the plan with --yes")
    assert not (repo / ".galley" / "worktrees").exists()


def test_a_malformed_plan_names_the_bad_field(galley, repo):
    cases = [
        ("{", "not JSON"),
        ('[]', "the plan must be a JSON object"),
        ('{"units": [{"title": "t"}]}', "units[0].prompt: missing"),
        ('{"units": [{"title": "t", "prompt": "p", "files": "a.c"}]}',
         "units[0].files: must be an array of strings"),
        ('{"units": [{"title": "", "prompt": "p"}]}',
         "units[0].title: is empty"),
        ('{"units": [{"titel": "t", "prompt": "p"}]}',
         "units[0]: unknown field 'titel'"),
        ('{"unit": []}', "unknown field 'unit'"),
        ('{"units": [], "recipe": [1]}', "recipe[0]: must be a non-empty"),
        ('{"units": []}', "units: 0 units"),
    ]
    for text, want in cases:
        f = galley.tmp / "bad.json"
        f.write_text(text)
        galley.fail("batch", "--plan", f, "-r", "fake", "--yes", cwd=repo,
                    code=2, match=want)
    galley.fail("batch", "--plan", galley.tmp / "none.json", cwd=repo,
                code=3)
    galley.fail("batch", "status", cwd=repo, code=2)
    galley.fail("batch", "--units", "9-3", "x", cwd=repo, code=2)
    galley.fail("batch", "status", "zz", cwd=repo, code=2)
    galley.fail("batch", "-r", "bogus", "x", cwd=repo, code=2,
                match="no runtime 'bogus'")
    assert not (repo / ".galley" / "worktrees").exists()
