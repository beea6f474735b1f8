#!/usr/bin/env bash
# Fails if any tracked C++ file differs from what clang-format (.clang-format)
# makes of it; prints the files. Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not found: apt-get install clang-format" >&2; exit 1; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . -name '*.cpp' -o -name '*.h')
if ((${#bad[@]})); then
  printf 'check-format: not clang-formatted (run clang-format -i): %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: all files formatted"
