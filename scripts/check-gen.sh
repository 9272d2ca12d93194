#!/usr/bin/env bash
# Fails when the generated docs and completions differ from what is committed.
# Run it after `make gen` (the `check-gen` make target does both).
#
# Usage: scripts/check-gen.sh DIR...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ $# -eq 0 ]; then
  set -- docs/man docs/cli completions
fi

status=0
if ! git diff --exit-code --stat -- "$@" >&2; then
  git diff -- "$@" | head -n 200 >&2 || true
  status=1
fi
# git diff compares the work tree with the index, so files that were
# generated and `git add`ed already pass; new files that were never added
# show up here.
untracked=$(git status --porcelain --untracked-files=all -- "$@" | grep '^??' || true)
if [ -n "$untracked" ]; then
  echo "untracked generated files:" >&2
  echo "$untracked" >&2
  status=1
fi

if [ $status -ne 0 ]; then
  echo >&2
  echo "check-gen: generated files are stale or uncommitted in: $*" >&2
  echo "check-gen: run 'make gen' and commit the result (git add $*)." >&2
  exit 1
fi
echo "check-gen: generated files are up to date ($*)" >&2
