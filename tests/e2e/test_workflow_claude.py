"""A workflow whose agent is the real claude CLI, headless, against the
fake API (issue 16): its JSON answer is checked against the schema."""
import pytest

from conftest import CLAUDE, claude_env
from conftest import claude_seed as seed

if not CLAUDE.exists():
    pytest.skip(f"claude CLI not installed at {CLAUDE}",
                allow_module_level=True)


def test_a_headless_claude_agent_answers_to_the_schema(galley, fake, repo):
    claude_env(galley, fake.url)
    seed(galley, [repo])
    d = repo / ".galley" / "workflows"
    d.mkdir(parents=True)
    (d / "ask.lua").write_text("""
function run(args)
  local schema = {type = "object", required = {"files"},
                  properties = {files = {type = "array",
                                         items = {type = "string"}}}}
  local r = agent('SAY {"files": ["a.c", "b.c"]}', {label = "lister",
                                                    schema = schema})
  local ok, why = pcall(agent, 'SAY {"files": [1]}', {label = "wrong",
                                                      schema = schema})
  return {files = r.files, wrong = why}
end
""")
    st = galley.json("workflow", "run", "ask", cwd=repo, timeout=120)
    assert st["state"] == "done", st
    assert st["result"]["files"] == ["a.c", "b.c"]
    assert "$.files[0]: expected string" in st["result"]["wrong"]
    agents = [s for s in galley.ls() if s.get("workflow") == st["run"]]
    assert [s["runtime"] for s in agents] == ["claude", "claude"]
    assert all("-p" in s["command"] for s in agents)
