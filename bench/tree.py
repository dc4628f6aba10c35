#!/usr/bin/python3
"""The tree benchmark (issue 19): `galley ls --tree --json` with 1,000
sessions and 5,000 child nodes (subagents and background tasks), against
plain `ls --json` of the same sessions in the same run. Goal: <=100 ms.

The sessions are real (`galley exec -- true`); their children are written
into the store while the daemon is stopped (the hooks that make them in
life would take minutes to replay), then the daemon loads them as it
would after any restart. Reports only; never asserts on timing. Cleans up
everything it starts."""
import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import finish, run

ROOT = Path(__file__).resolve().parents[1]


def children(sid, n):
    out = {}
    for k in range(n):
        cid = f"agent{sid}{k}"
        if k % 5 in (3, 4):
            out[cid] = {"id": cid, "kind": "task", "state": "done",
                        "started_at": 1, "command": f"make test-{k}",
                        "task_id": f"bash_{k}"}
        else:
            out[cid] = {"id": cid, "kind": "subagent", "state": "done",
                        "type": "Explore", "started_at": 1, "ended_at": 2,
                        "last_message": "found it " * 20,
                        "usage": {"input_tokens": 1000, "output_tokens": 200,
                                  "cache_read_tokens": 0,
                                  "cache_write_tokens": 0,
                                  "cost_usd": 0.006}}
    return out


def timed(cmd, env, reps):
    t = []
    for _ in range(reps):
        t0 = time.monotonic()
        p = run(cmd, None, env)
        t.append(time.monotonic() - t0)
    return statistics.median(t), p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--children", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-tree-"))
    env = dict(os.environ, HOME=str(tmp / "home"),
               GALLEY_HOME=str(tmp / "g"))
    (tmp / "home").mkdir()
    g = args.galley
    try:
        run([g, "config", "set", "limits.maxRunning", "64"], tmp, env)
        for i in range(args.sessions):
            run([g, "exec", "-n", f"j{i}", "--", "true"], tmp, env)
        run([g, "daemon", "stop"], tmp, env)
        con = sqlite3.connect(str(tmp / "g" / "state" / "galley.db"))
        ids = [r[0] for r in con.execute("SELECT id FROM sessions")]
        for sid in ids:
            con.execute("UPDATE sessions SET children = ? WHERE id = ?",
                        (json.dumps(children(sid, args.children)), sid))
        con.commit()
        con.close()
        run([g, "ls"], tmp, env)  # the daemon loads them
        flat, _ = timed([g, "ls", "--json", "--all"], env, args.reps)
        tree, out = timed([g, "ls", "--tree", "--json", "--all"], env,
                          args.reps)
        nodes = json.loads(out)
        kids = sum(len(n.get("children", [])) for n in nodes)
    finally:
        finish(g, env, tmp)
    print(f"ls with {len(nodes)} sessions and {kids} child nodes "
          f"(medians of {args.reps}, ms)")
    print(f"  ls --tree --json {tree * 1000:7.1f}  (goal 100)")
    print(f"  ls --json        {flat * 1000:7.1f}  (tree / flat "
          f"{tree / flat:4.2f})")


if __name__ == "__main__":
    sys.exit(main())
