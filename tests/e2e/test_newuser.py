"""What a new user trips on (issue 14, items 6-20): each test fails on the
build before the fix."""
import json
import os
import pty
import re
import select
import subprocess
import time

import pytest

from conftest import poll, scaled


def git(repo, *a):
    return subprocess.run(["git", *a], cwd=repo, check=True, text=True,
                          capture_output=True).stdout


# -- 6: the word after -w ----------------------------------------------------
@pytest.mark.parametrize("bad", ["bad name", "../escape", "..", "", "ü"])
def test_an_invalid_worktree_name_is_refused(galley, repo, bad):
    galley.fail("new", "-r", "fake", "-w", bad, "say hi", cwd=repo, code=2,
                match="invalid worktree name")
    assert galley.ls("--all") == []


def test_w_then_a_word_names_the_worktree_and_w_dashdash_is_automatic(
        galley, repo):
    s = galley.json("new", "-r", "fake", "-w", "mine", "say hi", cwd=repo)
    assert s["branch"] == "galley/mine" and s["prompt"] == "say hi"
    s = galley.json("new", "-r", "fake", "-w", "--", "say hello", cwd=repo)
    assert s["branch"] == "galley/say-hello" and s["prompt"] == "say hello"
    s = galley.json("new", "-r", "fake", "say bye", "-w", cwd=repo)
    assert s["branch"] == "galley/say-bye"


# -- 7: no prompt ------------------------------------------------------------
def test_new_without_a_prompt_needs_one_for_the_fake_agent(galley, tmp_path):
    galley.fail("new", "-r", "fake", code=2, match="needs a PROMPT")
    assert galley.ls("--all") == []


def test_claude_without_a_prompt_is_named_after_claude(galley, tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "claude").write_text("#!/bin/sh\nexec sleep 60\n")
    (bin_ / "claude").chmod(0o755)
    env = {"PATH": f"{bin_}:{galley.env['PATH']}"}
    s = galley.json("new", "-r", "claude", env=env)
    assert s["name"] == "claude", s["name"]
    galley.ok("stop", s["id"], "--grace", "0")


# -- 8: names that pass for ids or options --------------------------------
def test_a_name_that_looks_like_an_id_or_an_option_is_refused(galley):
    a = galley.new("exit 0")
    galley.fail("new", "-r", "fake", "-n", a["id"], "exit 0", code=2,
                match="looks like a session id")
    galley.fail("new", "-r", "fake", "-n", "-dash", "exit 0", code=2,
                match="cannot start with '-'")
    galley.fail("exec", "-n", "0123abcd", "--", "true", code=2)
    galley.fail("rename", a["id"], "-x", code=2)
    # a prompt that reads like an id does not make an id-shaped name
    s = galley.new("cafebabe")
    assert s["name"] != "cafebabe" and s["name"].startswith("cafebabe")


# -- 9: the bad option is named ---------------------------------------------
def test_an_unknown_option_is_named(galley):
    p = galley.fail("peek", "-abc", code=2)
    assert "unknown option '-a'" in p.stderr, p.stderr
    p = galley.fail("peek", "--zz", code=2)
    assert "unknown option '--zz'" in p.stderr, p.stderr


# -- 10: every id is tried ----------------------------------------------------
def test_rm_and_stop_act_on_every_id_and_exit_with_the_worst(galley):
    a = galley.new("exit 0", name="a")
    b = galley.new("exit 0", name="b")
    galley.wait_state("a", "done")
    galley.wait_state("b", "done")
    p = galley.run("rm", "a", "missing", "b")
    assert p.returncode == 3, p.stderr
    assert "no session 'missing'" in p.stderr
    assert {s["id"] for s in galley.ls("--all")} & {a["id"], b["id"]} == set()

    done = galley.new("exit 0", name="done-one")
    galley.wait_state("done-one", "done")
    live = galley.exec("sleep", "300", name="live-one")
    bogus = galley.run("stop", "nosuch", done["id"], "live-one",
                       "--grace", "0")
    assert bogus.returncode != 0
    assert galley.get(live["id"])["state"] == "stopped"


# -- 11, 16: the DETAIL column --------------------------------------------
def ls_rows(galley, *args):
    out = galley.ok("ls", *args).stdout.splitlines()
    return {l.split()[0]: l for l in out[1:]}


def test_ls_shows_a_jobs_command_line_and_why_a_session_ended(galley):
    j = galley.exec("sh", "-c", "sleep 300", "it's", name="job")
    row = ls_rows(galley)[j["id"]]
    assert row.rstrip().endswith("""sh -c 'sleep 300' 'it'\\''s'"""), row
    galley.ok("stop", j["id"], "--grace", "0")
    s = galley.get(j["id"])
    assert s["reason"], s
    row = ls_rows(galley)[j["id"]]
    assert s["reason"][:20] in row, (row, s["reason"])


# -- 12: names cut with a marker; name prefixes resolve ---------------------
def test_long_names_are_cut_with_a_marker_and_the_shown_part_works(galley):
    long = "a-very-long-session-name-indeed"
    s = galley.new("exit 0", name=long)
    row = ls_rows(galley)[s["id"]]
    shown = row.split()[1]
    assert shown == long[:19] + "~", row
    assert galley.get(shown[:-1])["id"] == s["id"]
    # automatic names stop at a word boundary within the column
    t = galley.new("say hello there thinking about it")
    assert len(t["name"]) <= 20 and "say hello there thinking".replace(
        " ", "-").startswith(t["name"]), t["name"]
    # the tree keeps its columns
    tree = galley.ok("ls", "--tree").stdout.splitlines()
    cols = {l.index(" idle ") if " idle " in l else l.index(" done ")
            for l in tree if " idle " in l or " done " in l}
    assert len(cols) <= 1, tree


def test_an_ambiguous_name_prefix_is_refused(galley):
    galley.new("exit 0", name="build-a")
    galley.new("exit 0", name="build-b")
    # both ended (a live one would be preferred to an ended one)
    galley.wait_state("build-a", "done")
    galley.wait_state("build-b", "done")
    galley.fail("get", "build-", code=2, match="ambiguous")
    galley.new("ask ready?", name="build-c")
    galley.new("ask ready?", name="build-d")
    galley.fail("get", "build-", code=2, match="ambiguous")


# -- 15, 18: config ------------------------------------------------------
def test_config_shows_the_value_in_force_and_refuses_zero(galley):
    galley.fail("config", "set", "limits.maxRunning", "0", code=2,
                match=">= 1")
    v = galley.json("config", "get", "limits.maxRunning")
    assert v["scope"] == "default" and 4 <= v["value"] <= 64
    assert galley.ok("config", "get", "limits.maxRunning").stdout.strip() \
        == str(v["value"])
    galley.ok("config", "set", "limits.maxRunning", "3")
    v = galley.json("config", "get", "limits.maxRunning")
    assert v == {"key": "limits.maxRunning", "value": 3, "scope": "user",
                 "file": str(galley.ghome / "config" / "settings.json")}
    out = galley.ok("config").stdout
    assert re.search(r"limits\.maxRunning\s+3\s+user", out), out


def test_help_names_the_real_paths_and_help_verb_works(galley):
    out = galley.ok("config", "--help").stdout
    assert str(galley.ghome / "config" / "settings.json") in out, out
    out = galley.ok("help", "peek").stdout
    assert out.startswith("usage: galley peek"), out
    galley.fail("help", "nosuch", code=2)


def test_json_costs_are_rounded(galley):
    # 0.003 + 0.005979 is 0.0089790000000000009 in full
    galley.new("usage 1000 0 claude-sonnet-4-5; usage 1993 0 "
               "claude-sonnet-4-5", name="cost")
    galley.wait_state("cost", "idle")
    poll(lambda: galley.get("cost")["usage"]["cost_usd"] > 0, 10)
    for args in (("ls",), ("get", "cost")):
        text = galley.ok(args[0], "--json", *args[1:]).stdout
        assert not re.search(r"\d\.\d{13,}", text), text
        assert "0.008979" in text


# -- 17: wait says what it waits for ----------------------------------------
def test_wait_on_a_blocked_session_says_so_on_a_terminal(galley):
    galley.new("ask which one?", name="asker")
    galley.wait_state("asker", "blocked")
    master, slave = pty.openpty()
    p = subprocess.Popen([galley.bin, "wait", "asker", "--timeout", "60"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave, env=galley.env)
    os.close(slave)
    got = b""
    deadline = time.monotonic() + scaled(10)
    try:
        while b"galley send asker" not in got:
            assert time.monotonic() < deadline, got
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                got += os.read(master, 4096)
    finally:
        p.kill()
        p.wait()
        os.close(master)
    assert b"asker is blocked" in got, got


# -- 19: a command that cannot start -------------------------------------
def test_exec_refuses_a_command_that_is_not_there(galley, tmp_path):
    galley.fail("exec", "echo hello world", code=1,
                match="separate words")
    galley.fail("exec", "--", "./nope", code=1, match="cannot run")
    galley.fail("exec", "--", "no-such-command-x", code=1)
    assert galley.ls("--all") == []
    (tmp_path / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "run.sh").chmod(0o755)
    galley.exec("./run.sh", name="rel")


# -- 20: no silent fake agent -------------------------------------------
def test_without_claude_new_fails_and_says_how_to_install(galley):
    env = {"PATH": "/usr/bin:/bin"}
    galley.fail("new", "fix the bug", env=env, code=1,
                match="npm install -g @anthropic-ai/claude-code")
    assert galley.ls("--all") == []
    galley.ok("config", "set", "defaultRuntime", "fake")
    assert galley.json("new", "exit 0", env=env)["runtime"] == "fake"


# -- conveniences -------------------------------------------------------
def ls_on_a_terminal(galley, env=None):
    e = dict(galley.env, **(env or {}))
    master, slave = pty.openpty()
    p = subprocess.Popen([galley.bin, "ls"], stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=subprocess.PIPE, env=e)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=scaled(10))
    os.close(master)
    return out.decode()


def test_ls_has_colour_on_a_terminal_only(galley):
    galley.new("ask which?", name="col")
    galley.wait_state("col", "blocked")
    assert "\033[33mblocked" in ls_on_a_terminal(galley)
    assert "\033[" not in ls_on_a_terminal(galley, {"NO_COLOR": "1"})
    assert "\033[" not in galley.ok("ls").stdout


def test_events_follow_prints_new_events_as_they_come(galley):
    galley.new("exit 0", name="before")
    galley.wait_state("before", "done")
    p = subprocess.Popen([galley.bin, "events", "-f", "--json"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=galley.env)
    galley.pids.add(p.pid)
    buf = b""
    deadline = time.monotonic() + scaled(20)

    def line():
        nonlocal buf
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            assert left > 0, buf
            r, _, _ = select.select([p.stdout], [], [], left)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                assert chunk, "events -f ended"
                buf += chunk
        one, buf = buf.split(b"\n", 1)
        return json.loads(one)

    try:
        seen = []
        # the old ones first
        while not (seen and seen[-1]["kind"] == "state" and
                   seen[-1]["data"]["state"] == "done"):
            seen.append(line())
        # then what happens after, hook events included
        later = galley.new("say hi; exit 0", name="later")
        kinds = set()
        while not {"created", "hook.SessionStart"} <= kinds:
            e = line()
            seen.append(e)
            if e["session"] == later["id"]:
                kinds.add(e["kind"])
        seqs = [e["seq"] for e in seen]
        assert seqs == sorted(set(seqs)), seqs
    finally:
        p.kill()
        p.wait()


COMPLETIONS = os.path.join(os.path.dirname(__file__), "..", "..",
                           "completions")


def bash_complete(galley, line):
    """What Tab offers in bash after `line` (its last word the one
    completed), with the completion script sourced."""
    bindir = os.path.dirname(galley.bin)
    words = line.split(" ")
    script = (f"source {COMPLETIONS}/galley.bash; "
              f"COMP_WORDS=({' '.join(repr(w) for w in words)}); "
              f"COMP_CWORD={len(words) - 1}; _galley; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    env = dict(galley.env, PATH=f"{bindir}:{galley.env['PATH']}")
    p = subprocess.run(["bash", "-c", script], env=env, text=True,
                       capture_output=True, timeout=scaled(20))
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_bash_completion_offers_verbs_options_and_sessions(galley):
    assert {"new", "exec"} <= bash_complete(galley, "galley ne") | {"exec"}
    assert "new" in bash_complete(galley, "galley ne")
    assert {"--worktree", "--runtime", "--json"} <= bash_complete(
        galley, "galley new --")
    assert "host" not in bash_complete(galley, "galley ho")
    s = galley.new("ask hi?", name="tabme")
    assert {"tabme"} <= bash_complete(galley, "galley peek ta")
    assert s["id"] in bash_complete(galley, f"galley stop {s['id'][:3]}")
    assert "limits.maxRunning" in bash_complete(galley,
                                                "galley config get limits.m")
    # a new verb's options come from its help: none can be missing
    for verb in ("rm", "events", "wait"):
        out = galley.ok(verb, "--help").stdout
        opts = set(re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", out, re.M))
        assert opts <= bash_complete(galley, f"galley {verb} --"), verb
