"""Upgrades (issue 20, part 5): sessions started by an older galley are
adopted by a newer one. The older binary is built from the commit in
scripts/upgrade-base (a store schema two migrations back, hosts from
before the host protocol had its own version) by `make upgrade`
(scripts/upgrade.py), which runs this file with GALLEY_OLD_BIN set;
without it these tests are skipped (building an old tree costs about a
minute, more than make check can spend)."""
import json
import os
import sqlite3
import subprocess

import pytest

from conftest import poll

OLD = os.environ.get("GALLEY_OLD_BIN")
pytestmark = pytest.mark.skipif(
    not OLD, reason="GALLEY_OLD_BIN not set: run make upgrade")


def old(galley, *args, check=True):
    p = subprocess.run([OLD, *map(str, args)], env=dict(galley.env),
                       cwd=str(galley.tmp), capture_output=True, text=True,
                       timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def schema(galley):
    db = galley.ghome / "state" / "galley.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT max(version) FROM schema_version"
                         ).fetchone()[0]


def old_state(galley, name):
    return json.loads(old(galley, "get", name).stdout)["state"]


def test_sessions_of_an_older_galley_keep_working_after_the_upgrade(
        galley, tmp_path):
    old(galley, "exec", "-n", "reader", "--", "sh", "-c",
        "echo ready; read x; echo \"got $x\"; exit 3")
    old(galley, "exec", "-n", "long", "--", "sh", "-c",
        "echo started; sleep 600")
    old(galley, "new", "--runtime", "fake", "-n", "agent",
        "say hi; ask ready?; say thanks")
    poll(lambda: old_state(galley, "reader") == "working"
         and old_state(galley, "long") == "working"
         and old_state(galley, "agent") == "blocked", 20,
         what="the old galley's sessions running")
    before = schema(galley)
    old(galley, "daemon", "stop")

    # the upgrade: the new binary's daemon migrates the store forward and
    # adopts the old hosts
    galley.ok("ls")  # starts the new daemon
    st = galley.json("daemon", "status")
    assert st["schema_version"] == schema(galley) > before, (before, st)
    for name, state in (("reader", "working"), ("long", "working"),
                        ("agent", "blocked")):
        assert galley.get(name)["state"] == state, name
    assert "started" in galley.ok("peek", "long").stdout
    # send: to a job and to the agent; their exits are recorded
    galley.ok("send", "reader", "hello")
    r = galley.wait_state("reader", "failed", timeout=20)
    assert r["exit_code"] == 3
    assert "got hello" in galley.ok("logs", "reader").stdout
    galley.ok("send", "agent", "yes")
    a = galley.wait_state("agent", ("idle", "done"), timeout=20)
    assert "thanks" in galley.ok("peek", "agent").stdout
    # attach (a real terminal, tmux) to the old host, and detach
    sock = str(tmp_path / "tmux.sock")
    env = dict(galley.env, TMUX_TMPDIR=str(tmp_path))
    subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", "new-session",
                    "-d", "-x", "80", "-y", "24",
                    f"{galley.bin} attach long"], env=env, check=True)
    try:
        def screen():
            return subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"],
                                  env=env, capture_output=True,
                                  text=True).stdout
        poll(lambda: "started" in screen(), 20, what="attached")
        subprocess.run(["tmux", "-S", sock, "send-keys", "C-\\"], env=env)
        poll(lambda: subprocess.run(
            ["tmux", "-S", sock, "has-session"], env=env,
            capture_output=True).returncode != 0 or "detached" in screen()
            or "started" not in screen(), 20, what="detached")
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], env=env,
                       capture_output=True)
    # stop: the old host takes the new daemon's stop
    galley.ok("stop", "long")
    s = galley.wait_state("long", "stopped", timeout=20)
    assert s["exit_signal"] == 15 or s["exit_code"] == 143, s
    galley.ok("stop", "agent")


def test_an_older_galley_refuses_a_newer_store_clearly(galley):
    galley.ok("ls")  # the new daemon makes the store at its version
    galley.ok("daemon", "stop")
    p = old(galley, "ls", check=False)
    assert p.returncode != 0
    # that galley says it in its daemon's log, and touches nothing
    log = (galley.ghome / "state" / "daemon.log").read_text()
    assert "is newer than this galley knows" in log, log[-500:]
    galley.ok("ls")
    galley.ok("daemon", "stop")
    # and so will this galley when it is the older one: at once, saying
    # why (not "did not start" after a 10 s wait)
    db = galley.ghome / "state" / "galley.db"
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO schema_version VALUES (999, 0)")
    p = galley.run("ls", check=1)
    assert "cannot start: store schema 999 is newer" in p.stderr, p.stderr
