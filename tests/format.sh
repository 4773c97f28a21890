#!/usr/bin/env bash
# clang-format (Debian 12's clang-format 14; style in .clang-format at the root) over every C++ file
# git tracks under core/, pg_extension/, tests/ and bench/.
#   bash tests/format.sh --check   change nothing; print the first findings and exit 1 if there
#                                  are any (the "format" step of tests/run.sh)
#   bash tests/format.sh           rewrite the files in place (`make format`)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# safe.directory: `sudo make test` runs as root in a clone another user may own.
if ! files=$(git -c safe.directory="$repo" ls-files -- \
    'core/*.cpp' 'core/*.h' 'pg_extension/*.cpp' 'pg_extension/*.h' \
    'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'bench/*.h'); then
  echo "format: git ls-files failed (not a git checkout?)" >&2
  exit 2
fi
if [ -z "$files" ]; then
  echo "format: no C++ files found" >&2
  exit 2
fi
mapfile -t files <<<"$files"

if [ "${1:-}" != "--check" ]; then
  exec clang-format -i -- "${files[@]}"
fi

out=$(clang-format --dry-run --Werror -- "${files[@]}" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
  echo "format: ${#files[@]} files match .clang-format"
  exit 0
fi
# One finding = "file:line:col: error: ..." followed by the line and a caret.
echo "$out" | head -n 60
bad=$(echo "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u | wc -l)
findings=$(echo "$out" | grep -c ': error: ')
echo "format: $findings findings in $bad of ${#files[@]} files (clang-format exit $rc); 'make format' fixes them"
exit 1
