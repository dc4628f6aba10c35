"""The agent view (issue 7): `galley` on a terminal, driven in real tmux
with send-keys and read with capture-pane, against fake-runtime sessions."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import poll, scaled


class Tmux:
    def __init__(self, galley, tmp_path):
        self.g = galley
        self.sock = str(tmp_path / "tmux.sock")
        self.env = dict(galley.env, TMUX_TMPDIR=str(tmp_path))
        self.pid = None

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock, *args],
                              env=self.env, capture_output=True, text=True,
                              check=check, timeout=scaled(10))

    def start(self, cwd, width=120, height=30, env=None):
        cmd = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        self.run("new-session", "-d", "-s", "v", "-x", str(width), "-y",
                 str(height), "-c", str(cwd),
                 f"env {cmd} {self.g.bin}; sleep 600")
        self.run("set-option", "-g", "status", "off")
        self.pid = int(self.run("display-message", "-p", "-t", "v",
                                "#{pid}").stdout)
        self.wait_for("galley ·")

    def keys(self, *keys):
        self.run("send-keys", "-t", "v", *keys)

    def text(self, text):
        self.run("send-keys", "-t", "v", "-l", "--", text)

    def screen(self, escapes=False):
        args = ["capture-pane", "-p", "-t", "v"]
        if escapes:
            args.append("-e")
        return self.run(*args).stdout

    def wait_for(self, what, timeout=10):
        last = {}

        def check():
            last["s"] = self.screen()
            return (what(last["s"]) if callable(what)
                    else what in last["s"])
        try:
            poll(check, timeout, interval=0.05, what=str(what))
            return last["s"]
        except AssertionError:
            raise AssertionError(f"screen never showed {what!r}:\n"
                                 f"{last.get('s')}")

    def kill(self):
        if self.pid:
            # the view and anything it runs are in the server's tree
            self.run("kill-server", check=False)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def tmux(galley, tmp_path):
    t = Tmux(galley, tmp_path)
    yield t
    t.kill()


def sessions(galley, cwd):
    """One session in each group."""
    galley.new("ask Postgres or SQLite?", name="asker", cwd=cwd)
    galley.new("say done", name="idler", cwd=cwd)
    galley.new("think 600", name="worker", cwd=cwd)
    galley.new("say bye; exit 0", name="finisher", cwd=cwd)
    galley.new("exit 3", name="failer", cwd=cwd)
    galley.new("think 600", name="pinme", cwd=cwd)
    galley.ok("pin", "pinme")
    galley.wait_state("asker", "blocked")
    galley.wait_state("idler", "idle")
    galley.wait_state("finisher", "done")
    galley.wait_state("failer", "failed")


def line_of(screen, text):
    for i, l in enumerate(screen.splitlines()):
        if text in l:
            return i
    raise AssertionError(f"{text!r} not on screen:\n{screen}")


def test_groups_in_order_with_what_each_waits_for(galley, tmux, tmp_path):
    sessions(galley, tmp_path)
    tmux.start(tmp_path)
    s = tmux.wait_for("Completed / Failed / Stopped (2)")
    order = [line_of(s, h) for h in ("Pinned (1)", "Needs input (1)",
                                     "Ready for review (1)", "Working (1)",
                                     "Completed / Failed / Stopped (2)")]
    assert order == sorted(order), s
    assert line_of(s, "pinme") == order[0] + 1
    assert "input: Postgres or SQLite?" in s.splitlines()[order[1] + 1]
    assert "exited with code 3" in s
    assert "blocked 1" in s.splitlines()[-1]
    # ? shows the keys; any key closes it
    tmux.keys("?")
    tmux.wait_for("Ctrl+X")
    tmux.keys("x")
    tmux.wait_for("Needs input (1)")


def test_peek_and_reply_unblocks_the_agent(galley, tmux, tmp_path):
    galley.new("ask Postgres or SQLite?", name="asker", cwd=tmp_path)
    galley.wait_state("asker", "blocked")
    tmux.start(tmp_path)
    tmux.wait_for("Needs input (1)")
    tmux.keys("Space")
    tmux.wait_for("reply>")
    tmux.wait_for("Postgres or SQLite?")
    tmux.text("Postgres")
    tmux.keys("Enter")
    galley.wait_state("asker", "idle")
    tmux.wait_for("got it: Postgres")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "reply>" not in s and
                  "Ready for review (1)" in s)


def test_attach_and_detach_come_back_to_the_view(galley, tmux, tmp_path):
    galley.new("think 600", name="two", cwd=tmp_path)
    galley.new("say hello there", name="one", cwd=tmp_path)
    galley.wait_state("one", "idle")
    tmux.start(tmp_path)
    tmux.wait_for("Working (1)")
    s = tmux.wait_for("> one")  # review comes before working
    tmux.keys("Enter")
    # attached: the session's own screen, not the view
    tmux.wait_for(lambda s: "galley ·" not in s and "hello there" in s)
    tmux.keys("C-\\")
    s = tmux.wait_for("galley ·")
    assert "> one" in s
    assert galley.get("one")["state"] == "idle"  # still running


def test_pin_rename_stop_delete(galley, tmux, tmp_path):
    galley.new("think 600", name="alpha", cwd=tmp_path)
    galley.new("think 600", name="beta", cwd=tmp_path)
    tmux.start(tmp_path)
    tmux.wait_for("Working (2)")
    tmux.keys("C-t")
    # the selected row is pinned; which one was on top can change between
    # a capture and the key (both working: the latest update first)
    poll(lambda: any(x["pinned"] for x in galley.ls()), 10, what="a pin")
    first = next(x["name"] for x in galley.ls() if x["pinned"])
    # a capture can fall between two lines of a repaint: wait for all
    s = tmux.wait_for(lambda s: "Pinned (1)" in s and "Working (1)" in s
                      and "alpha" in s and "beta" in s)
    assert line_of(s, first) == line_of(s, "Pinned (1)") + 1
    assert [x["name"] for x in galley.ls() if x["pinned"]] == [first]
    tmux.keys("C-r")
    tmux.wait_for("rename to>")
    tmux.keys("C-u")
    tmux.text("gamma")
    tmux.keys("Enter")
    poll(lambda: "gamma" in [s["name"] for s in galley.ls("--all")], 10,
         what="renamed")
    assert galley.get("gamma")["pinned"] is True
    tmux.wait_for("gamma")
    tmux.keys("C-x")
    galley.wait_state("gamma", "stopped")
    tmux.wait_for("Ctrl+X again")
    tmux.keys("C-x")
    poll(lambda: "gamma" not in [s["name"] for s in galley.ls("--all")],
         10, what="gamma deleted")
    tmux.wait_for(lambda s: "gamma" not in s)


def test_delete_obeys_the_worktree_safety_rule(galley, tmux, repo):
    galley.json("new", "--runtime", "fake", "-w", "keep",
                "write new.txt precious", cwd=repo)
    galley.wait_state("keep", "idle")
    galley.ok("stop", "keep")
    galley.wait_state("keep", "stopped")
    tmux.start(repo)
    tmux.wait_for("keep")
    tmux.keys("C-x")
    tmux.keys("C-x")
    tmux.wait_for("new.txt")  # the refusal says what would be lost
    assert (repo / ".galley/worktrees/keep/new.txt").exists()
    assert "keep" in [s["name"] for s in galley.ls("--all")]


def test_filter_and_grouping(galley, tmux, tmp_path):
    sessions(galley, tmp_path)
    tmux.start(tmp_path)
    tmux.wait_for("Completed / Failed / Stopped (2)")
    tmux.keys("/")
    tmux.text("s:failed")
    tmux.keys("Enter")
    s = tmux.wait_for("filter: s:failed")
    assert "failer" in s and "asker" not in s and "worker" not in s
    tmux.keys("/")
    tmux.keys("C-u")
    tmux.text("ask")
    tmux.keys("Enter")
    s = tmux.wait_for("filter: ask")
    assert "asker" in s and "failer" not in s
    tmux.keys("/", "C-u", "Enter")
    tmux.wait_for("failer")
    tmux.keys("g")
    tmux.wait_for(lambda s: "Needs input (" not in s and "asker" in s)


def test_settings_are_saved_and_used_by_the_next_new(galley, tmux,
                                                      tmp_path):
    tmux.start(tmp_path)
    tmux.keys("S")
    tmux.wait_for("settings for new sessions")
    tmux.keys("j", "j")  # defaultRuntime, permissionMode, model
    tmux.keys("Enter")
    tmux.wait_for("model>")
    tmux.text("sonnet")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: re.search(r"model\s+sonnet", s))
    tmux.keys("Escape")
    cfg = json.loads((galley.ghome / "config" / "settings.json").read_text())
    assert cfg["model"] == "sonnet"
    # n: a new session with options as on the command line
    tmux.keys("n")
    tmux.wait_for("new>")
    tmux.text("--runtime fake -n fromview say hi")
    tmux.keys("Enter")
    poll(lambda: "fromview" in [s["name"] for s in galley.ls()], 10,
         what="the session started from the view")
    s = galley.wait_state("fromview", "idle")
    assert s["model"] == "sonnet"
    tmux.wait_for("fromview")


def test_a_change_from_another_shell_shows_without_a_key(galley, tmux,
                                                         tmp_path):
    tmux.start(tmp_path)
    tmux.wait_for("no sessions yet")
    galley.new("ask anyone there?", name="outside", cwd=tmp_path)
    tmux.wait_for("input: anyone there?")
    galley.ok("send", "outside", "yes")
    tmux.wait_for("Ready for review (1)")


def test_resize_and_no_color(galley, tmux, tmp_path):
    sessions(galley, tmp_path)
    galley.new("ask " + "名前" * 40, name="wide-" + "x" * 50, cwd=tmp_path)
    tmux.start(tmp_path)
    tmux.wait_for("Completed / Failed / Stopped (2)")
    assert "\x1b[" in tmux.screen(escapes=True)
    for w, h in ((60, 20), (200, 60), (80, 24)):
        tmux.run("resize-window", "-t", "v", "-x", str(w), "-y", str(h))
        # repainted for the new size: the footer on the last row
        s = tmux.wait_for(lambda s, w=w, h=h: "galley ·" in s and all(
            len(l) <= w for l in s.splitlines()) and
            len(s.splitlines()) == h and "running" in s.splitlines()[-1])
        assert "Needs input" in s
        assert "名前" in s  # wide characters cut cleanly, never garbled


def test_no_color_means_no_colour(galley, tmux, tmp_path):
    galley.new("ask which?", name="asker", cwd=tmp_path)
    galley.wait_state("asker", "blocked")
    tmux.start(tmp_path, env={"NO_COLOR": "1"})
    tmux.wait_for("Needs input (1)")
    esc = tmux.screen(escapes=True)
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", esc), esc
    assert not re.search(r"\x1b\[[0-9;]*4[0-7]m", esc), esc


def test_ls_tree(galley, tmp_path):
    galley.new("say a", name="root1", cwd=tmp_path)
    out = galley.json("ls", "--tree")
    assert [n["name"] for n in out] == ["root1"]
    assert out[0]["children"] == []
    assert "root1" in galley.ok("ls", "--tree").stdout


def test_view_needs_a_terminal(galley, tmp_path):
    galley.fail("view", code=2, match="needs a terminal")
    # galley alone in a pipe is ls
    p = galley.ok()
    assert p.stdout.startswith("no sessions")


def test_budget_in_the_footer_and_on_the_status_line(galley, tmux,
                                                     tmp_path):
    galley.ok("config", "set", "budget.usd", "2")
    tmux.start(tmp_path)
    tmux.wait_for("of $2.00 (0%)")
    # 50k+50k tokens of sonnet: $0.90 of a $1 session budget, a warning
    galley.new("usage 50000 50000 claude-sonnet-4-5", name="spender",
               cwd=tmp_path, extra=("--budget-usd", "1"))
    tmux.wait_for("at 90%")
    tmux.wait_for("$0.90 of $2.00 (45%)")


def test_merge_takes_one_key_and_the_merged_session_moves_on(
        galley, tmux, repo):
    """Issue 14 (13, 14): `m` then one key; no Enter, nothing left over."""
    for k, v in (("user.email", "t@example.com"), ("user.name", "t")):
        subprocess.run(["git", "config", k, v], cwd=repo, check=True)
    galley.json("new", "--runtime", "fake", "-w", "vm",
                "write vm.txt from-view", cwd=repo)
    galley.wait_state("vm", "idle")
    poll(lambda: galley.get("vm")["review"], 20, what="vm ready for review")
    tmux.start(repo)
    tmux.wait_for("Ready for review (1)")
    tmux.keys("m")
    tmux.wait_for("s squash")
    tmux.keys("s")  # one key: squash; no Enter
    poll(lambda: galley.get("vm")["merged_into"] == "main", 20,
         what="the merge from the view")
    assert (repo / "vm.txt").read_text() == "from-view\n"
    s = tmux.wait_for("Completed / Failed / Stopped (1)")
    assert "Ready for review" not in s, s
    assert "merged vm --squash" in s, s
    # any other key cancels, and does not land anywhere
    tmux.keys("m")
    tmux.wait_for("s squash")
    tmux.keys("x")
    tmux.wait_for("merge cancelled")


def test_filter_applies_as_typed_and_esc_clears_it(galley, tmux, tmp_path):
    sessions(galley, tmp_path)
    tmux.start(tmp_path)
    tmux.wait_for("Completed / Failed / Stopped (2)")
    tmux.keys("/")
    tmux.text("s:failed")
    s = tmux.wait_for(lambda s: "asker" not in s and "failer" in s)
    assert "filter>" in s
    tmux.keys("Escape")
    s = tmux.wait_for(lambda s: "asker" in s and "failer" in s)
    assert "filter:" not in s.splitlines()[0]
    tmux.keys("?")
    tmux.wait_for("Esc clears it")


def test_a_pinned_blocked_session_counts_as_input(galley, tmux, tmp_path):
    galley.new("ask which one?", name="pq", cwd=tmp_path)
    galley.wait_state("pq", "blocked")
    galley.ok("pin", "pq")
    tmux.start(tmp_path)
    s = tmux.wait_for("Pinned (1)")
    assert "pinned 1 · input 1" in s.splitlines()[0], s


def test_a_conflict_shows_in_the_row_and_in_peek_and_notifies(
        galley, tmux, repo, tmp_path):
    """Issue 14 (22): the view marks a clash, names the other session,
    shows the paths when peeking, and notifies (notifyCommand)."""
    for k, v in (("user.email", "t@example.com"), ("user.name", "t")):
        subprocess.run(["git", "config", k, v], cwd=repo, check=True)
    (repo / "a.txt").write_text("one\n")
    subprocess.run(["git", "add", "a.txt"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "a"], cwd=repo, check=True)
    heard = tmp_path / "heard"
    galley.ok("config", "set", "notifyCommand",
              f"echo $GALLEY_NOTIFY_NAME >> {heard}")
    tmux.start(repo)
    for n, text in (("va", "from-a"), ("vb", "from-b")):
        galley.json("new", "--runtime", "fake", "-w", n,
                    f"write a.txt {text}", cwd=repo)
    s = tmux.wait_for("conflict: vb (a.txt)", timeout=30)
    assert re.search(r"!\s*va\b", s) or " !va" in s or ">!va" in s, s
    poll(lambda: heard.exists() and "va" in heard.read_text(), 10,
         what="the notify command for the conflict")
    # peek the selected one: the paths are shown
    tmux.keys("Space")
    tmux.wait_for("── peek")
    s = tmux.wait_for(lambda s: re.search(r"conflict: v[ab] \(a\.txt\)",
                                          s.split("── peek")[1]))


def test_a_long_name_is_cut_with_a_marker_before_the_state(galley, tmux,
                                                           tmp_path):
    """Issue 14 (12): 21+ characters never run into the state column."""
    galley.new("ask ok?", name="a-name-of-exactly-twenty-five", cwd=tmp_path)
    galley.wait_state("a-name-of-exactly-twenty-five", "blocked")
    tmux.start(tmp_path)
    s = tmux.wait_for("a-name-of-exactly-")
    assert re.search(r"a-name-of-exactly-t~ +blocked", s), s


def test_a_team_shows_under_its_lead_and_t_talks(galley, tmux, repo):
    """Issue 15: members indented under their lead; t sends a message."""
    galley.json("team", "create", "crew", "-r", "fake", "say lead",
                cwd=repo)
    galley.json("team", "add", "crew", "dev", "--lens", "d", "-r", "fake",
                "say dev", cwd=repo)
    galley.json("new", "-r", "fake", "-n", "loner", "say alone", cwd=repo)
    for n in ("crew.lead", "crew.dev", "loner"):
        galley.wait_state(n, "idle")
    tmux.start(repo)
    s = tmux.wait_for("crew.dev")
    lines = s.splitlines()
    lead = line_of(s, "crew.lead")
    assert "\u2514 crew.dev" in lines[lead + 1], s
    # select the member and talk to it
    while "> \u2514 crew.dev" not in tmux.screen():
        tmux.keys("j")
        tmux.wait_for(lambda s: True)
    tmux.keys("t")
    tmux.wait_for("talk to crew.dev>")
    tmux.text("hello from the view")
    tmux.keys("Enter")
    poll(lambda: "message from user: hello from the view" in
         galley.ok("peek", "crew.dev").stdout, 20,
         what="the message delivered")


def test_a_teams_rows_show_tasks_and_waiting_messages(galley, tmux, repo):
    """Issue 15: the lead's row counts tasks done, a member's shows its task
    in progress and the messages waiting for it, updated as they move."""
    galley.json("team", "create", "crew", "-r", "fake", "say lead",
                cwd=repo)
    galley.json("team", "add", "crew", "dev", "--lens", "d", "-r", "fake",
                "think 600", cwd=repo)
    galley.ok("task", "add", "audit auth", "--team", "crew", cwd=repo)
    galley.ok("task", "add", "fix login", "--team", "crew", cwd=repo)
    galley.wait_state("crew.lead", "idle")
    tmux.start(repo)
    s = tmux.wait_for("crew.dev")
    assert "[0/2 done]" in s.splitlines()[line_of(s, "crew.lead")], s
    # live: a claim and a message to the busy member reach the rows
    galley.ok("task", "claim", "--team", "crew", "--as", "dev", cwd=repo)
    galley.ok("team", "talk", "dev", "wait for me", "--team", "crew",
              cwd=repo)
    s = tmux.wait_for(lambda s: "[1 msg]" in s and "[#1 audit auth]" in s)
    assert "[#1 audit auth] [1 msg]" in s.splitlines()[line_of(s, "crew.dev")]
    galley.ok("task", "done", "1", "--team", "crew", "--as", "dev", cwd=repo)
    s = tmux.wait_for("[1/2 done]")
    assert "[#1" not in s.splitlines()[line_of(s, "crew.dev")], s


def test_a_workflows_agents_show_their_run_and_p_x_r_s_act_on_it(
        galley, tmux, repo):
    """Issue 16: the row names the run and its phase; p pauses and
    resumes the run, r restarts the agent, s saves the script, x stops."""
    d = repo / ".galley" / "workflows"
    d.mkdir(parents=True)
    (d / "slow.lua").write_text(
        'function run() phase("dig")\n'
        '  return agent("think 300", {runtime = "fake", label = "w"})\n'
        'end\n')
    run = galley.ok("workflow", "run", "slow", "--bg", cwd=repo).stdout.strip()

    def status():
        return galley.json("workflow", "status", run, cwd=repo)
    poll(lambda: status()["agents"] and status()["agents"][0]["session"],
         20, what="the agent")
    first = status()["agents"][0]["session"]
    tmux.start(repo)
    s = tmux.wait_for("[slow: dig 0/1]")
    assert "[slow: dig 0/1] think 300" in \
        s.splitlines()[line_of(s, "slow.w")]
    tmux.keys("p")
    poll(lambda: status()["state"] == "paused", 20, what="paused")
    tmux.wait_for("[slow: dig 0/1, paused]")
    tmux.keys("p")
    poll(lambda: status()["state"] == "running", 20, what="resumed")
    tmux.keys("r")
    poll(lambda: status()["agents"][0]["session"] != first, 20,
         what="the agent restarted")
    tmux.wait_for(lambda s: "slow.w" in s and "restarts" in s)
    # the new session's row is selected next; s saves the run's script
    tmux.keys("s")
    tmux.wait_for("save the run's script as>")
    tmux.text("kept")
    tmux.keys("Enter")
    poll(lambda: (d / "kept.lua").exists(), 20, what="the saved script")
    tmux.keys("x")
    poll(lambda: status()["state"] == "stopped", 20, what="stopped")
