"""Session verbs end to end: success and error paths, exit codes, JSON."""
import json
import os
import re
import signal

from conftest import pid_alive, poll


def test_new_prints_and_json_shape(galley):
    p = galley.ok("new", "--runtime", "fake", "-n", "n1", "say hi; exit 0")
    assert re.match(r"backgrounded · [0-9a-f]{8} · n1", p.stdout)
    s = galley.wait_state("n1", "done")
    for key in ("id", "name", "kind", "runtime", "state", "waiting_for",
                "cwd", "worktree", "branch", "pinned", "group", "executor",
                "pid", "exit_code", "model", "runtime_session_id", "team",
                "workflow", "created_at", "updated_at", "usage"):
        assert key in s, key
    assert re.fullmatch(r"[0-9a-f]{8}", s["id"])
    assert s["kind"] == "agent" and s["runtime"] == "fake"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["created_at"])
    assert set(s["usage"]) >= {"input_tokens", "output_tokens",
                               "cache_read_tokens", "cost_usd"}


def test_bg_alias_and_script_file(galley, tmp_path):
    galley.ok("--bg", "--runtime", "fake", "-n", "bg1", "exit 0")
    galley.wait_state("bg1", "done")
    script = tmp_path / "s.txt"
    script.write_text("say from file\nexit 4\n")
    galley.ok("new", "--runtime", "fake", "-n", "sf", "--script", script)
    s = galley.wait_state("sf", "failed")
    assert s["exit_code"] == 4
    assert "from file" in galley.ok("logs", "sf").stdout


def test_new_errors(galley, tmp_path):
    galley.fail("new", "-n", "../x", "exit 0", code=2, match="invalid name")
    galley.fail("new", "-n", "a b", "exit 0", code=2)
    galley.fail("new", "--runtime", "nope", "exit 0", code=2,
                match="unknown runtime")
    galley.fail("new", "--cwd", tmp_path / "missing", "exit 0", code=3)
    galley.fail("new", "--bogus", "x", code=2, match="unknown option")
    galley.new("ask q?", name="dup")
    galley.wait_state("dup", "blocked")
    galley.fail("new", "--runtime", "fake", "-n", "dup", "exit 0", code=1,
                match="already named")


def test_exec_passes_options_to_command(galley):
    galley.ok("exec", "-n", "lsla", "ls", "-la", "/")
    galley.wait_state("lsla", "done")
    assert "total" in galley.ok("logs", "lsla").stdout
    galley.fail("exec", code=2, match="no command")


def test_new_runtime_exec_shell_string(galley):
    galley.ok("new", "--runtime", "exec", "-n", "sh1", "echo a | tr a b")
    galley.wait_state("sh1", "done")
    assert "b" in galley.ok("logs", "sh1").stdout.split()


def test_environment_is_callers_and_not_stored(galley):
    secret = "s3cr3t-value-98765"
    galley.ok("exec", "-n", "env1", "--", "sh", "-c", "echo v=$MYVAR",
              env={"MYVAR": secret})
    galley.wait_state("env1", "done")
    assert f"v={secret}" in galley.ok("logs", "env1").stdout
    state = galley.ghome / "state"
    for f in [state / "galley.db", state / "galley.db-wal",
              state / "daemon.log"]:
        if f.exists():
            assert secret.encode() not in f.read_bytes(), f
    spec = next(state.glob("sessions/*/spec.json"))
    assert oct(spec.stat().st_mode & 0o777) == "0o600"


def test_ls_filters(galley, tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    galley.exec("sleep", "30", name="live", cwd=d)
    galley.exec("true", name="quick")
    galley.wait_state("live", "working")
    galley.wait_state("quick", "done")
    names = {s["name"] for s in galley.ls()}
    assert {"live", "quick"} <= names
    assert [s["name"] for s in galley.ls("--state", "working")] == ["live"]
    assert [s["name"] for s in galley.ls("--cwd", d)] == ["live"]
    assert {s["name"] for s in galley.ls("--all")} >= {"live", "quick"}
    galley.fail("ls", "--state", "bogus", code=2, match="unknown state")
    table = galley.ok("ls").stdout
    assert "live" in table and "working" in table


def test_peek_live_and_ended(galley):
    galley.new("say first line; ask what now?", name="pk")
    galley.wait_state("pk", "blocked")
    out = galley.ok("peek", "pk").stdout
    assert "first line" in out and "blocked" in out
    j = galley.json("peek", "pk")
    assert "first line" in j["screen"] and j["session"]["name"] == "pk"
    galley.ok("send", "pk", "nothing")
    galley.wait_state("pk", "idle")  # turn over: a typed line is a script
    galley.ok("send", "pk", "exit 0")
    galley.wait_state("pk", "done")
    assert "first line" in galley.ok("peek", "pk").stdout
    galley.fail("peek", "nosuch", code=3)


def test_send_reaches_agent_and_refuses_ended(galley):
    galley.new("ask name?; say hello NAME; exit 0", name="sd")
    s = galley.wait_state("sd", "blocked")
    assert s["waiting_for"] == "input: name?"
    galley.ok("send", "sd", "alice")
    galley.wait_state("sd", "done")
    assert "got it: alice" in galley.ok("logs", "sd").stdout
    galley.fail("send", "sd", "more", code=1, match="not running")


def test_logs_raw_plain_follow(galley):
    galley.exec("sh", "-c", "printf '\\033[31mred\\033[0m\\n'; sleep 0.3; "
                "echo after", name="lg")
    p = galley.run("logs", "-f", "lg", timeout=20)
    assert p.returncode == 0
    assert "red" in p.stdout and "\x1b[" not in p.stdout
    assert "after" in p.stdout
    raw = galley.ok("logs", "--raw", "lg").stdout
    assert "\x1b[31m" in raw
    j = galley.json("logs", "lg")
    assert "after" in j["log"]


def test_wait_states_and_timeout(galley):
    galley.new("ask q?", name="w1")
    galley.ok("wait", "w1", "--state", "blocked", "--timeout", "20")
    galley.ok("wait", "w1", "--state", "any", "--timeout", "20")
    p = galley.fail("wait", "w1", "--timeout", "0.3", code=1,
                    match="timed out")
    galley.exec("sh", "-c", "exit 2", name="w2")
    galley.fail("wait", "w2", "--timeout", "20", code=1)
    galley.exec("true", name="w3")
    galley.ok("wait", "w3", "--timeout", "20")
    galley.fail("wait", "w2", "--state", "blocked", code=1, match="ended")
    galley.fail("wait", "w1", "--state", "later", code=2)


def test_stop_kills_process_group_after_grace(galley):
    # the shell ignores TERM: only the KILL after the grace ends it
    galley.exec("sh", "-c", "trap '' TERM; sleep 300 & sleep 301 & wait",
                name="st")
    s = galley.wait_state("st", "working")
    poll(lambda: len(children(s["pid"])) >= 2, 10, what="sleeps")
    kids = children(s["pid"])
    galley.ok("stop", "st", "--grace", "0.5")
    s = galley.get("st")
    assert s["state"] == "stopped"
    assert s["reason"] == "stopped by user"
    for k in kids + [s["pid"]]:
        poll(lambda: not pid_alive(k), 5, what=f"pid {k} gone")
    galley.fail("stop", "st", code=1, match="not running")


def children(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and int(d) != pgid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def test_restart_ended_and_running(galley, tmp_path):
    marker = tmp_path / "runs"
    galley.exec("sh", "-c", f"echo x >> {marker}", name="rs")
    s1 = galley.wait_state("rs", "done")
    galley.ok("restart", "rs")
    s2 = galley.wait_state("rs", "done")
    assert s2["id"] == s1["id"]
    assert marker.read_text().count("x") == 2
    galley.exec("sleep", "300", name="rr")
    old = galley.wait_state("rr", "working")
    galley.ok("restart", "rr")
    new = galley.wait_state("rr", "working")
    assert new["host_pid"] != old["host_pid"]
    poll(lambda: not pid_alive(old["pid"]), 10, what="old child gone")


def test_rm_refuses_running_then_force(galley):
    galley.exec("sleep", "300", name="rm1")
    s = galley.wait_state("rm1", "working")
    galley.fail("rm", "rm1", code=4, match="--force")
    assert pid_alive(s["pid"])
    galley.ok("rm", "--force", "rm1")
    poll(lambda: not pid_alive(s["pid"]), 10, what="child gone")
    assert not os.path.exists(s["dir"])
    galley.fail("get", "rm1", code=3)
    galley.fail("rm", "rm1", code=3)


def test_pin_rename_and_resolution(galley):
    galley.exec("sleep", "300", name="p1")
    s = galley.wait_state("p1", "working")
    assert galley.json("pin", "p1")["pinned"] is True
    assert galley.get("p1")["pinned"] is True
    assert galley.json("unpin", "p1")["pinned"] is False
    galley.fail("rename", "p1", "bad/name", code=2)
    galley.exec("sleep", "300", name="p2")
    galley.wait_state("p2", "working")
    galley.fail("rename", "p1", "p2", code=1, match="already named")
    galley.ok("rename", "p1", "renamed")
    assert galley.get("renamed")["id"] == s["id"]
    assert galley.get(s["id"][:6])["id"] == s["id"]  # unique prefix


def test_ambiguous_prefix(galley):
    ids = []
    # 17 sessions: two of them must share a first hex digit
    for i in range(17):
        ids.append(galley.exec("true", name=f"amb{i}")["id"])
    firsts = [i[0] for i in ids]
    dup = next(c for c in firsts if firsts.count(c) > 1)
    p = galley.fail("get", dup, code=2, match="ambiguous")
    assert "could be" in p.stderr


def test_help_version_and_unknown(galley):
    p = galley.ok("--help")
    verbs = re.findall(r"^  (\w[\w-]*)\s", p.stdout, re.M)
    assert {"new", "exec", "ls", "peek", "send", "attach", "logs", "wait",
            "stop", "restart", "rm", "pin", "unpin", "rename", "config",
            "doctor", "daemon"} <= set(verbs)
    for v in verbs:
        h = galley.ok(v, "--help").stdout
        assert h.startswith(f"usage: galley {v}"), v
    assert galley.ok("--version").stdout.startswith("galley ")
    galley.fail("frobnicate", code=2, match="unknown command")


def test_events_record_every_change(galley):
    galley.new("ask q?; exit 0", name="ev")
    galley.wait_state("ev", "blocked")
    galley.ok("send", "ev", "a")
    galley.wait_state("ev", "done")
    evs = galley.json("events", "ev")
    states = [e["data"]["state"] for e in evs if e["kind"] == "state"]
    assert states == ["queued", "starting", "working", "blocked", "working",
                      "done"]
    kinds = {e["kind"] for e in evs}
    assert {"hook.SessionStart", "hook.Notification",
            "hook.UserPromptSubmit", "hook.SessionEnd"} <= kinds


def test_fake_agent_permission_and_usage(galley, tmp_path):
    galley.new("permission Bash rm -rf build; write out.txt made; "
               "usage 1000 200 claude-sonnet-4-5; exit 0", name="pm",
               cwd=tmp_path)
    s = galley.wait_state("pm", "blocked")
    assert s["waiting_for"] == "permission: Bash(rm -rf build)"
    galley.ok("send", "pm", "1")
    s = galley.wait_state("pm", "done")
    assert (tmp_path / "out.txt").read_text().strip() == "made"
    assert s["usage"]["input_tokens"] == 1000
    assert s["usage"]["output_tokens"] == 200
    assert abs(s["usage"]["cost_usd"] - 0.006) < 1e-9


def test_doctor(galley):
    j = galley.json("doctor")
    checks = {c["check"]: c["status"] for c in j["checks"]}
    assert checks["daemon"] == "ok" and checks["store"] == "ok"
    assert j["ok"] is True
