"""Long-running output (issue 20, part 6): logs.maxBytes rotates a
session's output.log to output.log.1, so a session that runs for days
cannot fill the disk; `logs` reads across the rotation."""
import json


def test_output_rotates_past_logs_max_bytes_and_logs_reads_across(
        galley, tmp_path):
    galley.ok("config", "set", "logs.maxBytes", "65536")
    # 4,000 numbered lines of ~50 bytes: 200 KB through a 64 KiB limit
    galley.ok("exec", "-n", "chatty", "--", "sh", "-c",
              "i=0; while [ $i -lt 4000 ]; do "
              "echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; "
              "i=$((i+1)); done")
    s = galley.wait_state("chatty", "done", timeout=30)
    d = galley.session_dir(s)
    cur, prev = d / "output.log", d / "output.log.1"
    assert prev.exists()
    assert cur.stat().st_size <= 65536 and prev.stat().st_size <= 65536
    # what logs shows: the newest lines, whole and in order, the rotation
    # seam included
    lines = [l for l in galley.ok("logs", "chatty").stdout.splitlines()
             if l.startswith("line ")]
    nums = [int(l.split()[1]) for l in lines]
    assert nums[-1] == 3999
    assert nums == list(range(nums[0], 4000)), "a gap or a repeat"
    assert len(nums) > 65536 // 60  # more than one file's worth
    js = json.loads(galley.ok("logs", "--json", "chatty").stdout)
    assert js["log"].count("line 3999") == 1
    # doctor says how much the sessions take
    p = galley.run("doctor", "--json")
    disk = {c["check"]: c for c in json.loads(p.stdout)["checks"]}["disk"]
    assert "sessions use" in disk["detail"]
    galley.fail("config", "set", "logs.maxBytes", "-1", code=2)


def test_follow_goes_on_across_a_rotation(galley, tmp_path):
    galley.ok("config", "set", "logs.maxBytes", "16384")
    go = tmp_path / "GO"
    galley.ok("exec", "-n", "slowchat", "--", "sh", "-c",
              f"until [ -e {go} ]; do sleep 0.02; done; i=0; "
              "while [ $i -lt 1500 ]; do echo \"n $i ................\"; "
              "i=$((i+1)); done; sleep 0.3")
    galley.wait_state("slowchat", "working", timeout=20)
    f = galley.popen("logs", "-f", "slowchat")
    go.touch()
    out, _ = f.communicate(timeout=60)
    # whole lines only: two rotations between two looks of the follower
    # (50 ms) lose the file in between, and cut a line at the seam
    import re
    nums = [int(m.group(1)) for m in
            re.finditer(r"^n (\d+) \.{16}$", out, re.M)]
    assert nums[-1] == 1499
    # rotated several times while followed: nothing repeated, in order
    assert nums == sorted(set(nums))
    assert len(nums) > 16384 // 22  # more than the last file's worth
