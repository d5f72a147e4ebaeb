#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The public API as shipped: libivshm.so exports exactly the functions the
# public headers declare (and host/libivshm.map lists), under the right
# version nodes, with the soname from VERSION; each public header compiles on
# its own; a program builds and runs against the headers and the .so alone.
# Env: BUILD, TEST_TMP (from tests/harness).
set -u
BUILD=${BUILD:-build}
TEST_TMP=${TEST_TMP:-$(mktemp -d)}
SO="$BUILD/lib/libivshm.so"
fails=0
ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

# What the headers declare (not define): the compiler's reading of them
# (scripts/public-functions, the parser the man pages use too), with the
# internal cold paths of the *_pvt.h headers.
if ! functions=$(scripts/public-functions --internal include/ivshm/*.h); then
    not_ok "scripts/public-functions failed"
    exit 1
fi
declared=$(echo "$functions" | awk '$3 == "extern" {print $2}' | sort)
exported=$(nm -D --defined-only "$SO" | awk '$2 ~ /^[TWi]$/ {print $3}' | sed 's/@.*//' | sort)
mapped=$(sed 's|/\*.*\*/||' host/libivshm.map | tr -d ' \t' | grep -E '^ivshm_\w*;$' | tr -d ';' | sort)

# difference A B: the lines of A that are not in B, on one line
difference() { comm -23 <(echo "$1") <(echo "$2") | tr '\n' ' '; }

n=$(echo "$declared" | wc -l)
if [[ $declared == "$exported" ]]; then
    ok "libivshm.so exports exactly the $n functions the public headers declare"
else
    not_ok "exported but not declared: [$(difference "$exported" "$declared")]; declared but not exported: [$(difference "$declared" "$exported")]"
fi
if [[ $declared == "$mapped" ]]; then
    ok "host/libivshm.map lists exactly the declared functions"
else
    not_ok "in the map but not declared: [$(difference "$mapped" "$declared")]; declared but not in the map: [$(difference "$declared" "$mapped")]"
fi

wrong=$(nm -D --defined-only "$SO" | awk '$2 ~ /^[TWi]$/ {print $3}' |
    awk '/^ivshm__/ && !/@@IVSHM_INTERNAL$/ || !/^ivshm__/ && !/@@IVSHM_1$/')
[[ -z $wrong ]] && ok "API in version IVSHM_1, hot-path internals in IVSHM_INTERNAL" ||
    not_ok "symbols in the wrong version node: $wrong"

major=$(cut -d. -f1 VERSION)
soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
real=$(readlink -f "$SO")
if [[ $soname == "libivshm.so.$major" && $real == */libivshm.so.$(cat VERSION) && -e $BUILD/lib/$soname ]]; then
    ok "soname $soname, real file $(basename "$real")"
else
    not_ok "soname '$soname', real file '$real', VERSION $(cat VERSION)"
fi

# Each public header stands alone; those the guest uses also freestanding.
for h in include/ivshm/*.h; do
    base=$(basename "$h")
    [[ $base == *_pvt.h ]] && continue
    if ! out=$(echo "#include <ivshm/$base>" |
        ${CC:-gcc} -std=gnu11 -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c - 2>&1); then
        not_ok "$base does not compile alone: $out"
        continue
    fi
    case $base in qemu.h | ivshm.h) ok "$base compiles alone"; continue ;; esac
    if out=$(echo "#include <ivshm/$base>" |
        ${CC:-gcc} -std=gnu11 -ffreestanding -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c - 2>&1); then
        ok "$base compiles alone, hosted and freestanding"
    else
        not_ok "$base does not compile freestanding: $out"
    fi
done

# A program that sees only include/ and the shared library.
prog="$TEST_TMP/so_user"
mkdir -p "$TEST_TMP/segs"
if ! out=$(${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude -o "$prog" tests/api/so_user.c \
    -L"$BUILD/lib" -livshm 2>&1); then
    not_ok "a program does not build against the headers and libivshm.so: $out"
elif out=$(LD_LIBRARY_PATH="$BUILD/lib" "$prog" "$TEST_TMP/segs" 2>&1); then
    libs=$(LD_LIBRARY_PATH="$BUILD/lib" ldd "$prog" | grep -c 'libivshm.so.1 ')
    [[ $libs == 1 ]] && ok "a program builds and runs against the headers and libivshm.so alone" ||
        not_ok "so_user is not linked against libivshm.so.1: $(ldd "$prog")"
else
    not_ok "so_user failed: $out"
fi

((fails == 0))
