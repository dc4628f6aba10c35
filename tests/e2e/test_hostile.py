"""Hostile input to the daemon's and a host's socket: clear errors, never a
crash, and the daemon keeps serving. Also: another uid is refused."""
import json
import os
import shutil
import socket
import struct
import subprocess

import pytest

from conftest import pid_alive, scaled

HELLO = {"hello": "galley", "protocol": 1, "version": "test"}


def frame(obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def read_frame(sock):
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    n = struct.unpack(">I", hdr)[0]
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(scaled(5))
    s.connect(str(path))
    return s


def greeted(path):
    s = connect(path)
    s.sendall(frame(HELLO))
    h = read_frame(s)
    assert h["hello"] == "galley" and h["protocol"] == 1
    return s


def closed(sock):
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True


@pytest.fixture
def daemon(galley):
    galley.ok("ls")
    pid = galley.daemon_pid()
    yield galley.ghome / "run" / "sock"
    assert galley.daemon_pid() == pid, "the daemon restarted (crashed?)"
    assert pid_alive(pid)
    galley.ok("ls")


def test_random_bytes(daemon):
    s = connect(daemon)
    s.sendall(os.urandom(4096))
    s.close()


def test_truncated_frame(daemon):
    s = connect(daemon)
    s.sendall(frame(HELLO))
    read_frame(s)
    s.sendall(struct.pack(">I", 100) + b'{"cmd":')
    s.close()


def test_4gib_length_prefix(daemon):
    s = greeted(daemon)
    s.sendall(b"\xff\xff\xff\xff")
    r = read_frame(s)
    assert r["ok"] is False and r["error"]["code"] == "protocol"
    assert "exceeds" in r["error"]["message"]
    assert closed(s)


def test_bad_json_and_types(daemon):
    s = greeted(daemon)
    s.sendall(frame(b"{nope"))
    r = read_frame(s)
    assert r["ok"] is False and "invalid JSON" in r["error"]["message"]
    s.sendall(frame(b"[1,2,3]"))
    assert read_frame(s)["ok"] is False
    s.sendall(frame({"id": 1, "cmd": "frob"}))
    r = read_frame(s)
    assert r["id"] == 1 and r["error"]["code"] == "usage"
    s.sendall(frame({"id": 2, "cmd": "get", "ref": 5}))
    r = read_frame(s)
    assert r["id"] == 2 and r["error"]["code"] == "usage"
    s.sendall(frame({"id": 3, "cmd": 7}))
    assert read_frame(s)["ok"] is False
    s.sendall(frame({"id": 4, "cmd": "get", "ref": "../../etc/passwd"}))
    r = read_frame(s)
    assert r["error"]["code"] == "usage"
    s.sendall(frame({"id": 5, "cmd": "new", "runtime": "exec",
                     "argv": ["true"], "cwd": "/", "name": "../x"}))
    assert read_frame(s)["error"]["code"] == "usage"
    s.sendall(frame({"id": 6, "cmd": "new", "runtime": "exec",
                     "argv": ["true", 1], "cwd": "/"}))
    assert read_frame(s)["error"]["code"] == "usage"
    s.sendall(frame({"id": 7, "cmd": "new", "runtime": "exec",
                     "argv": ["true"], "cwd": "relative/path"}))
    assert read_frame(s)["error"]["code"] == "usage"
    s.sendall(frame({"id": 8, "cmd": "hook", "session": "00000000",
                     "token": "x", "event": "Stop", "payload": {}}))
    assert read_frame(s)["error"]["code"] == "refused"
    s.sendall(frame({"id": 9, "cmd": "ls", "all": "yes"}))
    assert read_frame(s)["error"]["code"] == "usage"
    s.close()


def test_hello_mismatch_and_request_before_hello(daemon):
    s = connect(daemon)
    s.sendall(frame(dict(HELLO, protocol=99)))
    r = read_frame(s)
    assert r["ok"] is False and "protocol" in r["error"]["message"]
    assert closed(s)
    s = connect(daemon)
    s.sendall(frame({"id": 1, "cmd": "ls"}))
    r = read_frame(s)
    assert r["ok"] is False
    assert closed(s)


def test_hook_with_wrong_token_is_refused(galley, daemon):
    s_ = galley.new("ask q?", name="hk")
    galley.wait_state("hk", "blocked")
    p = galley.run("hook", "Stop", input="{}",
                   env={"GALLEY_SESSION": s_["id"], "GALLEY_HOOK_TOKEN":
                        "0" * 32})
    assert p.returncode == 0  # a hook never breaks its agent
    assert galley.get("hk")["state"] == "blocked"


def test_host_socket_garbage(galley, daemon):
    galley.exec("sleep", "300", name="hs")
    s_ = galley.wait_state("hs", "working")
    path = os.path.join(s_["dir"], "host.sock")
    for junk in (os.urandom(2000), b"\xff\xff\xff\xff",
                 frame(b"{bad") + frame({"cmd": "peek"})):
        s = connect(path)
        s.sendall(junk)
        s.close()
    s = greeted(path)
    s.sendall(frame({"id": 1, "cmd": "signal", "signal": 999}))
    assert read_frame(s)["ok"] is False
    s.sendall(frame({"id": 2, "cmd": "nope"}))
    assert read_frame(s)["error"]["code"] == "usage"
    s.close()
    assert pid_alive(s_["host_pid"])
    assert galley.get("hs")["state"] == "working"
    assert "hs" in galley.ok("peek", "hs").stdout


def run_as_nobody(galley, *args):
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not found")
    return subprocess.run([setpriv, "--reuid=65534", "--regid=65534",
                           "--clear-groups", galley.bin, *args],
                          env=galley.env, capture_output=True, text=True,
                          timeout=scaled(20))


def test_other_uid_cannot_use_the_socket(galley):
    # a GALLEY_HOME whose parents nobody may traverse (pytest's are 0700)
    import tempfile
    from pathlib import Path
    home = Path(tempfile.mkdtemp(prefix="galley-uid-", dir="/tmp"))
    os.chmod(home, 0o755)
    galley.ghome = home / "g"
    galley.env["GALLEY_HOME"] = str(galley.ghome)
    try:
        galley.ok("ls")
        sock = galley.ghome / "run" / "sock"
        p = run_as_nobody(galley, "ls")
        assert p.returncode > 0 and p.stderr.startswith("galley: ")
        # even with the dir opened up, the daemon checks the peer's uid
        os.chmod(galley.ghome, 0o755)
        os.chmod(galley.ghome / "run", 0o755)
        os.chmod(sock, 0o777)
        p = run_as_nobody(galley, "ls")
        assert p.returncode > 0, p.stdout
        assert "permission denied" in p.stderr, p.stderr
        os.chmod(galley.ghome / "run", 0o700)
        galley.ok("ls")  # the owner still can
    finally:
        galley.teardown()
        galley.pids.clear()
        shutil.rmtree(home, ignore_errors=True)
        galley.ghome = galley.tmp / "g"


# ---- issue 14, data and security (2, 3, 4) --------------------------------

def test_store_files_are_private(galley):
    """galley.db holds prompts, argv, hook payloads and tokens: 0600, in a
    0700 state dir, even when they were made 0644/0755 before."""
    import stat as st_
    state = galley.ghome / "state"
    state.mkdir(parents=True)
    state.chmod(0o755)
    db = state / "galley.db"
    db.touch()
    db.chmod(0o644)
    galley.ok("exec", "-n", "p", "--", "true")
    galley.wait_state("p", "done")
    assert st_.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("galley.db", "galley.db-wal", "galley.db-shm"):
        f = state / name
        if f.exists():
            assert st_.S_IMODE(f.stat().st_mode) == 0o600, name


def test_state_dir_of_another_user_is_refused(galley):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the dir to another uid")
    state = galley.ghome / "state"
    state.mkdir(parents=True)
    os.chown(state, 65534, 65534)
    p = galley.run("daemon", "run", "--foreground", timeout=10)
    assert p.returncode != 0
    assert "belongs to uid 65534" in p.stderr, p.stderr


def test_run_dir_symlink_is_refused_not_followed(galley, tmp_path):
    """A link planted at the socket dir (a shared /tmp) is neither used
    nor chmodded."""
    import stat as st_
    target = tmp_path / "elsewhere"
    target.mkdir()
    target.chmod(0o755)
    galley.ghome.mkdir()
    (galley.ghome / "run").symlink_to(target)
    p = galley.run("ls")
    assert p.returncode != 0
    assert "symbolic link" in p.stderr and str(galley.ghome / "run") in \
        p.stderr, p.stderr
    assert st_.S_IMODE(target.stat().st_mode) == 0o755


def test_error_messages_escape_control_characters(galley):
    """A name with an OSC title sequence and a newline must not reach the
    terminal raw; a 4 KB one is cut."""
    p = galley.run("exec", "-n", "a\x1b]0;PWNED\x07b\nc", "--", "true")
    assert p.returncode == 2
    assert "\x1b" not in p.stderr and "\x07" not in p.stderr
    assert p.stderr.count("\n") == 1, repr(p.stderr)
    assert "\\x1b" in p.stderr
    p = galley.run("exec", "-n", "x" * 4096, "--", "true")
    assert p.returncode == 2
    assert len(p.stderr) < 1000, len(p.stderr)


def ask(sock, req):
    sock.sendall(frame(req))
    return read_frame(sock)


@pytest.mark.parametrize("req", [
    {"cmd": "events", "limit": -1},
    {"cmd": "events", "limit": 0},
    {"cmd": "events", "limit": 1.5},
    {"cmd": "group", "op": "set", "name": "g", "parallel": -1},
    {"cmd": "group", "op": "set", "name": "g", "parallel": "s"},
    {"cmd": "group", "op": "set", "name": "g", "parallel": True},
    {"cmd": "group", "op": "set", "name": "g", "parallel": []},
    {"cmd": "budget", "op": "raise", "scope": "global", "usd": -5},
    {"cmd": "budget", "op": "raise", "scope": "global", "tokens": -5},
])
def test_out_of_range_and_mistyped_fields_are_usage_errors(daemon, req):
    """Issue 14 (5): types and ranges as docs/protocol.md says."""
    s = greeted(daemon)
    r = ask(s, dict(req, id=7))
    assert r["ok"] is False and r["error"]["code"] == "usage", r
    s.close()


def test_a_client_that_never_finishes_is_dropped(daemon):
    """Issue 14 (5): no hello, or half a frame, does not hold a
    connection forever; one that is merely idle between frames stays."""
    silent = connect(daemon)
    half = greeted(daemon)
    half.sendall(frame({"id": 1, "cmd": "ls"})[:9])
    idle = greeted(daemon)
    for sock, why in ((silent, "hello"), (half, "middle of a frame")):
        sock.settimeout(scaled(15))
        r = read_frame(sock)  # it says why, then hangs up
        assert r and why in r["error"]["message"], r
        assert read_frame(sock) is None
    # the daemon's stall limit is 5 s; the idle one outlived both
    idle.settimeout(scaled(5))
    assert ask(idle, {"id": 2, "cmd": "ls"})["ok"] is True
