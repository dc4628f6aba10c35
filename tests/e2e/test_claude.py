"""The claude runtime (issue 6): the real, pinned claude CLI under galley,
against the fake Messages API in fakeapi.py. No test reaches a real API:
ANTHROPIC_BASE_URL points at the loopback fake."""
import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CLAUDE, claude_env, poll
from conftest import claude_seed as seed

if not CLAUDE.exists():
    pytest.skip(f"claude CLI not installed at {CLAUDE} "
                "(scripts/claude-install.sh; make check does it)",
                allow_module_level=True)

# opus prices from data/prices.json, USD per million tokens
OPUS = {"input": 5.0, "output": 25.0, "cache_read": 0.5, "cache_write": 6.25}


@pytest.fixture
def claude(galley, fake):
    """galley with claude on PATH, the fake API, and a ~/.claude.json
    that has done onboarding and approved the key (trust is per test)."""
    claude_env(galley, fake.url)
    seed(galley, [])
    return galley


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def new(g, *args, cwd):
    return g.json("new", "--runtime", "claude", *args, cwd=cwd)


def cost(u):
    return (u["input_tokens"] * OPUS["input"] +
            u["output_tokens"] * OPUS["output"] +
            u["cache_read_input_tokens"] * OPUS["cache_read"] +
            u["cache_creation_input_tokens"] * OPUS["cache_write"]) / 1e6


def usage_settles(g, ref, want):
    """ls --json usage equals the fake's count (transcripts land late)."""
    def check():
        u = g.get(ref)["usage"]
        return (u["input_tokens"] == want["input_tokens"] and
                u["output_tokens"] == want["output_tokens"] and
                u["cache_read_tokens"] == want["cache_read_input_tokens"]
                and u["cache_write_tokens"] ==
                want["cache_creation_input_tokens"]) and u
    try:
        return poll(check, 15, what="usage")
    except AssertionError:
        raise AssertionError(f"usage {g.get(ref)['usage']}, want {want}")


def test_writes_a_file_in_its_worktree_with_exact_usage(claude, fake, repo):
    seed(claude, [repo])
    s = new(claude, "-w", "mk", "--permission-mode", "acceptEdits",
            "WRITE made.txt hello\nTOKENS 1500 300 200 100", cwd=repo)
    assert s["runtime"] == "claude" and s["runtime_session_id"]
    assert "--session-id" in s["command"]
    end = claude.wait_state("mk", "idle", timeout=40)
    wt = Path(end["worktree"])
    assert (wt / "made.txt").read_text() == "hello\n"
    assert not (repo / "made.txt").exists()
    rsid = s["runtime_session_id"]
    want = fake.usage_for(rsid)
    assert want["input_tokens"] == 3000  # the tool call, then "done."
    u = usage_settles(claude, "mk", want)
    assert u["cost_usd"] == pytest.approx(cost(want), rel=1e-9)
    kinds = [e["kind"] for e in claude.json("events", "mk")]
    for ev in ("hook.SessionStart", "hook.UserPromptSubmit",
               "hook.PreToolUse", "hook.PostToolUse", "hook.Stop"):
        assert ev in kinds, kinds
    by = claude.json("usage", "--by", "model")
    assert by["total"]["input_tokens"] == want["input_tokens"]
    assert by["rows"][0]["key"].startswith("claude-opus")


def test_bash_permission_blocks_and_send_answers(claude, fake, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    seed(claude, [work])
    new(claude, "-n", "perm", "RUNBASH touch b.txt", cwd=work)
    s = claude.wait_state("perm", "blocked", timeout=40)
    assert "touch b.txt" in s["waiting_for"], s
    assert s["waiting_for"].startswith("permission: Bash(")
    assert not (work / "b.txt").exists()
    claude.ok("send", "--no-enter", "perm", "1")
    claude.wait_state("perm", "idle", timeout=30)
    assert (work / "b.txt").exists()


def test_untrusted_folder_blocks_with_the_reason(claude, fake, tmp_path):
    work = tmp_path / "untrusted"
    work.mkdir()
    s = new(claude, "-n", "ut", "SAY hi", cwd=work)
    s = claude.wait_state("ut", "blocked", timeout=10)
    assert "trust" in s["waiting_for"] and str(work) in s["waiting_for"]
    # the dialog really is there, and nothing reached the API
    poll(lambda: "trust this folder" in claude.ok("peek", "ut").stdout,
         20, what="the trust dialog")
    assert not [r for r in fake.requests if r["main"]]
    # answering it through galley lets it run
    claude.ok("send", "ut", "")
    claude.wait_state("ut", "idle", timeout=30)


def test_pre_accept_trusts_and_keeps_other_keys(claude, fake, tmp_path):
    work = tmp_path / "pre"
    work.mkdir()
    seed(claude, [], myOwnKey={"kept": 1})
    claude.ok("config", "set", "claude.preAccept", "true")
    new(claude, "-n", "pre", "SAY hi", cwd=work)
    claude.wait_state("pre", "idle", timeout=40)
    cfg = json.loads((claude.home / ".claude.json").read_text())
    assert cfg["projects"][str(work)]["hasTrustDialogAccepted"] is True
    assert cfg["myOwnKey"] == {"kept": 1}


def test_not_approved_key_blocks(claude, fake, tmp_path):
    work = tmp_path / "k"
    work.mkdir()
    seed(claude, [work], customApiKeyResponses={"approved": [],
                                                "rejected": []})
    new(claude, "-n", "key", "SAY hi", cwd=work)
    s = claude.wait_state("key", "blocked", timeout=10)
    assert "API key" in s["waiting_for"]


def test_restart_resumes_the_conversation(claude, fake, tmp_path):
    work = tmp_path / "r"
    work.mkdir()
    seed(claude, [work])
    s = new(claude, "-n", "rs", "SAY first answer", cwd=work)
    rsid = s["runtime_session_id"]
    claude.wait_state("rs", "idle", timeout=40)
    # the daemon goes away and comes back (as after a reboot): the
    # conversation is still found
    claude.ok("daemon", "stop")
    claude.ok("stop", "rs")
    claude.wait_state("rs", "stopped", timeout=20)
    claude.ok("restart", "rs")
    s = claude.wait_state("rs", ("idle", "working"), timeout=40)
    assert "--resume" in s["command"] and rsid in s["command"]
    before = len(fake.requests_for(rsid))
    claude.ok("send", "rs", "SAY second answer")
    claude.wait_state("rs", "idle", timeout=40)
    poll(lambda: len([r for r in fake.requests_for(rsid)[before:]
                      if r["main"]]) >= 1, 20, what="the resumed request")
    last = [r for r in fake.requests_for(rsid) if r["main"]][-1]
    text = json.dumps(last["body"]["messages"])
    assert "SAY first answer" in text and "SAY second answer" in text
    assert claude.get("rs")["runtime_session_id"] == rsid


def test_rate_limit_then_success(claude, fake, tmp_path):
    work = tmp_path / "rl"
    work.mkdir()
    seed(claude, [work])
    claude.env["CLAUDE_CODE_MAX_RETRIES"] = "2"
    s = new(claude, "-n", "rl", "FAIL 429 1\nSAY after the wait", cwd=work)
    claude.wait_state("rl", "idle", timeout=40)
    statuses = [r["status"] for r in fake.requests_for(
        s["runtime_session_id"]) if r["main"]]
    assert statuses[:2] == [429, 200], statuses


def test_server_error_blocks_interactive_and_fails_headless(claude, fake,
                                                            tmp_path):
    work = tmp_path / "e"
    work.mkdir()
    seed(claude, [work])
    new(claude, "-n", "e1", "FAIL 500", cwd=work)
    s = claude.wait_state("e1", "blocked", timeout=40)
    assert "500" in s["waiting_for"], s
    new(claude, "-n", "e2", "--headless", "FAIL 500", cwd=work)
    s = claude.wait_state("e2", "failed", timeout=40)
    assert "500" in s["reason"], s
    assert s["result"]["is_error"] is True


def test_headless_result_and_usage(claude, fake, tmp_path):
    work = tmp_path / "h"
    work.mkdir()
    s = new(claude, "-n", "hl", "--headless", "SAY all done\nTOKENS 700 70",
            cwd=work)
    assert "-p" in s["command"]
    end = claude.wait_state("hl", "done", timeout=40)
    assert end["result"]["result"] == "all done"
    assert end["result"]["is_error"] is False
    usage_settles(claude, "hl", fake.usage_for(s["runtime_session_id"]))
    log = claude.ok("logs", "hl").stdout
    assert '"type":"result"' in log


def test_five_in_parallel_in_five_worktrees(claude, fake, repo):
    seed(claude, [repo])
    ids = {}
    for i in range(5):
        s = new(claude, "-w", f"p{i}", "--permission-mode", "acceptEdits",
                f"WRITE out{i}.txt n{i}\nTOKENS {100 * (i + 1)} {10 * (i + 1)}",
                cwd=repo)
        ids[f"p{i}"] = s["runtime_session_id"]
    for i in range(5):
        end = claude.wait_state(f"p{i}", "idle", timeout=90)
        assert (Path(end["worktree"]) / f"out{i}.txt").read_text() == \
            f"n{i}\n"
    for name, rsid in ids.items():
        want = fake.usage_for(rsid)
        i = int(name[1:])
        assert want["input_tokens"] == 2 * 100 * (i + 1)
        usage_settles(claude, name, want)


def test_claude_missing_and_bad_options(galley, tmp_path):
    galley.env["PATH"] = "/usr/bin:/bin"
    galley.fail("new", "--runtime", "claude", "hi", code=1,
                match="claude is not on PATH")
    galley.fail("new", "--runtime", "claude", "--effort", "huge", "hi",
                code=2)
    galley.fail("new", "--runtime", "claude", "--permission-mode", "yolo",
                "hi", code=2)
    galley.fail("new", "--runtime", "claude", "--agent", "../x", "hi",
                code=2)
    galley.fail("new", "--runtime", "claude", "--agent", "nosuch", "hi",
                code=3, match="no agent 'nosuch'")
    # without claude on PATH there is no silent fake agent
    galley.fail("new", "exit 0", code=1, match="claude is not on PATH")


def test_named_agent_definition_reaches_claude(claude, fake, tmp_path):
    work = tmp_path / "ag"
    (work / ".galley/agents").mkdir(parents=True)
    (work / ".galley/agents/reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews code\n"
        "tools: Read, Grep\n---\nYou are REVIEWER-PROMPT-MARK.\n")
    seed(claude, [work])
    s = new(claude, "-n", "ag", "--agent", "reviewer", "SAY reviewed",
            cwd=work)
    i = s["command"].index("--agents")
    agents = json.loads(s["command"][i + 1])
    assert agents["reviewer"]["tools"] == ["Read", "Grep"]
    assert "REVIEWER-PROMPT-MARK" in agents["reviewer"]["prompt"]
    claude.wait_state("ag", "idle", timeout=40)
    main = [r for r in fake.requests_for(s["runtime_session_id"])
            if r["main"]]
    assert "REVIEWER-PROMPT-MARK" in json.dumps(main[0]["body"]["system"])


def test_doctor_reports_and_fixes_the_dialogs(claude, fake, tmp_path):
    work = tmp_path / "doc"
    work.mkdir()
    seed(claude, [], myOwnKey=[1, 2])
    p = claude.run("doctor", "--json", cwd=work)
    checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
    assert checks["claude"]["status"] == "ok"
    assert "2.1.197" in checks["claude"]["detail"]
    assert checks["claude-setup"]["status"] == "fail"
    assert "trust" in checks["claude-setup"]["detail"]
    assert p.returncode == 1
    claude.ok("doctor", "--fix", cwd=work)
    cfg = json.loads((claude.home / ".claude.json").read_text())
    assert cfg["projects"][str(work)]["hasTrustDialogAccepted"] is True
    assert cfg["myOwnKey"] == [1, 2]
    p = claude.run("doctor", "--json", cwd=work)
    checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
    assert checks["claude-setup"]["status"] == "ok"
    # claude on PATH: the default runtime, and the session runs unblocked
    s = claude.json("new", "-n", "dflt", "SAY default", cwd=work)
    assert s["runtime"] == "claude"
    claude.wait_state("dflt", "idle", timeout=40)


def test_unforeseen_dialog_is_read_from_the_screen(claude, fake, tmp_path):
    """A dialog galley does not foresee (bypass-permissions, shown before
    hooks load): after a few silent seconds the screen says why."""
    work = tmp_path / "bp"
    work.mkdir()
    seed(claude, [work])
    claude.env["IS_SANDBOX"] = "1"  # bypass mode is refused as root else
    new(claude, "-n", "bp", "--permission-mode", "bypassPermissions",
        "SAY bypassed", cwd=work)
    s = claude.wait_state("bp", "blocked", timeout=40)
    assert "bypass-permissions" in s["waiting_for"], s
    assert "read from the screen" in s["reason"], s
    claude.ok("send", "--no-enter", "bp", "2")  # "Yes, I accept"
    claude.wait_state("bp", "idle", timeout=40)
    # allowed to pre-accept, galley tells claude so up front
    claude.ok("config", "set", "claude.preAccept", "true")
    s = new(claude, "-n", "bp2", "--permission-mode", "bypassPermissions",
            "SAY bypassed again", cwd=work)
    assert "skipDangerousModePermissionPrompt" in " ".join(s["command"])
    claude.wait_state("bp2", "idle", timeout=40)


def test_multiline_send_is_one_prompt(claude, fake, tmp_path):
    work = tmp_path / "ml"
    work.mkdir()
    seed(claude, [work])
    s = new(claude, "-n", "ml", "SAY first", cwd=work)
    claude.wait_state("ml", "idle", timeout=40)
    rsid = s["runtime_session_id"]
    before = len([r for r in fake.requests_for(rsid) if r["main"]])
    # two lines, one bracketed paste, one submit: both keywords reach the
    # fake in a single prompt
    claude.ok("send", "ml", "SAY two lines\nTOKENS 11 22")
    poll(lambda: len([r for r in fake.requests_for(rsid) if r["main"]]) >
         before, 30, what="the second prompt")
    claude.wait_state("ml", "idle", timeout=40)
    last = [r for r in fake.requests_for(rsid) if r["main"]][-1]
    assert last["usage"]["input_tokens"] == 11
    assert "SAY two lines\nTOKENS 11 22" in json.dumps(
        last["body"]["messages"]).replace("\\n", "\n")


def test_unreachable_api_says_so(claude, fake, tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    work = tmp_path / "cr"
    work.mkdir()
    seed(claude, [work])
    claude.env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    new(claude, "-n", "cr", "SAY never", cwd=work)
    s = claude.wait_state("cr", "blocked", timeout=40)
    assert s["waiting_for"].startswith("retry: "), s
    assert "connect" in s["waiting_for"].lower(), s


def test_a_config_it_cannot_read_is_never_written_over(claude, fake, tmp_path):
    work = tmp_path / "nr"
    work.mkdir()
    cfg = claude.home / ".claude.json"
    cfg.unlink()
    cfg.mkdir()  # unreadable as a file, even for root
    (cfg / "keep").write_text("x")
    claude.ok("config", "set", "claude.preAccept", "true")
    claude.fail("new", "--runtime", "claude", "SAY hi", cwd=work, code=1,
                match="cannot read")
    assert (cfg / "keep").read_text() == "x"
    p = claude.run("doctor", "--fix", "--json", cwd=work)
    checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
    assert checks["claude-setup"]["status"] == "fail"
    assert cfg.is_dir()


def test_deny_is_enforced_in_the_hook(claude, fake, tmp_path):
    """--deny reaches claude as --disallowedTools, and galley's PreToolUse
    hook denies the call itself first: the model reads galley's reason."""
    work = tmp_path / "dn"
    work.mkdir()
    seed(claude, [work])
    s = new(claude, "-n", "dn", "--allow", "Bash", "--deny", "Bash(touch *)",
            "RUNBASH touch no.txt", cwd=work)
    claude.wait_state("dn", "idle", timeout=40)
    assert not (work / "no.txt").exists()
    bodies = [json.dumps(r["body"])
              for r in fake.requests_for(s["runtime_session_id"])]
    assert any("denied for this session" in b for b in bodies), bodies[-1]
    assert [e["data"]["rule"] for e in claude.json("events", "dn")
            if e["kind"] == "policy.deny"] == ["Bash(touch *)"]


def test_budget_holds_a_claude_session_until_raised(claude, fake, tmp_path):
    """The fake API reports 100k input tokens an answer ($0.525 of opus):
    over a $0.50 budget the session is held, whatever claude does next."""
    work = tmp_path / "bud"
    work.mkdir()
    seed(claude, [work])
    claude.ok("config", "set", "budget.hardCapPercent", "1000")
    new(claude, "-n", "cb", "--budget-usd", "0.5", "--allow", "Bash",
        "RUNBASH touch one.txt\nTOKENS 100000 1000", cwd=work)
    poll(lambda: claude.get("cb")["waiting_for"] == "budget", 40,
         what="the budget hold")
    s = claude.get("cb")
    assert s["state"] == "blocked" and "of $0.50" in s["reason"], s
    assert s["usage"]["cost_usd"] >= 0.5
    time.sleep(1)  # the rest of the turn keeps it held
    assert claude.get("cb")["waiting_for"] == "budget"
    # a prompt typed straight in (not a galley reply) is blocked by the
    # UserPromptSubmit hook: it never reaches the API
    rsid = s["runtime_session_id"]
    before = len([r for r in fake.requests_for(rsid) if r["main"]])
    claude.ok("send", "--raw", "cb", "SAY typed\r")
    poll(lambda: "galley holds this session" in claude.ok("peek", "cb").stdout,
         20, what="the blocked prompt")
    time.sleep(1)
    assert len([r for r in fake.requests_for(rsid) if r["main"]]) == before
    assert claude.get("cb")["waiting_for"] == "budget"
    claude.ok("budget", "raise", "--session", "cb", "--usd", "10")
    claude.wait_state("cb", "idle", timeout=30)


def test_rate_limit_holds_new_claude_starts(claude, fake, tmp_path):
    """A 429 (no retries left) on one session holds the next start for
    the provider; it starts once the backoff is over."""
    work = tmp_path / "rlh"
    work.mkdir()
    seed(claude, [work])
    claude.ok("config", "set", "rateLimit.backoffSeconds", "3")
    new(claude, "-n", "rl1", "FAIL 429", cwd=work)
    s = claude.wait_state("rl1", "blocked", timeout=40)
    assert "429" in s["waiting_for"], s
    q = new(claude, "-n", "rl2", "SAY fine", cwd=work)
    assert q["state"] == "queued", q
    assert q["waiting_for"].startswith("rate limit (anthropic)"), q
    claude.wait_state("rl2", "idle", timeout=40)
    assert [e for e in claude.json("events", "rl1")
            if e["kind"] == "ratelimit"]


def test_sandbox_write_keeps_claude_working_in_its_cwd(claude, fake,
                                                       tmp_path):
    """--sandbox write: claude starts, writes in its cwd and saves its
    own state (~/.claude, ~/.claude.json), but nothing outside."""
    work, outside = tmp_path / "sbx", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    seed(claude, [work])
    new(claude, "-n", "sbx", "--sandbox", "write", "--allow", "Bash",
        "--permission-mode", "acceptEdits",
        f"RUNBASH echo x > {outside}/escaped; echo y > ran.txt\n"
        "WRITE made.txt hello", cwd=work)
    claude.wait_state("sbx", "idle", timeout=40)
    assert (work / "made.txt").read_text() == "hello\n"
    assert (work / "ran.txt").exists()
    assert not (outside / "escaped").exists()
    assert "Permission denied" in claude.ok("peek", "sbx").stdout
    # its state was saved: ~/.claude.json in place (no lock, no temp
    # file: $HOME itself stays read-only), its transcript under ~/.claude
    cfg = json.loads((claude.home / ".claude.json").read_text())
    assert cfg.get("numStartups", 0) >= 1
    assert list((claude.home / ".claude" / "projects").glob("*/*.jsonl"))


def test_retries_on_the_screen_hold_new_starts(claude, fake, tmp_path):
    """claude retries a 429 by itself with no hook; galley reads the retry
    off its screen and holds the next start before claude gives up."""
    work = tmp_path / "retry"
    work.mkdir()
    seed(claude, [work])
    del claude.env["CLAUDE_CODE_MAX_RETRIES"]  # claude's own 10
    claude.ok("config", "set", "rateLimit.backoffSeconds", "8")
    new(claude, "-n", "busy", "FAIL 429 6\nSAY after", cwd=work)
    poll(lambda: [e for e in claude.json("events", "busy")
                  if e["kind"] == "ratelimit"], 40, what="the retry seen")
    ev = [e for e in claude.json("events", "busy")
          if e["kind"] == "ratelimit"]
    assert ev[0]["data"]["kind"] == "api_retry", ev
    assert claude.get("busy")["state"] == "working"  # claude goes on
    q = new(claude, "-n", "next", "SAY hi", cwd=work)
    assert q["state"] == "queued", q
    assert q["waiting_for"].startswith("rate limit (anthropic)"), q
    claude.wait_state("next", "idle", timeout=40)


def test_headless_retries_hold_new_starts(claude, fake, tmp_path):
    """A headless run's api_retry lines count as a rate limit too."""
    work = tmp_path / "hretry"
    work.mkdir()
    del claude.env["CLAUDE_CODE_MAX_RETRIES"]
    new(claude, "-n", "hbusy", "--headless", "FAIL 429 6\nSAY after",
        cwd=work)
    poll(lambda: [e for e in claude.json("events", "hbusy")
                  if e["kind"] == "ratelimit"], 40, what="the retry seen")
    assert "api_retry" in claude.ok("logs", "hbusy").stdout
