#!/usr/bin/python3
"""Slurm executor benchmark (issue 18), on a real 3-node test cluster
(tests/e2e/slurm-testcluster.sh) started here:
- submit -> running: `galley exec --on slurm -- sleep` until the session
  is working, against plain `sbatch --wrap sleep` polled with squeue;
- state-change latency: a job's end to the session's end, against the
  same seen by polling squeue every 50 ms;
- with 1,000 held (pending) Slurm sessions: the daemon's CPU and the
  squeue calls it makes per minute (counted by a squeue wrapper on PATH);
- the time to adopt those 1,000 after a kill -9 of the daemon: from the
  new daemon's start to its first answered poll of all 1,000.
Reports only; never asserts on timing. Cleans up everything it starts."""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import finish, run, wait

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "tests" / "e2e" / "slurm-testcluster.sh"
N_LAT = 8


def state(galley, env, name):
    p = run([galley, "get", "--json", name], None, env, check=False)
    if p.returncode != 0:
        return None
    import json
    return json.loads(p.stdout)


def sq_state(env, job):
    return run(["/usr/bin/squeue", "-h", "-t", "all", "-j", job, "-o", "%T"],
               None, env, check=False).stdout.strip()


def latencies(galley, env, tmp):
    g_run, g_end, s_run, s_end = [], [], [], []
    for k in range(N_LAT):
        t = time.monotonic()
        run([galley, "exec", "--on", "slurm", "-n", f"l{k}", "--", "sleep",
             "2"], tmp, env)
        up = wait(lambda: (state(galley, env, f"l{k}") or {}).get("state")
                  == "working", 60)
        g_run.append(up - t)
        # its end, as Slurm's record shows it and as galley does
        job = state(galley, env, f"l{k}")["job_id"]
        seen = wait(lambda: sq_state(env, job) == "COMPLETED", 60)
        done = wait(lambda: (state(galley, env, f"l{k}") or {}).get("state")
                    == "done", 60)
        g_end.append(max(0.0, done - seen))
        t = time.monotonic()
        job = run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap",
                   "sleep 2"], tmp, env).stdout.strip().split(";")[0]
        up = wait(lambda: sq_state(env, job) == "RUNNING", 60)
        s_run.append(up - t)
        wait(lambda: sq_state(env, job) == "COMPLETED", 60)
    med = lambda v: sorted(v)[len(v) // 2]
    return med(g_run), med(s_run), med(g_end)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def daemon_pid(galley, env):
    import json
    return json.loads(run([galley, "daemon", "status", "--json"], None,
                          env).stdout)["pid"]


def thousand(galley, env, tmp, calls, n):
    run([galley, "config", "set", "limits.maxRunning", str(n + 100)], tmp,
        env)
    run([galley, "config", "set", "executor.slurm.sbatchArgs",
         '["--hold"]'], tmp, env)
    for k in range(n):
        run([galley, "exec", "--on", "slurm", "-n", f"q{k}", "--", "true"],
            tmp, env)
    import json

    def all_queued():
        ls = json.loads(run([galley, "ls", "--json"], tmp, env).stdout)
        return sum(1 for s in ls if s["name"].startswith("q") and
                   s.get("waiting_for") == "slurm: JobHeldUser") == n
    wait(all_queued, 300)
    pid = daemon_pid(galley, env)
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(pid), time.monotonic()
    before = len(calls.read_text().splitlines())
    time.sleep(30)  # the window measured
    c1, t1 = cpu_ticks(pid), time.monotonic()
    after = len(calls.read_text().splitlines())
    cpu = (c1 - c0) / hz / (t1 - t0) * 100
    per_min = (after - before) / (t1 - t0) * 60
    # adoption: kill -9, start again, until a poll of all n was answered
    os.kill(pid, signal.SIGKILL)
    wait(lambda: run([galley, "daemon", "status"], None, env,
                     check=False).returncode != 0, 30)
    mark = len(calls.read_text().splitlines())
    t = time.monotonic()
    run([galley, "ls"], tmp, env)  # starts the daemon again

    def polled():
        lines = calls.read_text().splitlines()[mark:]
        return any(len(x.split()[-1].split(",")) >= n for x in lines)
    wait(polled, 120)
    wait(all_queued, 120)
    adopt = time.monotonic() - t
    return cpu, per_min, adopt


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--sessions", type=int, default=1000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="galley-bench-slurm-"))
    cl = tmp / "cluster"
    env = dict(os.environ, HOME=str(tmp / "home"), GALLEY_HOME=str(tmp / "g"),
               SLURM_TEST_NODES="3", SLURM_TEST_CPUS="24",
               SLURM_TEST_MEM_MB="4000")
    (tmp / "home").mkdir()
    p = subprocess.run(["bash", str(HELPER), "start", str(cl)], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: no cluster: {p.stderr}")
    env["SLURM_CONF"] = p.stdout.strip().split("=", 1)[1]
    wrap = tmp / "wrap"
    wrap.mkdir()
    calls = tmp / "squeue.calls"
    calls.write_text("")
    (wrap / "squeue").write_text(
        "#!/bin/sh\nfor a; do case $prev in -j) echo \"$(date +%s.%N) $a\" "
        f">> {calls};; esac; prev=$a; done\nexec /usr/bin/squeue \"$@\"\n")
    (wrap / "squeue").chmod(0o755)
    env["PATH"] = f"{wrap}:{env['PATH']}"
    try:
        g_run, s_run, g_end = latencies(args.galley, env, tmp)
        cpu, per_min, adopt = thousand(args.galley, env, tmp, calls,
                                       args.sessions)
    finally:
        finish(args.galley, env, tmp / "g")
        subprocess.run(["bash", str(HELPER), "stop", str(cl)], env=env,
                       capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])
    print("slurm executor, 3-node test cluster (seconds, medians of "
          f"{N_LAT})")
    print(f"  submit -> running: galley {g_run:6.3f}, plain sbatch+squeue "
          f"{s_run:6.3f}  (ratio {g_run / s_run:5.2f})")
    print(f"  job end -> session end, after squeue shows it: "
          f"{g_end:6.3f} (the poll tick is 1 s)")
    print(f"  {args.sessions} held Slurm sessions: daemon CPU {cpu:5.1f}% "
          f"of a core, squeue calls {per_min:5.1f}/min")
    print(f"  adopt {args.sessions} after kill -9: {adopt:6.3f}")


if __name__ == "__main__":
    sys.exit(main())
