#!/bin/sh
# Install the pinned Claude Code CLI that the e2e tests drive against the
# fake API. Idempotent: skips npm when the binary already has the version.
# Last stdout line: the absolute path of the claude binary.
set -eu

VERSION=2.1.197
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${GALLEY_CLAUDE_CACHE:-$ROOT/.cache/claude}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
BIN="$DIR/node_modules/.bin/claude"

if ! "$BIN" --version 2>/dev/null | grep -q "^$VERSION "; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "claude-install: npm not found; install Node.js/npm first" >&2
		exit 1
	fi
	# npm's progress goes to stderr; keep stdout for the path alone
	if ! npm install --prefix "$DIR" --no-audit --no-fund \
	    "@anthropic-ai/claude-code@$VERSION" >&2 ||
	    ! "$BIN" --version 2>/dev/null | grep -q "^$VERSION "; then
		echo "claude-install: npm install of claude-code@$VERSION into $DIR failed" >&2
		exit 1
	fi
fi
echo "$BIN"
