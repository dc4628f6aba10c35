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

import pytest

from conftest import BIN


def landlock_abi():
    p = subprocess.run([str(BIN), "doctor", "--json"], capture_output=True,
                       text=True, env={"GALLEY_HOME": "/nonexistent/g",
                                       "PATH": "/usr/bin:/bin"})
    try:
        return json.loads(p.stdout)["sandbox"]
    except (ValueError, KeyError):
        return {}


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
