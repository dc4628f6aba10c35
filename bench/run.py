#!/usr/bin/python3
"""galley benchmarks: dispatch latency, idle host RSS, `ls` over a big store,
and new -> done latency, each next to an anchor (tmux, dtach) measured in the
same run.

Run with `make bench` or `/usr/bin/python3 bench/run.py` (stdlib only). It
reports; it never fails on a figure (exit 0 unless galley itself is missing
or broken). Everything runs under a temporary GALLEY_HOME, HOME and
TMUX_TMPDIR that are removed at the end, and every process it starts is
killed by pid when it is done. See bench/README.md for what each figure means.
"""
import argparse
import json
import math
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from common import marked

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERMINAL = {"done", "failed", "stopped", "interrupted"}
MARK = "GALLEY_BENCH_TOKEN"  # env var that marks every process we start


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- small statistics -------------------------------------------------------

def pct(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def fmt(x, nd=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{nd}f}"


# ---- processes --------------------------------------------------------------

DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
]


def timed_spawn(argv, env):
    """Wall time (ms) of one run of argv, output discarded, and its exit
    status. posix_spawn + waitpid: far less harness overhead than
    subprocess, and the same for every tool measured."""
    t0 = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=DEVNULL_ACTIONS)
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status)


def run(argv, env, timeout=60, check=False):
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {r.returncode}: "
                           f"{r.stderr.decode(errors='replace').strip()}")
    return r


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[1])  # state, ppid


def alive(pid):
    st = proc_state(pid)
    return st is not None and st[0] not in ("Z", "X")


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(roots):
    kids = {}
    for p in all_pids():
        st = proc_state(p)
        if st:
            kids.setdefault(st[1], []).append(p)
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def kill_pids(pids, sig=signal.SIGKILL):
    for p in pids:
        if p and p > 1 and p != os.getpid():
            try:
                os.kill(p, sig)
            except (ProcessLookupError, PermissionError):
                pass


def wait_gone(pids, timeout=5.0):
    end = time.monotonic() + timeout
    left = [p for p in pids if p]
    while left and time.monotonic() < end:
        left = [p for p in left if alive(p)]
        if left:
            time.sleep(0.02)
    return left


def kill_and_reap(pids, grace=1.0):
    """SIGTERM, wait a little, SIGKILL what is left."""
    pids = [p for p in pids if p and alive(p)]
    kill_pids(pids, signal.SIGTERM)
    left = wait_gone(pids, grace)
    kill_pids(left, signal.SIGKILL)
    wait_gone(left, 2.0)


def marked_pids(token):
    """Every live process (of ours) whose environment carries our token."""
    return marked(f"{MARK}={token}")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:60]
    except OSError:
        return "?"


def env_of(pid, key):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for kv in f.read().split(b"\0"):
                if kv.startswith(key.encode() + b"="):
                    return kv.split(b"=", 1)[1].decode(errors="replace")
    except OSError:
        pass
    return ""


def mem_kb(pid):
    """(VmRSS, Pss) in kB of a live process, None where unreadable."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


# ---- a galley home ----------------------------------------------------------

class Galley:
    def __init__(self, bench, name):
        self.bin = bench.galley
        self.home = os.path.join(bench.tmp, name)
        self.env = dict(bench.env, GALLEY_HOME=self.home)

    def argv(self, *args):
        return [self.bin, *args]

    def cli(self, *args, timeout=60, check=True):
        return run(self.argv(*args), self.env, timeout=timeout, check=check)

    def ls(self, *flags):
        r = self.cli("ls", "--json", *flags)
        return json.loads(r.stdout)

    def daemon_pid(self):
        r = run(self.argv("daemon", "status", "--json"), self.env)
        try:
            st = json.loads(r.stdout)
        except ValueError:
            return None
        return st.get("pid") if st.get("running") else None

    def start(self):
        self.cli("ls")  # any verb starts the daemon
        return self.daemon_pid()

    def stop_daemon(self):
        pid = self.daemon_pid()
        run(self.argv("daemon", "stop"), self.env)
        if pid and wait_gone([pid], 5.0):
            log(f"  daemon {pid} did not stop: SIGKILL")
            kill_pids([pid])
            wait_gone([pid], 2.0)

    def rm_ended(self):
        ids = [s["id"] for s in self.ls("--all") if s["state"] in TERMINAL]
        for i in range(0, len(ids), 100):
            self.cli("rm", *ids[i:i + 100])
        return len(ids)

    def socket_path(self):
        return os.path.join(self.home, "run", "sock")


class RawClient:
    """A bare protocol client: hello, then one request at a time; returns
    the raw reply bytes."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.n = 0
        hello = json.loads(self.call({"hello": "galley", "protocol": 1,
                                      "version": "bench"}))
        if hello.get("hello") != "galley":
            raise RuntimeError(f"bad hello: {hello}")

    def _read(self, n):
        parts, got = [], 0
        while got < n:
            chunk = self.sock.recv(min(n - got, 1 << 20))
            if not chunk:
                raise EOFError("connection closed")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def call(self, obj):
        self.n += 1
        if "hello" not in obj:
            obj = dict(obj, id=self.n)
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)
        (n,) = struct.unpack(">I", self._read(4))
        return self._read(n)

    def close(self):
        self.sock.close()


class Subscriber:
    """A protocol client that subscribes to session events and timestamps
    each frame as it arrives (perf_counter_ns)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.events = []
        self.cv = threading.Condition()
        self.closed = False
        self._send({"hello": "galley", "protocol": 1, "version": "bench"})
        hello = self._recv()
        if hello.get("hello") != "galley":
            raise RuntimeError(f"bad hello: {hello}")
        self._send({"id": 1, "cmd": "subscribe", "topics": ["session"]})
        reply = self._recv()
        if not reply.get("ok"):
            raise RuntimeError(f"subscribe refused: {reply}")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _recv(self):
        (n,) = struct.unpack(">I", self._read(4))
        return json.loads(self._read(n))

    def _loop(self):
        try:
            while True:
                obj = self._recv()
                t = time.perf_counter_ns()
                with self.cv:
                    self.events.append((t, obj))
                    self.cv.notify_all()
        except (EOFError, OSError, ValueError):
            with self.cv:
                self.closed = True
                self.cv.notify_all()

    def wait_state(self, sid, states, timeout=10.0):
        """Time (ns) of the first session.state event for sid in states."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, ev in self.events:
                    s = ev.get("session") or {}
                    if (ev.get("event") == "session.state" and
                            s.get("id") == sid and s.get("state") in states):
                        return t
                left = end - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cv.wait(left)

    def first_state_times(self, sid):
        out = {}
        with self.cv:
            for t, ev in self.events:
                s = ev.get("session") or {}
                if ev.get("event") == "session.state" and s.get("id") == sid:
                    out.setdefault(s.get("state"), t)
        return out

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ---- the benchmarks ---------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.galley = os.path.abspath(args.galley)
        self.tmp = tempfile.mkdtemp(prefix="gbench-", dir="/tmp")
        self.token = secrets.token_hex(8)
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)
        os.makedirs(os.path.join(self.tmp, "home"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GALLEY_", "TMUX", "XDG_"))}
        env.update(HOME=os.path.join(self.tmp, "home"),
                   TMUX_TMPDIR=self.tmp, TERM="xterm-256color",
                   LC_ALL="C.UTF-8", PWD=self.work)
        env[MARK] = self.token
        self.env = env
        self.tmux = shutil.which("tmux")
        self.dtach = shutil.which("dtach")
        self.homes = []
        self.killme = []   # pids to kill at the end, whatever happens
        self.r = {}        # results
        self.notes = []

    def home(self, name):
        g = Galley(self, name)
        self.homes.append(g)
        return g

    def note(self, msg):
        self.notes.append(msg)
        log("  note: " + msg)

    # -- 1. dispatch -----------------------------------------------------

    def bench_dispatch(self):
        n = self.args.runs
        rounds = 4
        per = max(1, n // rounds)
        gap = self.args.gap / 1000.0
        log(f"[1/4] dispatch latency: {per * rounds} runs each, "
            f"{rounds} interleaved rounds, {self.args.gap} ms gap")
        g = self.home("g-dispatch")
        g.start()
        # rtt: one CLI round trip that starts nothing (the floor under exec)
        tools = {"galley": lambda i: g.argv("exec", "--", "true"),
                 "rtt": lambda i: g.argv("daemon", "status", "--json")}
        tmux_sock = "bench-dispatch"
        tmux_pid = None
        if self.tmux:
            base = [self.tmux, "-L", tmux_sock, "-f", "/dev/null"]
            run(base + ["new-session", "-d", "-s", "keep", "sleep 3600"],
                self.env, check=True)
            r = run(base + ["display-message", "-p", "-t", "keep",
                            "#{pid}"], self.env, check=True)
            tmux_pid = int(r.stdout.decode().strip())
            self.killme.append(tmux_pid)
            tools["tmux"] = lambda i: base + ["new-session", "-d", "true"]
        else:
            self.note("skipped: tmux not found")
        dtdir = os.path.join(self.tmp, "dt")
        os.makedirs(dtdir, exist_ok=True)
        if self.dtach:
            tools["dtach"] = lambda i: [self.dtach, "-n",
                                        os.path.join(dtdir, f"d{i}"), "true"]
        else:
            self.note("skipped: dtach not found")

        envs = {t: g.env if t in ("galley", "rtt") else self.env
                for t in tools}
        times = {t: [] for t in tools}
        fails = {t: 0 for t in tools}
        try:
            # warm-up: one run each, excluded (page cache, first calls)
            for t, mk in tools.items():
                timed_spawn(mk(-1), envs[t])
            for rnd in range(rounds):
                for t, mk in tools.items():
                    for k in range(per):
                        ms, rc = timed_spawn(mk(rnd * per + k), envs[t])
                        if rc == 0:
                            times[t].append(ms)
                        else:
                            fails[t] += 1
                        time.sleep(gap)
                # between rounds (not timed): drop the ended sessions, so
                # the store and the daemon's list do not grow run by run
                time.sleep(0.2)
                g.rm_ended()
        finally:
            if tmux_pid:
                run([self.tmux, "-L", tmux_sock, "kill-server"], self.env)
                kill_and_reap([tmux_pid] + descendants([tmux_pid]))
            g.stop_daemon()
        for t in tools:
            if fails[t]:
                self.note(f"dispatch: {fails[t]} {t} runs failed")
        res = {t: {"median": med(v), "p90": pct(v, 90),
                   "min": min(v, default=float("nan")), "n": len(v)}
               for t, v in times.items()}
        self.r["dispatch"] = res
        for t, v in res.items():
            log(f"  {t:7s} median {fmt(v['median'])} ms  p90 {fmt(v['p90'])}"
                f"  min {fmt(v['min'])}  (n={v['n']})")

    # -- 2. RSS per idle session -----------------------------------------

    def bench_rss(self):
        n = self.args.sessions
        log(f"[2/4] memory per idle session: {n} x 'sleep 600'")
        res = {}
        # galley
        g = self.home("g-rss")
        # all of them run at once, whatever this machine's default limit
        g.cli("config", "set", "limits.maxRunning", str(n + 10))
        dpid = g.start()
        create, hosts, kids = [], [], []
        try:
            for i in range(n):
                ms, rc = timed_spawn(g.argv("exec", "--", "sleep", "600"),
                                     g.env)
                if rc != 0:
                    self.note(f"rss: galley exec #{i} exited {rc}")
                create.append(ms)
            end = time.monotonic() + 60
            while True:
                ss = [s for s in g.ls() if s["command"] == ["sleep", "600"]]
                working = [s for s in ss if s["state"] == "working" and
                           s.get("host_pid") and s.get("pid")]
                if len(working) >= n or time.monotonic() > end:
                    break
                time.sleep(0.2)
            hosts = [s["host_pid"] for s in ss if s.get("host_pid")]
            kids = [s["pid"] for s in ss if s.get("pid")]
            self.killme += hosts + kids
            if len(working) < n:
                self.note(f"rss: only {len(working)} of {n} sessions "
                          f"reached 'working' in 60 s")
            time.sleep(self.args.settle)  # idle: past start-up
            k = max(1, min(20, n // 2))  # first and last k creations
            mem = [mem_kb(s["host_pid"]) for s in working]
            rss = [m[0] for m in mem if m[0] is not None]
            pss = [m[1] for m in mem if m[1] is not None]
            drss, dpss = mem_kb(dpid) if dpid else (None, None)
            res["galley"] = {
                "n": len(rss), "sessions": n, "rss_mean": mean(rss) / 1024,
                "rss_max": max(rss, default=float("nan")) / 1024,
                "pss_mean": mean(pss) / 1024,
                "daemon_rss": drss / 1024 if drss else None,
                "window": k,
                "create_first": med(create[:k]),
                "create_last": med(create[-k:]),
                "create_median": med(create)}
        finally:
            if not hosts:  # failed half-way: find what did start
                try:
                    ss = g.ls()
                    hosts = [s["host_pid"] for s in ss if s.get("host_pid")]
                    kids = [s["pid"] for s in ss if s.get("pid")]
                except Exception:
                    pass
            # kill by pid: the children's process groups, then the hosts
            for p in kids:
                try:
                    os.killpg(p, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            kill_and_reap(hosts, 2.0)
            g.stop_daemon()
        # tmux: one server, n windows
        if self.tmux:
            base = [self.tmux, "-L", "bench-rss", "-f", "/dev/null"]
            spid = None
            try:
                run(base + ["new-session", "-d", "-s", "r", "-x", "80",
                            "-y", "24", "sleep 600"], self.env, check=True)
                r = run(base + ["display-message", "-p", "-t", "r",
                                "#{pid}"], self.env, check=True)
                spid = int(r.stdout.decode().strip())
                self.killme.append(spid)
                time.sleep(0.2)
                one_rss, one_pss = mem_kb(spid)
                cmd = list(base)
                for _ in range(n - 1):
                    cmd += ["new-window", "-d", "-t", "r", "sleep 600", ";"]
                run(cmd[:-1], self.env, check=True, timeout=120)
                r = run(base + ["list-windows", "-t", "r"], self.env)
                nwin = len(r.stdout.splitlines())
                time.sleep(0.5)
                srss, spss = mem_kb(spid)
                res["tmux"] = {"n": nwin, "server_rss": srss / 1024,
                               "rss_mean": srss / 1024 / nwin,
                               "pss_mean": spss / 1024 / nwin,
                               "one_rss": one_rss / 1024,
                               "marginal": (srss - one_rss) / 1024 /
                               max(1, nwin - 1)}
            finally:
                if spid:
                    victims = [spid] + descendants([spid])
                    run(base + ["kill-server"], self.env)
                    kill_and_reap(victims)
        else:
            self.note("skipped: tmux not found (RSS anchor)")
        # dtach: n masters
        if self.dtach:
            dtdir = os.path.join(self.tmp, "dtr")
            os.makedirs(dtdir, exist_ok=True)
            masters = []
            try:
                for i in range(n):
                    run([self.dtach, "-n", os.path.join(dtdir, f"r{i}"),
                         "sleep", "600"], self.env, check=True)
                time.sleep(0.5)
                for p in all_pids():
                    try:
                        with open(f"/proc/{p}/cmdline", "rb") as f:
                            cl = f.read().split(b"\0")
                    except OSError:
                        continue
                    if (len(cl) > 2 and cl[0].endswith(b"dtach") and
                            cl[2].startswith(dtdir.encode())):
                        masters.append(p)
                self.killme += masters
                mem = [mem_kb(p) for p in masters]
                rss = [m[0] for m in mem if m[0] is not None]
                pss = [m[1] for m in mem if m[1] is not None]
                res["dtach"] = {"n": len(rss), "rss_mean": mean(rss) / 1024,
                                "rss_max": max(rss, default=float("nan")) / 1024,
                                "pss_mean": mean(pss) / 1024}
            finally:
                kill_and_reap(masters + descendants(masters))
        else:
            self.note("skipped: dtach not found (RSS anchor)")
        self.r["rss"] = res
        for t, v in res.items():
            log(f"  {t:7s} RSS mean {fmt(v['rss_mean'])} MB  PSS mean "
                f"{fmt(v['pss_mean'])} MB  (n={v['n']})")
        if "galley" in res:
            v = res["galley"]
            k = v["window"]
            log(f"  galley exec with 0..{k} live: {fmt(v['create_first'])} ms, "
                f"with {n - k}..{n}: {fmt(v['create_last'])} ms; daemon RSS "
                f"{fmt(v['daemon_rss'])} MB")
        if "tmux" in res:
            v = res["tmux"]
            log(f"  tmux server: {fmt(v['one_rss'])} MB with 1 window, "
                f"{fmt(v['server_rss'])} MB with {v['n']} "
                f"({fmt(v['marginal'] * 1024, 0)} kB per extra window)")

    # -- 3. ls with many rows --------------------------------------------

    def bench_ls(self):
        nrows = self.args.rows
        log(f"[3/4] ls with {nrows} ended sessions in the store")
        g = self.home("g-store")
        g.start()
        g.stop_daemon()
        db = os.path.join(g.home, "state", "galley.db")
        now = int(time.time() * 1000)
        con = sqlite3.connect(db)
        try:
            cols = [r[1] for r in con.execute("PRAGMA table_info(sessions)")]
            if not cols:
                raise RuntimeError(f"no sessions table in {db}")
            ids = set()
            rows, events = [], []
            for i in range(nrows):
                sid = secrets.token_hex(4)
                while sid in ids:
                    sid = secrets.token_hex(4)
                ids.add(sid)
                created = now - (nrows - i) * 5  # spread over the last ~minute
                ended = created + 3
                argv = ["make", "-j4", f"target{i % 97}"]
                rows.append({
                    "id": sid, "name": f"make-j4-target{i % 97}-{i}",
                    "kind": "job", "runtime": "exec", "state": "done",
                    "cwd": self.work, "pinned": 0, "grp": "default",
                    "executor": "local", "host_pid": 100000 + i,
                    "pid": 200000 + i, "exit_code": 0, "exit_signal": 0,
                    "boot_id": "bench", "hook_token": secrets.token_hex(16),
                    "spec": json.dumps({"argv": argv},
                                       separators=(",", ":")),
                    "created_at": created, "updated_at": ended,
                    "ended_at": ended})
                for k, st in ((0, None), (1, "starting"), (2, "working"),
                              (3, "done")):
                    events.append((sid, created + k,
                                   "created" if st is None else "state",
                                   None if st is None else
                                   json.dumps({"state": st})))
            keys = list(rows[0])
            sql = (f"INSERT INTO sessions ({', '.join(keys)}) VALUES "
                   f"({', '.join('?' * len(keys))})")
            t0 = time.perf_counter()
            with con:
                con.executemany(sql, [tuple(r[k] for k in keys)
                                      for r in rows])
                con.executemany("INSERT INTO events (session, at, kind, "
                                "data) VALUES (?,?,?,?)", events)
            ins = time.perf_counter() - t0
            total = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
        finally:
            con.close()
        log(f"  inserted {nrows} sessions + {len(events)} events in "
            f"{ins * 1000:.0f} ms ({total} rows)")
        res = {"rows": total}
        # first call: daemon start (loads every row) + ls
        t0 = time.perf_counter()
        r = g.cli("ls", "--json", timeout=120)
        res["cold"] = (time.perf_counter() - t0) * 1000
        try:
            res["listed"] = len(json.loads(r.stdout))
        except ValueError:
            res["listed"] = None
            self.note("ls --json output is not JSON with 10k rows")
        res["bytes"] = len(r.stdout)
        dpid = g.daemon_pid()
        res["daemon_rss0"] = (mem_kb(dpid)[0] or 0) / 1024 if dpid else None

        def exec_times(n=20):
            v = []
            for _ in range(n):
                ms, rc = timed_spawn(g.argv("exec", "--", "true"), g.env)
                v.append(ms)
                time.sleep(self.args.gap / 1000.0)
            return {"median": med(v), "p90": pct(v, 90)}

        # dispatch against the big store, before any big reply was built
        res["exec_before"] = exec_times()
        for key, argv in (("ls", ["ls", "--json"]),
                          ("ls_all", ["ls", "--all", "--json"]),
                          ("ls_table", ["ls"]),
                          ("ls_working", ["ls", "--state", "working",
                                          "--json"]),
                          ("status", ["daemon", "status", "--json"])):
            v, bad = [], 0
            for _ in range(self.args.ls_runs):
                t0 = time.perf_counter()
                rr = run(g.argv(*argv), g.env, timeout=120)
                v.append((time.perf_counter() - t0) * 1000)
                bad += rr.returncode != 0
            if bad:
                self.note(f"ls: {bad} of {len(v)} '{' '.join(argv)}' "
                          f"runs failed")
            res[key] = {"median": med(v), "p90": pct(v, 90)}
        # the daemon's share: the same request over a raw connection,
        # timed from request to the last byte of the reply (no CLI)
        try:
            c = RawClient(g.socket_path())
            v = []
            for _ in range(self.args.ls_runs):
                t0 = time.perf_counter()
                reply = c.call({"cmd": "ls", "all": False})
                v.append((time.perf_counter() - t0) * 1000)
            res["frame_bytes"] = len(reply)
            c.close()
            res["ls_daemon"] = {"median": med(v), "p90": pct(v, 90)}
        except (OSError, EOFError, RuntimeError) as e:
            self.note(f"ls: raw request failed: {e}")
            res["ls_daemon"] = {"median": float("nan"),
                                "p90": float("nan")}
            res["frame_bytes"] = 0
        res["exec"] = exec_times()
        time.sleep(1.5)  # idle: the daemon gives big-reply heap back
        drss, _ = mem_kb(dpid) if dpid else (None, None)
        res["daemon_rss"] = drss / 1024 if drss else None
        g.stop_daemon()
        self.r["ls"] = res
        log(f"  cold start + ls --json: {fmt(res['cold'], 1)} ms; "
            f"{res['listed']} sessions, {res['bytes'] / 1e6:.1f} MB of JSON")
        log(f"  daemon RSS {fmt(res['daemon_rss0'], 1)} MB just after the "
            f"first ls, {fmt(res['daemon_rss'], 1)} MB idle after the runs; "
            f"ls reply frame {res['frame_bytes'] / 1e6:.1f} MB")
        for k in ("ls", "ls_all", "ls_table", "ls_working", "ls_daemon",
                  "status", "exec_before", "exec"):
            log(f"  {k:11s} median {fmt(res[k]['median'], 1)} ms  "
                f"p90 {fmt(res[k]['p90'], 1)}")

    # -- 4. new -> done --------------------------------------------------

    def bench_sched(self):
        n = self.args.sched_runs
        log(f"[4/4] new -> done latency: {n} runs each")
        g = self.home("g-sched")
        g.start()
        sub = Subscriber(g.socket_path())
        res = {}
        try:
            for label, argv in (
                    ("fake", ["new", "--runtime", "fake", "--json",
                              "exit 0"]),
                    ("exec", ["exec", "--json", "--", "true"])):
                ret, done, work = [], [], []
                for _ in range(n):
                    t0 = time.perf_counter_ns()
                    r = g.cli(*argv)
                    t1 = time.perf_counter_ns()
                    sid = json.loads(r.stdout)["id"]
                    t2 = sub.wait_state(sid, TERMINAL)
                    if t2 is None:
                        self.note(f"sched: {label} {sid} not ended in 10 s")
                        continue
                    ret.append((t1 - t0) / 1e6)
                    done.append((t2 - t0) / 1e6)
                    ft = sub.first_state_times(sid)
                    if "working" in ft:
                        work.append((ft["working"] - t0) / 1e6)
                    time.sleep(0.02)
                res[label] = {"returned": med(ret), "working": med(work),
                              "done": med(done), "done_p90": pct(done, 90),
                              "n": len(done)}
            # the same as a user sees it: new, then `galley wait ID`
            v = []
            for _ in range(max(5, n // 2)):
                t0 = time.perf_counter()
                r = g.cli("new", "--runtime", "fake", "--json", "exit 0")
                sid = json.loads(r.stdout)["id"]
                w = g.cli("wait", "--timeout", "10", sid, check=False)
                if w.returncode == 0:
                    v.append((time.perf_counter() - t0) * 1000)
            res["wait"] = {"median": med(v), "p90": pct(v, 90), "n": len(v)}
        finally:
            sub.close()
            g.stop_daemon()
        self.r["sched"] = res
        for k in ("fake", "exec"):
            v = res[k]
            log(f"  {k:5s} new returns {fmt(v['returned'])} ms, working "
                f"{fmt(v['working'])} ms, done seen {fmt(v['done'])} ms "
                f"(p90 {fmt(v['done_p90'])})")
        log(f"  new + galley wait: {fmt(res['wait']['median'])} ms "
            f"(p90 {fmt(res['wait']['p90'])})")

    # -- cleanup and report -----------------------------------------------

    def cleanup(self):
        for g in self.homes:
            try:
                if os.path.exists(g.socket_path()):
                    g.stop_daemon()
            except Exception as e:  # keep cleaning
                log(f"  cleanup: {g.home}: {e}")
        kill_and_reap([p for p in self.killme if alive(p)], 0.5)
        left = marked_pids(self.token)
        if left:
            log(f"  cleanup: killing {len(left)} leftover processes by pid: "
                + ", ".join(f"{p} ({cmdline(p)}, GALLEY_HOME={env_of(p, 'GALLEY_HOME')})"
                for p in left[:8]))
            kill_and_reap(left + descendants(left), 0.5)
        left = marked_pids(self.token)
        if left:
            log(f"  cleanup: still alive: {left}")
        if self.args.keep:
            log(f"  kept {self.tmp} (logs: */state/daemon.log, "
                f"*/state/sessions/*/host.log)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self):
        r = self.r
        rows = []   # figure, galley, tmux, dtach, ratio, goal, verdict
        summ = []

        def verdict(ok):
            return "" if ok is None else ("met" if ok else "MISSED")

        def x(a, b):
            return f"{a / b:.2f}x" if b and not math.isnan(a) else "-"

        d = r.get("dispatch")
        if d and "galley" in d:
            ga, rt = d["galley"], d.get("rtt")
            tm, dt = d.get("tmux"), d.get("dtach")
            ratio = ga["median"] / tm["median"] if tm else None
            ok = ga["median"] <= 5.0 and (ratio is None or ratio <= 1.0)
            rows.append(("dispatch median, ms", fmt(ga["median"]),
                         fmt(tm["median"]) if tm else "-",
                         fmt(dt["median"]) if dt else "-",
                         x(ga["median"], tm["median"]) if tm else "-",
                         "<=5 ms, <=1x tmux", verdict(ok)))
            rows.append(("dispatch p90, ms", fmt(ga["p90"]),
                         fmt(tm["p90"]) if tm else "-",
                         fmt(dt["p90"]) if dt else "-",
                         x(ga["p90"], tm["p90"]) if tm else "-", "", ""))
            if rt:
                rows.append(("  CLI round trip only (status), ms",
                             fmt(rt["median"]), "", "", "", "", ""))
            s = (f"dispatch: galley {ga['median']:.2f} ms (p90 "
                 f"{ga['p90']:.2f})")
            if tm:
                s += (f" vs tmux {tm['median']:.2f} ms (p90 {tm['p90']:.2f})"
                      f" -> {ratio:.2f}x")
            if dt:
                s += f", dtach {dt['median']:.2f} ms"
            s += f" (goal <=5 ms, <=1x) [{verdict(ok)}]"
            if rt:
                s += f"; CLI round trip alone {rt['median']:.2f} ms"
            summ.append(s)
        m = r.get("rss")
        if m and "galley" in m:
            ga = m["galley"]
            tm, dt = m.get("tmux"), m.get("dtach")
            ok = ga["rss_mean"] <= 2.0 and ga["rss_max"] <= 2.0
            rows.append((f"RSS per idle session ({ga['n']}), MB",
                         f"{fmt(ga['rss_mean'])} (max {fmt(ga['rss_max'])})",
                         fmt(tm["rss_mean"], 3) if tm else "-",
                         fmt(dt["rss_mean"]) if dt else "-",
                         x(ga["rss_mean"], tm["rss_mean"]) if tm else "-",
                         "<=2 MB per host", verdict(ok)))
            rows.append(("PSS per idle session, MB", fmt(ga["pss_mean"]),
                         fmt(tm["pss_mean"], 3) if tm else "-",
                         fmt(dt["pss_mean"]) if dt else "-",
                         x(ga["pss_mean"], tm["pss_mean"]) if tm else "-",
                         "", ""))
            rows.append((f"  exec with {ga['sessions'] - ga['window']}.."
                         f"{ga['sessions']} live, ms",
                         fmt(ga["create_last"]), "", "", "", "", ""))
            rows.append((f"  daemon RSS, {ga['sessions']} live, MB",
                         fmt(ga["daemon_rss"], 1), "", "", "", "", ""))
            s = (f"rss/host: galley {ga['rss_mean']:.2f} MB mean (max "
                 f"{ga['rss_max']:.2f}, PSS {ga['pss_mean']:.2f}) over "
                 f"{ga['n']} idle hosts")
            if tm:
                s += (f" vs tmux {tm['rss_mean']:.3f} MB/window (server "
                      f"{tm['server_rss']:.1f} MB for {tm['n']})")
            if dt:
                s += (f", dtach {dt['rss_mean']:.2f} MB/master (PSS "
                      f"{dt['pss_mean']:.2f})")
            s += f" (goal <=2 MB) [{verdict(ok)}]"
            summ.append(s)
        ls = r.get("ls")
        if ls:
            ok = ls["ls"]["median"] <= 50.0
            ok_all = ls["ls_all"]["median"] <= 50.0
            n = ls["rows"]
            rows.append((f"ls --json, {n} in store, ms",
                         fmt(ls["ls"]["median"], 1), "-", "-", "-",
                         "<=50 ms", verdict(ok)))
            rows.append(("ls --all --json, ms",
                         fmt(ls["ls_all"]["median"], 1), "-", "-", "-",
                         "<=50 ms", verdict(ok_all)))
            rows.append(("  ls (table), ms", fmt(ls["ls_table"]["median"], 1),
                         "", "", "", "", ""))
            rows.append(("  daemon's share (raw request), ms",
                         fmt(ls["ls_daemon"]["median"], 1), "", "", "", "",
                         ""))
            rows.append(("  ls --state working --json, ms",
                         fmt(ls["ls_working"]["median"], 1), "", "", "", "",
                         ""))
            rows.append((f"  exec with {n} in store, ms",
                         fmt(ls["exec"]["median"]), "", "", "", "", ""))
            rows.append((f"  daemon RSS, {n} in store, MB",
                         f"{fmt(ls['daemon_rss'], 1)} idle "
                         f"({fmt(ls['daemon_rss0'], 1)} in ls)", "", "", "",
                         "", ""))
            summ.append(
                f"ls {n} rows: ls --json {ls['ls']['median']:.1f} ms "
                f"(p90 {ls['ls']['p90']:.1f}; daemon "
                f"{ls['ls_daemon']['median']:.1f}), --all "
                f"{ls['ls_all']['median']:.1f} ms, table "
                f"{ls['ls_table']['median']:.1f} ms, --state working "
                f"{ls['ls_working']['median']:.1f} ms; {ls['listed']} "
                f"listed, {ls['bytes'] / 1e6:.1f} MB JSON; cold start+ls "
                f"{ls['cold']:.0f} ms; exec {ls['exec']['median']:.2f} ms "
                f"(goal <=50 ms) [{verdict(ok)}]")
        sc = r.get("sched")
        if sc:
            f, e, w = sc["fake"], sc["exec"], sc["wait"]
            rows.append(("fake 'exit 0': new -> done seen, ms",
                         fmt(f["done"], 1), "-", "-", "-", "", ""))
            rows.append(("  new + galley wait, ms", fmt(w["median"], 1), "",
                         "", "", "", ""))
            rows.append(("exec true: exec -> done seen, ms",
                         fmt(e["done"], 1), "-", "-", "-", "", ""))
            summ.append(
                f"new->done: fake 'exit 0' {f['done']:.1f} ms (p90 "
                f"{f['done_p90']:.1f}; new returns {f['returned']:.1f}, "
                f"working at {f['working']:.1f}), new+wait "
                f"{w['median']:.1f} ms; exec true {e['done']:.1f} ms")

        hdr = ("figure", "galley", "tmux", "dtach", "galley/tmux", "goal",
               "verdict")
        w = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(7)]
        line = "  ".join("-" * k for k in w)
        ver = run([self.galley, "--version"], self.env).stdout
        print()
        print(f"galley benchmarks  ({time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} CPUs, {ver.decode().strip()}; medians "
              f"unless noted)")
        print(line)
        print("  ".join(str(h).ljust(k) for h, k in zip(hdr, w)).rstrip())
        print(line)
        for row in rows:
            print("  ".join(str(c).ljust(k) for c, k in zip(row, w)).rstrip())
        print(line)
        if self.notes:
            print("notes:")
            for n in self.notes:
                print("  " + n)
        print()
        print("summary:")
        for s in summ:
            print("  " + s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--galley", default=os.environ.get(
        "GALLEY_BIN", os.path.join(REPO, "build", "galley")))
    ap.add_argument("--runs", type=int, default=200,
                    help="dispatch runs per tool (default 200)")
    ap.add_argument("--gap", type=float, default=5.0,
                    help="ms between dispatch runs (default 5)")
    ap.add_argument("--sessions", type=int, default=200,
                    help="idle sessions for the RSS figure (default 200)")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds idle before memory is read (default 2)")
    ap.add_argument("--rows", type=int, default=10000,
                    help="ended sessions in the store for ls (default 10000)")
    ap.add_argument("--ls-runs", type=int, default=20)
    ap.add_argument("--sched-runs", type=int, default=20)
    ap.add_argument("--only", default="dispatch,rss,ls,sched",
                    help="comma-separated subset of dispatch,rss,ls,sched")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs) at the end")
    args = ap.parse_args()
    if not os.access(args.galley, os.X_OK):
        log(f"bench: no galley binary at {args.galley}: build it with "
            f"'ninja -C build' (or pass --galley PATH)")
        return 2
    b = Bench(args)
    t_start = time.monotonic()
    old_int = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    os.chdir(b.work)
    try:
        for name in args.only.split(","):
            fn = getattr(b, "bench_" + name.strip(), None)
            if fn is None:
                log(f"bench: unknown benchmark '{name}'")
                continue
            try:
                fn()
            except KeyboardInterrupt:
                raise
            except Exception as e:  # report, keep going, clean up
                b.note(f"{name}: failed: {type(e).__name__}: {e}")
        b.report()
    except KeyboardInterrupt:
        log("bench: interrupted, cleaning up")
    finally:
        os.chdir("/")
        b.cleanup()
        signal.signal(signal.SIGINT, old_int)
        log(f"bench: done in {time.monotonic() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
