#!/usr/bin/python3
"""Scale on one machine (issue 20, part 4): 1,000 live sessions (900 jobs
and 100 fake agents blocked on a question), then:

* host memory: PSS per host (smaps_rollup), mean and sum;
* the daemon: RSS, open fds against its soft limit;
* `ls --json` time (median of 10, and the daemon's part of it);
* state-change latency to a subscriber: a client subscribed as the agent
  view is (the daemon's event stream) while the 100 agents are answered
  and 200 jobs stopped; for each session.state event, the time from the
  daemon's change (the session's updated_ms) to the frame reaching this
  script; p50, p99 (goal <= 50 ms at p99);
* the agent view's repaint with 1,000 sessions (bench/view.py
  --sessions 1000, run after, in its own GALLEY_HOME).
Reports only; never asserts on timing. Cleans up everything it starts."""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import finish, run

ROOT = Path(__file__).resolve().parents[1]


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def frame(obj):
    b = json.dumps(obj).encode()
    return len(b).to_bytes(4, "big") + b


def subscribe(path):
    """A raw client of the daemon: hello, then subscribe."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.sendall(frame({"hello": "galley", "protocol": 1}))
    s.sendall(frame({"id": 1, "cmd": "subscribe"}))
    return s


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--jobs", type=int, default=900)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--no-view", action="store_true")
    args = ap.parse_args()
    g = args.galley
    tmp = Path(tempfile.mkdtemp(prefix="gbench-scale-"))
    env = dict(os.environ, GALLEY_HOME=str(tmp / "gh"), HOME=str(tmp))
    for k in ("TMUX", "GALLEY_SESSION", "GALLEY_HOOK_TOKEN"):
        env.pop(k, None)
    run([g, "config", "set", "limits.maxRunning", "2000"], None, env)
    n = args.jobs + args.agents
    print(f"scale: starting {args.jobs} jobs and {args.agents} fake agents",
          file=sys.stderr)
    t0 = time.monotonic()
    lat = []
    try:
        for i in range(args.jobs):
            run([g, "exec", "-n", f"job{i}", "--", "sleep", "3600"], None,
                env)
        for i in range(args.agents):
            run([g, "new", "--runtime", "fake", "-n", f"agent{i}",
                 "ask go on?; say done"], None, env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ls = json.loads(run([g, "ls", "--json"], None, env).stdout)
            blocked = sum(s["state"] == "blocked" for s in ls)
            working = sum(s["state"] == "working" for s in ls)
            if blocked == args.agents and working == args.jobs:
                break
            time.sleep(0.5)
        started = time.monotonic() - t0
        st = json.loads(run([g, "daemon", "status", "--json"], None,
                            env).stdout)
        dpid = st["pid"]
        hosts = [s["host_pid"] for s in ls if s.get("host_pid")]
        pss = [p for p in (pss_kb(h) for h in hosts) if p is not None]
        rss = status_kb(dpid, "VmRSS")
        fds = len(os.listdir(f"/proc/{dpid}/fd"))
        limit = soft_nofile(dpid)
        lst = []
        for _ in range(10):
            a = time.monotonic()
            run([g, "ls", "--json"], None, env)
            lst.append(time.monotonic() - a)
        # a subscriber (the agent view's stream), then 300 state changes
        sock = subscribe(Path(env["GALLEY_HOME"]) / "run" / "sock")
        stop = threading.Event()

        def reader():
            buf = b""
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    chunk = sock.recv(1 << 16)
                except OSError:
                    continue
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 4:
                    ln = int.from_bytes(buf[:4], "big")
                    if len(buf) < 4 + ln:
                        break
                    m = json.loads(buf[4:4 + ln])
                    buf = buf[4 + ln:]
                    if m.get("event") == "session.state":
                        lat.append(time.time() * 1000 -
                                   m["session"]["updated_ms"])
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        for i in range(args.agents):
            run([g, "send", f"agent{i}", "yes"], None, env)
        for i in range(0, min(200, args.jobs)):
            run([g, "stop", f"job{i}"], None, env)
        time.sleep(3)
        stop.set()
        th.join(timeout=5)
        sock.close()
    finally:
        finish(g, env, tmp)
    view = ""
    if not args.no_view:
        p = subprocess.run([sys.executable, str(ROOT / "bench" / "view.py"),
                            "--galley", g, "--sessions", "1000",
                            "--idle", "3"], capture_output=True, text=True)
        view = "\n".join(l for l in p.stdout.splitlines()
                         if l.startswith("  ") and "summary" not in l)
    print("summary:")
    print(f"  scale {n} live sessions ({args.jobs} jobs, {args.agents} "
          f"agents): all live in {started:.0f} s")
    if pss:
        print(f"  hosts: PSS mean {statistics.mean(pss):.0f} kB, sum "
              f"{sum(pss) / 1024:.0f} MB over {len(pss)} hosts")
    print(f"  daemon: RSS {rss / 1024:.1f} MB, {fds} fds of a soft limit "
          f"of {limit}")
    print(f"  ls --json {n} sessions: median {statistics.median(lst) * 1000:.0f}"
          f" ms, max {max(lst) * 1000:.0f} ms")
    if lat:
        print(f"  state change -> subscriber: p50 {pct(lat, 50):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms over "
              f"{len(lat)} changes (goal p99 <= 50 ms) "
              f"[{'met' if pct(lat, 99) <= 50 else 'MISSED'}]")
    if view:
        print("  view (bench/view.py --sessions 1000):")
        print(view)
    return 0


if __name__ == "__main__":
    sys.exit(main())
