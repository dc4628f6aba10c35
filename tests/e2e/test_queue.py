"""The queue (issue 8, first part): limits.maxRunning, groups, --after
and --priority."""
import json
import subprocess
import time

from conftest import BIN, poll


def intervals(galley):
    """name -> (started, ended) in ms, from the event log."""
    names = {s["id"]: s["name"] for s in galley.ls("--all")}
    out = {}
    for e in galley.json("events", "--limit", "100000"):
        if e["kind"] != "state" or e["session"] not in names:
            continue
        st = (e.get("data") or {}).get("state")
        n = names[e["session"]]
        if st == "starting":
            out.setdefault(n, [None, None])[0] = e["at"]
        elif st in ("done", "failed", "stopped"):
            out.setdefault(n, [None, None])[1] = e["at"]
    return out


def max_overlap(spans):
    points = []
    for a, b in spans:
        points += [(a, 1), (b, -1)]
    now = top = 0
    for _, d in sorted(points, key=lambda p: (p[0], p[1])):
        now += d
        top = max(top, now)
    return top


def gated(tmp_path):
    """A job that runs until the test lets it end (whatever the speed of
    the build under test)."""
    go = tmp_path / "GO"
    return go, ["--", "sh", "-c", f"until [ -e {go} ]; do sleep 0.02; done"]


def test_max_running_holds_the_rest_in_line(galley, tmp_path):
    galley.ok("config", "set", "limits.maxRunning", "2")
    go, job = gated(tmp_path)
    for i in range(6):
        galley.json("exec", "-n", f"j{i}", *job)
    got = {s["name"]: s for s in galley.ls()}
    queued = sorted((s["queue_position"], n) for n, s in got.items()
                    if s["state"] == "queued")
    assert [n for _, n in queued] == ["j2", "j3", "j4", "j5"]
    assert [p for p, _ in queued] == [1, 2, 3, 4]
    assert "limits.maxRunning 2" in got["j2"]["waiting_for"]
    assert "#1 " in galley.ok("ls").stdout
    go.touch()
    for i in range(6):
        galley.wait_state(f"j{i}", "done", timeout=20)
    spans = intervals(galley)
    assert max_overlap(spans.values()) <= 2
    starts = [spans[f"j{i}"][0] for i in range(6)]
    assert starts == sorted(starts)  # in order


def test_group_limit(galley, tmp_path):
    p = galley.ok("group", "set", "g1", "--parallel", "1")
    assert "at most 1" in p.stdout
    go, job = gated(tmp_path)
    for i in range(3):
        galley.json("exec", "-n", f"g{i}", "--group", "g1", *job)
    galley.json("exec", "-n", "free", *job)
    assert galley.get("free")["state"] != "queued"
    groups = {g["name"]: g for g in galley.json("group", "ls")}
    assert groups["g1"]["parallel"] == 1 and groups["g1"]["queued"] == 2
    go.touch()
    for i in range(3):
        galley.wait_state(f"g{i}", "done", timeout=20)
    spans = intervals(galley)
    assert max_overlap([spans[f"g{i}"] for i in range(3)]) == 1
    cfg = json.loads((galley.ghome / "config" / "settings.json").read_text())
    assert cfg["limits"]["group"]["g1"] == 1


def test_after_chains_and_a_failed_dependency(galley, tmp_path):
    go, job = gated(tmp_path)
    galley.json("exec", "-n", "a", *job)
    b = galley.json("exec", "-n", "b", "--after", "a", "--", "true")
    assert b["state"] == "queued" and "after a" in b["waiting_for"]
    go.touch()
    galley.wait_state("b", "done", timeout=20)
    spans = intervals(galley)
    assert spans["b"][0] >= spans["a"][1]
    # a failure fails what waits on it, and what waits on that
    go2 = tmp_path / "GO2"
    galley.json("exec", "-n", "x", "--", "sh", "-c",
                f"until [ -e {go2} ]; do sleep 0.02; done; exit 3")
    galley.json("exec", "-n", "y", "--after", "x", "--", "true")
    galley.json("exec", "-n", "z", "--after", "y,a", "--", "true")
    go2.touch()
    y = galley.wait_state("y", "failed", timeout=20)
    assert "dependency x" in y["reason"] and "exited with code 3" in \
        y["reason"]
    z = galley.wait_state("z", "failed", timeout=20)
    assert "dependency y" in z["reason"]
    assert z["exit_code"] is None  # never started
    galley.fail("exec", "--after", "nosuch", "--", "true", code=3)
    galley.fail("exec", "--after", ",", "--", "true", code=2)
    galley.fail("exec", "--group", "../x", "--", "true", code=2)
    galley.fail("exec", "--priority", "high", "--", "true", code=2)


def test_priority_and_stop_while_queued(galley, tmp_path):
    galley.ok("config", "set", "limits.maxRunning", "1")
    galley.json("exec", "-n", "blocker", "--", "sleep", "600")
    galley.json("exec", "-n", "low", "--", "true")
    galley.json("exec", "-n", "high", "--priority", "5", "--", "true")
    galley.json("exec", "-n", "gone", "--", "true")
    got = {s["name"]: s for s in galley.ls()}
    assert got["high"]["queue_position"] == 1
    assert got["low"]["queue_position"] == 2
    galley.ok("stop", "gone")
    s = galley.wait_state("gone", "stopped")
    assert s["exit_code"] is None
    # the line survives a daemon restart
    galley.ok("daemon", "stop")
    assert galley.get("high")["state"] == "queued"
    galley.ok("stop", "blocker")
    galley.wait_state("low", "done", timeout=20)
    spans = intervals(galley)
    assert spans["high"][0] < spans["low"][0]
    assert "gone" not in spans or spans["gone"][0] is None


def test_usage_by_group(galley, tmp_path):
    galley.json("new", "--runtime", "fake", "-n", "u1", "--group", "red",
                "usage 1000 200 claude-sonnet-4-5; exit 0")
    galley.json("new", "--runtime", "fake", "-n", "u2", "--group", "red",
                "usage 500 100 claude-sonnet-4-5; exit 0")
    galley.json("new", "--runtime", "fake", "-n", "u3",
                "usage 10 1 claude-haiku-4-5; exit 0")
    for n in ("u1", "u2", "u3"):
        galley.wait_state(n, "done")
    poll(lambda: galley.json("usage", "--by", "group")["total"].get(
        "input_tokens") == 1510, 10, what="usage counted")
    rows = {r["key"]: r for r in galley.json("usage", "--by",
                                             "group")["rows"]}
    assert rows["red"]["input_tokens"] == 1500
    assert rows["red"]["output_tokens"] == 300
    assert rows["default"]["input_tokens"] == 10
    # sonnet: $3/$15 per million
    assert abs(rows["red"]["cost_usd"] - (1500 * 3 + 300 * 15) / 1e6) < 1e-9
    assert "red" in galley.ok("usage", "--by", "group").stdout
    # no team or workflow exists yet: everything counts under "-"
    for by in ("team", "workflow"):
        u = galley.json("usage", "--by", by)
        assert [r["key"] for r in u["rows"]] == ["-"], u
        assert u["rows"][0]["cost_usd"] == u["total"]["cost_usd"]
    galley.fail("usage", "--by", "planet", code=2, match="workflow")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for since in ("today", "1d"):
        u = galley.json("usage", "--since", since)
        assert u["since"] == today and u["total"]["input_tokens"] == 1510


def test_restart_of_an_ended_session_waits_in_line(galley, tmp_path):
    galley.ok("config", "set", "limits.maxRunning", "1")
    galley.json("exec", "-n", "quick", "--", "true")
    galley.wait_state("quick", "done")
    go, job = gated(tmp_path)
    galley.json("exec", "-n", "long", *job)
    galley.wait_state("long", "working")
    galley.ok("restart", "quick")
    s = galley.get("quick")
    assert s["state"] == "queued", s
    assert s["exit_code"] is None and s["queue_position"] == 1
    go.touch()
    galley.wait_state("long", "done", timeout=20)
    galley.wait_state("quick", "done", timeout=20)


def test_wait_sees_ends_that_come_while_it_looks_up(galley, tmp_path):
    """`wait` on many ids subscribes, then looks each one up: sessions
    that end during the look-ups must not be missed (it used to hang)."""
    galley.ok("config", "set", "limits.maxRunning", "100")
    go = tmp_path / "GO"
    names = [f"w{i}" for i in range(25)]
    for n in names:  # a slow poll: 25 gates must not eat the CPU
        galley.json("exec", "-n", n, "--", "sh", "-c",
                    f"until [ -e {go} ]; do sleep 0.1; done")
    p = subprocess.Popen([str(BIN), "wait", "--timeout", "60", *names],
                         env=galley.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        go.touch()  # they end while wait looks them up
        out, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out.count(" done") == 25


def two_repos(tmp_path):
    repos = []
    for name in ("alpha", "beta"):
        r = tmp_path / name
        r.mkdir()
        subprocess.run(["git", "init", "-q", str(r)], check=True)
        repos.append(r)
    return repos


def test_each_project_gets_its_own_max_running(galley, tmp_path):
    """Settings leak: limits.maxRunning came with each request and the
    latest one governed every project's sessions. Now each project's own
    files govern its sessions, whichever project started last."""
    alpha, beta = two_repos(tmp_path)
    galley.ok("config", "set", "--project", "limits.maxRunning", "1",
              cwd=alpha)
    galley.ok("config", "set", "--project", "limits.maxRunning", "3",
              cwd=beta)
    go, job = gated(tmp_path)
    # alpha's first, then beta's: beta's 3 must not lift alpha's 1
    for i in range(3):
        galley.json("exec", "-n", f"a{i}", *job, cwd=alpha)
    for i in range(4):
        galley.json("exec", "-n", f"b{i}", *job, cwd=beta)
    got = {s["name"]: s for s in galley.ls()}
    assert [got[f"a{i}"]["state"] for i in range(3)] == \
        ["working", "queued", "queued"], got
    assert "limits.maxRunning 1 in project alpha" in \
        got["a1"]["waiting_for"]
    running_b = [n for n in ("b0", "b1", "b2", "b3")
                 if got[n]["state"] != "queued"]
    assert running_b == ["b0", "b1", "b2"], got
    assert "limits.maxRunning 3 in project beta" in \
        got["b3"]["waiting_for"]
    # and the other way round: alpha starting last does not cap beta
    galley.json("exec", "-n", "a3", *job, cwd=alpha)
    assert galley.get("b3")["state"] == "queued"
    assert galley.get("b2")["state"] in ("starting", "working")
    go.touch()
    for n in [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)]:
        galley.wait_state(n, "done", timeout=30)
    spans = intervals(galley)
    assert max_overlap(v for k, v in spans.items() if k[0] == "a") <= 1
    assert max_overlap(v for k, v in spans.items() if k[0] == "b") <= 3


def test_a_changed_setting_applies_without_a_restart(galley, tmp_path):
    """The daemon re-reads the files when they change."""
    alpha, _ = two_repos(tmp_path)
    galley.ok("config", "set", "--project", "limits.maxRunning", "1",
              cwd=alpha)
    go, job = gated(tmp_path)
    galley.json("exec", "-n", "c0", *job, cwd=alpha)
    galley.json("exec", "-n", "c1", *job, cwd=alpha)
    assert galley.get("c1")["state"] == "queued"
    pid = galley.daemon_pid()
    galley.ok("config", "set", "--project", "limits.maxRunning", "2",
              cwd=alpha)
    # the next request's pass sees the new file
    galley.json("exec", "-n", "c2", *job, cwd=alpha)
    assert galley.get("c1")["state"] in ("starting", "working")
    assert galley.get("c2")["state"] == "queued"
    assert galley.daemon_pid() == pid
    go.touch()
    for n in ("c0", "c1", "c2"):
        galley.wait_state(n, "done", timeout=30)
