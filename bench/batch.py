#!/usr/bin/python3
"""Batch benchmark (issue 17): in a 10,000-file repository, a batch of 30
fake workers (`galley batch --plan FILE -r fake --yes`), from approval to
all 30 workers at work, with a warm pool of 30 and without one; the time
the worktrees alone took (the batch records both); against 30 plain
`git worktree add` in the same run, one after another (what a script
does: in parallel they race on git's metadata) and at once.
Goals: approval to 30 running <=3 s and worktrees <=1 s with the pool;
without it, worktrees no slower than 30 plain adds.
Reports only; never asserts on timing. Cleans up everything it starts."""
import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import finish, run, wait
from worktree import make_repo

ROOT = Path(__file__).resolve().parents[1]


def plan(tmp, n):
    p = tmp / "plan.json"
    # each worker stays at work long enough to be seen running
    p.write_text(json.dumps({"instruction": "bench", "units": [
        {"title": f"unit {k}", "prompt": "think 60\nsay done",
         "files": [f"d{k:04d}/*"]} for k in range(n)]}))
    return p


def one_batch(galley, repo, env, p, n):
    """(approval to all n at work, worktrees alone), in seconds."""
    out = run([galley, "batch", "--bg", "--plan", str(p), "-r", "fake",
               "--yes"], repo, env).stdout.strip()
    batch = out.splitlines()[-1]

    def working():
        ls = json.loads(run([galley, "ls", "--json"], repo, env).stdout)
        mine = [s for s in ls if s.get("workflow") == batch and
                s["name"].startswith("batch.unit-") and
                s["state"] == "working"]
        return len(mine) == n
    wait(working, timeout=120)
    at = time.time()
    st = json.loads(run([galley, "batch", "--json", "status", batch], repo,
                        env, check=False).stdout)
    run([galley, "workflow", "stop", batch], repo, env)
    return at - st["approved_at"] / 1000, st["worktrees_ms"] / 1000


def plain_adds(repo, env, tmp, tag, parallel):
    def add(k):
        return run(["git", "worktree", "add", "-q", "-b", f"{tag}{k}",
                    str(tmp / f"{tag}{k}")], repo, env, check=False)
    t = time.monotonic()
    if parallel:
        with ThreadPoolExecutor(max_workers=30) as ex:
            done = list(ex.map(add, range(30)))
    else:
        done = [add(k) for k in range(30)]
    took = time.monotonic() - t
    return took, sum(p.returncode != 0 for p in done)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--files", type=int, default=10000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-batch-"))
    env = dict(os.environ, HOME=str(tmp / "home"),
               GALLEY_HOME=str(tmp / "g"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    (tmp / "home").mkdir()
    repo = tmp / "repo"
    try:
        make_repo(repo, args.files, env)
        p = plan(tmp, 30)
        seq, _ = plain_adds(repo, env, tmp, "seq", False)
        par, failed = plain_adds(repo, env, tmp, "par", True)
        run([args.galley, "config", "set", "--project", "worktree.pool",
             "30"], repo, env)
        run([args.galley, "worktree", "pool", "--fill"], repo, env)
        pool_all, pool_wt = one_batch(args.galley, repo, env, p, 30)

        # the pool's refill after the takes checks out 30 more: let it
        # end before the next batch is timed, then turn the pool off
        def full():
            st = json.loads(run([args.galley, "worktree", "pool", "--json"],
                                repo, env).stdout)
            return any(v == 30 for v in st.values())
        wait(full, timeout=300)
        run([args.galley, "config", "unset", "--project", "worktree.pool"],
            repo, env)
        cold_all, cold_wt = one_batch(args.galley, repo, env, p, 30)
    finally:
        finish(args.galley, env, tmp)
    print(f"batch of 30 workers, {args.files} files (seconds)")
    print(f"  warm pool: approval -> 30 at work {pool_all:6.3f}  "
          f"(goal 3), worktrees {pool_wt:6.3f} (goal 1)")
    print(f"  no pool:   approval -> 30 at work {cold_all:6.3f}  "
          f"worktrees {cold_wt:6.3f}")
    print(f"  anchor: 30 git worktree add one after another {seq:6.3f}, "
          f"at once {par:6.3f}" + (f" ({failed} failed: git's race)"
                                   if failed else ""))
    print(f"  ratios: pool worktrees / git x30 {pool_wt / seq:5.2f}, "
          f"no-pool worktrees / git x30 {cold_wt / seq:5.2f} (goal <=1)")


if __name__ == "__main__":
    sys.exit(main())
