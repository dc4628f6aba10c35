#!/usr/bin/python3
"""make fuzz [FUZZ_SECONDS=N]: build the libFuzzer targets under
ASan+UBSan (build-fuzz/, clang) and run each for N seconds over its seed
corpus (tests/fuzz/corpus/TARGET, where every crash found is kept as a
regression input) plus what earlier runs found (build-fuzz/corpus/).
Prints executions, coverage and crashes per target; exits 1 on a crash.
`--smoke` (make check) runs each a fixed 1,000 times from seed 1 over the
seed corpus alone: the same every time."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build-fuzz"
TARGETS = ["frame", "spec", "settings", "toolrules", "transcript", "hook",
           "agent", "screen", "lua"]


def setup():
    env = dict(os.environ, CC="clang")
    if not (BUILD / "build.ninja").exists():
        subprocess.run(["meson", "setup", str(BUILD), "-Dfuzz=true",
                        "-Dtests=false", "-Db_sanitize=address,undefined",
                        "-Db_lundef=false", "-Dbuildtype=debugoptimized",
                        "-Dc_args=-fsanitize=fuzzer-no-link"],
                       cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", str(BUILD)] +
                   [f"fuzz-{t}" for t in TARGETS], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def run(t, seconds, smoke=False):
    seeds = ROOT / "tests" / "fuzz" / "corpus" / t
    found = BUILD / "corpus" / t
    found.mkdir(parents=True, exist_ok=True)
    crashes = BUILD / "crashes" / t
    crashes.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ,
               ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:"
               "quarantine_size_mb=64",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    # the smoke run of make check is the same every time: the seed corpus
    # alone, a fixed seed and number of runs (a regression check; finding
    # new inputs is what make fuzz is for)
    # (libFuzzer writes to, and may shrink, the first corpus given: never
    # the tracked seeds)
    scratch = BUILD / "smoke" / t
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    corpora = [str(scratch if smoke else found), str(seeds)]
    limit = ["-seed=1", "-runs=1000"] if smoke else []
    p = subprocess.run([str(BUILD / f"fuzz-{t}"), *corpora, *limit,
                        f"-max_total_time={seconds}", "-timeout=10",
                        "-rss_limit_mb=2048", "-print_final_stats=1",
                        f"-artifact_prefix={crashes}/"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    out = p.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", out)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", out)
    ok = p.returncode == 0
    print(f"  {t:10s} {'ok   ' if ok else 'CRASH'} "
          f"runs {runs[-1] if runs else '?':>10s}  "
          f"cov {cov[-1][0] if cov else '?':>5s}  "
          f"ft {cov[-1][1] if cov else '?':>6s}", flush=True)
    if not ok:
        print(out[-3000:], flush=True)
        for c in crashes.iterdir():
            print(f"  kept: {c} (copy it into {seeds} once fixed)")
    return ok


def main():
    smoke = "--smoke" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = int(args[0]) if args else (5 if smoke else 60)
    if shutil.which("clang") is None:
        print("fuzz: clang not found (make deps installs it)")
        return 1
    setup()
    print(f"fuzz: {seconds} s per target", flush=True)
    bad = [t for t in TARGETS if not run(t, seconds, smoke)]
    print(f"fuzz: {len(TARGETS) - len(bad)} targets ok, {len(bad)} crashed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
