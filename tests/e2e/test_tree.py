"""Everything that runs, in one tree (issue 19): the subagents and
background tasks inside a session, ls --tree, logs --agent, costs that
roll up, orphaned work flagged, and nothing left running after a stop."""
import json
import os
import signal
import time

import pytest

from conftest import CLAUDE, claude_env, claude_seed, poll, pid_alive
from test_view import Tmux


def strays_of(galley, sid, cmd):
    """Live pids with GALLEY_SESSION=sid whose command line has cmd."""
    mark = f"GALLEY_SESSION={sid}".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{d}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mark in env and line.startswith(cmd) and pid_alive(int(d)):
            out.append(int(d))
    return out


def node(tree, name):
    for n in tree:
        if n.get("name") == name:
            return n
        hit = node(n.get("children", []), name)
        if hit:
            return hit
    return None


def test_subagent_and_background_task_are_children_in_the_tree(galley,
                                                               tmp_path):
    galley.ok("new", "-r", "fake", "-m", "claude-sonnet-4-5", "-n", "lead",
              "usage 5000 1000; subagent Explore 0 found the bug in a.c; "
              "background sleep 300; say ok", cwd=tmp_path)
    s = galley.wait_state("lead", "idle", timeout=20)
    sid = s["id"]
    tree = galley.json("ls", "--tree")
    lead = node(tree, "lead")
    kids = {c["kind"]: c for c in lead["children"]}
    sub, task = kids["subagent"], kids["task"]
    assert sub["type"] == "Explore" and sub["state"] == "done"
    assert sub["last_message"] == "found the bug in a.c"
    assert sub["usage"]["input_tokens"] == 1000
    assert task["command"] == "sleep 300" and task["state"] == "running"
    assert task["task_id"] == "bash_1"
    # the subagent's tokens are counted once, in its session's total
    assert s["usage"]["input_tokens"] == 5000 + 1000
    # costs roll up, and match usage --by session
    by = {r["key"]: r for r in galley.json("usage", "--by", "session")["rows"]}
    assert lead["total_cost_usd"] == pytest.approx(
        s["usage"]["cost_usd"], rel=1e-9)
    assert by[sid]["cost_usd"] == pytest.approx(lead["total_cost_usd"],
                                                rel=1e-9)
    assert sub["usage"]["cost_usd"] == pytest.approx(
        (1000 * 3.0 + 200 * 15.0) / 1e6, rel=1e-9)
    # idle with its task still running: flagged
    assert s["orphaned"] == 1
    row = galley.ok("ls").stdout
    assert "1 background task still running" in row
    text = galley.ok("ls", "--tree").stdout
    assert "Explore" in text and "sleep 300" in text
    # the subagent's transcript, as text
    log = galley.ok("logs", "lead", "--agent", sub["id"]).stdout
    assert "assistant: found the bug in a.c" in log
    assert "-> Read" in log
    galley.fail("logs", "lead", "--agent", "nosuch", code=3,
                match="no subagent 'nosuch'")
    galley.ok("stop", "lead")


def test_a_stop_ends_the_background_task_that_left_the_group(galley,
                                                            tmp_path):
    galley.ok("new", "-r", "fake", "-n", "bg",
              "background sleep 301; say started", cwd=tmp_path)
    s = galley.wait_state("bg", "idle", timeout=20)
    pids = poll(lambda: strays_of(galley, s["id"], "sleep 301"), 10,
                what="the background sleep")
    # claude's way: its own process session, not the agent's group
    assert os.getsid(pids[0]) != os.getsid(s["pid"])
    galley.ok("stop", "bg")
    galley.wait_state("bg", "stopped", timeout=20)
    poll(lambda: not any(pid_alive(p) for p in pids), 10,
         what="the background task killed")
    s = galley.get("bg")
    assert [c["state"] for c in s["children"]] == ["stopped"]
    assert s["orphaned"] == 0


def test_a_frozen_agent_killed_after_the_grace_leaves_nothing(galley,
                                                             tmp_path):
    galley.ok("new", "-r", "fake", "-n", "frozen",
              "background sleep 302; think 600", cwd=tmp_path)
    s = galley.wait_state("frozen", "working", timeout=20)
    pids = poll(lambda: strays_of(galley, s["id"], "sleep 302"), 10,
                what="the background sleep")
    os.kill(s["pid"], signal.SIGSTOP)  # it cannot clean up after itself
    try:
        galley.ok("stop", "--grace", "1", "frozen")
        galley.wait_state("frozen", "stopped", timeout=30)
    finally:
        try:
            os.kill(s["pid"], signal.SIGCONT)
        except OSError:
            pass
    poll(lambda: not any(pid_alive(p) for p in pids), 10,
         what="the background task killed")


def test_work_left_running_by_an_ended_session_is_flagged(galley,
                                                         tmp_path):
    galley.ok("new", "-r", "fake", "-n", "leaver",
              "background sleep 303; exit 0", cwd=tmp_path)
    s = galley.wait_state("leaver", "done", timeout=20)
    pids = strays_of(galley, s["id"], "sleep 303")
    assert pids  # a session that ended by itself keeps what it started
    galley.pids.update(pids)
    assert s["orphaned"] == 1
    assert "1 background task still running" in galley.ok("ls").stdout
    p = galley.run("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
    assert checks["orphans"]["status"] == "warn"
    assert "leaver" in checks["orphans"]["detail"]
    galley.ok("doctor", "--fix")
    poll(lambda: not any(pid_alive(p) for p in pids), 10,
         what="doctor --fix stopped it")
    p = galley.run("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
    assert checks["orphans"]["status"] == "ok"
    galley.ok("rm", "leaver")


def test_the_view_expands_and_collapses_a_session(galley, tmp_path):
    galley.ok("new", "-r", "fake", "-n", "tv",
              "subagent Plan 0 planned it; background sleep 304; say ok",
              cwd=tmp_path)
    galley.wait_state("tv", "idle", timeout=20)
    t = Tmux(galley, tmp_path)
    try:
        t.start(tmp_path)
        t.wait_for("tv")
        row = "\u2514 Plan"  # a child row, under its session
        assert row not in t.screen()
        t.keys("Tab")
        s = t.wait_for(row)
        assert "\u2514 task" in s and "sleep 304" in s
        t.keys("Down")  # onto the subagent: peek shows its transcript
        t.keys("Space")
        t.wait_for("assistant: planned it")
        t.keys("Escape")
        t.keys("Left")
        t.wait_for(lambda x: row not in x and "tv" in x)
        t.keys("Right")
        t.wait_for(row)
    finally:
        t.kill()
    galley.ok("stop", "tv")


@pytest.mark.skipif(not CLAUDE.exists(), reason="claude CLI not installed")
def test_a_real_claude_subagent_is_a_node_counted_once(galley, fake,
                                                       tmp_path):
    claude_env(galley, fake.url)
    work = tmp_path / "w"
    work.mkdir()
    claude_seed(galley, [work])
    task = json.dumps({"description": "look", "prompt": "SAY found it",
                       "subagent_type": "general-purpose"})
    s = galley.json("new", "--runtime", "claude", "--headless", "-n", "cl",
                    f"CALLTOOL Agent {task}", cwd=work)
    galley.wait_state("cl", "done", timeout=60)
    cl = poll(lambda: (lambda x: x if x.get("children") else None)(
        galley.get("cl")), 20, what="the subagent node")
    sub = cl["children"][0]
    assert sub["kind"] == "subagent" and sub["type"] == "general-purpose"
    assert sub["state"] == "done"
    want = fake.usage_for(s["runtime_session_id"])
    # the session's total is every request once, the subagent's included
    try:
        poll(lambda: galley.get("cl")["usage"]["input_tokens"] ==
             want["input_tokens"], 20, what="usage counted once")
    except AssertionError:
        raise AssertionError(f"{galley.get('cl')['usage']} {sub} {want}")
    assert sub["usage"]["input_tokens"] < want["input_tokens"]
