#!/usr/bin/python3
"""Claude runtime benchmark (issue 6): time from `galley new` to the first
API request at the fake Messages API, against `claude --bg` (Claude Code's
own background mode) on the same fake server in the same run; and the RSS
of a claude session with galley's overhead on top of it (its host, and the
daemon's share).

Needs the pinned CLI (scripts/claude-install.sh). Reports; never asserts.
Everything runs under a temp HOME/GALLEY_HOME; every process whose
environment carries this run's token is killed at the end."""
import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from fakeapi import FakeAPI  # noqa: E402

from common import marked  # noqa: E402

KEY = "dummy-key-0123456789abcdefghij"
MARK = "GALLEY_CLAUDE_BENCH"


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    """pid and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def ours(token):
    return marked(f"{MARK}={token}")


def first_request(fake, marker, t0, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in fake.requests:
            if r["main"] and marker in json.dumps(r["body"]["messages"]):
                return r["time"] - t0
        time.sleep(0.005)
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--claude", default=os.environ.get("GALLEY_CLAUDE") or
                    str(ROOT / ".cache/claude/node_modules/.bin/claude"))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not os.access(a.claude, os.X_OK):
        print(f"claude bench: skipped: no claude at {a.claude} "
              "(scripts/claude-install.sh)")
        return 0
    token = secrets.token_hex(8)
    tmp = Path(tempfile.mkdtemp(prefix="gbench-claude-"))
    fake = FakeAPI().start()
    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
        "projects": {str(work): {"hasTrustDialogAccepted": True}}}))
    # claude --bg runs the agent in workers of its own daemon, which do
    # not see the caller's ANTHROPIC_BASE_URL: give it through settings
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"env": {
        "ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}}))
    env = dict(os.environ, HOME=str(home), GALLEY_HOME=str(tmp / "g"),
               PATH=f"{Path(a.claude).parent}:{os.environ['PATH']}",
               ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY=KEY,
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
               CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL="1",
               CLAUDE_CODE_MAX_RETRIES="0", TMPDIR=str(tmp), **{MARK: token})
    g_t, c_t, rss = [], [], {}
    try:
        subprocess.run([a.galley, "ls"], env=env, capture_output=True)
        for i in range(a.runs):
            m = f"galley-run-{i}-{token}"
            t0 = time.time()
            subprocess.run([a.galley, "new", "--runtime", "claude", "-n",
                            f"b{i}", f"SAY {m}"], env=env, cwd=work,
                           check=True, capture_output=True)
            g_t.append(first_request(fake, m, t0))
            m = f"bg-run-{i}-{token}"
            t0 = time.time()
            subprocess.run([a.claude, "--bg", f"SAY {m}"], env=env, cwd=work,
                           check=True, capture_output=True)
            c_t.append(first_request(fake, m, t0))
        time.sleep(2)
        sessions = json.loads(subprocess.run(
            [a.galley, "ls", "--json"], env=env, capture_output=True,
            text=True).stdout)
        claude_kb = [sum(rss_kb(p) for p in tree(s["pid"]))
                     for s in sessions if s.get("pid")]
        host_kb = [rss_kb(s["host_pid"]) for s in sessions
                   if s.get("host_pid")]
        st = json.loads(subprocess.run(
            [a.galley, "daemon", "status", "--json"], env=env,
            capture_output=True, text=True).stdout)
        rss = {"claude_mb": statistics.mean(claude_kb) / 1024,
               "host_mb": statistics.mean(host_kb) / 1024,
               "daemon_share_mb": rss_kb(st["pid"]) / 1024 / len(sessions)}
    finally:
        subprocess.run([a.galley, "daemon", "stop"], env=env,
                       capture_output=True)
        for _ in range(3):
            for pid in ours(token):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(xs):
        return (f"first {xs[0] * 1000:.0f} ms, then median "
                f"{statistics.median(xs[1:]) * 1000:.0f} ms"
                if len(xs) > 1 else f"{xs[0] * 1000:.0f} ms")
    warm_g = statistics.median(g_t[1:] or g_t)
    warm_c = statistics.median(c_t[1:] or c_t)
    print("claude: time from the command to the first API request, "
          f"{a.runs} runs")
    print(f"  galley new --runtime claude  {fmt(g_t)}")
    print(f"  claude --bg                  {fmt(c_t)}")
    print(f"  ratio (warm medians)         {warm_g / warm_c:.2f}x")
    print(f"claude RSS per session {rss['claude_mb']:.0f} MB; galley on top: "
          f"host {rss['host_mb']:.2f} MB + daemon share "
          f"{rss['daemon_share_mb']:.2f} MB "
          f"({(rss['host_mb'] + rss['daemon_share_mb']) / rss['claude_mb'] * 100:.1f}%)")
    print("summary:")
    print(f"  claude: new -> first request {warm_g * 1000:.0f} ms vs claude "
          f"--bg {warm_c * 1000:.0f} ms ({warm_g / warm_c:.2f}x); RSS "
          f"{rss['claude_mb']:.0f} MB per session, galley overhead "
          f"{rss['host_mb'] + rss['daemon_share_mb']:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
