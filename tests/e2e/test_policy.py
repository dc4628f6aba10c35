"""The operating rules (issue 8): tool deny lists enforced in the hook,
budgets, runaway detection and the shared rate-limit backoff, with the
built-in fake agent (it ignores every runtime flag, like a runtime that
does not honour them). The same with the real claude CLI is in
test_claude.py."""
import time

from conftest import poll

# claude-sonnet prices, USD per million tokens (data/prices.json)
SONNET_IN, SONNET_OUT = 3.0, 15.0


def usd(n_in, n_out):
    return (n_in * SONNET_IN + n_out * SONNET_OUT) / 1e6


def events(galley, ref, kind):
    return [e for e in galley.json("events", ref) if e["kind"] == kind]


def test_deny_is_enforced_by_the_hook(galley, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    s = galley.json("new", "-r", "fake", "-n", "d", "--deny", "Bash(rm *)",
                    "--deny", "Write", "-C", str(tmp_path),
                    f"run rm -f {victim}; write w.txt x; run touch ok")
    assert s["policy"]["deny"] == ["Bash(rm *)", "Write"]
    galley.wait_state("d", "idle")
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "w.txt").exists()
    assert (tmp_path / "ok").exists()  # what is not denied runs
    denied = [e["data"]["rule"] for e in events(galley, "d", "policy.deny")]
    assert denied == ["Bash(rm *)", "Write"]
    screen = galley.ok("peek", "d").stdout
    assert "denied for this session" in screen


def test_repeated_tool_call_is_a_runaway(galley, tmp_path):
    log = tmp_path / "log"
    galley.ok("config", "set", "runaway.repeat", "4")
    script = "; ".join([f"run echo a >> {log}"] * 7 + ["say after"])
    galley.json("new", "-r", "fake", "-n", "loop", script)
    s = galley.wait_state("loop", "blocked")
    assert s["waiting_for"].startswith("runaway: Bash(echo a"), s
    assert "4 times in a row" in s["waiting_for"]
    poll(lambda: "after" in galley.ok("peek", "loop").stdout, 10)
    assert log.read_text().count("a") == 3  # the 4th and later: denied
    assert galley.get("loop")["state"] == "blocked"  # Stop kept it held
    assert len(events(galley, "loop", "runaway")) == 1
    galley.ok("send", "loop", f"run echo b >> {log}")
    poll(lambda: log.read_text().endswith("b\n"), 10)
    galley.wait_state("loop", "idle")


def test_too_many_turns_is_a_runaway(galley, tmp_path):
    galley.ok("config", "set", "runaway.maxTurns", "2")
    galley.json("new", "-r", "fake", "-n", "turns",
                "-C", str(tmp_path),
                "usage 1 1; usage 1 1; usage 1 1; run touch t")
    s = galley.wait_state("turns", "blocked")
    assert s["waiting_for"] == "runaway: more than 2 turns", s
    time.sleep(0.5)
    assert not (tmp_path / "t").exists()


def test_no_progress_is_a_runaway(galley, tmp_path):
    galley.ok("config", "set", "runaway.noProgressMinutes", "0.02")
    galley.json("new", "-r", "fake", "-n", "stuck", "run sleep 4")
    s = galley.wait_state("stuck", "blocked", timeout=10)
    assert s["waiting_for"].startswith("runaway: no progress"), s
    # settings reach the daemon with requests: `budget` brings this one
    galley.ok("config", "set", "runaway.noProgressMinutes", "10")
    galley.ok("budget")
    galley.ok("send", "stuck", "say unstuck")
    poll(lambda: "unstuck" in galley.ok("peek", "stuck").stdout, 15)
    galley.wait_state("stuck", "idle", timeout=15)


def test_session_budget_holds_and_raise_releases(galley, tmp_path):
    # 50k+50k tokens of sonnet: $0.90, a warning; 10k+10k more: $1.08
    script = ("usage 50000 50000 claude-sonnet-4-5; run touch one; "
              "usage 10000 10000 claude-sonnet-4-5; run touch two; "
              "say end")
    galley.json("new", "-r", "fake", "-n", "b", "--budget-usd", "1",
                "-C", str(tmp_path), script)
    s = galley.wait_state("b", "blocked")
    assert s["waiting_for"] == "budget", s
    assert "galley budget raise --session b" in s["reason"]
    assert (tmp_path / "one").exists()
    poll(lambda: "end" in galley.ok("peek", "b").stdout, 10)
    assert not (tmp_path / "two").exists()  # denied at the cap
    assert galley.get("b")["state"] == "blocked"
    assert s["usage"]["cost_usd"] == pytest_approx(usd(60000, 60000))
    warn = events(galley, "b", "budget.warning")
    assert len(warn) == 1 and warn[0]["data"]["percent"] >= 80
    listed = {b["scope"]: b for b in galley.json("budget")}
    mine = listed["session:" + s["id"]]
    assert mine["held"] == [s["id"]] and mine["limit_usd"] == 1.0
    row = [l for l in galley.ok("budget").stdout.splitlines()
           if l.startswith("session b ")]
    assert row and row[0].split()[-2:] == ["108%", "1"], row
    galley.ok("budget", "raise", "--session", "b", "--usd", "1")
    s = galley.wait_state("b", "idle")
    assert s["policy"]["budget_usd"] == 2.0
    galley.ok("send", "b", f"run touch {tmp_path}/three")
    poll(lambda: (tmp_path / "three").exists(), 10)


def pytest_approx(v):
    import pytest
    return pytest.approx(v, rel=1e-6)


def test_a_reply_lets_one_turn_through(galley, tmp_path):
    galley.json("new", "-r", "fake", "-n", "r", "--budget-tokens", "1000",
                "usage 800 400")
    s = galley.wait_state("r", "blocked")
    assert "--session r --tokens N" in s["reason"], s
    galley.ok("send", "r", f"run touch {tmp_path}/once")
    poll(lambda: (tmp_path / "once").exists(), 10)
    s = galley.wait_state("r", "blocked")  # held again after that turn
    assert s["waiting_for"] == "budget"
    # typed without `send` (attach): the prompt itself is refused
    galley.ok("send", "--raw", "r", f"run touch {tmp_path}/never\r")
    poll(lambda: "prompt blocked" in galley.ok("peek", "r").stdout, 10)
    assert not (tmp_path / "never").exists()


def test_hard_cap_stops(galley, tmp_path):
    galley.json("new", "-r", "fake", "-n", "cap", "--budget-usd", "1",
                "usage 100000 100000 claude-sonnet-4-5; run true")
    s = galley.wait_state("cap", "stopped")
    assert "hard cap" in s["reason"] and "150%" in s["reason"], s


def test_global_daily_budget_across_sessions(galley, tmp_path):
    galley.ok("config", "set", "budget.usd", "1")
    half = "usage 20000 30000 claude-sonnet-4-5"  # $0.51
    galley.json("new", "-r", "fake", "-n", "g1", half)
    galley.wait_state("g1", "idle")
    galley.json("new", "-r", "fake", "-n", "g2", half)
    for n in ("g1", "g2"):  # both are under the spent budget
        assert galley.wait_state(n, "blocked")["waiting_for"] == "budget"
    s = galley.json("new", "-r", "fake", "-n", "g3", "say later")
    assert s["state"] == "queued", s
    assert "global daily budget is spent" in s["waiting_for"]
    job = galley.json("exec", "-n", "job", "--", "true")  # not an agent
    galley.wait_state("job", "done")
    assert job
    listed = {b["scope"]: b for b in galley.json("budget")}
    assert sorted(listed["global"]["held"]) == sorted(
        galley.get(n)["id"] for n in ("g1", "g2"))
    galley.ok("budget", "raise", "--global", "--usd", "5")
    for n in ("g1", "g2", "g3"):
        galley.wait_state(n, "idle")
    by_day = galley.json("usage", "--by", "day")
    assert by_day["total"]["cost_usd"] == pytest_approx(2 * usd(20000, 30000))


def test_group_budget_holds_only_its_group(galley, tmp_path):
    galley.ok("config", "set", "budget.groupTokens.pricey", "1000")
    galley.json("new", "-r", "fake", "-n", "p1", "--group", "pricey",
                "usage 900 200")
    galley.json("new", "-r", "fake", "-n", "o1", "usage 900 200")
    assert galley.wait_state("p1", "blocked")["waiting_for"] == "budget"
    galley.wait_state("o1", "idle")
    galley.ok("budget", "raise", "--group", "pricey", "--tokens", "5000")
    galley.wait_state("p1", "idle")


def test_a_hold_survives_a_daemon_restart(galley, tmp_path):
    galley.json("new", "-r", "fake", "-n", "h", "--budget-tokens", "150",
                "usage 100 100")
    galley.wait_state("h", "blocked")
    galley.ok("daemon", "stop")
    s = galley.get("h")  # starts a new daemon
    assert s["state"] == "blocked" and s["waiting_for"] == "budget"
    galley.ok("send", "--raw", "h", f"run touch {tmp_path}/no\r")
    poll(lambda: "prompt blocked" in galley.ok("peek", "h").stdout, 10)
    assert not (tmp_path / "no").exists()
    galley.ok("budget", "raise", "--session", "h", "--tokens", "1000")
    galley.wait_state("h", "idle")


def test_rate_limit_holds_new_starts_then_staggers(galley, tmp_path):
    galley.ok("config", "set", "rateLimit.backoffSeconds", "2")
    galley.ok("config", "set", "rateLimit.staggerSeconds", "0.5")
    galley.json("new", "-r", "fake", "-n", "hit",
                "fail rate_limit API Error: Request rejected (429)")
    s = galley.wait_state("hit", "blocked")
    assert "429" in s["waiting_for"]
    for n in ("w1", "w2", "w3"):
        q = galley.json("new", "-r", "fake", "-n", n, "say hi")
        assert q["state"] == "queued", q
        assert q["waiting_for"].startswith("rate limit (fake)"), q
    galley.json("exec", "-n", "shell", "--", "true")  # no provider
    galley.wait_state("shell", "done")
    for n in ("w1", "w2", "w3"):
        galley.wait_state(n, "idle", timeout=15)
    starts = sorted(
        e["at"] for e in galley.json("events", "--limit", "100000")
        if e["kind"] == "state" and e["data"].get("state") == "starting"
        and e["session"] in {galley.get(n)["id"] for n in ("w1", "w2", "w3")})
    assert len(starts) == 3
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g >= 400 for g in gaps), starts
    ev = events(galley, "hit", "ratelimit")
    assert ev and ev[0]["data"]["provider"] == "fake"


def test_bad_policy_input_is_refused(galley, tmp_path):
    for bad in (["--budget-usd", "-1"], ["--budget-usd", "abc"],
                ["--budget-tokens", "0"], ["--sandbox", "disk"]):
        galley.fail("new", "-r", "fake", *bad, "say x", code=2)
    galley.fail("budget", "raise", "--usd", "1", code=2, match="--global")
    galley.fail("budget", "raise", "--global", code=2, match="--usd")
    galley.fail("budget", "raise", "--global", "--usd", "1", code=1,
                match="no dollar budget is set")
    galley.fail("budget", "raise", "--group", "bad/name", "--usd", "1",
                code=2)
    galley.fail("budget", "nope", code=2)
    galley.json("new", "-r", "fake", "-n", "nb", "say x")
    galley.fail("budget", "raise", "--session", "nb", "--usd", "1", code=1,
                match="no dollar budget of its own")
    galley.fail("budget", "raise", "--session", "zzzz", "--usd", "1",
                code=3)


def test_agent_definition_tools_are_enforced(galley, tmp_path):
    """An agent definition's tools are the session's allowlist and its
    disallowedTools are denied, by the hook, for any runtime."""
    agents = tmp_path / ".galley" / "agents"
    agents.mkdir(parents=True)
    (agents / "reader.md").write_text(
        "---\nname: reader\ndescription: reads\n"
        "tools: Read, Bash(echo *)\n"
        "disallowedTools: Bash(echo secret*)\n---\nYou read.\n")
    s = galley.json("new", "-r", "fake", "-n", "rd", "-a", "reader",
                    "-C", str(tmp_path),
                    f"write w.txt x; run echo hi > {tmp_path}/hi; "
                    f"run echo secret > {tmp_path}/secret; run touch t")
    assert s["policy"]["tools"] == ["Read", "Bash(echo *)"], s["policy"]
    assert s["policy"]["deny"] == ["Bash(echo secret*)"]
    galley.wait_state("rd", "idle")
    assert (tmp_path / "hi").read_text() == "hi\n"
    for f in ("w.txt", "secret", "t"):
        assert not (tmp_path / f).exists(), f
    rules = [e["data"]["rule"] for e in events(galley, "rd", "policy.deny")]
    assert rules == ["(tools)", "Bash(echo secret*)", "(tools)"], rules
    galley.fail("new", "-r", "fake", "-a", "nosuch", "say x",
                "-C", str(tmp_path), code=3)
