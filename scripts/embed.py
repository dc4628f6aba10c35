#!/usr/bin/python3
"""embed.py IN OUT NAME: write a C file defining `const char NAME[]` with
the bytes of IN, so a data file ships inside the binary (C11 has no
#embed)."""
import sys

data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
    f.write("/* generated from %s by scripts/embed.py */\n" % sys.argv[1])
    f.write("const char %s[] = {\n" % sys.argv[3])
    for i in range(0, len(data), 16):
        f.write("    " + ", ".join(str(b) for b in data[i:i + 16]) + ",\n")
    f.write("    0};\n")
