#!/usr/bin/python3
"""Crash loops and integrity (issue 20, part 3): `make soak`.

Repeats N times (100 by default):
  1. start 20 sessions: 12 jobs writing numbered lines fast (some for a
     while), 4 fake agents blocked on a question, 4 jobs in worktrees;
  2. kill -9 the daemon at a random point among those starts, and in
     some rounds a host or a job's child too;
  3. start the daemon again (the next command does).
Then: a frozen daemon (SIGSTOP for --freeze seconds, 30 by default)
while 5 fake agents fire hooks, and SIGCONT.

At the end it checks, and prints what it found:
  * PRAGMA integrity_check of the store is ok;
  * every session is in a true state (live only while its host lives);
  * every job that was not killed ended done with exit code 0, and its
    output.log holds every line it wrote, in order;
  * every killed child's session recorded its signal;
  * no worktree stays locked by an ended session, and after stopping
    everything no process of the run is left;
  * every hook the frozen agents fired was applied once;
  * the daemon's fd count and RSS over the rounds (flat, or not).
Exits 1 if a check failed. Cleans up everything it starts."""
import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import finish, kill_marked, marked

ROOT = Path(__file__).resolve().parents[1]


def cli(g, env, *args, check=True, timeout=60):
    p = subprocess.run([g, *map(str, args)], env=env, capture_output=True,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"galley {' '.join(map(str, args))}: {p.stderr}")
    return p


def daemon_pid(g, env):
    p = cli(g, env, "daemon", "status", "--json", check=False)
    return json.loads(p.stdout).get("pid") if p.returncode == 0 else None


def proc_stat(pid):
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        return fds, rss
    except (OSError, StopIteration):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--freeze", type=float, default=30)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    g = args.galley
    seed = args.seed if args.seed is not None else int(time.time())
    rnd = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="gsoak-"))
    env = dict(os.environ, GALLEY_HOME=str(tmp / "gh"), HOME=str(tmp),
               GALLEY_HOOK_TIMEOUT_MS="500")
    for k in ("TMUX", "GALLEY_SESSION", "GALLEY_HOOK_TOKEN"):
        env.pop(k, None)
    repo = tmp / "repo"
    repo.mkdir()
    for c in (["git", "init", "-q", "-b", "main"],
              ["git", "-c", "user.name=s", "-c", "user.email=s@s",
               "commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(c, cwd=repo, check=True, env=env)
    jobs = {}       # name -> lines it writes
    victims = {}    # name -> "host" or "child"
    samples = []    # (round, fds, rss kB)
    kills = 0
    failures = []
    print(f"soak: {args.rounds} rounds, seed {seed}, in {tmp}",
          file=sys.stderr)
    t0 = time.monotonic()
    try:
        for r in range(args.rounds):
            plan = (["job"] * 12 + ["agent"] * 4 + ["wt"] * 4)
            rnd.shuffle(plan)
            kill_at = rnd.randrange(len(plan))
            started = []
            for i, kind in enumerate(plan):
                if i == kill_at:
                    pid = daemon_pid(g, env)
                    if pid:
                        os.kill(pid, signal.SIGKILL)
                        kills += 1
                name = f"r{r}-{i}-{kind}"
                if kind == "job":
                    n = rnd.choice([200, 2000, 20000])
                    tail = "; sleep 1" if rnd.random() < 0.3 else ""
                    cli(g, env, "exec", "-n", name, "--", "sh", "-c",
                        f"i=0; while [ $i -lt {n} ]; do echo \"{name} $i\";"
                        f" i=$((i+1)); done{tail}")
                    jobs[name] = n
                elif kind == "agent":
                    cli(g, env, "new", "--runtime", "fake", "-n", name,
                        "say hello; ask are you there?")
                else:
                    cli(g, env, "exec", "-C", repo, "-w", name, "-n", name,
                        "--", "sh", "-c", "echo x > f; sleep 0.3")
                started.append(name)
            # now and then a host or a job's child dies as well
            pick = rnd.random()
            if pick < 0.4:
                name = rnd.choice([n for n in started if n in jobs])
                s = json.loads(cli(g, env, "get", name).stdout)
                what = "host" if pick < 0.2 else "child"
                pid = s.get("host_pid") if what == "host" else s.get("pid")
                if pid and alive(pid):
                    os.kill(pid, signal.SIGKILL)
                    victims[name] = what
            d = daemon_pid(g, env)
            st = proc_stat(d) if d else None
            if st:
                samples.append((r, *st))
            # the blocked agents of the round before are stopped
            old = [f"r{r - 1}-{i}-agent" for i in range(20)]
            ls = json.loads(cli(g, env, "ls", "--all", "--json").stdout)
            names = {s["name"] for s in ls}
            stop = [n for n in old if n in names]
            if stop:
                cli(g, env, "stop", *stop, check=False)
            if r % 10 == 9:
                print(f"soak: round {r + 1}, {kills} daemon kills, "
                      f"{time.monotonic() - t0:.0f} s", file=sys.stderr)
        # everything ends: the jobs by themselves, the agents stopped
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ls = json.loads(cli(g, env, "ls", "--all", "--json").stdout)
            live = [s for s in ls if s["state"] in
                    ("queued", "starting", "working", "idle", "blocked",
                     "unknown")]
            agents = [s["name"] for s in live if s["kind"] == "agent"]
            if agents:
                cli(g, env, "stop", *agents, check=False)
            if not live:
                break
            time.sleep(0.5)

        # ---- the frozen daemon ----
        hooks_ok = True
        if args.freeze > 0:
            names = [f"frozen-{i}" for i in range(5)]
            for n in names:
                cli(g, env, "new", "--runtime", "fake", "-n", n,
                    "; ".join([f"run echo {k}" for k in range(6)] +
                              ["usage 10 1", "exit 0"]))
            time.sleep(0.3)
            d = daemon_pid(g, env)
            os.kill(d, signal.SIGSTOP)
            time.sleep(args.freeze)
            os.kill(d, signal.SIGCONT)
            end = time.monotonic() + 60
            spool = Path(env["GALLEY_HOME"]) / "state" / "hooks"
            while time.monotonic() < end:
                ls = {s["name"]: s for s in json.loads(
                    cli(g, env, "ls", "--all", "--json").stdout)}
                if all(ls[n]["state"] == "done" for n in names) and \
                        not list(spool.glob("*.json")):
                    break
                time.sleep(0.3)
            for n in names:
                ev = json.loads(cli(g, env, "events", n, "--limit",
                                    "1000", "--json").stdout)
                ev = ev if isinstance(ev, list) else ev["events"]
                kinds = [e["kind"] for e in ev]
                if kinds.count("hook.PreToolUse") != 6 or \
                        kinds.count("hook.SessionEnd") != 1 or \
                        ls[n]["state"] != "done":
                    hooks_ok = False
                    failures.append(f"{n}: hooks {kinds}, "
                                    f"state {ls[n]['state']}")

        # ---- checks ----
        db = Path(env["GALLEY_HOME"]) / "state" / "galley.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            integrity = c.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            failures.append(f"integrity_check: {integrity}")
        ls = json.loads(cli(g, env, "ls", "--all", "--json").stdout)
        by = {s["name"]: s for s in ls}
        untrue = [s["name"] for s in ls
                  if (s["state"] in ("working", "idle", "blocked",
                                     "starting")) != alive(s.get("host_pid"))]
        for name in untrue[:10]:
            x = by[name]
            failures.append(f"state not true: {name} {x['state']} "
                            f"({x.get('reason')}), host {x.get('host_pid')} "
                            f"{'alive' if alive(x.get('host_pid')) else 'gone'}"
                            f", killed: {victims.get(name)}")
        lost_lines = bad_exit = 0
        for name, n in jobs.items():
            s = by.get(name)
            if s is None:
                failures.append(f"{name}: missing")
                continue
            if name in victims:
                if victims[name] == "child" and s["state"] == "done" \
                        and s["exit_code"] == 0:
                    continue  # it had finished before the kill
                if victims[name] == "child" and s["exit_signal"] != 9 \
                        and s["state"] != "done":
                    bad_exit += 1
                    failures.append(f"{name}: child killed, recorded "
                                    f"{s['state']} {s['exit_code']}")
                continue
            if s["state"] != "done" or s["exit_code"] != 0:
                bad_exit += 1
                failures.append(f"{name}: {s['state']} exit "
                                f"{s['exit_code']} ({s.get('reason')})")
                continue
            log = Path(s["dir"]) / "output.log"
            got = log.read_bytes().decode(errors="replace").split("\r\n")
            want = [f"{name} {i}" for i in range(n)]
            if got[:n] != want:
                lost_lines += 1
                failures.append(f"{name}: output.log incomplete "
                                f"({len(got) - 1} of {n} lines)")
        wt = subprocess.run(["git", "worktree", "list", "--porcelain"],
                            cwd=repo, capture_output=True, text=True).stdout
        locked = wt.count("\nlocked")
        if locked:
            failures.append(f"{locked} worktrees still locked")
        cli(g, env, "daemon", "stop", check=False)
        # the daemon's helpers (git, overlap checks over hundreds of
        # worktrees by now) end on their own after it, if slowly
        end = time.monotonic() + 60
        while time.monotonic() < end:
            left = marked(f"GALLEY_HOME={env['GALLEY_HOME']}")
            if not left:
                break
            time.sleep(0.2)
        for pid in left[:10]:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode()[:100]
                with open(f"/proc/{pid}/environ", "rb") as f:
                    sess = [v for v in f.read().split(b"\0")
                            if v.startswith(b"GALLEY_SESSION=")]
            except OSError:
                cmd, sess = "?", []
            failures.append(f"process left: {pid} {cmd} {sess}")
    finally:
        kill_marked(f"GALLEY_HOME={env['GALLEY_HOME']}")
        finish(g, env, tmp)

    took = time.monotonic() - t0
    print("summary:")
    print(f"  soak: {args.rounds} rounds, {len(jobs) + args.rounds * 8} "
          f"sessions, {kills} daemon kills, {len(victims)} hosts/children "
          f"killed, {took:.0f} s (seed {seed})")
    print(f"  integrity_check: {integrity}; sessions in an untrue state: "
          f"{len(untrue)}; jobs with a wrong exit: {bad_exit}; "
          f"incomplete output.log: {lost_lines} of {len(jobs)}; "
          f"worktrees left locked: {locked}; processes left: {len(left)}")
    print(f"  killed: {victims}")
    if args.freeze > 0:
        print(f"  frozen daemon {args.freeze:.0f} s: 5 agents' hooks "
              f"{'all applied once' if hooks_ok else 'LOST OR DOUBLED'}")
    if samples:
        first = samples[: max(1, len(samples) // 10)]
        last = samples[-max(1, len(samples) // 10):]
        avg = lambda xs, k: sum(x[k] for x in xs) / len(xs)
        print(f"  daemon fds: first tenth {avg(first, 1):.0f}, last tenth "
              f"{avg(last, 1):.0f}, max {max(x[1] for x in samples)}; "
              f"RSS first {avg(first, 2) / 1024:.1f} MB, last "
              f"{avg(last, 2) / 1024:.1f} MB")
    for f in failures[:30]:
        print(f"  FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
