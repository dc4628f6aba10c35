#!/usr/bin/python3
"""Agent view benchmark (issue 7): repaint latency after a state change,
and the CPU an idle view uses with 500 sessions.

The view runs on a real PTY (200x60); a change is made from another
process (`galley rename`), and the time until the new name reaches the
terminal is measured. Reports; never asserts. Everything runs under a temp
GALLEY_HOME/HOME; every process started is killed at the end."""
import argparse
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from common import kill_marked

ROOT = Path(__file__).resolve().parents[1]
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def drain(fd, until=None, timeout=5.0):
    """Read the PTY; return the time `until` was seen (or None)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return None
            buf += chunk
            if until and until in buf:
                return time.monotonic()
        elif until is None:
            return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--idle", type=float, default=10.0)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gbench-view-"))
    env = dict(os.environ, GALLEY_HOME=str(tmp / "g"), HOME=str(tmp),
               TERM="xterm-256color", LANG="C.UTF-8")
    g = a.galley
    pid = None
    try:
        for i in range(a.sessions):
            subprocess.run([g, "exec", "-n", f"job{i}", "--", "true"],
                           env=env, check=True, capture_output=True)
        subprocess.run([g, "new", "-r", "fake", "-n", "target",
                        "think 600"], env=env, check=True,
                       capture_output=True)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(g, [g, "view"], env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200,
                                                        0, 0))
        os.kill(pid, signal.SIGWINCH)
        if drain(fd, b"galley", 10) is None:
            raise SystemExit("view bench: the view did not start")
        drain(fd, None, 1.0)
        # repaint latency: a rename from another process until the new
        # name is on the terminal (the target row is selected: it is the
        # only working session, and the list starts at the top)
        lat, rtt = [], []
        prev = "target"
        for k in range(a.changes):
            # every character differs from the last name: curses sends
            # only changed cells, so the whole name must change to be seen
            name = "abcdefghijklmnopqrstuvwxyz"[k % 26] * 12
            t0 = time.monotonic()
            subprocess.run([g, "rename", prev, name], env=env, check=True,
                           capture_output=True)
            prev = name
            t1 = time.monotonic()
            seen = drain(fd, name.encode(), 5)
            if seen is not None:
                lat.append(seen - t0)
                rtt.append(t1 - t0)
            drain(fd, None, 0.1)
        # idle CPU over a quiet interval (ages older than a minute do
        # not tick every second, so let a minute pass first only if asked)
        drain(fd, None, 0.5)
        c0, w0 = cpu_ticks(pid), time.monotonic()
        end = w0 + a.idle
        while time.monotonic() < end:
            drain(fd, None, 0.2)
        c1, w1 = cpu_ticks(pid), time.monotonic()
        cpu = (c1 - c0) / HZ / (w1 - w0) * 100
        os.write(fd, b"q")
        drain(fd, None, 0.5)
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        subprocess.run([g, "daemon", "stop"], env=env, capture_output=True)
        kill_marked(f"GALLEY_HOME={tmp / 'g'}")
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median(lat) * 1000
    p90 = sorted(lat)[int(len(lat) * 0.9) - 1] * 1000
    print(f"view: {a.sessions + 1} sessions, 200x60")
    print(f"  repaint after a change: median {med:.1f} ms, p90 {p90:.1f} ms "
          f"(of which the rename command itself "
          f"{statistics.median(rtt) * 1000:.1f} ms); goal <=50 ms")
    print(f"  idle CPU over {a.idle:.0f} s: {cpu:.2f}%")
    print("summary:")
    print(f"  view: repaint {med:.1f} ms median (p90 {p90:.1f}) after a "
          f"state change from another process, {a.sessions + 1} sessions; "
          f"idle CPU {cpu:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
