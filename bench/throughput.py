#!/usr/bin/python3
"""PTY throughput (issue 20, part 1): `cat FILE` of base64 text through
galley, in a tmux window and through a bare PTY, in the same run.

* galley: `galley exec -- cat FILE`, until `galley wait` returns (the
  host has logged every byte and recorded the screen).
* tmux: `cat FILE; tmux wait -S done` in a new window of a running
  private tmux server, until `tmux wait done` returns.
* bare PTY: this script forks `cat FILE` onto a PTY and reads the master
  until EOF (64 KiB reads, thrown away): the floor.

Goals: galley >= 1x tmux's throughput and >= 0.5x the bare PTY's. Then
checks what the speed must not cost: output.log holds every byte, and
`peek` shows the file's last lines. Also `ls --json` latency (median,
max) while 3 sessions flood at once, against `ls` with nothing running.
Reports only; never asserts on timing. Cleans up everything it starts."""
import argparse
import base64
import os
import pty
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import finish, run

ROOT = Path(__file__).resolve().parents[1]


def bare(path):
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("cat", ["cat", str(path)])
    n = 0
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        n += len(b)
    os.waitpid(pid, 0)
    os.close(fd)
    return time.monotonic() - t0, n


def tmux(path, env, sock):
    t0 = time.monotonic()
    run(["tmux", "-L", sock, "-f", "/dev/null", "new-window", "-d",
         f"cat {path}; tmux -L {sock} wait -S done"], None, env)
    run(["tmux", "-L", sock, "wait", "done"], None, env)
    return time.monotonic() - t0


def galley_once(g, path, env, name):
    t0 = time.monotonic()
    run([g, "exec", "-n", name, "--", "cat", str(path)], None, env)
    run([g, "wait", name], None, env)
    return time.monotonic() - t0


def ls_during_flood(g, path, env, n):
    """ls --json latencies while n sessions cat the file at once."""
    for i in range(n):
        run([g, "exec", "-n", f"ls-flood-{i}", "--", "cat", str(path)],
            None, env)
    t = []
    while True:
        t0 = time.monotonic()
        p = run([g, "ls", "--json"], None, env)
        t.append(time.monotonic() - t0)
        if '"working"' not in p.stdout:
            break
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--galley", default=str(ROOT / "build" / "galley"))
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    g = args.galley
    if not os.access(g, os.X_OK):
        print(f"bench: no galley at {g}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="gbench-pty-"))
    env = dict(os.environ, GALLEY_HOME=str(tmp / "gh"), HOME=str(tmp),
               TMUX_TMPDIR=str(tmp), TERM="xterm-256color")
    env.pop("TMUX", None)
    sock = "gbench-pty"
    have_tmux = shutil.which("tmux") is not None
    try:
        src = tmp / "flood.txt"
        with open(src, "wb") as f:
            for _ in range(args.mb):
                f.write(base64.encodebytes(os.urandom(786432)))
        size = src.stat().st_size
        mb = size / 1e6
        print(f"pty: {mb:.0f} MB of base64 text, {args.reps} runs each",
              file=sys.stderr)
        if have_tmux:
            run(["tmux", "-L", sock, "-f", "/dev/null", "new-session",
                 "-d", "-x", "80", "-y", "24", "sleep 3600"], None, env)
        run([g, "daemon", "start"], None, env, check=False)
        gt, tt, bt = [], [], []
        for r in range(args.reps):  # interleaved: drift hits all alike
            gt.append(galley_once(g, src, env, f"flood-{r}"))
            if have_tmux:
                tt.append(tmux(src, env, sock))
            t, n = bare(src)
            bt.append(t)
        # what the speed must not cost
        d = Path(run([g, "get", "flood-0"], None, env)
                 .stdout.split('"dir": "')[1].split('"')[0])
        logged = (d / "output.log").stat().st_size
        want = size + src.read_bytes().count(b"\n")  # \n -> \r\n
        last = src.read_text().splitlines()[-1]
        peek = run([g, "peek", "flood-0"], None, env).stdout
        whole = logged == want and last in peek
        # ls while 3 sessions flood (a tenth of the file each)
        small = tmp / "small.txt"
        small.write_bytes(src.read_bytes()[:size // 10])
        idle = []
        for _ in range(20):
            t0 = time.monotonic()
            run([g, "ls", "--json"], None, env)
            idle.append(time.monotonic() - t0)
        busy = ls_during_flood(g, small, env, 3)
    finally:
        if have_tmux:
            subprocess.run(["tmux", "-L", sock, "kill-server"], env=env,
                           capture_output=True)
        finish(g, env, tmp)

    gm, bm = statistics.median(gt), statistics.median(bt)
    print("summary:")
    line = (f"  pty {mb:.0f} MB: galley {gm:.2f} s ({mb / gm:.0f} MB/s)")
    if tt:
        tm = statistics.median(tt)
        line += f" vs tmux {tm:.2f} s ({mb / tm:.0f} MB/s) -> {tm / gm:.2f}x"
    line += (f", bare PTY {bm:.2f} s ({mb / bm:.0f} MB/s) -> "
             f"{bm / gm:.2f}x (goal >=1x tmux, >=0.5x bare)")
    if tt:
        met = tm / gm >= 1 and bm / gm >= 0.5
        line += " [met]" if met else " [MISSED]"
    print(line)
    print(f"  pty log: {'every byte logged, peek shows the last line' if whole else f'INCOMPLETE: {logged} of {want} bytes'}")
    print(f"  ls --json during 3 floods: median {statistics.median(busy) * 1000:.1f} ms, "
          f"max {max(busy) * 1000:.1f} ms over {len(busy)} calls; idle median "
          f"{statistics.median(idle) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
