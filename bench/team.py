#!/usr/bin/python3
"""Team benchmarks (issue 15), with fake-runtime members:
- `team start` with 5 members until all six sessions have started work,
  against six `tmux new-window`s (the anchor: six terminals);
- delivery of a message to an idle member (`team talk` until the line is
  on its screen), against `galley send` of the same text (which types at
  once: the difference is the settle time a message waits for);
- claims under contention: 10 clients claiming 200 tasks at once;
- the daemon's CPU over 10 s with a 5-member team idle (goal: ~0).
Reports only; never asserts. Cleans up what it starts."""
import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import finish, run, wait

ROOT = Path(__file__).resolve().parents[1]
HZ = os.sysconf("SC_CLK_TCK")


def states(galley, env, repo, team):
    import json
    st = json.loads(run([galley, "team", "status", team, "--json"], repo,
                        env).stdout)
    return [st["lead"]["state"]] + [m["state"] for m in st["members"]]


def bench_start(galley, env, repo, i):
    t0 = time.monotonic()
    run([galley, "team", "start", f"t{i}", "bench goal", "--teammates",
         "a,b,c,d,e", "-r", "fake"], repo, env)
    t1 = wait(lambda: all(s in ("working", "idle")
                          for s in states(galley, env, repo, f"t{i}")))
    return t1 - t0


def bench_tmux(tmp, env, i):
    sock = str(tmp / f"tmux{i}.sock")
    t0 = time.monotonic()
    run(["tmux", "-S", sock, "new-session", "-d", "-s", "b", "sleep 60"],
        tmp, env)
    for _ in range(5):
        run(["tmux", "-S", sock, "new-window", "-d", "-t", "b:", "sleep 60"],
            tmp, env)
    dt = time.monotonic() - t0
    run(["tmux", "-S", sock, "kill-server"], tmp, env, check=False)
    return dt


def on_screen(galley, env, ref, text):
    return text in run([galley, "peek", ref], "/", env).stdout


def bench_message(galley, env, repo, i):
    text = f"ping-{i}-{time.monotonic_ns()}"
    t0 = time.monotonic()
    run([galley, "team", "talk", "a", text, "--team", "t0"], repo, env)
    t1 = wait(lambda: on_screen(galley, env, "t0.a", text))
    galley_send = f"send-{i}-{time.monotonic_ns()}"
    wait(lambda: states(galley, env, repo, "t0")[1] == "idle")
    s0 = time.monotonic()
    run([galley, "send", "t0.a", f"say {galley_send}"], repo, env)
    s1 = wait(lambda: on_screen(galley, env, "t0.a", galley_send))
    wait(lambda: states(galley, env, repo, "t0")[1] == "idle")
    return t1 - t0, s1 - s0


def bench_claims(galley, env, repo, ntasks=200, clients=10):
    run([galley, "team", "create", "claims", "-r", "fake", "say lead"],
        repo, env)
    for c in range(clients):
        run([galley, "team", "add", "claims", f"c{c}", "--lens", "x", "-r",
             "fake", "say hi"], repo, env)
    for t in range(ntasks):
        run([galley, "task", "add", f"t{t}", "--team", "claims"], repo, env)

    def claimer(c):
        got = 0
        while True:
            p = run([galley, "task", "claim", "--team", "claims", "--as",
                     f"c{c}"], repo, env, check=False)
            if p.returncode != 0:
                return got
            got += 1
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as ex:
        got = sum(ex.map(claimer, range(clients)))
    dt = time.monotonic() - t0
    return got, dt


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    galley = os.path.abspath(args.galley)
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-team-"))
    env = dict(os.environ, HOME=str(tmp), GALLEY_HOME=str(tmp / "g"),
               TMUX_TMPDIR=str(tmp),
               PATH=f"{os.path.dirname(galley)}:{os.environ['PATH']}")
    repo = tmp / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo, env)
    try:
        starts = [bench_start(galley, env, repo, i) for i in range(args.runs)]
        tmuxs = [bench_tmux(tmp, env, i) for i in range(args.runs)]
        s, t = statistics.median(starts), statistics.median(tmuxs)
        print(f"team start, 5 members, all started: median {s * 1000:.0f} "
              f"ms; 6 tmux windows: {t * 1000:.0f} ms ({s / t:.1f}x)")
        msgs = [bench_message(galley, env, repo, i) for i in range(5)]
        m = statistics.median(x[0] for x in msgs)
        g = statistics.median(x[1] for x in msgs)
        print(f"message to an idle member, on its screen: median "
              f"{m * 1000:.0f} ms (typed once it has been idle 400 ms); galley "
              f"send: {g * 1000:.0f} ms ({m / g:.1f}x)")
        got, dt = bench_claims(galley, env, repo)
        print(f"claims, 10 clients racing for 200 tasks: {got} claimed "
              f"once each in {dt:.2f} s ({got / dt:.0f} claims/s, CLI "
              f"process per claim)")
        pid = int(run([galley, "daemon", "status", "--json"], repo,
                      env).stdout.split('"pid":')[1].split(",")[0])
        c0 = cpu_ticks(pid)
        time.sleep(10)
        used = (cpu_ticks(pid) - c0) / HZ
        print(f"daemon CPU, teams idle ({args.runs} x 6 sessions + 11): "
              f"{used * 1000:.0f} ms in 10 s ({used * 10:.2f}%)")
    finally:
        finish(galley, env, tmp)


if __name__ == "__main__":
    sys.exit(main())
