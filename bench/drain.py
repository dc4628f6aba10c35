#!/usr/bin/python3
"""Scheduler benchmark (issue 8): drain 1,000 queued `galley exec -- true`
jobs with limits.maxRunning 8, against the same 1,000 `true` run through
`xargs -P 8`, in the same run. All galley jobs wait --after a gate job, so
the drain is timed from the gate's end until the last job has ended; the
time to queue them is printed beside it. Reports; never asserts. Everything runs under a temp GALLEY_HOME;
every process started is killed at the end."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import kill_marked

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=8)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gbench-queue-"))
    env = dict(os.environ, GALLEY_HOME=str(tmp / "g"), HOME=str(tmp))
    g = a.galley
    try:
        subprocess.run([g, "config", "set", "limits.maxRunning",
                        str(a.parallel)], env=env, check=True,
                       capture_output=True)
        subprocess.run([g, "ls"], env=env, check=True, capture_output=True)
        # the anchor: xargs -P runs the same number of processes
        t0 = time.monotonic()
        subprocess.run(f"seq {a.jobs} | xargs -P {a.parallel} -n 1 "
                       "sh -c true", shell=True, check=True)
        xargs_s = time.monotonic() - t0
        # galley: every job waits --after a gate, so all of them are in
        # the queue; the drain is timed from the gate's end to the last
        # job's end
        go = tmp / "GO"
        subprocess.run([g, "exec", "-n", "gate", "--", "sh", "-c",
                        f"until [ -e {go} ]; do sleep 0.01; done"],
                       env=env, check=True, capture_output=True)
        t0 = time.monotonic()
        procs = []
        for i in range(a.jobs):
            procs.append(subprocess.Popen(
                [g, "exec", "-n", f"q{i}", "--after", "gate", "--", "sh",
                 "-c", "true"], env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            if len(procs) >= 8:  # submitters at a time, as a script would
                procs.pop(0).wait()
        for p in procs:
            p.wait()
        submit_s = time.monotonic() - t0
        t0 = time.monotonic()
        go.touch()
        subprocess.run([g, "wait", "--timeout", "600",
                        *[f"q{i}" for i in range(a.jobs)]], env=env,
                       capture_output=True)
        galley_s = time.monotonic() - t0
        done = subprocess.run([g, "ls", "--all", "--state", "done"],
                              env=env, capture_output=True,
                              text=True).stdout.count("\n") - 1
    finally:
        subprocess.run([g, "daemon", "stop"], env=env, capture_output=True)
        kill_marked(f"GALLEY_HOME={tmp / 'g'}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"queue: {a.jobs} jobs of `true`, {a.parallel} at a time")
    print(f"  xargs -P {a.parallel}: {xargs_s:.2f} s")
    print(f"  galley (maxRunning {a.parallel}): drained in {galley_s:.2f} s "
          f"({done} done; queueing them took {submit_s:.2f} s before)")
    print("summary:")
    print(f"  queue: drain {a.jobs} x true at {a.parallel}: galley "
          f"{galley_s:.2f} s vs xargs -P {a.parallel} {xargs_s:.2f} s "
          f"({galley_s / xargs_s:.1f}x, {galley_s / a.jobs * 1000:.1f} ms "
          f"per job)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
