#!/usr/bin/python3
"""Workflow benchmarks (issue 16), with fake-runtime agents:
- the overhead of one agent() call, the agent excluded: from the journal,
  the time between an agent's end and the next call's start (the script
  resumed, the intent journaled with fsync, the session made); goal 5 ms;
- resuming a 1,000-call journal: a daemon started on a run whose calls
  are all on record, until the run is done (replay only); goal 1 s;
- the daemon's memory with 10 runs idle (each waiting on an agent).
Reports only; never asserts. Cleans up what it starts."""
import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import finish, run, wait

ROOT = Path(__file__).resolve().parents[1]


def fnv(prompt, opts):
    h = 1469598103934665603
    for b in prompt.encode() + b"\n" + opts.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def write(repo, name, text):
    d = repo / ".galley" / "workflows"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.lua").write_text(text)


def bench_overhead(galley, env, repo, db, n=50):
    write(repo, "seq", "function run()\n  for i = 1, %d do\n"
          "    agent('say ' .. i, {runtime = 'fake'})\n  end\nend\n" % n)
    st = json.loads(run([galley, "workflow", "run", "seq", "--json"], repo,
                        env).stdout)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT j.ended_at, s.created_at FROM "
                       "workflow_journal j JOIN sessions s ON s.id = "
                       "j.session WHERE j.run = ? ORDER BY "
                       "CAST(j.key AS INTEGER)", (st["run"],)).fetchall()
    con.close()
    # an agent's end to the next agent's session made: the script resumed,
    # the intent journaled (fsync), the session created
    gaps = [rows[i + 1][1] - rows[i][0] for i in range(len(rows) - 1)]
    return gaps


def bench_resume(galley, env, repo, db, n=1000):
    write(repo, "big", "function run()\n  local s = 0\n  for i = 1, %d do\n"
          "    s = s + #agent('say ' .. i, {runtime = 'fake'})\n  end\n"
          "  return s\nend\n" % n)
    script = (repo / ".galley/workflows/big.lua").read_text()
    run([galley, "daemon", "stop"], repo, env, check=False)
    now = int(time.time() * 1000)
    con = sqlite3.connect(db)
    con.execute("INSERT INTO workflow_runs (id, name, file, script, cwd, "
                "args, env, state, created_at, updated_at) VALUES "
                "('b16b16b1', 'big', NULL, ?, ?, '{}', ?, 'running', ?, ?)",
                (script, str(repo), json.dumps([f"{k}={v}" for k, v in
                                               env.items()]), now, now))
    con.executemany(
        "INSERT INTO workflow_journal (run, key, hash, kind, state, result, "
        "started_at, ended_at) VALUES ('b16b16b1', ?, ?, 'agent', 'done', "
        "?, ?, ?)",
        [(str(i), fnv(f"say {i}", '{"runtime":"fake"}'), str(i), now, now)
         for i in range(1, n + 1)])
    con.commit()
    con.close()
    t0 = time.monotonic()
    run([galley, "daemon", "status"], repo, env, check=False)
    run([galley, "ls"], repo, env)  # starts the daemon
    t1 = time.monotonic()

    def done():
        st = json.loads(run([galley, "workflow", "status", "b16b16b1",
                             "--json"], repo, env).stdout)
        if st["state"] not in ("running", "paused"):
            return st
        return None
    t2 = wait(done, timeout=120)
    st = done()
    return t1 - t0, t2 - t0, st


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def daemon_pid(galley, env, repo):
    return json.loads(run([galley, "daemon", "status", "--json"], repo,
                          env).stdout)["pid"]


def bench_rss(galley, env, repo, n=10):
    write(repo, "idle", "function run()\n  return agent('think 600', "
          "{runtime = 'fake'})\nend\n")
    pid = daemon_pid(galley, env, repo)
    before = rss_kb(pid)
    ids = [run([galley, "workflow", "run", "idle", "--bg"], repo,
               env).stdout.strip() for _ in range(n)]

    def all_waiting():
        return all(json.loads(run([galley, "workflow", "status", i, "--json"],
                                  repo, env).stdout)["agents"] for i in ids)
    wait(all_waiting, timeout=120)
    after = rss_kb(pid)
    for i in ids:
        run([galley, "workflow", "stop", i], repo, env, check=False)
    return before, after


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    args = ap.parse_args()
    galley = os.path.abspath(args.galley)
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-wf-"))
    env = dict(os.environ, HOME=str(tmp), GALLEY_HOME=str(tmp / "g"),
               PATH=f"{os.path.dirname(galley)}:{os.environ['PATH']}")
    repo = tmp / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo, env)
    db = str(tmp / "g" / "state" / "galley.db")
    try:
        gaps = bench_overhead(galley, env, repo, db)
        med = statistics.median(gaps)
        print(f"agent() overhead, the agent excluded (end to the next "
              f"session made, "
              f"{len(gaps)} calls): median {med:.1f} ms, max {max(gaps)} ms "
              f"(goal 5 ms: {med / 5:.2f}x)")
        start, total, st = bench_resume(galley, env, repo, db)
        print(f"resume of a 1,000-call journal: done in {total:.2f} s from "
              f"the daemon's start ({start:.2f} s of it starting; goal 1 s: "
              f"{total / 1:.2f}x); state {st['state']}, result "
              f"{st['result']}")
        before, after = bench_rss(galley, env, repo)
        print(f"daemon RSS with 10 idle runs: {after / 1024:.1f} MiB "
              f"({before / 1024:.1f} MiB before; {(after - before) / 10:.0f} "
              f"KiB per run)")
    finally:
        finish(galley, env, tmp)


if __name__ == "__main__":
    sys.exit(main())
