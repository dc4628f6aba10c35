"""The daemon may die; sessions may not. Adoption, lost hosts, reboots and
racing starts."""
import json
import os
import signal
import subprocess
import time

from conftest import pid_alive, poll, scaled

GEN = ("i=0; while [ $i -lt {n} ]; do echo \"line $i of {tag}\"; "
       "i=$((i+1)); done; {tail}; exit {code}")


def expected(n, tag):
    return "".join(f"line {i} of {tag}\n" for i in range(n))


def daemons_of(galley):
    """pids of `galley daemon run` processes using this GALLEY_HOME."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            if cmd[1:3] != [b"daemon", b"run"]:
                continue
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            if f"GALLEY_HOME={galley.ghome}".encode() in env:
                out.append(int(d))
        except (OSError, IndexError):
            pass
    return out


def test_racing_clis_start_one_daemon(galley):
    env = dict(galley.env)
    procs = [subprocess.Popen([galley.bin, "ls", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(20)]
    for p in procs:
        out, err = p.communicate(timeout=scaled(30))
        assert p.returncode == 0, err
        assert json.loads(out) == []
    pids = daemons_of(galley)
    assert len(pids) == 1, pids
    assert galley.daemon_pid() == pids[0]


def test_status_and_stop_leaves_sessions(galley):
    galley.new("ask q?", name="keep")
    s = galley.wait_state("keep", "blocked")
    st = galley.json("daemon", "status")
    for k in ("running", "pid", "socket", "version", "protocol",
              "sessions", "uptime_s"):
        assert k in st
    assert st["running"] is True and st["sessions"] == 1
    old = st["pid"]
    galley.ok("daemon", "stop")
    poll(lambda: not pid_alive(old), 10, what="daemon gone")
    p = galley.run("daemon", "status", "--json")
    assert p.returncode == 5 and json.loads(p.stdout)["running"] is False
    assert pid_alive(s["host_pid"]) and pid_alive(s["pid"])
    # the next call starts a daemon that adopts the session
    s2 = galley.get("keep")
    assert s2["state"] == "blocked" and galley.daemon_pid() != old
    galley.ok("send", "keep", "x")
    galley.ok("send", "keep", "exit 0")
    galley.wait_state("keep", "done")


def test_kill9_daemon_while_20_sessions_write(galley):
    n = 20
    sessions = []
    for k in range(n):
        # half finish while the daemon is dead, half keep running
        tail = "sleep 0.2" if k % 2 == 0 else "sleep 3"
        cmd = GEN.format(n=2000, tag=f"s{k}", tail=tail, code=k % 7)
        sessions.append(galley.exec("sh", "-c", cmd, name=f"gen{k}"))
    dpid = galley.daemon_pid()
    os.kill(dpid, signal.SIGKILL)
    poll(lambda: not pid_alive(dpid), 5, what="daemon dead")
    # the even ones end with the daemon down
    for k in range(0, n, 2):
        poll(lambda: (galley.ghome / "state" / "sessions" /
                      sessions[k]["id"] / "exit").exists(), 20,
             what=f"gen{k} exit file")
    for s in sessions:
        assert pid_alive(s["host_pid"]) or \
            (galley.ghome / "state/sessions" / s["id"] / "exit").exists()
    # any call starts a new daemon, which adopts or records every one
    listed = {s["name"]: s for s in galley.ls("--all")}
    for k in range(0, n, 2):
        s = listed[f"gen{k}"]
        want = "done" if k % 7 == 0 else "failed"
        assert s["state"] == want, (k, s)
        assert s["exit_code"] == k % 7
    for k in range(1, n, 2):
        # adoption is asynchronous: its status may not be in yet
        assert listed[f"gen{k}"]["state"] in ("starting", "working", "done",
                                               "failed")
    for k in range(n):
        galley.wait_state(f"gen{k}", ("done", "failed"), timeout=20)
        s = galley.get(f"gen{k}")
        assert s["exit_code"] == k % 7
        log = (galley.ghome / "state/sessions" / s["id"] /
               "output.log").read_bytes().decode()
        assert log.replace("\r\n", "\n") == expected(2000, f"s{k}"), k


def test_host_killed_is_failed_host_lost(galley):
    galley.exec("sleep", "300", name="hk")
    s = galley.wait_state("hk", "working")
    os.kill(s["host_pid"], signal.SIGKILL)
    s = galley.wait_state("hk", "failed")
    assert s["reason"] == "host lost"
    poll(lambda: not pid_alive(s["pid"]), 10, what="orphan child gone")


def test_reboot_marks_interrupted_and_restart(galley):
    galley.exec("sleep", "300", name="rb")
    s = galley.wait_state("rb", "working")
    galley.ok("daemon", "stop")
    # a reboot: every process gone, then a new boot id
    os.killpg(s["pid"], signal.SIGKILL)
    os.kill(s["host_pid"], signal.SIGKILL)
    poll(lambda: not pid_alive(s["host_pid"]), 5, what="host gone")
    galley.env["GALLEY_BOOT_ID"] = "another-boot"
    s = galley.wait_state("rb", "interrupted")
    assert "rebooted" in s["reason"]
    galley.ok("restart", "rb")
    s2 = galley.wait_state("rb", "working")
    assert s2["host_pid"] != s["host_pid"] and pid_alive(s2["host_pid"])


def test_exit_while_daemon_down_is_recorded(galley):
    galley.new("ask q?", name="dn")
    galley.wait_state("dn", "blocked")
    galley.exec("sh", "-c", "sleep 0.5; exit 9", name="late")
    galley.ok("daemon", "stop")
    poll(lambda: (galley.ghome / "state/sessions" /
                  galley_id(galley, "late") / "exit").exists(), 10,
         what="exit file")
    s = galley.get("late")
    assert s["state"] == "failed" and s["exit_code"] == 9


def galley_id(galley, name):
    import sqlite3
    con = sqlite3.connect(str(galley.ghome / "state" / "galley.db"))
    try:
        return con.execute("SELECT id FROM sessions WHERE name = ?",
                           (name,)).fetchone()[0]
    finally:
        con.close()
