"""A frozen daemon (issue 20, part 3): hooks must not hang the agent.
Each `galley hook` waits GALLEY_HOOK_TIMEOUT_MS for its answer, leaves
its request in state/hooks/ and lets the agent go on; once the daemon
runs again, every hook is applied once (from the spool or from the
socket it was queued on), and nothing is lost.

The daemon is stopped here until the agent has finished (a few seconds:
its hooks give up after 300 ms each), not for the 30 s of the issue
(make soak freezes it 30 s): the length of the freeze beyond that
changes nothing that is checked."""
import json
import os
import signal
import subprocess
import time

from conftest import poll, scaled


def test_a_frozen_daemon_does_not_hang_hooks_and_loses_none(galley):
    galley.env["GALLEY_HOOK_TIMEOUT_MS"] = "300"
    steps = ["usage 100 10"] + ["run true"] * 12 + ["usage 50 5", "exit 0"]
    galley.new("; ".join(steps), name="frozen")
    s = galley.wait_state("frozen", ("working", "idle", "done"), timeout=20)
    d = galley.daemon_pid()
    os.kill(d, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        # the agent (its pid) ends on its own while the daemon is frozen:
        # every hook gave up after 300 ms instead of waiting
        def agent_gone():
            try:
                os.kill(s["pid"], 0)
                return False
            except ProcessLookupError:
                return True
        poll(agent_gone, scaled(30) - 1, what="the agent to finish")
        took = time.monotonic() - stopped
        spool = galley.ghome / "state" / "hooks"
        kept = list(spool.glob("*.json")) if spool.exists() else []
        assert kept, "no hook was spooled while the daemon was frozen"
    finally:
        os.kill(d, signal.SIGCONT)
    assert took < scaled(30)
    galley.wait_state("frozen", "done", timeout=30)
    poll(lambda: not list((galley.ghome / "state" / "hooks").glob("*.json")),
         10, what="the spool emptied")
    done = galley.get("frozen")
    assert done["exit_code"] == 0
    # every hook applied, and once: the 12 PreToolUse (a PreToolUse that
    # got no answer held its tool call back: exit 2, as claude takes it,
    # so fewer tools ran and fewer PostToolUse came), one start, one end
    ev = galley.json("events", "frozen", "--limit", "1000")
    kinds = [e["kind"] for e in (ev if isinstance(ev, list)
                                 else ev["events"])]
    assert kinds.count("hook.PreToolUse") == 12, kinds
    assert kinds.count("hook.PostToolUse") < 12, kinds
    for once in ("hook.SessionStart", "hook.UserPromptSubmit",
                 "hook.SessionEnd"):
        assert kinds.count(once) == 1, (once, kinds)
    # the usage both turns reported, counted once
    assert done["usage"]["input_tokens"] == 150
    assert done["usage"]["output_tokens"] == 15


def test_a_hook_spooled_while_the_daemon_is_down_is_applied_at_start(
        galley):
    galley.new("ask ready?", name="asker")
    s = galley.wait_state("asker", "blocked", timeout=20)
    tok = None
    with open(f"/proc/{s['pid']}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0")
                   if b"=" in kv)
    tok = env[b"GALLEY_HOOK_TOKEN"].decode()
    galley.ok("daemon", "stop")
    # a hook of this session while no daemon runs (written by hand here,
    # with an old time: test_a_hook_never_starts_the_daemon runs the
    # real `galley hook`)
    spool = galley.ghome / "state" / "hooks"
    spool.mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time() * 1000) - 60000:015d}-1-0-abcdef12.json"
    req = {"cmd": "hook", "session": s["id"], "token": tok,
           "event": "Notification", "spool": name,
           "payload": {"hook_event_name": "Notification",
                       "notification_type": "elicitation_dialog",
                       "message": "spooled question"}}
    (spool / name).write_text(json.dumps(req))
    got = galley.get("asker")  # starts the daemon: it replays the spool
    poll(lambda: "spooled question" in (galley.get("asker")
                                        ["waiting_for"] or ""),
         10, what="the spooled hook applied")
    assert not (spool / name).exists()
    # a forged one (bad token) is dropped, not applied
    bad = f"{int(time.time() * 1000) - 60000:015d}-1-1-abcdef13.json"
    req["token"] = "x" * len(tok)
    req["spool"] = bad
    req["payload"]["message"] = "forged"
    (spool / bad).write_text(json.dumps(req))
    poll(lambda: not (spool / bad).exists(), 10, what="the forged one gone")
    assert "forged" not in (galley.get("asker")["waiting_for"] or "")
    galley.ok("stop", "asker")


def session_env(galley, s):
    with open(f"/proc/{s['pid']}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0")
                   if b"=" in kv)
    return {k: env[k.encode()].decode()
            for k in ("GALLEY_SESSION", "GALLEY_HOOK_TOKEN")}


def test_a_hook_never_starts_the_daemon(galley):
    """A daemon started by a hook would carry the agent's environment and
    sandbox into every session it starts: a hook spools and goes; a tool
    call waits its timeout for a daemon, then is held back (exit 2)."""
    galley.new("ask ready?", name="asker")
    s = galley.wait_state("asker", "blocked", timeout=20)
    env = dict(session_env(galley, s), GALLEY_HOOK_TIMEOUT_MS="400")
    galley.ok("daemon", "stop")
    note = json.dumps({"hook_event_name": "Notification",
                       "notification_type": "elicitation_dialog",
                       "message": "asked while down"})
    p = galley.run("hook", "Notification", input=note, env=env, check=0)
    assert galley.daemon_pid() is None
    tool = json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Bash",
                       "tool_input": {"command": "true"}})
    p = galley.run("hook", "PreToolUse", input=tool, env=env, check=2)
    assert "not running" in p.stderr and "held back" in p.stderr, p.stderr
    assert galley.daemon_pid() is None
    # nor does any other galley command run inside the session
    galley.fail("ls", env=env, code=5, match="does not start it")
    assert galley.daemon_pid() is None
    # a tool call that comes while the daemon is down is let through by a
    # daemon that starts before its timeout (an upgrade's restart)
    env["GALLEY_HOOK_TIMEOUT_MS"] = str(int(scaled(20) * 1000))
    hook = subprocess.Popen([galley.bin, "hook", "PreToolUse"],
                            env=dict(galley.env, **env), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    galley.pids.add(hook.pid)
    hook.stdin.write(tool)
    hook.stdin.close()
    galley.ok("ls")  # from outside: starts the daemon
    assert hook.wait(timeout=scaled(20)) == 0, hook.stderr.read()
    # what was spooled while it was down is applied by it, once: the
    # Notification, and the held tool call (claude would ask again)

    def kinds():
        ev = galley.json("events", "asker", "--limit", "1000")
        return [e["kind"] for e in (ev if isinstance(ev, list)
                                    else ev["events"])]
    poll(lambda: kinds().count("hook.PreToolUse") == 2, 10,
         what="the spooled hooks applied")
    assert kinds().count("hook.Notification") == 2  # the ask, and ours
    galley.ok("stop", "asker")
