#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What `make check-format` checks, as a test (so `make test` and CI run it):
# every C file is formatted as .clang-format says, and every source file
# carries an SPDX line.
set -u
fails=0
ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files --cached --others --exclude-standard | while read -r f; do [[ -e $f ]] && echo "$f"; done)
else
    files=$(find . -path ./build -prune -o -type f -print | sed 's|^\./||')
fi

c_files=$(echo "$files" | grep -E '\.(c|h)$')
bad=""
for f in $c_files; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
[[ -z $bad ]] && ok "$(echo "$c_files" | wc -l) C files formatted as .clang-format says" ||
    not_ok "not formatted (run make format):$bad"

# Source: code, build files and scripts; not prose, data or the licence.
sources=$(echo "$files" | grep -vE '(\.md|\.gitignore|\.clang-format|^LICENSE|^VERSION)$')
missing=""
for f in $sources; do
    head -5 "$f" | grep -q 'SPDX-License-Identifier: ' || missing="$missing $f"
done
[[ -z $missing ]] && ok "$(echo "$sources" | wc -l) source files carry an SPDX line" ||
    not_ok "no SPDX line in the first 5 lines:$missing"
((fails == 0))
