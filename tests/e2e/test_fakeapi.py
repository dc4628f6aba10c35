"""The fake Messages API (fakeapi.py) against the real pinned claude CLI,
headless: text answers and usage, tool use, errors, retries and resume.
Install the CLI with scripts/claude-install.sh."""
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
CLAUDE = os.environ.get("GALLEY_CLAUDE") or str(
    ROOT / ".cache" / "claude" / "node_modules" / ".bin" / "claude")
TIMEOUT = float(os.environ.get("GALLEY_TEST_TIMEOUT_MULTIPLIER", "1")) * 30

pytestmark = pytest.mark.skipif(
    not os.access(CLAUDE, os.X_OK),
    reason=f"claude CLI not found at {CLAUDE} "
           "(run scripts/claude-install.sh or set GALLEY_CLAUDE)")


@pytest.fixture
def claude(fake, tmp_path):
    """run(prompt, *args, env=...) -> (returncode, stream-json lines,
    result line), in a temp HOME and cwd, against the fake."""
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()

    def run(prompt, *args, env=None):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "HOME": str(home), "LANG": "C.UTF-8",
             "ANTHROPIC_BASE_URL": fake.url,
             "ANTHROPIC_API_KEY": "dummy-key-0123456789abcdefghij",
             "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
             "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
             # a failing request ends at once instead of retrying for minutes
             "CLAUDE_CODE_MAX_RETRIES": "0"}
        e.update(env or {})
        # own process group: a timeout kills claude and its tool children
        p = subprocess.Popen(
            [CLAUDE, "-p", prompt, "--output-format", "stream-json",
             "--verbose", *args], cwd=cwd, env=e, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # leftovers, if any
            except ProcessLookupError:
                pass
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        results = [l for l in lines if l.get("type") == "result"]
        assert results, f"no result line; exit {p.returncode}\n{out}\n{err}"
        return p.returncode, lines, results[-1]

    run.cwd = cwd
    return run


def usage4(u):
    return {k: u.get(k, 0) for k in (
        "input_tokens", "output_tokens", "cache_creation_input_tokens",
        "cache_read_input_tokens")}


def test_text_answer_and_usage(fake, claude):
    sid = str(uuid.uuid4())
    rc, lines, res = claude("SAY hello\nTOKENS 1234 56 7 8", "--session-id",
                            sid)
    assert rc == 0 and res["is_error"] is False
    assert res["result"] == "hello" and res["session_id"] == sid
    assert usage4(res["usage"]) == fake.usage_for(sid) == {
        "input_tokens": 1234, "output_tokens": 56,
        "cache_read_input_tokens": 7, "cache_creation_input_tokens": 8}
    main = [r for r in fake.requests_for(sid) if r["main"]]
    assert len(main) == 1
    r = main[0]
    assert r["path"].startswith("/v1/messages")
    assert r["headers"]["x-api-key"] == "dummy-key-0123456789abcdefghij"
    assert r["body"]["stream"] is True
    assert "Write" in [t["name"] for t in r["body"]["tools"]]


def test_write_creates_file(fake, claude):
    sid = str(uuid.uuid4())
    rc, lines, res = claude("WRITE a.txt hi there", "--session-id", sid,
                            "--permission-mode", "acceptEdits")
    assert rc == 0 and res["is_error"] is False, res
    assert res["result"] == "done." and res["num_turns"] == 2
    assert (claude.cwd / "a.txt").read_text() == "hi there\n"
    # two main requests: the tool call, then the answer to its result
    assert usage4(res["usage"]) == fake.usage_for(sid)
    assert fake.usage_for(sid)["input_tokens"] == 2000


def test_api_error(fake, claude):
    sid = str(uuid.uuid4())
    rc, lines, res = claude("FAIL 500", "--session-id", sid)
    assert rc == 1
    assert res["is_error"] is True and res["api_error_status"] == 500
    assert "fake failure 500" in res["result"]
    assert [r["status"] for r in fake.requests_for(sid)] == [500]
    assert fake.usage_for(sid)["input_tokens"] == 0


def test_rate_limit_retried(fake, claude):
    sid = str(uuid.uuid4())
    rc, lines, res = claude("FAIL 429 1\nSAY after retry", "--session-id",
                            sid, env={"CLAUDE_CODE_MAX_RETRIES": "2"})
    assert rc == 0 and res["is_error"] is False, res
    assert res["result"] == "after retry"
    retries = [l for l in lines if l.get("subtype") == "api_retry"]
    assert [r["error_status"] for r in retries] == [429]
    assert [r["status"] for r in fake.requests_for(sid)] == [429, 200]


def test_queued_replies(fake, claude):
    sid = str(uuid.uuid4())
    fake.queue(sid, {"tool": "Bash", "input": {"command": "echo queued",
                                               "description": "q"}})
    fake.queue(sid, {"text": "hi", "input_tokens": 5, "output_tokens": 7})
    rc, lines, res = claude("SAY ignored", "--session-id", sid,
                            "--allowedTools", "Bash(echo *)")
    assert rc == 0 and res["result"] == "hi", res
    second = fake.requests_for(sid)[-1]["body"]["messages"]
    results = [b for m in second if isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    assert "queued" in json.dumps(results)
    assert usage4(res["usage"]) == fake.usage_for(sid)


def test_resume_sends_history(fake, claude):
    sid = str(uuid.uuid4())
    rc, _, res = claude("SAY first answer", "--session-id", sid)
    assert rc == 0 and res["result"] == "first answer"
    rc, _, res = claude("SAY second answer", "--resume", sid)
    assert rc == 0 and res["result"] == "second answer"
    assert res["session_id"] == sid
    main = [r for r in fake.requests_for(sid) if r["main"]]
    assert len(main) == 2
    # the earlier prompt and answer, replayed from the transcript
    history = [(m["role"], b.get("text")) for m in main[1]["body"]["messages"]
               if isinstance(m["content"], list) for b in m["content"]]
    assert ("user", "SAY first answer") in history
    assert ("assistant", "first answer") in history
