"""The basic path: exec and fake sessions start, report state and end."""


def test_exec_runs_and_exits(galley):
    s = galley.exec("sh", "-c", "echo hello; exit 3", name="j1")
    assert s["name"] == "j1" and s["kind"] == "job"
    s = galley.wait_state("j1", "failed")
    assert s["exit_code"] == 3
    assert "exited with code 3" in s["reason"]
    assert "hello" in galley.ok("logs", "j1").stdout


def test_fake_agent_blocks_and_is_answered(galley):
    galley.new("say hi; ask Which db?; say ok; exit 0", name="a1")
    s = galley.wait_state("a1", "blocked")
    assert s["waiting_for"] == "input: Which db?"
    galley.ok("send", "a1", "postgres")
    s = galley.wait_state("a1", "done")
    assert s["exit_code"] == 0
