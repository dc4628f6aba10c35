"""Worktree isolation (issue 5, first part): creation and the safety rule."""
import os
import subprocess
import time

import pytest


def git(repo, *args, check=True):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    p = subprocess.run(["git", *args], cwd=repo, env=env,
                       capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def commit_file(repo, name, text, msg):
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", msg)
    return git(repo, "rev-parse", "HEAD")


def test_create_default_and_head(galley, repo):
    main_tip = commit_file(repo, "a.txt", "a\n", "a")
    git(repo, "checkout", "-qb", "topic")
    topic_tip = commit_file(repo, "b.txt", "b\n", "b")
    s = galley.json("exec", "-w", "fromdefault", "--", "true", cwd=repo)
    assert s["worktree"] == str(repo / ".galley/worktrees/fromdefault")
    assert s["branch"] == "galley/fromdefault" and s["base_ref"] == "main"
    assert git(repo, "rev-parse", "galley/fromdefault") == main_tip
    s = galley.json("exec", "-w", "fromhead", "--base", "head", "--",
                    "true", cwd=repo)
    assert git(repo, "rev-parse", "galley/fromhead") == topic_tip
    assert s["base"] == topic_tip
    excl = (repo / ".git/info/exclude").read_text()
    assert "/.galley/worktrees/" in excl
    assert git(repo, "status", "--porcelain") == ""


def test_names_with_slash_subdir_and_inside_worktree(galley, repo):
    (repo / "sub").mkdir()
    commit_file(repo, "sub/f.txt", "x\n", "sub")
    s = galley.json("exec", "-w", "feat/login", "--", "pwd",
                    cwd=repo / "sub")
    wt = repo / ".galley/worktrees/feat+login"
    assert s["worktree"] == str(wt) and s["branch"] == "galley/feat/login"
    assert s["cwd"] == str(wt / "sub")  # same subdirectory
    s2 = galley.json("exec", "-w", "nested", "--", "true", cwd=wt / "sub")
    # from inside a worktree: made beside it, from the main repo
    assert s2["worktree"] == str(repo / ".galley/worktrees/nested")
    assert s2["repo"] == str(repo)


def test_errors(galley, repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    galley.fail("exec", "-w", "x", "--", "true", cwd=plain, code=2,
                match="not in a git repository")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    galley.fail("exec", "-w", "x", "--", "true", cwd=empty, code=2,
                match="no commit yet")
    galley.fail("exec", "--worktree=../x", "--", "true", cwd=repo, code=2,
                match="invalid worktree name")
    galley.json("exec", "-w", "twice", "--", "true", cwd=repo)
    galley.fail("exec", "-w", "twice", "--", "true", cwd=repo, code=1,
                match="already exists")


def reachable(repo, sha):
    return subprocess.run(["git", "cat-file", "-e", sha + "^{commit}"],
                          cwd=repo).returncode == 0 and git(
        repo, "branch", "-a", "--contains", sha) != ""


@pytest.fixture
def matrix(galley, repo):
    """Worktrees in every state the safety rule distinguishes."""
    commit_file(repo, "base.txt", "base\n", "base")
    remote = repo.parent / "remote.git"
    git(repo.parent, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    shas = {}
    for name in ("clean", "dirty", "untracked", "unmerged", "merged",
                 "pushed"):
        galley.json("exec", "-w", name, "--", "true", cwd=repo)
        galley.wait_state(name, "done")
        wt = repo / ".galley/worktrees" / name
        if name == "dirty":
            (wt / "base.txt").write_text("changed\n")
        elif name == "untracked":
            (wt / "new.txt").write_text("new\n")
        elif name in ("unmerged", "merged", "pushed"):
            shas[name] = commit_file(wt, f"{name}.txt", "w\n", name)
    git(repo, "merge", "-q", "--no-edit", "galley/merged")
    git(repo / ".galley/worktrees/pushed", "push", "-q", "origin",
        "galley/pushed")
    return shas


SAFE = {"clean", "merged", "pushed"}


@pytest.mark.parametrize("op", ["worktree rm", "discard", "rm"])
@pytest.mark.parametrize("name", ["clean", "dirty", "untracked", "unmerged",
                                  "merged", "pushed"])
def test_removal_follows_the_rule(galley, repo, matrix, name, op):
    wt = repo / ".galley/worktrees" / name
    verb = op.split()
    if name in SAFE:
        galley.ok(*verb, name, cwd=repo)
        assert not wt.exists()
    else:
        p = galley.fail(*verb, name, cwd=repo, code=4)
        assert wt.exists()
        if op != "worktree rm":
            assert galley.get(name)["name"] == name  # session kept too
        want = {"dirty": "base.txt", "untracked": "new.txt",
                "unmerged": matrix.get("unmerged", "x")[:7]}[name]
        assert want in p.stderr
        galley.ok(*verb, "--force", name, cwd=repo)
        assert not wt.exists()
    if op != "worktree rm":
        galley.fail("get", name, code=3)
    for sha in matrix.values():
        assert reachable(repo, sha), sha  # zero lost commits
    if name == "unmerged":
        assert git(repo, "rev-parse", "galley/unmerged") == \
            matrix["unmerged"]  # the branch was kept


def test_gc_removes_only_safe(galley, repo, matrix):
    out = galley.json("worktree", "gc", "--dry-run", cwd=repo)
    assert {w["name"] for w in out["would_remove"]} == SAFE
    assert (repo / ".galley/worktrees/clean").exists()
    out = galley.json("worktree", "gc", cwd=repo)
    assert {w["name"] for w in out["removed"]} == SAFE
    assert {w["name"] for w in out["kept"]} == {"dirty", "untracked",
                                                "unmerged"}
    for sha in matrix.values():
        assert reachable(repo, sha), sha


def test_ls_and_running_session_refused(galley, repo):
    galley.json("exec", "-w", "busy", "--", "sleep", "300", cwd=repo)
    galley.wait_state("busy", "working")
    rows = {w["name"]: w for w in galley.json("worktree", "ls", cwd=repo)}
    assert rows["busy"]["state"] == "working"
    assert rows["busy"]["dirty"] is False
    galley.fail("worktree", "rm", "--force", "busy", cwd=repo, code=4,
                match="running session")


def ident(repo):
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")


def agent_edit(galley, repo, name, path, text):
    """A fake agent in its own worktree writes a file and ends its turn."""
    galley.json("new", "--runtime", "fake", "-w", name,
                f"write {path} {text}", cwd=repo)
    galley.wait_state(name, "idle")
    return repo / ".galley/worktrees" / name


def test_diff_shows_new_and_changed_files(galley, repo):
    ident(repo)
    commit_file(repo, "a.txt", "one\n", "a")
    wt = agent_edit(galley, repo, "d1", "b.txt", "brand-new")
    (wt / "a.txt").write_text("two\n")
    out = galley.ok("diff", "d1").stdout
    assert "+brand-new" in out and "-one" in out and "+two" in out
    stat = galley.json("diff", "d1", "--stat")["stat"]
    assert "a.txt" in stat and "b.txt" in stat
    galley.exec("true", name="nowt")
    galley.fail("diff", "nowt", code=1, match="no worktree")


def test_merge_clean_conflict_and_dirty_main(galley, repo):
    ident(repo)
    commit_file(repo, "a.txt", "one\n", "a")
    agent_edit(galley, repo, "m1", "m1.txt", "from-m1")
    galley.ok("merge", "m1", cwd=repo)
    assert (repo / "m1.txt").read_text() == "from-m1\n"
    assert "Merge galley session m1" in git(repo, "log", "-1", "--format=%s")
    # conflicting: both the main branch and the agent change a.txt
    wt = agent_edit(galley, repo, "m2", "a.txt", "agent")
    commit_file(repo, "a.txt", "main\n", "main edit")
    before = git(repo, "rev-parse", "HEAD")
    p = galley.fail("merge", "m2", code=1, match="conflicts in: a.txt")
    assert git(repo, "rev-parse", "HEAD") == before
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "a.txt").read_text() == "main\n"
    # a dirty main checkout is refused before anything happens
    agent_edit(galley, repo, "m3", "m3.txt", "x")
    (repo / "a.txt").write_text("uncommitted\n")
    galley.fail("merge", "m3", code=4, match="uncommitted changes")
    assert not (repo / "m3.txt").exists()
    (repo / "a.txt").write_text("main\n")
    galley.ok("merge", "--squash", "m3")
    assert (repo / "m3.txt").exists()


def test_discard_and_rm_follow_the_rule(galley, repo):
    ident(repo)
    wt = agent_edit(galley, repo, "dc", "work.txt", "precious")
    galley.ok("stop", "dc")
    p = galley.fail("discard", "dc", code=4, match="work.txt")
    assert wt.exists() and galley.get("dc")
    galley.ok("discard", "--force", "dc")
    assert not wt.exists()
    galley.fail("get", "dc", code=3)
    # rm: a commit of its own keeps the branch even with --force
    wt = agent_edit(galley, repo, "rc", "c.txt", "c")
    git(wt, "add", "c.txt")
    git(wt, "commit", "-qm", "agent commit")
    sha = git(wt, "rev-parse", "HEAD")
    galley.ok("stop", "rc")
    galley.fail("rm", "rc", code=4, match=sha[:7])
    galley.ok("rm", "--force", "rc")
    assert not wt.exists()
    assert git(repo, "rev-parse", "galley/rc") == sha
    # clean: rm takes the worktree and branch too
    wt = agent_edit(galley, repo, "cl", "x.txt", "x")
    galley.ok("stop", "cl")
    (wt / "x.txt").unlink()
    galley.ok("rm", "cl")
    assert not wt.exists()
    assert git(repo, "branch", "--list", "galley/cl") == ""


def test_worktreeinclude_and_symlink_directories(galley, repo):
    (repo / ".gitignore").write_text(".env\nsecret.key\nlink-env\n"
                                     "node_modules/\nconf/local.json\n")
    (repo / "tracked.env").write_text("tracked\n")
    git(repo, "add", ".gitignore", "tracked.env")
    git(repo, "commit", "-qm", "ignore")
    (repo / ".worktreeinclude").write_text(
        ".env\nconf/local.json\nlink-env\nnotes.txt\ntracked.env\n")
    (repo / ".env").write_text("KEY=1\n")             # ignored: copied
    (repo / "conf").mkdir()
    (repo / "conf/local.json").write_text("{}\n")     # ignored: copied
    (repo / "secret.key").write_text("k\n")           # not included
    (repo / "notes.txt").write_text("n\n")            # not ignored
    os.symlink(repo / ".env", repo / "link-env")      # a symlink: skipped
    (repo / "tracked.env").write_text("local edit\n") # tracked: never
    (repo / "node_modules/pkg").mkdir(parents=True)
    (repo / "node_modules/pkg/index.js").write_text("x\n")
    galley.ok("config", "set", "--project", "worktree.symlinkDirectories",
              "node_modules", cwd=repo)
    s = galley.json("exec", "-w", "inc", "--", "true", cwd=repo)
    wt = repo / ".galley/worktrees/inc"
    assert (wt / ".env").read_text() == "KEY=1\n"
    assert not (wt / ".env").is_symlink()
    assert (wt / "conf/local.json").exists()
    assert not (wt / "secret.key").exists()
    assert not (wt / "notes.txt").exists()
    assert not os.path.lexists(wt / "link-env")
    assert (wt / "tracked.env").read_text() == "tracked\n"
    assert (wt / "node_modules").is_symlink()
    assert os.readlink(wt / "node_modules") == str(repo / "node_modules")


def test_running_session_worktree_is_locked(galley, repo):
    s = galley.json("exec", "-w", "lk", "--", "sleep", "300", cwd=repo)
    galley.wait_state("lk", "working")
    wt = repo / ".galley/worktrees/lk"

    def locked():
        out = git(repo, "worktree", "list", "--porcelain")
        block = out.split(f"worktree {wt}\n", 1)[-1].split("\n\n")[0]
        return "locked" in block and block

    from conftest import poll
    block = poll(locked, 10, what="worktree locked")
    assert s["id"] in block
    p = subprocess.run(["git", "worktree", "remove", str(wt)], cwd=repo,
                       capture_output=True, text=True)
    assert p.returncode != 0 and wt.exists()
    galley.ok("stop", "lk")
    poll(lambda: not locked(), 10, what="worktree unlocked")


def test_overlap_same_lines_conflict_other_files_do_not(galley, repo):
    commit_file(repo, "shared.txt", "line\n", "shared")
    a = galley.json("new", "--runtime", "fake", "-w", "oa",
                    "write shared.txt from-a", cwd=repo)
    b = galley.json("new", "--runtime", "fake", "-w", "ob",
                    "write shared.txt from-b", cwd=repo)
    c = galley.json("new", "--runtime", "fake", "-w", "oc",
                    "write other.txt from-c", cwd=repo)
    for n in ("oa", "ob", "oc"):
        galley.wait_state(n, "idle")
    from conftest import poll

    def pairs():
        got = {s["name"]: s for s in galley.ls()}
        return (b["id"] in got["oa"]["conflicts_with"] and
                a["id"] in got["ob"]["conflicts_with"]) and got

    got = poll(pairs, 20, what="oa and ob reported as conflicting")
    assert got["oc"]["conflicts_with"] == []
    assert got["oa"]["conflicts"][0]["paths"] == ["shared.txt"]
    assert c["id"] not in got["oa"]["conflicts_with"]
    # a new daemon works the conflicts out again
    galley.ok("daemon", "stop")
    poll(pairs, 20, what="the conflict found again by a new daemon")
    # when ob goes, oa is told on the next check
    galley.ok("stop", "ob")
    poll(lambda: galley.get("oa")["conflicts_with"] == [], 20,
         what="the conflict cleared")


def test_the_overlap_helper_never_starts_a_daemon(galley, repo):
    # the daemon's helper can outlive a `daemon stop`: reporting back must
    # not start another daemon (with the helper's stale environment)
    galley.ok("ls")
    galley.ok("daemon", "stop")
    galley.fail("overlap", str(repo), code=5, match="not running")
    assert galley.daemon_pid() is None


def test_pool_hands_out_a_ready_worktree(galley, repo):
    base = commit_file(repo, "a.txt", "a\n", "a")
    galley.ok("config", "set", "--project", "worktree.pool", "2", cwd=repo)
    pool = galley.json("worktree", "pool", "--fill", cwd=repo)
    assert pool == {base: 2}
    slots = set(os.listdir(repo / ".galley/pool" / base))
    s = galley.json("exec", "-w", "fast", "--", "true", cwd=repo)
    wt = repo / ".galley/worktrees/fast"
    assert s["worktree"] == str(wt) and s["branch"] == "galley/fast"
    # it was one of the pool's slots, moved: git's admin dir for it still
    # has the slot's name, and git knows it at its new place
    admin = (wt / ".git").read_text().split("gitdir: ")[1].strip()
    slot = os.path.basename(admin).removeprefix("-new-")  # made staged
    assert slot in slots
    assert f"worktree {wt}\n" in git(repo, "worktree", "list", "--porcelain")
    assert git(wt, "branch", "--show-current") == "galley/fast"
    assert not git(repo, "branch", "--list", "galley-pool/" + slot)
    assert len(slots - set(os.listdir(repo / ".galley/pool" / base))) >= 1
    assert git(wt, "rev-parse", "HEAD") == base
    assert git(wt, "status", "--porcelain") == ""
    from conftest import poll
    poll(lambda: galley.json("worktree", "pool", cwd=repo).get(base) == 2,
         20, what="the pool refilled")
    # the base moves: the next fill drops the old slots
    new = commit_file(repo, "b.txt", "b\n", "b")
    assert galley.json("worktree", "pool", "--fill", cwd=repo) == {new: 2}
    assert not any("galley-pool" in b and base in b for b in
                   git(repo, "worktree", "list").splitlines())


def test_doctor_reports_stale_and_orphan_locks(galley, repo):
    galley.json("exec", "-w", "gone", "--", "true", cwd=repo)
    galley.json("exec", "-w", "stuck", "--", "true", cwd=repo)
    galley.wait_state("gone", "done")
    galley.wait_state("stuck", "done")
    # the daemon unlocks a finished session's worktree in the background:
    # wait for that, or it could undo the lock this test sets
    deadline = time.monotonic() + 10
    while "locked" in git(repo, "worktree", "list", "--porcelain"):
        assert time.monotonic() < deadline, "worktrees still locked"
        time.sleep(0.05)
    import shutil as sh
    sh.rmtree(repo / ".galley/worktrees/gone")  # stale: directory gone
    git(repo, "worktree", "lock", "--reason",
        "galley session 00000000 (x) is running",
        str(repo / ".galley/worktrees/stuck"))
    p = galley.run("doctor", "--json", cwd=repo)
    assert p.returncode == 1
    import json as js
    checks = {c["check"]: c for c in js.loads(p.stdout)["checks"]}
    wt = checks["worktrees"]
    assert wt["status"] == "fail"
    assert "1 stale" in wt["detail"] and "1 locked" in wt["detail"]


def test_merge_failure_that_is_not_a_conflict_says_why(galley, repo):
    # no git identity anywhere: the merge commit cannot be made
    agent_edit(galley, repo, "noid", "n.txt", "n")
    before = git(repo, "rev-parse", "HEAD")
    p = galley.fail("merge", "noid", code=1, match="failed:")
    assert "conflicts in" not in p.stderr
    assert git(repo, "rev-parse", "HEAD") == before
    assert not (repo / "n.txt").exists()


def test_finished_turn_with_changes_is_ready_for_review(galley, repo):
    agent_edit(galley, repo, "rv", "r.txt", "r")
    galley.json("new", "--runtime", "fake", "-w", "nochange", "say hi",
                cwd=repo)
    galley.wait_state("nochange", "idle")
    from conftest import poll
    s = poll(lambda: (lambda x: x if x["review"] else None)(
        galley.get("rv")), 20, what="rv ready for review")
    assert s["changed_files"] == 1
    poll(lambda: galley.get("nochange")["changed_files"] == 0, 20,
         what="nochange checked")
    assert galley.get("nochange")["review"] is False
    assert "ready for review: 1 file" in galley.ok("ls", cwd=repo).stdout


def test_a_merged_session_leaves_review_until_its_next_turn(galley, repo):
    """Issue 14 (14): once merged it is reviewed."""
    from conftest import poll
    ident(repo)
    agent_edit(galley, repo, "mg", "mg.txt", "m")
    poll(lambda: galley.get("mg")["review"], 20, what="mg ready for review")
    galley.ok("merge", "mg", cwd=repo)
    s = galley.get("mg")
    assert s["merged_into"] == "main" and s["review"] is False, s
    row = [l for l in galley.ok("ls", cwd=repo).stdout.splitlines()
           if "mg" in l][0]
    assert "merged into main" in row and "ready for review" not in row
    events = galley.json("events", "mg")
    assert any(e["kind"] == "merged" for e in events), events
    # kept across a daemon restart
    galley.ok("daemon", "stop")
    assert galley.get("mg")["merged_into"] == "main"
    # new work is to be reviewed again
    galley.ok("send", "mg", "write more.txt again")
    galley.wait_state("mg", "idle")
    poll(lambda: galley.get("mg")["merged_into"] is None, 10,
         what="the merged mark cleared by a new turn")
    # the daemon records a merge only into the session's base
    galley.fail("merge", "--json", "nosuch", code=3)


def test_a_merge_conflict_says_what_to_do_next(galley, repo):
    ident(repo)
    commit_file(repo, "a.txt", "one\n", "a")
    agent_edit(galley, repo, "c1", "a.txt", "agent")
    commit_file(repo, "a.txt", "main\n", "main edit")
    p = galley.fail("merge", "c1", code=1, match="conflicts in: a.txt")
    assert "galley merge c1 --rebase" in p.stderr, p.stderr
    assert "galley attach c1" in p.stderr


def test_a_conflict_is_seen_while_both_agents_still_work(galley, repo):
    """Issue 14 (21, 22): checked after each file-changing tool call, not
    when the turn ends; shown in ls with the other's name and the path."""
    from conftest import poll
    ident(repo)
    commit_file(repo, "a.txt", "one\n", "a")
    for n, text in (("ca", "from-a"), ("cb", "from-b")):
        galley.json("new", "--runtime", "fake", "-w", n,
                    f"write a.txt {text}; think 600", cwd=repo)
    # both stay working (think 600): the turn-end check could not see it
    poll(lambda: galley.get("ca")["conflicts_with"] and
         galley.get("cb")["conflicts_with"], 20,
         what="conflicts seen mid-turn")
    a, b = galley.get("ca"), galley.get("cb")
    assert a["state"] == "working" and b["state"] == "working"
    assert a["conflicts_with"] == [b["id"]]
    rows = {l.split()[1]: l for l in
            galley.ok("ls", cwd=repo).stdout.splitlines()[1:]}
    assert "conflict: cb (a.txt)" in rows["ca"], rows
    assert "conflict: ca (a.txt)" in rows["cb"], rows


def test_jobs_in_worktrees_are_checked_on_a_timer(galley, repo):
    """Jobs report no tool calls: a slow timer (10 s) checks them."""
    from conftest import poll
    ident(repo)
    commit_file(repo, "a.txt", "one\n", "a")
    for n, text in (("ja", "A"), ("jb", "B")):
        galley.json("exec", "-w", n, "--", "sh", "-c",
                    f"echo {text} > a.txt; exec sleep 600", cwd=repo)
    poll(lambda: galley.get("ja")["conflicts_with"], 40,
         what="the timer's check of two jobs")
    assert galley.get("ja")["state"] == "working"


def test_rm_ended_sweeps_only_what_loses_nothing(galley, repo):
    """Issue 14: rm --ended (and --older-than) under the worktree rule."""
    ident(repo)
    galley.new("exit 0", name="gone", cwd=repo)
    galley.wait_state("gone", "done")
    agent_edit(galley, repo, "holds", "h.txt", "precious")
    galley.ok("stop", "holds")
    galley.new("exit 0", name="pinned", cwd=repo, extra=("--pin",))
    galley.wait_state("pinned", "done")
    live = galley.exec("sleep", "300", name="live", cwd=repo)
    galley.ok("rm", "--ended", "--older-than", "1d")
    assert {s["name"] for s in galley.ls("--all")} == {
        "gone", "holds", "pinned", "live"}
    p = galley.ok("rm", "--ended")
    assert "kept: session 'holds'" in p.stderr and "h.txt" in p.stderr
    assert {s["name"] for s in galley.ls("--all")} == {
        "holds", "pinned", "live"}
    assert (repo / ".galley/worktrees/holds/h.txt").exists()
    galley.fail("rm", "--ended", "x", code=2)
    galley.fail("rm", "--older-than", "1d", "x", code=2)
    galley.fail("rm", "--ended", "--older-than", "soon", code=2)
