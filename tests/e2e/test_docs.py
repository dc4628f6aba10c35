"""Like git's t0450: every visible verb has --help and a man page section
with the same usage line; every setting is documented."""
import re
from pathlib import Path

MAN = Path(__file__).resolve().parents[2] / "docs" / "galley.1"


def unroff(text):
    return text.replace("\\-", "-").replace("\\e", "\\")


def test_every_verb_documented(galley):
    man = unroff(MAN.read_text())
    verbs = re.findall(r"^  (\w[\w-]*)\s", galley.ok("--help").stdout, re.M)
    assert len(verbs) >= 15
    for v in verbs:
        usage = galley.ok(v, "--help").stdout.splitlines()[0]
        assert usage.startswith(f"usage: galley {v}")
        sect = re.search(rf"^\.SS {re.escape(v)}\n\.B (.*)$", man, re.M)
        assert sect, f"no .SS section for {v} in docs/galley.1"
        assert sect.group(1).strip() == usage[len("usage: "):].strip(), v


def test_every_setting_documented(galley):
    man = unroff(MAN.read_text())
    for e in galley.json("config", "ls"):
        key = e["key"].rstrip(".")
        assert key.split(".")[0] in man and (key in man or
                                              key + ".NAME" in man), key
