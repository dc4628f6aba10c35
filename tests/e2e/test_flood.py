"""A flood of output (issue 20, part 1): the host leaves out of its screen
what scrolls past the scrollback before anyone looks (src/flood.c), so it
keeps up with the PTY. Every byte must still reach output.log, and the
screen and scrollback must be what a terminal fed every byte shows
(tests/unit/test-screen.c compares the two byte for byte; here, through
the real host and PTY)."""
import base64
import json
import os

from conftest import poll


def _flood_file(tmp_path, mb):
    data = base64.encodebytes(os.urandom(mb * 1024 * 1024 * 3 // 4))
    p = tmp_path / "flood.txt"
    p.write_bytes(data)
    return p, data.decode().splitlines()


def test_a_flood_is_logged_whole_and_the_screen_shows_its_end(
        galley, tmp_path):
    src, lines = _flood_file(tmp_path, 8)
    want = src.read_bytes().replace(b"\n", b"\r\n")  # the PTY's \r\n
    galley.ok("exec", "-n", "flood", "--", "sh", "-c",
              f"cat {src}; sleep 60")
    s = galley.wait_state("flood", "working", timeout=20)
    log = galley.session_dir(s) / "output.log"
    poll(lambda: log.stat().st_size >= len(want), 120,
         what="the whole flood in output.log")
    # live: the last 100 lines of scrollback and the screen are the
    # file's end, in order, none missing
    peek = json.loads(galley.ok("peek", "--json", "--history", "100",
                                "flood").stdout)
    shown = [l for l in peek["screen"].splitlines() if l]
    assert len(shown) >= 100 + 20
    assert shown == lines[-len(shown):]
    galley.ok("stop", "flood")
    galley.wait_state("flood", "stopped", timeout=20)
    # no byte lost, nothing else changed
    assert log.read_bytes() == want
    # the screen recorded at the end, and logs, show the same end
    after = [l for l in galley.ok("peek", "flood").stdout.splitlines()[1:]
             if l]
    assert after == lines[-len(after):] and len(after) >= 20
    tail = galley.ok("logs", "flood").stdout.splitlines()
    assert [l for l in tail if l][-3:] == lines[-3:]


def test_colours_and_a_prompt_after_a_flood_show_as_sent(galley, tmp_path):
    src, lines = _flood_file(tmp_path, 2)
    script = tmp_path / "f.sh"
    # a coloured header, the flood, a title, a coloured prompt: what is
    # set before and after the flood must survive it
    script.write_text(
        "printf '\\033[1;31mHEADER\\033[0m\\n'\n"
        f"cat {src}\n"
        "printf '\\033]0;flooded\\007'\n"
        "printf '\\033[32mready>\\033[0m '\n"
        "sleep 30\n")
    galley.ok("exec", "-n", "colour", "--", "sh", str(script))
    poll(lambda: "ready>" in galley.ok("peek", "colour").stdout, 60,
         what="the prompt on screen")
    rows = galley.ok("peek", "colour").stdout.rstrip("\n").splitlines()
    assert rows[-1].startswith("ready>")
    assert rows[-2] == lines[-1]
    galley.ok("stop", "colour")


def test_output_that_crashed_libvterm_leaves_the_host_alive(galley):
    """Found by tests/fuzz/fuzz-screen.c: libvterm 0.1.4 segfaults on a
    CSI with more than 16 parameters, so one printf killed the session's
    host ("host lost"), and spins forever on REP (CSI b) before any
    character was printed, so the host hung at 100% CPU and stopped
    reading its PTY."""
    galley.ok("exec", "-n", "hostile", "--", "sh", "-c",
              "printf '\\033[5b'; "
              "printf '\\033[;;;;;;;;;;;;;;;;;;;;;;;;;;mhello\\n'; "
              "printf '\\033[1:2:3:4:5:6:7:8:9:1:2:3:4:5:6:7:8:9mworld\\n'; "
              "sleep 30")
    poll(lambda: "world" in galley.ok("peek", "hostile").stdout, 20,
         what="both lines on screen")
    s = galley.get("hostile")
    assert s["state"] == "working", s
    assert "hello" in galley.ok("peek", "hostile").stdout
    galley.ok("stop", "hostile")
