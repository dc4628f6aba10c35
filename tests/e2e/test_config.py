"""config get|set|unset|ls and the settings hierarchy."""
import json


def test_set_get_unset_user(galley):
    galley.ok("config", "set", "limits.maxRunning", "4")
    assert galley.ok("config", "get", "limits.maxRunning").stdout == "4\n"
    j = galley.json("config", "get", "limits.maxRunning")
    assert j == {"key": "limits.maxRunning", "value": 4, "scope": "user",
                 "file": str(galley.ghome / "config" / "settings.json")}
    f = galley.ghome / "config" / "settings.json"
    assert json.loads(f.read_text()) == {"limits": {"maxRunning": 4}}
    galley.ok("config", "unset", "limits.maxRunning")
    # unset: sized to the machine's memory, and shown as the default
    j = galley.json("config", "get", "limits.maxRunning")
    assert j["scope"] == "default" and 4 <= j["value"] <= 64
    galley.fail("config", "get", "model", code=3, match="not set")
    j = galley.json("config", "get", "scrollback")
    assert j["scope"] == "default" and j["value"] == 2000


def test_precedence_local_project_user(galley, repo):
    galley.ok("config", "set", "model", "u")
    galley.ok("config", "set", "--project", "model", "p", cwd=repo)
    galley.ok("config", "set", "--local", "model", "l", cwd=repo)
    sub = repo / "a"
    sub.mkdir()
    j = galley.json("config", "get", "model", cwd=sub)
    assert j["value"] == "l" and j["scope"] == "local"
    galley.ok("config", "unset", "--local", "model", cwd=repo)
    assert galley.json("config", "get", "model", cwd=sub)["scope"] == \
        "project"
    assert galley.json("config", "get", "model")["value"] == "u"
    assert (repo / ".galley" / "settings.json").exists()
    keys = {e["key"] for e in galley.json("config", "ls", cwd=repo)}
    assert {"defaultRuntime", "isolation", "worktree.baseRef",
            "detachKey", "limits.maxRunning", "budget.usd"} <= keys


def test_settings_reach_new(galley, repo):
    galley.ok("config", "set", "--project", "model", "claude-haiku-4-5",
              cwd=repo)
    s = galley.new("exit 0", name="m", cwd=repo)
    assert s["model"] == "claude-haiku-4-5"


def test_config_errors(galley, tmp_path):
    galley.fail("config", "set", "nonsense", "1", code=2,
                match="unknown setting")
    galley.fail("config", "set", "isolation", "docker", code=2,
                match="none|worktree")
    galley.fail("config", "set", "limits.maxRunning", "many", code=2)
    galley.fail("config", "set", "detachKey", "x", code=2)
    galley.fail("config", "set", "--project", "model", "x", code=2,
                match="outside a git repository", cwd=tmp_path)
    galley.fail("config", "get", "model", code=3, match="not set")
    galley.fail("config", "frob", code=2)
    f = galley.ghome / "config" / "settings.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("{broken")
    galley.fail("config", "get", "model", code=1, match=str(f))
