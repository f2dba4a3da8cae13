#!/usr/bin/env bash
# Every C++ file of the project is formatted by .clang-format (clang-format 14, Debian 12's):
# fails listing the files that are not. Fix them with
#   clang-format -i $(git ls-files '*.cpp' '*.hpp')
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root"
command -v clang-format >/dev/null || { echo "FAIL: clang-format is not installed (scripts/setup.sh --with-tests installs it)"; exit 1; }
mapfile -t files < <(find include src tests bench -name '*.cpp' -o -name '*.hpp' | sort)
((${#files[@]} > 50)) || { echo "FAIL: only ${#files[@]} C++ files found under $root"; exit 1; }
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "FAIL: ${#bad[@]} of ${#files[@]} files are not clang-formatted:"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "ok: ${#files[@]} C++ files clang-formatted ($(clang-format --version))"
