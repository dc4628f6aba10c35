#!/usr/bin/python3
"""Conflict latency (issue 14, item 21): with 10 live worktree sessions in
a 10,000-file repo, the time from the second of two conflicting edits to
`conflicts_with` appearing on the session that made it. Goal: under 2 s.
The anchor is the turn-end check it replaced: without the per-edit check
the conflict is seen only when a turn ends, here never (the agents go on
thinking). Reports only; never asserts on timing. Cleans up what it
starts."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import finish, run
from worktree import make_repo

ROOT = Path(__file__).resolve().parents[1]


def get(galley, env, ref):
    p = subprocess.run([galley, "get", "--json", ref], env=env,
                       capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else {}


def wait(galley, env, ref, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = get(galley, env, ref)
        if s and pred(s):
            return s
        time.sleep(0.01)
    raise SystemExit(f"bench: {ref} never got there: {s}")


def one_round(galley, env, repo, i):
    """Two agents: one has edited hot{i}.txt; the other edits it at t0."""
    a, b = f"a{i}", f"b{i}"
    run([galley, "new", "-r", "fake", "-w", a,
         f"write hot{i}.txt from-a; think 600"], repo, env)
    run([galley, "new", "-r", "fake", "-w", b, "say ready"], repo, env)
    wait(galley, env, b, lambda s: s["state"] == "idle")
    wait(galley, env, a, lambda s: s["state"] == "working")
    time.sleep(1)  # a's own check settles first
    t0 = time.monotonic()
    run([galley, "send", b, f"write hot{i}.txt from-b; think 600"], repo,
        env)
    wait(galley, env, b, lambda s: s["conflicts_with"])
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--live", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    galley = os.path.abspath(args.galley)
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-conflict-"))
    env = dict(os.environ, HOME=str(tmp), GALLEY_HOME=str(tmp / "g"),
               GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b",
               GIT_AUTHOR_EMAIL="b@example.com", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@example.com")
    try:
        repo = tmp / "repo"
        make_repo(repo, args.files, env)
        # the others: live worktree sessions each with a change of its own
        others = max(0, args.live - 2)
        for k in range(others):
            run([galley, "new", "-r", "fake", "-w", f"live{k}",
                 f"write own{k}.txt x; think 600"], repo, env)
        for k in range(others):
            wait(galley, env, f"live{k}", lambda s: s["state"] == "working")
        times = []
        for i in range(args.runs):
            times.append(one_round(galley, env, repo, i))
            # keep 10 live: the pair leaves before the next round
            subprocess.run([galley, "rm", "--force", f"a{i}", f"b{i}"],
                           cwd=repo, env=env, capture_output=True)
        med = statistics.median(times)
        print(f"conflict seen after the second edit, {args.files} files, "
              f"{args.live} live worktrees: median {med:.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s "
              f"({med / 2.0:.2f}x the 2 s goal); turn-end check only: "
              f"never while the agents work")
    finally:
        finish(galley, env, tmp)


if __name__ == "__main__":
    sys.exit(main())
