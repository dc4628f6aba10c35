#!/usr/bin/python3
"""make check: build (release and ASan+UBSan), run the cmocka unit tests and
the pytest end-to-end suite against both builds, and print one closing line
'N passed, N failed[, N skipped]'. Exit 1 if anything failed."""
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = "/usr/bin/python3"
totals = {"passed": 0, "failed": 0, "skipped": 0}


def sh(cmd, env=None, check=True):
    print("+ " + " ".join(map(str, cmd)), flush=True)
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    if check and r.returncode != 0:
        print(f"check: command failed ({r.returncode})", flush=True)
        totals["failed"] += 1
        finish()
    return r.returncode


def configure(build, extra, env=None):
    if not (ROOT / build / "build.ninja").exists():
        sh(["meson", "setup", build, "-Dtests=true", *extra], env=env)
    else:
        sh(["meson", "configure", build, "-Dtests=true"], env=env)
    sh(["ninja", "-C", build], env=env)


def unit(build, env):
    sh(["meson", "test", "-C", build, "--suite", "unit",
        "--print-errorlogs"], env=env, check=False)
    log = ROOT / build / "meson-logs" / "testlog.json"
    for line in log.read_text().splitlines():
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        # each cmocka test counts: "[       OK ] name", "[  FAILED  ] name"
        ok = len(re.findall(r"^\[       OK \] ", out, re.M))
        bad = len(set(re.findall(r"^\[  FAILED  \] (?!\d+ test)(\S+)", out,
                                 re.M)))
        if t.get("result") != "OK" and bad == 0:
            bad = 1  # crashed or timed out before cmocka could say
        totals["passed"] += ok
        totals["failed"] += bad


# e2e tests run three at a time (pytest-xdist): one at a time they kept
# 2 cores 33% busy (most of a test is waiting for a state, a process, a
# deadline); three keep them busy. Every test has its own GALLEY_HOME,
# HOME, tmux socket and fake API port, so they cannot meet.
WORKERS = os.environ.get("GALLEY_TEST_WORKERS", "3")


def e2e_cmd(build, env, tag, extra, workers=WORKERS):
    xml = ROOT / build / f"e2e-{tag}.xml"
    if xml.exists():
        xml.unlink()
    e = dict(env, GALLEY_BIN=str(ROOT / build / "galley"))
    par = ["-n", workers] if workers not in ("", "0", "1") else []
    return xml, e, [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    *par, f"--junitxml={xml}", *extra]


def e2e(build, env, tag, extra=("tests/e2e",)):
    xml, e, cmd = e2e_cmd(build, env, tag, extra)
    sh(cmd, env=e, check=False)
    count(xml)


def count(xml):
    if not xml.exists():
        totals["failed"] += 1
        return
    root = ET.parse(xml).getroot()
    for suite in root.iter("testsuite"):
        n = int(suite.get("tests", 0))
        f = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        s = int(suite.get("skipped", 0))
        totals["passed"] += n - f - s
        totals["failed"] += f
        totals["skipped"] += s


def fmt():
    """STYLE: clang-format, checked in CI; one check in the count."""
    files = sorted(str(p.relative_to(ROOT)) for p in
                   list((ROOT / "src").glob("*.[ch]")) +
                   list((ROOT / "tests" / "unit").glob("*.c")) +
                   list((ROOT / "tests" / "fuzz").glob("*.c")))
    rc = sh(["clang-format", "--dry-run", "--Werror", *files], check=False)
    totals["passed" if rc == 0 else "failed"] += 1
    if rc:
        print("check: formatting differs: run 'make format'", flush=True)


def structure():
    """The core's shape (issue 13): no call cycle of more than two files
    among the built objects, no file over 800 lines, at most 6 functions
    over 80. One check each in the count."""
    for script in ("cycles.py", "funcsize.py"):
        rc = sh([PY, str(ROOT / "scripts" / script), *(
            [str(ROOT / "build")] if script == "cycles.py" else [])],
            check=False)
        totals["passed" if rc == 0 else "failed"] += 1


def finish():
    line = f"{totals['passed']} passed, {totals['failed']} failed"
    if totals["skipped"]:
        line += f", {totals['skipped']} skipped"
    print(line, flush=True)
    sys.exit(1 if totals["failed"] else 0)


def claude_cli(env):
    """The pinned claude CLI the e2e tests drive (npm, into .cache/); one
    check in the count. Its tests skip, and this fails, without it."""
    p = subprocess.run(["sh", str(ROOT / "scripts" / "claude-install.sh")],
                       capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        print(f"check: claude CLI install failed: {p.stderr.strip()}",
              flush=True)
        totals["failed"] += 1
        return
    env["GALLEY_CLAUDE"] = lines[-1]
    totals["passed"] += 1


def main():
    t0 = time.monotonic()
    env = dict(os.environ)
    fmt()
    claude_cli(env)
    configure("build", [])
    asan_env = dict(env, CC="clang")
    configure("build-asan", ["-Db_sanitize=address,undefined",
                             "-Db_lundef=false", "-Dbuildtype=debug"],
              env=asan_env)
    san = dict(env,
               ASAN_OPTIONS="abort_on_error=1:detect_leaks=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               GALLEY_TEST_TIMEOUT_MULTIPLIER="3")
    structure()
    # the fuzz targets a few seconds each, over their corpora (every crash
    # found is kept there): one check in the count (make fuzz runs long)
    rc = sh([PY, str(ROOT / "scripts" / "fuzz.py"), "--smoke"], check=False)
    totals["passed" if rc == 0 else "failed"] += 1
    unit("build", env)
    unit("build-asan", san)
    # What runs once (the suite must stay under 15 minutes on 2 cores):
    # the real claude CLI's tests under ASan only (their time is node's
    # start-up, the same in both; ASan watches galley's hook and
    # transcript code they drive); the Slurm tests in the release build
    # only (their two minutes are Slurm's own clocks: a time limit is
    # checked every 30 s); the fake API's own tests once (no galley code).
    once_asan = ["test_claude.py", "test_team_claude.py",
                 "test_workflow_claude.py"]
    once_release = ["test_slurm.py", "test_fakeapi.py"]
    # the Slurm tests mostly wait on Slurm's clocks: they run beside the
    # other passes (whose deadlines are scaled), one at a time, on a
    # cluster of their own
    xml, e, cmd = e2e_cmd("build", env, "slurm", ["tests/e2e/test_slurm.py"],
                          workers="1")
    log = ROOT / "build" / "e2e-slurm.log"
    print("+ " + " ".join(cmd) + f" > {log} &", flush=True)
    with open(log, "w") as out:
        slurm = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=out,
                                 stderr=subprocess.STDOUT)
    e2e("build", env, "release",
        [f"--ignore=tests/e2e/{m}" for m in once_asan + ["test_slurm.py"]]
        + ["tests/e2e"])
    # and the 30-unit batch (a minute under ASan, mostly git making 30
    # worktrees): its code runs under ASan in the other batch tests
    e2e("build-asan", san, "asan",
        [f"--ignore=tests/e2e/{m}" for m in once_release] +
        ["--deselect",
         "tests/e2e/test_batch.py::test_thirty_units_from_a_warm_pool",
         "tests/e2e"])
    slurm.wait()
    print(log.read_text(), flush=True)
    count(xml)
    print(f"check: {time.monotonic() - t0:.0f} s", flush=True)
    finish()


if __name__ == "__main__":
    main()
