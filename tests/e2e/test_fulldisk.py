"""A full disk (issue 14, item 1): output that cannot be kept is flagged,
never lost silently, and the recorded end of the session matches the disk.
GALLEY_HOME is a small tmpfs, mounted for the test (root only)."""
import json
import os
import subprocess

import pytest

SIZE_MIB = 8


@pytest.fixture
def small_home(galley):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    galley.ghome.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m",
                        "tmpfs", str(galley.ghome)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.strip()}")
    yield galley
    # galley's own teardown kills every process after this; lazy, so a
    # process still holding a file there does not keep it mounted
    subprocess.run(["umount", "-l", str(galley.ghome)], check=False)


def test_a_full_disk_is_flagged_and_the_end_is_kept(small_home):
    galley = small_home
    pid = None
    # 400,000 lines of 32 bytes: 12.8 MB into an 8 MiB filesystem
    galley.exec("sh", "-c", "yes 0123456789abcdef0123456789abcd | "
                "head -n 400000; echo tail-line", name="big")
    pid = galley.daemon_pid()
    end = galley.wait_state("big", ("done", "failed"), timeout=60)
    assert end["state"] == "done" and end["exit_code"] == 0, end
    why = end["output_error"]
    assert why and "No space left on device" in why, end
    d = galley.session_dir(end)
    size = (d / "output.log").stat().st_size
    assert f"output from byte {size} not kept" in why, (why, size)
    assert size < 12_800_000
    # the records the daemon needs are on disk all the same
    ex = json.loads((d / "exit").read_text())
    assert ex["code"] == 0 and ex["log_error"] == why
    assert (d / "screen.txt").exists()
    # seen in ls, peek and the events
    row = [l for l in galley.ok("ls").stdout.splitlines() if "big" in l][0]
    assert "output.log: No space left" in row, row
    assert why in galley.ok("peek", "big").stdout
    kinds = [e["kind"] for e in galley.json("events", "big")]
    assert "output.lost" in kinds, kinds
    # the daemon stayed up, and says the same after a restart
    assert galley.daemon_pid() == pid
    galley.ok("daemon", "stop")
    again = galley.get("big")
    assert again["state"] == "done" and again["output_error"] == why
    # doctor says how much room is left
    doc = json.loads(galley.run("doctor", "--json").stdout)
    checks = {c["check"]: c for c in doc["checks"]}
    assert "MiB free under" in checks["disk"]["detail"], checks["disk"]
    assert checks["disk"]["status"] == "fail"


def test_a_session_that_ends_on_a_full_disk_is_not_lost(small_home):
    """The ended state reaches the store or the exit record: after a
    daemon restart it is never 'host lost'."""
    galley = small_home
    galley.exec("sh", "-c", "yes 0123456789abcdef0123456789abcd | "
                "head -n 400000", name="fill")
    galley.wait_state("fill", "done", timeout=60)
    # a second session on the now full disk: it ends as it did
    galley.exec("sh", "-c", "echo small; exit 3", name="small")
    galley.wait_state("small", "failed", timeout=30)
    galley.ok("daemon", "stop")
    for name, state in (("fill", "done"), ("small", "failed")):
        s = galley.get(name)
        assert s["state"] == state, s
        assert "host lost" not in (s["reason"] or ""), s
