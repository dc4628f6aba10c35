"""Scale on one machine (issue 20, part 4): the daemon raises its soft
limit on open files to the hard one, and near that limit it refuses new
sessions with a clear message instead of failing at random."""
import json
import subprocess

from conftest import poll


def test_near_its_open_file_limit_the_daemon_refuses_new_sessions(galley):
    galley.ok("config", "set", "limits.maxRunning", "1000")  # all at once
    # a daemon started under a hard limit of 160 open files
    subprocess.run(["sh", "-c", "ulimit -S -n 100 && ulimit -H -n 160 && "
                    f"exec {galley.bin} ls"],
                   env=galley.env, check=True, capture_output=True)
    pid = galley.daemon_pid()
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    assert line.split()[3] == "160"  # soft raised to the hard limit
    refused, made = None, 0
    for i in range(200):
        p = galley.run("exec", "-n", f"f{i}", "--", "sleep", "60")
        if p.returncode != 0:
            refused = p
            break
        made += 1
    assert refused is not None, "never refused"
    assert refused.returncode == 4, refused.stderr
    assert "open files in use: no new session" in refused.stderr
    assert made >= 10
    # the daemon goes on: ls works, and room comes back when some end
    assert len(galley.ls()) == made
    for i in range(10):
        galley.ok("rm", "--force", f"f{i}")
    poll(lambda: galley.run("exec", "-n", "again", "--", "true")
         .returncode == 0, 20, what="a session fits again")
