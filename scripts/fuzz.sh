#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each.
#
# Targets are found by grepping *_test.go files for `func FuzzXxx(`; each runs
# as `go test -run='^$' -fuzz='^FuzzXxx$' -fuzztime=$FUZZTIME ./pkg/dir`
# (go test fuzzes one target per invocation).
#
# Usage: scripts/fuzz.sh [PATTERN]
#   FUZZTIME  per-target duration or count (default 10s), e.g. FUZZTIME=1m or FUZZTIME=500x
#   PATTERN   optional extended regexp; only targets whose name or package dir match it run
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME=${FUZZTIME:-10s}
pattern=${1:-}

# "dir<TAB>FuzzName" lines, sorted, skipping testdata, vendor and hidden dirs.
mapfile -t targets < <(
  grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . 2>/dev/null |
    grep -Ev '(^|/)(testdata|vendor|\.[^/]+)/' |
    sed -E 's#^\./##; s#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1\t\2#; s#^[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#.\t\1#' |
    sort -u
)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 0
fi

ran=0
failed=()
for t in "${targets[@]}"; do
  dir=${t%%$'\t'*}
  name=${t#*$'\t'}
  if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$dir $name"; then
    continue
  fi
  echo "==> fuzz ./$dir $name (fuzztime $FUZZTIME)" >&2
  if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "./$dir"; then
    ran=$((ran + 1))
  else
    failed+=("./$dir $name")
  fi
done

echo "fuzz: $ran target(s) passed, ${#failed[@]} failed" >&2
if [ ${#failed[@]} -gt 0 ]; then
  printf '  FAILED: %s\n' "${failed[@]}" >&2
  echo "fuzz: crashers are saved under <pkg>/testdata/fuzz/<FuzzName>/; commit them as regression seeds" >&2
  exit 1
fi
