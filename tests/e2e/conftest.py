"""End-to-end harness: the real build/galley in a throw-away world.

Every test gets a temp HOME and GALLEY_HOME, a clean environment, and a
teardown that kills every process galley started (by pid), stops the daemon
and fails the test if a sanitizer report or a crash shows up in the logs.
Waits poll to a deadline scaled by GALLEY_TEST_TIMEOUT_MULTIPLIER.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fakeapi import FakeAPI

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GALLEY_BIN", ROOT / "build" / "galley")).resolve()
MULT = float(os.environ.get("GALLEY_TEST_TIMEOUT_MULTIPLIER", "1"))
# the pinned claude CLI (scripts/claude-install.sh; make check passes it)
CLAUDE = Path(os.environ.get("GALLEY_CLAUDE") or
              ROOT / ".cache/claude/node_modules/.bin/claude")
CLAUDE_KEY = "dummy-key-0123456789abcdefghij"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def scaled(seconds):
    return seconds * MULT


def poll(fn, timeout=10.0, interval=0.02, what="condition"):
    """Call fn until it returns a truthy value; fail at the deadline."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Galley:
    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.home = self.tmp / "home"
        self.ghome = self.tmp / "g"
        self.home.mkdir(exist_ok=True)
        self.bin = str(BIN)
        self.env = {
            "HOME": str(self.home),
            "GALLEY_HOME": str(self.ghome),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "TERM": "xterm-256color",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.pids = set()  # extra processes a test started

    # -- running the CLI ------------------------------------------------
    def run(self, *args, input=None, timeout=30, env=None, cwd=None,
            check=None):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run([self.bin, *map(str, args)], input=input,
                           capture_output=True, text=True, env=e,
                           cwd=cwd or str(self.tmp),
                           timeout=scaled(timeout))
        # git's test_must_fail: a failure must never be a crash
        assert p.returncode >= 0, (
            f"galley {args} died by signal {-p.returncode}: {p.stderr}")
        if check is not None:
            assert p.returncode == check, (
                f"galley {' '.join(map(str, args))}: exit {p.returncode}, "
                f"want {check}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def popen(self, *args, cwd=None):
        """A CLI process left running (its pid is cleaned up)."""
        p = subprocess.Popen([self.bin, *map(str, args)], env=dict(self.env),
                             cwd=cwd or str(self.tmp), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pids.add(p.pid)
        return p

    def ok(self, *args, **kw):
        return self.run(*args, check=0, **kw)

    def json(self, *args, **kw):
        # right after the verb: exec stops parsing options at CMD
        p = self.ok(args[0], "--json", *args[1:], **kw)
        return json.loads(p.stdout)

    def fail(self, *args, code, match=None, **kw):
        """Expect exit `code` and a one-line 'galley: ...' error."""
        p = self.run(*args, check=code, **kw)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        assert lines and lines[-1].startswith("galley: "), p.stderr
        if match:
            assert match in p.stderr, p.stderr
        return p

    # -- sessions -------------------------------------------------------
    def new(self, script, name=None, runtime="fake", cwd=None, extra=()):
        args = ["new", "--runtime", runtime]
        if name:
            args += ["-n", name]
        s = self.json(*args, *extra, script, cwd=cwd)
        return s

    def exec(self, *cmd, name=None, cwd=None):
        args = ["exec"]
        if name:
            args += ["-n", name]
        return self.json(*args, "--", *cmd, cwd=cwd)

    def get(self, ref):
        return self.json("get", ref)

    def ls(self, *args):
        return self.json("ls", *args)

    def wait_state(self, ref, states, timeout=10):
        if isinstance(states, str):
            states = (states,)
        last = {}

        def check():
            last["s"] = self.get(ref)
            return last["s"]["state"] in states

        try:
            poll(check, timeout, what=f"{ref} in {states}")
        except AssertionError:
            raise AssertionError(
                f"{ref} is {last.get('s', {}).get('state')} "
                f"({last.get('s', {}).get('reason')}), want {states}")
        return last["s"]

    def session_dir(self, s):
        return Path(s["dir"])

    def daemon_pid(self):
        p = self.run("daemon", "status", "--json")
        if p.returncode != 0:
            return None
        return json.loads(p.stdout).get("pid")

    # -- teardown -------------------------------------------------------
    def logs_text(self):
        out = []
        state = self.ghome / "state"
        for f in [state / "daemon.log", *state.glob("sessions/*/host.log")]:
            try:
                out.append((f, f.read_text(errors="replace")))
            except OSError:
                pass
        return out

    def strays(self):
        """Live processes whose environment has this test's GALLEY_HOME."""
        mark = f"GALLEY_HOME={self.ghome}".encode()
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    if mark in f.read().split(b"\0") and pid_alive(int(d)):
                        out.append(int(d))
            except OSError:
                pass
        return out

    def teardown(self):
        sessions = []
        db = self.ghome / "state" / "galley.db"
        if db.exists():
            import sqlite3
            try:
                con = sqlite3.connect(str(db), timeout=5)
                sessions = con.execute(
                    "SELECT host_pid, pid FROM sessions").fetchall()
                con.close()
            except sqlite3.Error:
                pass
        dpid = None
        lock = self.ghome / "run" / "sock"
        if lock.exists():
            dpid = self.daemon_pid()
        for host_pid, pid in sessions:
            for target in (pid, host_pid):
                if target and pid_alive(target):
                    self.pids.add(target)
            if pid and pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        if dpid:
            self.run("daemon", "stop", timeout=20)
            self.pids.add(dpid)
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in list(self.pids):
            poll(lambda: not pid_alive(pid), 10, what=f"pid {pid} to exit")
        # a hook or overlap check still in flight can start the daemon
        # again after the stop: end every process of this world, by pid
        deadline = time.monotonic() + scaled(5)
        while True:
            strays = self.strays()
            if not strays:
                break
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"processes keep coming: {strays}")
            time.sleep(0.05)
        problems = []
        for f, text in self.logs_text():
            for mark in SANITIZER_MARKS:
                if mark in text:
                    problems.append(f"{f}: {mark}\n{text[-4000:]}")
                    break
        assert not problems, "\n".join(problems)


@pytest.fixture
def fake():
    """The project's fake Messages API, for the claude CLI to talk to."""
    f = FakeAPI().start()
    yield f
    f.stop()


@pytest.fixture
def galley(tmp_path):
    g = Galley(tmp_path)
    yield g
    g.teardown()


@pytest.fixture
def repo(tmp_path):
    """A scratch git repository with one commit."""
    r = tmp_path / "repo"
    r.mkdir()
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))
    def git(*a):
        subprocess.run(["git", *a], cwd=r, check=True, env=env,
                       capture_output=True)
    git("init", "-q", "-b", "main")
    git("-c", "user.email=t@example.com", "-c", "user.name=t",
        "commit", "-q", "--allow-empty", "-m", "init")
    return r


def claude_env(galley, api_url):
    """galley with the pinned claude on PATH, talking to the fake
    Messages API at api_url, and no retries (a failure shows at once)."""
    galley.env.update({
        "PATH": f"{CLAUDE.parent}:{galley.env['PATH']}",
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": CLAUDE_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    })


def claude_seed(galley, trusted, **extra):
    """A ~/.claude.json that has done onboarding, approved the key and
    trusts the folders in `trusted`."""
    cfg = {"hasCompletedOnboarding": True,
           "customApiKeyResponses": {"approved": [CLAUDE_KEY[-20:]],
                                     "rejected": []},
           "projects": {str(p): {"hasTrustDialogAccepted": True}
                        for p in trusted},
           "messageIdleNotifThresholdMs": 2000}
    cfg.update(extra)
    (galley.home / ".claude.json").write_text(json.dumps(cfg))
