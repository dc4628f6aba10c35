"""--sandbox (DESIGN §7): write (Landlock: writes only beneath the
session's directory, its TMPDIR, /dev and its runtime's state) and net
(bubblewrap: no network but the sandbox's own loopback), for jobs and
agents; refused where the machine lacks them unless best-effort. No test
sends traffic beyond this machine: the servers are on 127.0.0.1."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import BIN, CLAUDE, claude_env, claude_seed, poll, scaled


def landlock_abi():
    """What this machine supports, from `doctor` in a scratch home; the
    daemon doctor starts is stopped and the home removed."""
    home = tempfile.mkdtemp(prefix="galley-sbx-probe-")
    env = {"GALLEY_HOME": f"{home}/g", "HOME": home,
           "PATH": "/usr/bin:/bin"}
    try:
        p = subprocess.run([str(BIN), "doctor", "--json"],
                           capture_output=True, text=True, env=env)
        subprocess.run([str(BIN), "daemon", "stop"], capture_output=True,
                       env=env)
        return json.loads(p.stdout)["sandbox"]
    except (ValueError, KeyError):
        return {}
    finally:
        shutil.rmtree(home, ignore_errors=True)


SUPPORT = landlock_abi()
needs_landlock = pytest.mark.skipif(
    not SUPPORT.get("landlock_abi"), reason="no Landlock on this kernel")
needs_bwrap = pytest.mark.skipif(
    not SUPPORT.get("bwrap"), reason="no working bubblewrap here")


@pytest.fixture
def dirs(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "readme").write_text("readable\n")
    return work, outside


@pytest.fixture
def listener():
    """A server on the host's loopback: the sandbox must not reach it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


def sandboxed(galley, mode, name, script, cwd):
    galley.ok("exec", "-n", name, "--sandbox", mode, "--", "sh", "-c",
              script, cwd=cwd)
    return galley.wait_state(name, ("done", "failed"))


@needs_landlock
def test_exec_writes_only_in_its_directory_and_tmpdir(galley, dirs):
    work, outside = dirs
    s = sandboxed(galley, "write", "w1",
                  f'cat {outside}/readme; echo in > inside.txt; '
                  f'echo out > {outside}/escaped; '
                  f'rm -f {outside}/readme; '
                  'echo tmp > "$TMPDIR/t" && echo "tmpdir=$TMPDIR"; '
                  'echo n > /dev/null && echo pipe | cat > /dev/stdout; '
                  'echo d > /dev/galley-probe; '
                  'test -f inside.txt', work)
    log = galley.ok("logs", "w1").stdout
    assert s["state"] == "done", log
    assert "readable" in log  # reading stays allowed
    assert log.count("Permission denied") >= 3, log
    assert "pipe" in log  # the sinks and the terminal stay writable
    assert not os.path.exists("/dev/galley-probe")  # but not all of /dev
    assert (work / "inside.txt").read_text() == "in\n"
    assert not (outside / "escaped").exists()
    assert (outside / "readme").exists()
    tmp = galley.session_dir(s) / "tmp"
    assert f"tmpdir={tmp}" in log
    assert (tmp / "t").read_text() == "tmp\n"
    assert tmp.stat().st_mode & 0o777 == 0o700
    sb = s["policy"]["sandbox"]
    assert sb["write"] and not sb["net"]
    assert sb["applied"]["write"] and sb["applied"]["landlock_abi"] >= 1


@needs_landlock
def test_fake_agent_cannot_write_outside(galley, dirs):
    work, outside = dirs
    galley.ok("new", "--runtime", "fake", "-n", "fa", "--sandbox", "write",
              f"write {outside}/a.txt nope; write inside.txt yes; "
              f"run echo x > {outside}/b.txt; usage 10 20; exit 0",
              cwd=work)
    s = galley.wait_state("fa", "done")
    log = galley.ok("logs", "fa").stdout
    assert f"Write({outside}/a.txt) failed: Permission denied" in log, log
    assert "Permission denied" in log.split("Bash(")[1]
    assert (work / "inside.txt").read_text() == "yes\n"
    assert not (outside / "a.txt").exists()
    assert not (outside / "b.txt").exists()
    # its transcript (in the session's dir) is still writable
    galley.wait_state("fa", "done")
    assert galley.get("fa")["usage"]["input_tokens"] == 10
    # but not the rest of that dir: spec.json holds the sandbox itself
    galley.ok("new", "--runtime", "fake", "-n", "fb", "--sandbox", "write",
              f"write {s['dir']}/spec.json {{}}; exit 0", cwd=work)
    galley.wait_state("fb", "done")
    assert "spec.json) failed: Permission denied" in galley.ok(
        "logs", "fb").stdout


@needs_landlock
def test_worktree_agent_can_commit_but_not_touch_the_repo(galley, repo):
    git = ("git -c user.email=t@example.com -c user.name=t "
           "-c commit.gpgsign=false")
    galley.ok("exec", "-n", "wt", "-w", "--sandbox", "write", "--", "sh",
              "-c", f"echo a > f && {git} add f && {git} commit -qm work "
              f"&& echo x > {repo}/evil; true", cwd=repo)
    s = galley.wait_state("wt", "done")
    log = galley.ok("logs", "wt").stdout
    assert "Permission denied" in log, log
    assert not (repo / "evil").exists()
    out = subprocess.run(["git", "log", "--format=%s", s["branch"]],
                         cwd=repo, capture_output=True, text=True).stdout
    assert out.splitlines()[0] == "work", (out, log)


@needs_bwrap
def test_net_blocks_host_loopback_allows_its_own(galley, dirs, listener):
    work, _ = dirs
    probe = f"""
import socket, sys
try:
    socket.create_connection(("127.0.0.1", {listener}), timeout=3)
    print("host reached")
except OSError as e:
    print("host unreachable", e)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=3)
c.sendall(b"ping")
a, _ = srv.accept()
print("inside", a.recv(4).decode())
"""
    for name, mode in (("plain", None), ("nonet", "net")):
        sb = ["--sandbox", mode] if mode else []
        galley.ok("exec", "-n", name, *sb, "--", "/usr/bin/python3", "-c",
                  probe, cwd=work)
    galley.wait_state("plain", "done")
    s = galley.wait_state("nonet", "done")
    plain = galley.ok("logs", "plain").stdout
    nonet = galley.ok("logs", "nonet").stdout
    assert "host reached" in plain  # the probe itself works
    assert "host unreachable" in nonet, nonet
    assert "inside ping" in nonet, nonet
    assert s["policy"]["sandbox"]["applied"]["net"]


@needs_bwrap
def test_net_keeps_cwd_and_controlling_terminal(galley, dirs):
    work, _ = dirs
    s = sandboxed(galley, "net", "tty", 'pwd; tty; test -t 0', work)
    log = galley.ok("logs", "tty").stdout
    assert s["state"] == "done", log
    assert str(work) in log and "/dev/pts/" in log


@needs_landlock
@needs_bwrap
def test_all_confines_both(galley, dirs, listener):
    work, outside = dirs
    s = sandboxed(galley, "all", "both",
                  f'echo x > {outside}/escaped; echo ok > in.txt; '
                  f'/usr/bin/python3 -c "import socket; '
                  f'socket.create_connection((\'127.0.0.1\', {listener}), '
                  f'timeout=3)" || echo net-blocked; test -f in.txt', work)
    log = galley.ok("logs", "both").stdout
    assert s["state"] == "done", log
    assert "Permission denied" in log and "net-blocked" in log, log
    assert not (outside / "escaped").exists()
    assert s["policy"]["sandbox"]["applied"] == {
        "write": True, "net": True,
        "landlock_abi": SUPPORT["landlock_abi"]}


def test_bad_sandbox_value_is_usage_error(galley, dirs):
    work, _ = dirs
    galley.fail("exec", "--sandbox", "disk", "--", "true", code=2,
                cwd=work, match="--sandbox takes write, net or all")
    galley.fail("new", "--runtime", "fake", "--sandbox", "write,bogus",
                "exit 0", code=2, cwd=work)


@pytest.mark.parametrize("mode,var,what", [
    ("write", "GALLEY_TEST_NO_LANDLOCK", "Landlock"),
    ("net", "GALLEY_TEST_NO_BWRAP", "bubblewrap"),
])
def test_unsupported_is_refused_unless_best_effort(galley, dirs, mode, var,
                                                   what):
    work, _ = dirs
    galley.env[var] = "1"  # the daemon starts with it: tests only
    p = galley.fail("exec", "-n", "ref", "--sandbox", mode, "--", "true",
                    code=1, cwd=work, match=f"--sandbox {mode} needs {what}")
    assert "best-effort" in p.stderr
    assert galley.ls("--all") == []  # nothing was made
    galley.ok("exec", "-n", "be", "--sandbox", f"{mode},best-effort", "--",
              "sh", "-c", "echo ran", cwd=work)
    s = galley.wait_state("be", "done")
    assert "ran" in galley.ok("logs", "be").stdout
    applied = s["policy"]["sandbox"]["applied"]
    assert applied[mode] is False and var in applied["missing"]
    ev = galley.json("events", "be")
    assert any(e.get("kind") == "sandbox" for e in ev), ev


@needs_landlock
def test_host_fails_closed_when_landlock_fails(galley, dirs):
    work, _ = dirs
    galley.env["GALLEY_TEST_LANDLOCK_FAIL"] = "1"  # tests only
    s = sandboxed(galley, "write", "closed", "echo ran > marker", work)
    assert s["state"] == "failed" and s["exit_code"] == 127
    assert "cannot apply the write sandbox" in galley.ok(
        "logs", "closed").stdout
    assert not (work / "marker").exists()
    s = sandboxed(galley, "write,best-effort", "open", "echo ran > marker",
                  work)
    assert s["state"] == "done"
    assert "running without the write sandbox" in galley.ok(
        "logs", "open").stdout
    assert (work / "marker").exists()


@needs_landlock
@needs_bwrap
def test_host_fails_closed_inside_bwrap(galley, dirs):
    work, _ = dirs
    galley.env["GALLEY_TEST_LANDLOCK_FAIL"] = "1"
    s = sandboxed(galley, "all", "closed2", "echo ran > marker", work)
    assert s["state"] == "failed", galley.ok("logs", "closed2").stdout
    assert not (work / "marker").exists()


def test_doctor_reports_sandboxes(galley):
    d = galley.json("doctor")
    checks = {c["check"]: c for c in d["checks"]}
    assert "landlock" in checks and "bubblewrap" in checks
    assert set(d["sandbox"]) >= {"landlock_abi"}
    if d["sandbox"]["landlock_abi"]:
        assert f"ABI {d['sandbox']['landlock_abi']}" in \
            checks["landlock"]["detail"]
    if shutil.which("bwrap") is None:
        assert checks["bubblewrap"]["status"] == "warn"


# ---- net: the one endpoint (the API of a claude agent) --------------------

needs_claude = pytest.mark.skipif(not CLAUDE.exists(),
                                  reason=f"no claude CLI at {CLAUDE}")


@pytest.fixture
def echo_server():
    """A TCP echo server on the host's loopback: the endpoint stand-in."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve(c):
        with c:
            while True:
                try:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
                except OSError:
                    break

    def loop():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


@needs_bwrap
@needs_claude
def test_claude_net_reaches_its_api_and_nothing_else(galley, dirs, listener):
    """A claude agent under --sandbox net finishes turns against the fake
    API (a loopback http endpoint, relayed on the same address), while a
    Bash command it runs cannot reach another server on the loopback."""
    from fakeapi import FakeAPI
    work, _ = dirs
    fake = FakeAPI().start()
    try:
        claude_env(galley, fake.url)
        claude_seed(galley, [work])
        probe = ("for p in {0} {1}; do (exec 3<>/dev/tcp/127.0.0.1/$p) "
                 "2>/dev/null && echo $p reached >> probe.txt || "
                 "echo $p unreachable >> probe.txt; done")
        s = galley.json("new", "--runtime", "claude", "-n", "cnet",
                        "--sandbox", "net", "--allow", "Bash",
                        "RUNBASH " + probe.format(fake.port, listener),
                        cwd=work)
        galley.wait_state("cnet", "idle", timeout=40)
        got = (work / "probe.txt").read_text()
        assert f"{fake.port} reached" in got, got  # its endpoint
        assert f"{listener} unreachable" in got, got  # nothing else
        assert fake.requests_for(s["runtime_session_id"])
        s = galley.get("cnet")
        applied = s["policy"]["sandbox"]["applied"]
        assert applied["net"] and \
            applied["endpoint"] == f"127.0.0.1:{fake.port}"
        sock = galley.session_dir(s) / "api.sock"
        assert sock.stat().st_mode & 0o777 == 0o600
        spec = json.loads((galley.session_dir(s) / "spec.json").read_text())
        relay = spec["sandbox"]["relay"]
        assert relay["listen"] == [f"127.0.0.1:{fake.port}"]
        assert "proxy" not in relay
        # a restart reads the same plan: a new relay pair, and the
        # resumed conversation's next turn reaches the API again
        galley.ok("stop", "cnet")
        galley.wait_state("cnet", ("done", "failed", "stopped"))
        poll(lambda: not sock.exists(), 10, what="api.sock removed")
        before = len(fake.requests_for(s["runtime_session_id"]))
        galley.ok("restart", "cnet")
        galley.wait_state("cnet", ("idle", "working"), timeout=40)
        galley.ok("send", "cnet", "SAY second answer")
        fake.wait_requests(before + 1, session=s["runtime_session_id"],
                           timeout=scaled(40))
        poll(lambda: "second answer" in galley.ok("peek", "cnet").stdout,
             20, what="the answer on screen")
        galley.ok("stop", "cnet")
        galley.wait_state("cnet", ("done", "failed", "stopped"))
        poll(lambda: not sock.exists(), 10, what="api.sock removed")
    finally:
        fake.stop()


def relay_proc(tmp_path, to, *extra):
    sock = tmp_path / "r.sock"
    p = subprocess.Popen([str(BIN), "netrelay", "--listen-unix", str(sock),
                          "--to", to, *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p, sock


def unix_conn(sock):
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(scaled(5))
    c.connect(str(sock))
    return c


def read_head(c):
    d = b""
    while b"\r\n\r\n" not in d:
        x = c.recv(4096)
        if not x:
            break
        d += x
    return d


def test_connect_relay_allows_only_its_endpoint(tmp_path, echo_server,
                                                listener):
    p, sock = relay_proc(tmp_path, f"127.0.0.1:{echo_server}", "--connect")
    try:
        c = unix_conn(sock)
        c.sendall(f"CONNECT 127.0.0.1:{echo_server} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{echo_server}\r\n\r\n".encode())
        assert read_head(c) == b"HTTP/1.1 200 Connection established\r\n\r\n"
        c.sendall(b"ping" * 50000)
        got = b""
        while len(got) < 200000:
            got += c.recv(65536)
        assert got == b"ping" * 50000
        c.shutdown(socket.SHUT_WR)  # a half close is passed on
        assert c.recv(10) == b""
        c.close()
        for target in (f"127.0.0.1:{listener}", f"localhost:{echo_server}",
                       f"example.com:{echo_server}", "127.0.0.1",
                       f"[::1]:{echo_server}"):
            c = unix_conn(sock)
            c.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            head = read_head(c)
            assert head.startswith(b"HTTP/1.1 403 "), (target, head)
            c.close()
        # a plain-http proxy request to the endpoint goes on as it is
        c = unix_conn(sock)
        req = f"GET http://127.0.0.1:{echo_server}/v1 HTTP/1.1\r\n\r\n"
        c.sendall(req.encode())
        assert read_head(c) == req.encode()
        c.close()
        c = unix_conn(sock)
        c.sendall(f"GET http://127.0.0.1:{listener}/ HTTP/1.1\r\n\r\n"
                  .encode())
        assert read_head(c).startswith(b"HTTP/1.1 403 ")
        c.close()
        assert p.poll() is None
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    assert "403 Forbidden" in err


def test_relay_survives_garbage_and_peers_that_vanish(tmp_path, echo_server):
    p, sock = relay_proc(tmp_path, f"127.0.0.1:{echo_server}", "--connect")
    try:
        for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20,
                     b"GET / HTTP/1.1\r\n\r\n", b"CONNECT\r\n\r\n",
                     b"CONNECT a:b:c HTTP/1.1\r\n\r\n",
                     b"CONNECT [::1 HTTP/1.1\r\n\r\n",
                     b"A" * 40000, b"\r\n\r\n"):
            c = unix_conn(sock)
            try:
                c.sendall(junk)
                head = read_head(c)
            except OSError:
                head = b""  # reset while we still sent: also refused
            assert head == b"" or head.startswith(b"HTTP/1.1 4"), head
            c.close()
        # vanishing peers: mid-head, right after CONNECT, mid-stream
        c = unix_conn(sock)
        c.sendall(b"CONNECT 127.0.0.1:")
        c.close()
        c = unix_conn(sock)
        c.sendall(f"CONNECT 127.0.0.1:{echo_server} HTTP/1.1\r\n\r\n"
                  .encode())
        c.close()
        for _ in range(5):
            c = unix_conn(sock)
            c.sendall(f"CONNECT 127.0.0.1:{echo_server} HTTP/1.1\r\n\r\n"
                      .encode())
            read_head(c)
            c.sendall(os.urandom(300000))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
            c.close()
        # an endpoint that is down: 502, and the relay goes on
        q, sock2 = relay_proc(tmp_path / "..", "127.0.0.1:1", "--connect")
        try:
            c = unix_conn(sock2)
            c.sendall(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")
            assert read_head(c).startswith(b"HTTP/1.1 502 ")
            c.close()
        finally:
            q.terminate()
            q.wait(timeout=10)
        # still serving
        c = unix_conn(sock)
        c.sendall(f"CONNECT 127.0.0.1:{echo_server} HTTP/1.1\r\n\r\n"
                  .encode())
        assert read_head(c).startswith(b"HTTP/1.1 200 ")
        c.sendall(b"still here")
        assert c.recv(100) == b"still here"
        c.close()
        assert p.poll() is None
    finally:
        p.terminate()
        p.communicate(timeout=10)


def test_netrelay_usage_errors(tmp_path):
    for args in ([], ["--fd", "x", "--to", "a:1"],
                 ["--listen-unix", str(tmp_path / "s"), "--to", "nope"],
                 ["--listen-unix", str(tmp_path / "s"), "--to-unix", "/x",
                  "--connect"]):
        p = subprocess.run([str(BIN), "netrelay", *args], capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)


@needs_bwrap
def test_proxy_mode_inside_the_namespace(tmp_path, echo_server, listener):
    """The relay pair as a sandbox with an https endpoint gets it, with the
    echo server standing in for the endpoint: the command sees
    HTTPS_PROXY, CONNECT to the endpoint passes, to anything else is 403,
    and a direct connection goes nowhere; the inside relay ends with the
    command."""
    p, sock = relay_proc(tmp_path, f"127.0.0.1:{echo_server}", "--connect")
    probe = f"""
import os, socket
print("proxy", os.environ.get("HTTPS_PROXY"), os.environ.get("HTTP_PROXY"))
port = int(os.environ["HTTPS_PROXY"].rsplit(":", 1)[1])
for target in ("127.0.0.1:{echo_server}", "127.0.0.1:{listener}"):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(f"CONNECT {{target}} HTTP/1.1\\r\\n\\r\\n".encode())
    head = c.recv(4096)
    print(target, head.split(b"\\r\\n")[0].decode())
    if b" 200 " in head:
        c.sendall(b"tls bytes")
        print("echo", c.recv(100).decode())
    c.close()
try:
    socket.create_connection(("127.0.0.1", {echo_server}), timeout=3)
    print("direct reached")
except OSError:
    print("direct unreachable")
"""
    try:
        bwrap = shutil.which("bwrap")
        out = subprocess.run(
            [bwrap, "--dev-bind", "/", "/", "--unshare-net",
             "--die-with-parent", "--", str(BIN), "sandbox-exec",
             "--relay-unix", str(sock), "--relay-listen", "127.0.0.1:0",
             "--relay-proxy", "https", "--", "/usr/bin/python3", "-c",
             probe], capture_output=True, text=True, timeout=scaled(30))
        assert out.returncode == 0, out.stderr
        o = out.stdout
        assert "proxy http://127.0.0.1:" in o and " None" in o, o
        assert f"127.0.0.1:{echo_server} HTTP/1.1 200 Connection " \
            "established" in o, o
        assert "echo tls bytes" in o, o
        assert f"127.0.0.1:{listener} HTTP/1.1 403 Forbidden" in o, o
        assert "direct unreachable" in o, o
    finally:
        p.terminate()
        p.communicate(timeout=10)


@needs_bwrap
def test_claude_net_default_endpoint_goes_through_the_proxy(galley, dirs):
    """No ANTHROPIC_BASE_URL: the endpoint is api.anthropic.com:443, over
    CONNECT. A stand-in `claude` (a script: nothing leaves this machine)
    shows what the agent gets; exec jobs get no endpoint."""
    work, _ = dirs
    bindir = galley.tmp / "bin"
    bindir.mkdir()
    (bindir / "claude").write_text(
        "#!/bin/sh\nenv | grep -i _proxy= | sort > proxy.txt\n")
    (bindir / "claude").chmod(0o755)
    galley.env["PATH"] = f"{bindir}:{galley.env['PATH']}"
    galley.env.pop("ANTHROPIC_BASE_URL", None)
    galley.json("new", "--runtime", "claude", "-n", "dflt", "--sandbox",
                "net", "hello", cwd=work)
    s = galley.wait_state("dflt", ("done", "failed", "idle"))
    assert s["policy"]["sandbox"]["applied"]["endpoint"] == \
        "api.anthropic.com:443"
    spec = json.loads((galley.session_dir(s) / "spec.json").read_text())
    relay = spec["sandbox"]["relay"]
    assert relay["proxy"] == "https" and relay["listen"] == ["127.0.0.1:0"]
    got = poll(lambda: (work / "proxy.txt").exists() and
               (work / "proxy.txt").read_text(), 10, what="proxy.txt")
    assert "HTTPS_PROXY=http://127.0.0.1:" in got, got
    assert "HTTP_PROXY=" not in got.replace("HTTPS_PROXY", ""), got
    assert "NO_PROXY=localhost,127.0.0.1,::1" in got
    s = sandboxed(galley, "net", "job", "env | grep -i _proxy= ; true", work)
    assert "endpoint" not in s["policy"]["sandbox"]["applied"]
    assert "_PROXY" not in galley.ok("logs", "job").stdout.upper().replace(
        "GREP", "")
