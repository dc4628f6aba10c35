"""What the benchmark scripts share: finding the processes a run started
by a mark in their environment (every process galley starts inherits the
run's GALLEY_HOME, or a token of the run's own), so none is left behind."""
import os
import shutil
import signal
import subprocess
import time


def marked(entry):
    """The pids, other than ours, whose environment holds `entry`
    ("KEY=VALUE")."""
    needle = entry.encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    out.append(int(d))
        except OSError:
            pass
    return out


def kill_marked(entry, timeout=10.0):
    """SIGKILL every marked process until none is left (a dying host may
    still start one), for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = marked(entry)
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.1)


def run(cmd, cwd, env, check=True):
    """A command's result; a failure ends the benchmark when check."""
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, cmd))}: {p.stderr}")
    return p


def wait(pred, timeout=60):
    """When pred() first held (time.monotonic()), polled every 5 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(0.005)
    raise SystemExit("bench: timed out")


def finish(galley, env, tmp):
    """Stop the run's daemon, end every process it left, remove tmp."""
    subprocess.run([galley, "daemon", "stop"], env=env, capture_output=True)
    kill_marked(f"GALLEY_HOME={env['GALLEY_HOME']}")
    shutil.rmtree(tmp, ignore_errors=True)
