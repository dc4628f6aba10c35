#!/usr/bin/python3
"""make upgrade: build galley as it was at the commit in
scripts/upgrade-base (into build-old/, kept between runs), then run
tests/e2e/test_upgrade.py against build/galley with GALLEY_OLD_BIN set:
sessions started by the old binary, adopted by the new one."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "build-old"


def main():
    base = (ROOT / "scripts" / "upgrade-base").read_text().strip()
    src, build = OLD / "src", OLD / "build"
    stamp = OLD / "commit"
    if not (build / "galley").exists() or \
            not stamp.exists() or stamp.read_text() != base:
        shutil.rmtree(OLD, ignore_errors=True)
        src.mkdir(parents=True)
        # the tree of that commit, without touching this checkout
        arch = subprocess.run(["git", "archive", base], cwd=ROOT,
                              capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=arch,
                       check=True)
        subprocess.run(["meson", "setup", str(build), "-Dtests=false",
                        "-Dwerror=false"], cwd=src, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["ninja", "-C", str(build), "galley"], check=True,
                       stdout=subprocess.DEVNULL)
        stamp.write_text(base)
    env = dict(os.environ, GALLEY_OLD_BIN=str(build / "galley"),
               GALLEY_BIN=str(ROOT / "build" / "galley"))
    print(f"upgrade: from {base[:10]} ({build / 'galley'}) to build/galley",
          flush=True)
    return subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q",
                           "-p", "no:cacheprovider",
                           "tests/e2e/test_upgrade.py"], cwd=ROOT,
                          env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
