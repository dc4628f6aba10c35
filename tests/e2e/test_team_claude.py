"""A team member run by the real claude CLI against the fake API (issue
15): the fake model calls galley's MCP tools, and the effects appear in
the store and in the recipient's terminal."""
import json

import pytest

from conftest import CLAUDE, claude_env, poll
from conftest import claude_seed as seed

if not CLAUDE.exists():
    pytest.skip(f"claude CLI not installed at {CLAUDE}",
                allow_module_level=True)


def call(tool, args):
    return f"CALLTOOL mcp__galley__{tool} {json.dumps(args)}"


def test_a_claude_member_claims_reports_and_completes(galley, fake, repo):
    claude_env(galley, fake.url)
    seed(galley, [repo])
    galley.json("team", "create", "review", "-r", "fake", "say leading",
                cwd=repo)
    galley.ok("task", "add", "audit auth", "--team", "review", cwd=repo)
    galley.wait_state("review.lead", "idle")
    prompt = "\n".join([call("task_claim", {}),
                        call("send_message",
                             {"to": "lead", "text": "claimed it"})])
    # claude connects MCP servers while its first turn runs: galley holds
    # a member's first prompt until its server has listed the tools, so
    # the very first prompt can use them
    dev = galley.json("team", "add", "review", "dev", "--lens", "auth",
                      "-r", "claude", "--permission-mode", "acceptEdits",
                      prompt, cwd=repo)
    assert "--mcp-config" in dev["command"]
    assert prompt not in dev["command"] and dev["prompt"] == prompt

    def task():
        return galley.json("task", "ls", "--team", "review", cwd=repo)[0]
    poll(lambda: task()["owner"] == "dev", 90, what="the claim via MCP")
    assert task()["owner_session"] == dev["id"]
    poll(lambda: "[galley] message from dev: claimed it" in
         galley.ok("peek", "review.lead").stdout, 60,
         what="the message in the lead's terminal")
    # the model saw galley's tools
    tools = {t["name"] for r in fake.requests_for(dev["runtime_session_id"])
             for t in r["body"].get("tools", [])}
    assert {"mcp__galley__task_claim", "mcp__galley__send_message",
            "mcp__galley__task_update"} <= tools, sorted(tools)[:50]
    galley.wait_state("review.dev", "idle", timeout=60)
    # claude takes an Enter again only once its Stop hook has run (galley
    # hears of the idle from that hook): wait until the prompt is back
    poll(lambda: "stop hook" not in galley.ok("peek", "review.dev").stdout,
         20, what="claude's prompt back")
    # two lines: a paste, whose Enter follows it
    galley.ok("send", "review.dev",
              call("task_update", {"task": 1, "status": "completed"}) +
              "\nSAY updating")
    poll(lambda: task()["status"] == "completed", 60,
         what="the update via MCP")


def test_a_member_keeps_the_leads_permission_mode(galley, fake, repo):
    claude_env(galley, fake.url)
    seed(galley, [repo])
    lead = galley.json("team", "create", "review", "-r", "claude",
                       "--permission-mode", "acceptEdits", "SAY leading",
                       cwd=repo)
    assert lead["policy"]["permission_mode"] == "acceptEdits"
    galley.fail("team", "add", "review", "wide", "--lens", "x", "-r",
                "claude", "--permission-mode", "bypassPermissions", "SAY x",
                cwd=repo, code=4, match="wider than the lead's acceptEdits")
    same = galley.json("team", "add", "review", "same", "--lens", "x",
                       "-r", "claude", "SAY x", cwd=repo)
    i = same["command"].index("--permission-mode")
    assert same["command"][i + 1] == "acceptEdits"
    narrow = galley.json("team", "add", "review", "narrow", "--lens", "x",
                         "-r", "claude", "--permission-mode", "plan",
                         "SAY x", cwd=repo)
    assert narrow["policy"]["permission_mode"] == "plan"
    members = galley.json("team", "status", "review", cwd=repo)["members"]
    assert [m["name"] for m in members] == ["same", "narrow"]
