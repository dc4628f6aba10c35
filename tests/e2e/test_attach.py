"""attach through a real terminal (tmux): repaint, typing, detach, resize."""
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import poll, scaled

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux not installed")


class Tmux:
    def __init__(self, galley):
        self.g = galley
        self.sock = f"gt-{uuid.uuid4().hex[:8]}"
        self.env = dict(galley.env, TMUX_TMPDIR=str(galley.tmp))

    def cmd(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null",
                               *args], env=self.env, capture_output=True,
                              text=True, timeout=scaled(10))

    def start(self, command, x=100, y=30):
        self.cmd("new-session", "-d", "-x", str(x), "-y", str(y),
                 f"{command}; sleep 30")
        pid = self.cmd("display", "-p", "#{pid}").stdout.strip()
        if pid:
            self.g.pids.add(int(pid))

    def screen(self):
        return self.cmd("capture-pane", "-p").stdout

    def wait_for(self, text, timeout=10):
        return poll(lambda: text in self.screen(), timeout,
                    what=f"{text!r} on the tmux screen")

    def kill(self):
        self.cmd("kill-server")


@pytest.fixture
def tmux(galley):
    t = Tmux(galley)
    yield t
    t.kill()


def test_attach_repaints_types_and_detaches(galley, tmux):
    galley.new("say earlier line one; say earlier line two; ask your name?; "
               "say bye", name="at")
    galley.wait_state("at", "blocked")
    tmux.start(f"{galley.bin} attach at")
    # printed before we attached: only a repaint can show it
    tmux.wait_for("earlier line two")
    assert "earlier line one" in tmux.screen()
    tmux.cmd("send-keys", "-l", "alice")
    tmux.cmd("send-keys", "Enter")
    tmux.wait_for("got it: alice")
    galley.wait_state("at", "idle")
    tmux.cmd("send-keys", "C-\\")
    tmux.wait_for("[detached from at]")
    s = galley.get("at")
    assert s["state"] == "idle"  # still running after the detach


def test_custom_detach_key_and_cat_echo(galley, tmux):
    galley.exec("sh", "-c", "echo READY; exec cat", name="kitty")
    galley.wait_state("kitty", "working")
    poll(lambda: "READY" in galley.ok("peek", "kitty").stdout, 10,
         what="READY printed")
    tmux.start(f"{galley.bin} attach --detach-key C-a kitty")
    tmux.wait_for("READY")  # the repaint: attached
    tmux.cmd("send-keys", "-l", "meow-123")
    tmux.cmd("send-keys", "Enter")
    poll(lambda: tmux.screen().count("meow-123") >= 2, 10,
         what="cat echoed the line")
    tmux.cmd("send-keys", "C-a")
    tmux.wait_for("[detached from kitty]")
    assert galley.get("kitty")["state"] == "working"


def test_attach_ends_when_session_exits(galley, tmux):
    galley.new("ask ready?; say leaving; exit 0", name="ex")
    galley.wait_state("ex", "blocked")
    tmux.start(f"{galley.bin} attach ex")
    tmux.wait_for("ready?")
    tmux.cmd("send-keys", "-l", "yes")
    tmux.cmd("send-keys", "Enter")
    tmux.wait_for("[session ex ended]")
    galley.wait_state("ex", "done")


def test_resize_reaches_the_session(galley, tmux):
    galley.exec("sh", "-c", "while true; do stty size; sleep 0.1; done",
                name="rsz")
    galley.wait_state("rsz", "working")
    tmux.start(f"{galley.bin} attach rsz", x=100, y=30)
    poll(lambda: "30 100" in galley.ok("peek", "rsz").stdout, 10,
         what="initial size")
    tmux.cmd("resize-window", "-x", "120", "-y", "40")
    poll(lambda: "40 120" in galley.ok("peek", "rsz").stdout, 10,
         what="new size")


def test_attach_needs_a_terminal(galley):
    galley.exec("sleep", "30", name="nt")
    galley.wait_state("nt", "working")
    galley.fail("attach", "nt", code=2, match="needs a terminal")


def test_attach_says_where_and_how_to_leave_first(galley):
    """Issue 14: one line before the session's screen takes over (read
    from the terminal's byte stream: the repaint then clears it)."""
    import pexpect
    galley.new("ask ready?", name="hello-att")
    galley.wait_state("hello-att", "blocked")
    child = pexpect.spawn(galley.bin, ["attach", "hello-att"],
                          env=galley.env, timeout=scaled(10))
    try:
        child.expect("ready")
        first = child.before.split(b"\r\n")[0]
        assert first == "attached to hello-att · C-\\ detaches".encode(), \
            child.before
        child.send("\x1c")
        child.expect(r"\[detached from hello-att\]")
    finally:
        child.close(force=True)
