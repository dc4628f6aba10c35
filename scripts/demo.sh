#!/bin/sh
# make demo: a scratch git repo, six background sessions (five fake agents
# and one shell job), the live list until they settle, then what to do next.
# Everything lives under $DEMO (a private GALLEY_HOME too): no API key, and
# your own galley sessions are not touched.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
G="$ROOT/build/galley"
DEMO=${DEMO:-${TMPDIR:-/tmp}/galley-demo}
export GALLEY_HOME="$DEMO/home"

if [ -d "$DEMO" ]; then
	"$G" daemon stop >/dev/null 2>&1 || true
	# hosts of an earlier demo: stop them before wiping their files
	for s in "$GALLEY_HOME"/state/sessions/*/host.pid; do
		[ -f "$s" ] || continue
		read -r host child <"$s" || true
		kill -9 "-$child" "$host" 2>/dev/null || true
	done
	rm -rf "$DEMO"
fi
mkdir -p "$DEMO/repo"
cd "$DEMO/repo"
git init -q -b main
printf 'def login(user):\n    return True\n' >auth.py
git add auth.py
git -c user.email=demo@example.com -c user.name=demo commit -qm "initial"

echo "galley demo: scratch repo $DEMO/repo, GALLEY_HOME=$GALLEY_HOME"
echo
"$G" new -r fake -n auth-refactor 'say Reading auth.py; think 1; write auth_v2.py def login(user, token): ...; usage 14200 1830 claude-sonnet-4-5; say Refactor ready for review' >/dev/null
"$G" new -r fake -n add-tests 'say Writing tests for login; think 1.5; write test_auth.py def test_login(): assert login("a"); run echo 3 passed; usage 9100 1200 claude-haiku-4-5; exit 0' >/dev/null
"$G" new -r fake -n db-migration 'say Planning the schema migration; think 0.8; ask Postgres or SQLite for the new store?; say Going with that; usage 5000 700 claude-opus-4; exit 0' >/dev/null
"$G" new -r fake -n cleanup 'say Cleaning build artifacts; think 0.5; permission Bash rm -rf build; say cleaned; exit 0' >/dev/null
"$G" new -r fake -n flaky-ci 'say Reproducing the flaky CI job; think 1.2; say Could not reproduce: giving up; exit 1' >/dev/null
"$G" exec -n lint -- sh -c 'for f in auth.py; do echo "lint $f"; sleep 0.7; done; echo "0 problems"' >/dev/null

# the live list until nothing is starting or working (the full agent view
# TUI comes with its own issue)
i=0
while :; do
	out=$("$G" ls)
	if [ -t 1 ]; then printf '\033[H\033[2J'; fi
	echo "galley ls  (live; $i)"
	echo "$out"
	echo
	busy=$("$G" ls --state starting,working --json | grep -c '"id"' || true)
	[ "$busy" -eq 0 ] && break
	i=$((i + 1))
	[ "$i" -gt 60 ] && break
	sleep 0.5
done

# a workflow: the built-in audit, two lenses over two directories, one
# fake agent each, findings merged and deduplicated
echo "galley workflow run audit runtime=fake lens=security,perf dirs=src,lib"
"$G" workflow run audit runtime=fake lens=security,perf dirs=src,lib \
	2>/dev/null | sed -n '/"table"/s/.*"table": "\(.*\)",*$/\1/p' |
	sed 's/\\n/\n/g'
echo

# a batch: one change split over three fake workers, each in its own
# worktree from the same commit, checked and committed on its own branch
# (no remote here: the branches stay local and are listed)
cat >"$DEMO/plan.json" <<'PLAN'
{"instruction": "add a docstring module per area",
 "recipe": ["test -f auth.py"],
 "units": [
  {"title": "auth docs", "files": ["docs_auth.py"], "check": "test -s docs_auth.py",
   "prompt": "say documenting auth; think 0.5; write docs_auth.py \"\"\"Auth.\"\"\"; say done"},
  {"title": "db docs", "files": ["docs_db.py"], "check": "test -s docs_db.py",
   "prompt": "say documenting the db; think 0.8; write docs_db.py \"\"\"DB.\"\"\"; say done"},
  {"title": "cli docs", "files": ["docs_cli.py"], "check": "test -s docs_cli.py",
   "prompt": "say documenting the cli; think 0.3; write docs_cli.py \"\"\"CLI.\"\"\"; say done"}]}
PLAN
echo "galley batch --plan plan.json -r fake --yes"
"$G" batch --plan "$DEMO/plan.json" -r fake --yes 2>/dev/null || true
echo

cat <<MSG
Two agents need you: db-migration asks a question, cleanup wants permission.
Try:

  export GALLEY_HOME=$GALLEY_HOME PATH=$ROOT/build:\$PATH
  galley peek db-migration            # its screen, without attaching
  galley send db-migration Postgres   # answer it; it finishes
  galley attach cleanup               # full terminal: type 1 + Enter to allow;
                                      # Ctrl-\\ detaches, it keeps running
  galley logs add-tests               # output history
  galley ls --json                    # the same list as JSON (usage, cost...)
  galley workflow runs                # the audit and batch runs
  galley batch status RUN             # the batch's table again; merge RUN

When done:  galley daemon stop; rm -rf $DEMO
MSG
