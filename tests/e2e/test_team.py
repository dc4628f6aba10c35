"""Agent teams (issue 15) with fake-runtime members: a lead and members as
ordinary sessions, a task list with atomic claims and dependencies,
messages delivered only to idle members, the plan-approval and
file-ownership gates, and a team's end."""
import os
import subprocess

import pytest

from conftest import pid_alive, poll
from test_sandbox import needs_landlock


@pytest.fixture
def team_env(galley, repo):
    """galley on the members' PATH (their scripts call it), in a repo."""
    bindir = os.path.dirname(galley.bin)
    galley.env["PATH"] = f"{bindir}:{galley.env['PATH']}"
    return repo


def create(galley, repo, name="review", *extra, prompt="say leading"):
    return galley.json("team", "create", name, "-r", "fake", *extra, prompt,
                       cwd=repo)


def add(galley, repo, member, script, *extra, team="review"):
    return galley.json("team", "add", team, member, "--lens", member,
                       *extra, "-r", "fake", script, cwd=repo)


def status(galley, repo, team="review"):
    return galley.json("team", "status", team, cwd=repo)


def tasks(galley, repo, team="review"):
    return galley.json("task", "ls", "--team", team, cwd=repo)


def test_members_are_sessions_under_their_lead(galley, team_env):
    repo = team_env
    lead = create(galley, repo)
    sec = add(galley, repo, "sec", "say ready")
    assert lead["name"] == "review.lead" and sec["name"] == "review.sec"
    assert sec["team"] and sec["parent"] == lead["id"]
    st = status(galley, repo)
    assert st["lead"]["session"] == lead["id"]
    assert [m["name"] for m in st["members"]] == ["sec"]
    tree = galley.json("ls", "--tree")
    assert [c["id"] for c in tree[0]["children"]] == [sec["id"]]
    galley.fail("team", "add", "review", "sec", "--lens", "x", "-r", "fake",
                "say again", cwd=repo, code=1, match="has a member 'sec'")
    galley.fail("team", "create", "review", "-r", "fake", "say x", cwd=repo,
                code=1, match="exists")
    galley.fail("team", "add", "review", "lead", "-r", "fake", "x",
                cwd=repo, code=2, match="reserved")


def test_ten_members_race_for_five_tasks(galley, team_env):
    repo = team_env
    create(galley, repo)
    for i in range(5):
        galley.ok("task", "add", f"task {i}", "--team", "review", cwd=repo)
    for i in range(10):
        add(galley, repo, f"m{i}", "run galley task claim")
    poll(lambda: all(s["state"] == "idle" for s in galley.ls()), 30,
         what="every member done claiming")
    ts = tasks(galley, repo)
    owners = [t["owner"] for t in ts]
    assert all(owners) and len(set(owners)) == 5, ts
    assert all(t["status"] == "in_progress" for t in ts)


def test_dependencies_unblock(galley, team_env):
    repo = team_env
    create(galley, repo)
    add(galley, repo, "a", "say a")
    galley.ok("task", "add", "first", "--team", "review", cwd=repo)
    galley.ok("task", "add", "second", "--blocked-by", "1", "--team",
              "review", cwd=repo)
    t2 = tasks(galley, repo)[1]
    assert t2["blocked"] is True and t2["blocked_by"] == [1]
    galley.fail("task", "claim", "2", "--team", "review", "--as", "a",
                cwd=repo, code=4, match="blocked")
    galley.ok("task", "claim", "1", "--team", "review", "--as", "a",
              cwd=repo)
    galley.ok("task", "done", "1", "--team", "review", "--as", "a", cwd=repo)
    assert tasks(galley, repo)[1]["blocked"] is False
    galley.ok("task", "claim", "--team", "review", "--as", "a", cwd=repo)
    assert tasks(galley, repo)[1]["owner"] == "a"
    kinds = [e["kind"] for e in galley.json("events", "--limit", "1000")]
    assert "team.task_created" in kinds and "team.task_completed" in kinds


def test_a_message_waits_for_an_idle_member(galley, team_env):
    repo = team_env
    create(galley, repo)
    add(galley, repo, "busy", "think 3; say turn over")
    galley.wait_state("review.busy", "working")
    galley.ok("team", "talk", "busy", "please look at auth", "--team",
              "review", cwd=repo)
    # mid-turn: kept, not typed into its terminal
    assert status(galley, repo)["messages_waiting"] == 1
    assert "please look" not in galley.ok("peek", "review.busy").stdout
    poll(lambda: "message from user: please look at auth" in
         galley.ok("peek", "review.busy").stdout, 20,
         what="the message delivered once idle")
    log = galley.json("team", "log", "review", cwd=repo)
    assert log[-1]["delivered"] is True and log[-1]["to"] == "busy"


def test_plan_approval_gates_edits(galley, team_env):
    repo = team_env
    (repo / "src").mkdir()
    create(galley, repo, "review", "--plan-approval")
    add(galley, repo, "dev", "write src/a.txt early")
    galley.wait_state("review.dev", "idle")
    screen = galley.ok("peek", "review.dev").stdout
    assert "plan is not approved" in screen
    assert not (repo / "src/a.txt").exists()
    galley.fail("team", "approve", "dev", cwd=repo, code=2,
                match="which team")
    galley.ok("team", "reject", "dev", "--why", "too broad", "--team",
              "review", cwd=repo)
    poll(lambda: "your plan is rejected: too broad" in
         galley.ok("peek", "review.dev").stdout, 20,
         what="the rejection's reason delivered")
    galley.ok("team", "approve", "dev", "--team", "review", cwd=repo)
    galley.wait_state("review.dev", "idle")
    galley.ok("send", "review.dev", "write src/a.txt approved")
    poll(lambda: (repo / "src/a.txt").exists(), 20, what="the write")


def test_file_ownership_is_enforced(galley, team_env):
    repo = team_env
    (repo / "src").mkdir()
    (repo / "docs").mkdir()
    create(galley, repo)
    add(galley, repo, "api", "write src/ok.txt mine; write docs/no.txt x",
        "--own", "src/**")
    galley.wait_state("review.api", "idle")
    assert (repo / "src/ok.txt").exists()
    assert not (repo / "docs/no.txt").exists()
    assert "owns only" in galley.ok("peek", "review.api").stdout
    galley.fail("team", "add", "review", "web", "--lens", "w", "--own",
                "src/web/*", "-r", "fake", "say x", cwd=repo, code=4,
                match="overlaps")
    add(galley, repo, "docs", "say docs", "--own", "docs/**")


def test_bash_writes_outside_the_owned_files_are_denied(galley, team_env):
    repo = team_env
    (repo / "src").mkdir()
    (repo / "docs").mkdir()
    (repo / "docs/keep.txt").write_text("keep\n")
    create(galley, repo)
    add(galley, repo, "api",
        "run echo in > src/in.txt; run echo out > docs/out.txt; "
        "run cd src && rm -f ../docs/keep.txt; "
        "run sh -c 'git checkout -- docs'; run echo tmp > /tmp/galley-$$; "
        "run rm -f /tmp/galley-$$; say done", "--own", "src/**")
    galley.wait_state("review.api", "idle")
    denied = [e["data"]["rule"] for e in galley.json("events", "review.api")
              if e["kind"] == "policy.deny"]
    assert (repo / "src/in.txt").read_text() == "in\n"
    assert not (repo / "docs/out.txt").exists()
    assert (repo / "docs/keep.txt").read_text() == "keep\n"
    # outside the tree is no member's file: /tmp was written and removed
    assert [d.split(" writes ")[1].split(",")[0] for d in denied] == \
        ["docs/out.txt", "docs/keep.txt", "docs"], denied
    assert "owns only [\"src/**\"]" in denied[0]


def test_stop_leaves_no_process(galley, team_env):
    repo = team_env
    create(galley, repo, prompt="think 600")
    for m in ("a", "b", "c"):
        add(galley, repo, m, "think 600")
    poll(lambda: all(s["pid"] for s in galley.ls()), 20, what="pids")
    pids = [p for s in galley.ls() for p in (s["pid"], s["host_pid"])]
    galley.ok("team", "stop", "review", cwd=repo)
    poll(lambda: all(s["state"] == "stopped" for s in galley.ls()), 20,
         what="every member stopped")
    poll(lambda: not any(pid_alive(p) for p in pids), 20,
         what="no process of the team left")


def test_a_member_that_dies_is_reported_to_the_lead(galley, team_env):
    repo = team_env
    create(galley, repo)
    add(galley, repo, "crash", "exit 3")
    galley.wait_state("review.crash", "failed")
    poll(lambda: "member crash failed" in
         galley.ok("peek", "review.lead").stdout, 20,
         what="the lead told")


def test_teams_of_two_repos_never_meet(galley, team_env, tmp_path):
    a = team_env
    b = tmp_path / "other"
    b.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=b, check=True)
    create(galley, a)
    galley.json("team", "create", "review", "-r", "fake", "say b", cwd=b)
    galley.ok("task", "add", "only in a", "--team", "review", cwd=a)
    assert [t["title"] for t in tasks(galley, a)] == ["only in a"]
    assert tasks(galley, b) == []
    assert status(galley, a)["repo"] != status(galley, b)["repo"]


def test_the_teammate_model_resolves_in_order(galley, team_env):
    repo = team_env
    galley.json("team", "create", "review", "-r", "fake", "-m", "leadm",
                "say lead", cwd=repo)
    assert add(galley, repo, "own", "say x", "-m", "mine")["model"] == "mine"
    assert add(galley, repo, "dflt", "say x")["model"] == "leadm"
    galley.ok("config", "set", "teammateModel", "fromsetting")
    assert add(galley, repo, "set", "say x")["model"] == "fromsetting"
    galley.json("team", "create", "t2", "--teammate-model", "teamm", "-r",
                "fake", "-m", "leadm", "say lead", cwd=repo)
    assert add(galley, repo, "x", "say x", team="t2")["model"] == "teamm"


def test_a_member_acts_only_as_itself(galley, team_env):
    repo = team_env
    create(galley, repo)
    galley.ok("task", "add", "t", "--team", "review", cwd=repo)
    add(galley, repo, "honest", "run galley task claim --as other; "
        "run galley msg send lead hi-from-honest")
    galley.wait_state("review.honest", "idle")
    assert "cannot act as other" in galley.ok("peek",
                                              "review.honest").stdout
    log = galley.json("team", "log", "review", cwd=repo)
    assert any(m["from"] == "honest" and m["text"] == "hi-from-honest"
               for m in log), log


def test_team_start_makes_the_lead_and_a_member_per_lens(galley, team_env):
    repo = team_env
    galley.ok("team", "start", "audit", "audit the login flow",
              "--teammates", "security,perf,tests", "-r", "fake", cwd=repo)
    st = status(galley, repo, "audit")
    assert [(m["name"], m["lens"]) for m in st["members"]] == [
        ("security", "security"), ("perf", "perf"), ("tests", "tests")]
    assert st["goal"] == "audit the login flow"
    lead = galley.get(st["lead"]["session"])
    assert "security,perf,tests" in lead["prompt"]


def test_worktree_isolation_gives_each_member_its_own(galley, team_env):
    repo = team_env
    subprocess.run(["git", "-c", "user.email=t@e", "-c", "user.name=t",
                    "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo,
                   check=True)
    create(galley, repo, "iso", "--isolation", "worktree")
    a = add(galley, repo, "a", "write a.txt A", team="iso")
    b = add(galley, repo, "b", "write a.txt B", team="iso")
    assert a["branch"] == "galley/iso-a" and b["branch"] == "galley/iso-b"
    assert a["worktree"] != b["worktree"]
    galley.wait_state("iso.a", "idle")
    galley.wait_state("iso.b", "idle")
    # the same file in two worktrees: the overlap check warns of it
    poll(lambda: galley.get("iso.a")["conflicts_with"] == [b["id"]], 20,
         what="the members' overlap")


def test_a_team_outlives_a_daemon_kill(galley, team_env):
    import signal
    repo = team_env
    create(galley, repo)
    add(galley, repo, "m", "say up")
    galley.wait_state("review.m", "idle")
    galley.ok("task", "add", "after", "--team", "review", cwd=repo)
    os.kill(galley.daemon_pid(), signal.SIGKILL)
    st = status(galley, repo)  # a new daemon, from the store
    assert st["members"][0]["state"] == "idle"
    assert [t["title"] for t in st["tasks"]] == ["after"]
    galley.ok("team", "talk", "m", "still there?", "--team", "review",
              cwd=repo)
    poll(lambda: "message from user: still there?" in
         galley.ok("peek", "review.m").stdout, 20,
         what="delivery after the kill")


def test_resume_starts_every_member_that_ended(galley, team_env):
    repo = team_env
    create(galley, repo, prompt="think 600")
    add(galley, repo, "a", "think 600")
    add(galley, repo, "b", "think 600")
    galley.ok("team", "stop", "review", cwd=repo)
    poll(lambda: all(s["state"] == "stopped" for s in galley.ls()), 20,
         what="stopped")
    galley.ok("team", "restart", "a", "--team", "review", cwd=repo)
    galley.wait_state("review.a", "working")
    assert galley.get("review.b")["state"] == "stopped"
    out = galley.json("team", "resume", "review", cwd=repo)
    assert len(out) == 2  # the lead and b; a runs already
    poll(lambda: all(s["state"] == "working" for s in galley.ls()), 20,
         what="all working again")
    galley.fail("team", "restart", "nosuch", "--team", "review", cwd=repo,
                code=3)


def test_the_team_budget_holds_every_member(galley, team_env):
    repo = team_env
    # 0.45 dollars against 0.40: held (the hard cap, 150%, would stop)
    create(galley, repo, "review", "--budget-usd", "0.40")
    add(galley, repo, "other", "say waiting")
    galley.wait_state("review.other", "idle")
    galley.wait_state("review.lead", "idle")
    add(galley, repo, "spender", "usage 100000 10000 claude-sonnet-4-5")
    for n in ("review.spender", "review.other", "review.lead"):
        s = galley.wait_state(n, "blocked", timeout=20)
        assert s["waiting_for"] == "budget", s
        assert "team review's budget is spent" in s["reason"], s
        assert "galley team budget review" in s["reason"], s
    assert status(galley, repo)["budget"]["usd"] == 0.4
    assert "team review's budget" in galley.ok("budget").stdout
    galley.fail("team", "budget", "review", cwd=repo, code=2)
    galley.ok("team", "budget", "review", "--usd", "5", cwd=repo)
    for n in ("review.spender", "review.other", "review.lead"):
        galley.wait_state(n, "idle", timeout=20)
    # a session outside the team is not held by it
    galley.new("say free", name="outsider", cwd=repo)
    galley.wait_state("outsider", "idle")


def test_cleanup_stops_everyone_and_says_what_each_produced(galley,
                                                            team_env):
    repo = team_env
    subprocess.run(["git", "-c", "user.email=t@e", "-c", "user.name=t",
                    "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo,
                   check=True)
    create(galley, repo, "iso", "--isolation", "worktree",
           prompt="think 600")
    galley.ok("task", "add", "one", "--team", "iso", cwd=repo)
    add(galley, repo, "w", "run galley task claim; run galley task done 1; "
        "write w.txt work; think 600", team="iso")
    poll(lambda: (repo / ".galley/worktrees/iso-w/w.txt").exists(), 20,
         what="the member's work")
    pids = [p for s in galley.ls() for p in (s["pid"], s["host_pid"]) if p]
    out = galley.json("team", "cleanup", "iso", cwd=repo)
    w = [m for m in out if m["member"] == "w"][0]
    assert w["tasks_done"] == 1 and w["files"] == 1, out
    assert (repo / ".galley/worktrees/iso-w/w.txt").exists()
    assert all(s["state"] == "stopped" for s in galley.ls())
    poll(lambda: not any(pid_alive(p) for p in pids), 20,
         what="no process of the team left")


def test_a_lead_that_cannot_start_leaves_no_team(galley, team_env):
    repo = team_env
    galley.fail("team", "create", "ghost", "-r", "fake", cwd=repo, code=2,
                match="needs a PROMPT")
    galley.fail("team", "status", "ghost", cwd=repo, code=3)
    galley.fail("team", "create", "bad name", "-r", "fake", "x", cwd=repo,
                code=2, match="invalid team")
    create(galley, repo, "ghost")
    galley.fail("team", "add", "ghost", "m", "--lens", "x", "-r", "fake",
                cwd=repo, code=2)
    assert status(galley, repo, "ghost")["members"] == []


def test_members_keep_the_leads_rules_never_widened(galley, team_env):
    repo = team_env
    create(galley, repo, "review", "--deny", "Bash(rm *)", "--sandbox",
           "write,best-effort")
    (repo / "keep.txt").write_text("x")
    m = add(galley, repo, "a", "run rm -f keep.txt; say done")
    assert m["policy"]["deny"] == ["Bash(rm *)"]
    assert m["policy"]["sandbox"]["write"] is True
    galley.wait_state("review.a", "idle")
    assert (repo / "keep.txt").exists()
    # narrowed: its own rules are added to the lead's
    b = add(galley, repo, "b", "say b", "--deny", "Write")
    assert b["policy"]["deny"] == ["Write", "Bash(rm *)"]
    # widened: refused, and no member is left behind
    galley.fail("team", "add", "review", "c", "--lens", "c", "--allow",
                "Bash(curl *)", "-r", "fake", "say c", cwd=repo, code=4,
                match="never widened")
    assert [x["name"] for x in status(galley, repo)["members"]] == ["a", "b"]


@needs_landlock
def test_a_sandboxed_member_writes_only_its_own_files(galley, team_env):
    repo = team_env
    (repo / "src").mkdir()
    create(galley, repo, "review", "--sandbox", "write")
    # the hook cannot read $D: Landlock holds the write
    m = add(galley, repo, "api", "run echo in > src/in.txt; "
            "run D=docs\\; mkdir -p $D\\; echo out > $D/out.txt; "
            "say done",
            "--own", "src/**", "--own", "lib/util/*.c")
    assert m["policy"]["sandbox"]["only"] == ["src/**", "lib/util/*.c"]
    galley.wait_state("review.api", "idle")
    assert (repo / "src/in.txt").read_text() == "in\n"
    assert not (repo / "docs").exists()
    assert (repo / "lib/util").is_dir()  # made, so the member can write
    galley.ok("send", "review.api", "run echo u > lib/util/u.c")
    poll(lambda: (repo / "lib/util/u.c").exists(), 20, what="the write")
