"""The man page keeps step with the binary (like git's t0450-txt-doc-vs-help):
every verb `galley --help` lists answers `galley VERB --help` with its usage
line, and docs/galley.1 has a COMMANDS subsection for it whose synopsis is
that same line; every key `galley config ls` knows is documented under
SETTINGS, with its built-in default."""
import json
import re
from pathlib import Path

MAN = Path(__file__).resolve().parents[2] / "docs" / "galley.1"

# the roff escapes docs/galley.1 uses, as they render
ESCAPES = {
    r"\-": "-", r"\e": "\\", r"\&": "", r"\(aq": "'", r"\(dq": '"',
    r"\(lq": "\u201c", r"\(rq": "\u201d", r"\(pc": "\u00b7",
    r"\(mu": "\u00d7", r"\fB": "", r"\fI": "", r"\fR": "", r"\fP": "",
}


def unroff(text):
    text = re.sub(r"\\\[u([0-9A-F]{4,5})\]",
                  lambda m: chr(int(m.group(1), 16)), text)
    return re.sub("|".join(map(re.escape, ESCAPES)),
                  lambda m: ESCAPES[m.group(0)], text)


def macro_args(rest):
    """Split a macro's arguments: spaces separate, "..." quotes, "" is "."""
    args, cur, quoted, i = [], None, False, 0
    while i < len(rest):
        c = rest[i]
        if quoted:
            if c == '"' and rest[i + 1:i + 2] == '"':
                cur += '"'
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"' and cur is None:
            cur, quoted = "", True
        elif c == " ":
            if cur is not None:
                args.append(cur)
            cur = None
        else:
            cur = (cur or "") + c
        i += 1
    if cur is not None:
        args.append(cur)
    return args


def render(line):
    """One line of roff as text: font macros joined as man(7) joins them."""
    m = re.match(r"^\.(B|I|BI|BR|IB|IR|RB|RI)(?: (.*))?$", line)
    if not m:
        return "" if line.startswith(".") else unroff(line)
    args = macro_args(m.group(2) or "")
    sep = " " if m.group(1) in ("B", "I") else ""
    return unroff(sep.join(args))


def sections(level):
    """{title: [lines]} of every .SH (level "SH") or .SS ("SS")."""
    out, cur = {}, None
    for line in MAN.read_text().splitlines():
        if line.startswith((".SH ", ".SS ")):
            cur = None
            if line.startswith(f".{level} "):
                cur = out.setdefault(line[4:].strip().strip('"'), [])
            continue
        if cur is not None:
            cur.append(line)
    return out


def visible_verbs(galley):
    text = galley.ok("--help").stdout
    block = text.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (\S+)\s", block, re.M)


def test_every_verb_has_help_and_a_man_section(galley):
    verbs = visible_verbs(galley)
    assert len(verbs) >= 15, verbs
    sects = sections("SS")
    problems = []
    for v in verbs:
        p = galley.run(v, "--help")
        usage = p.stdout.splitlines()[0] if p.stdout else ""
        if p.returncode != 0 or not re.match(
                rf"usage: galley {re.escape(v)}( |$)", usage):
            problems.append(f"{v}: --help exits {p.returncode}, "
                            f"prints {usage!r}")
            continue
        if v not in sects:
            problems.append(f"{v}: no '.SS {v}' in {MAN.name}")
            continue
        syn = next((l for l in sects[v] if l.startswith(".B ")), None)
        want = usage[len("usage: "):].rstrip()
        got = render(syn).rstrip() if syn else None
        if got != want:
            problems.append(f"{v}: man synopsis {got!r}, --help {want!r}")
    assert not problems, "\n".join(problems)


def test_man_documents_no_verb_that_is_gone(galley):
    verbs = set(visible_verbs(galley))
    # only the subsections under COMMANDS name verbs
    cmd_text = MAN.read_text().split("\n.SH COMMANDS\n", 1)[1]
    cmd_text = cmd_text.split("\n.SH ", 1)[0]
    gone = [v for v in re.findall(r"^\.SS (\S+)", cmd_text, re.M)
            if v not in verbs]
    assert not gone, f"documented but not in 'galley --help': {gone}"


def test_every_setting_documented_with_its_default(galley):
    text = sections("SH")["SETTINGS"]
    # .TP tags and the paragraph under each
    entries, tag = {}, None
    for i, line in enumerate(text):
        if line == ".TP" and i + 1 < len(text):
            tag = render(text[i + 1]).strip()
            entries[tag] = []
        elif tag is not None and (i == 0 or text[i - 1] != ".TP"):
            entries[tag].append(render(line))
    settings = galley.json("config", "ls")
    assert len(settings) >= 15, settings
    problems = []
    for e in settings:
        key = e["key"]
        want = key + "NAME" if key.endswith(".") else key
        if want not in entries:
            problems.append(f"{key}: no '.TP' entry '{want}' under SETTINGS")
            continue
        if e["scope"] != "default" or e.get("computed"):
            continue  # set here, or worked out from the machine
        v = e["value"]
        shown = ("empty" if v == [] else v if isinstance(v, str)
                 else json.dumps(v))
        body = " ".join(" ".join(entries[want]).split())
        if f"(default {shown})" not in body:
            problems.append(f"{key}: default {shown!r} not in {body!r}")
    assert not problems, "\n".join(problems)
