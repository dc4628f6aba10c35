#!/usr/bin/python3
"""Long files and long functions in src/, for the size rules of the core:
no source file over 800 lines, and few functions over 80.

A function is found the way this code base writes one (style(9)): its name
at the start of a line followed by '(', its body opening with '{' alone at
the start of a line and closing with '}' alone at the start of a line. Its
length is the lines from the name to the closing brace. Tables and option
lists are data, not functions, so they are not counted.

usage: scripts/funcsize.py [--lines N] [--file-lines N] [--max-long N]
Exits 1 when a file is over --file-lines (800) or more than --max-long (6)
functions are over --lines (80)."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def functions(path):
    lines = path.read_text().splitlines()
    name, start, i = None, None, 0
    for i, line in enumerate(lines):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\(", line)
        if m:
            name, start = m.group(1), i
        elif line == "{" and name is None:
            start = None
        elif line == "}" and name is not None and start is not None:
            yield name, start + 1, i - start + 1
            name, start = None, None


def main():
    args = sys.argv[1:]
    opts = {"--lines": 80, "--file-lines": 800, "--max-long": 6}
    while args:
        k = args.pop(0)
        opts[k] = int(args.pop(0))
    bad = 0
    long_funcs, big_files = [], []
    for p in sorted((ROOT / "src").glob("*.c")):
        n = len(p.read_text().splitlines())
        if n > opts["--file-lines"]:
            big_files.append((n, p.name))
        for name, at, length in functions(p):
            if length > opts["--lines"]:
                long_funcs.append((length, f"{p.name}:{at}", name))
    for n, f in sorted(big_files, reverse=True):
        print(f"file over {opts['--file-lines']} lines: {f} ({n})")
    for length, where, name in sorted(long_funcs, reverse=True):
        print(f"function over {opts['--lines']} lines: {name} {where} "
              f"({length})")
    print(f"{len(big_files)} files over {opts['--file-lines']} lines, "
          f"{len(long_funcs)} functions over {opts['--lines']} lines "
          f"(at most {opts['--max-long']})")
    if big_files or len(long_funcs) > opts["--max-long"]:
        bad = 1
    sys.exit(bad)


if __name__ == "__main__":
    main()
