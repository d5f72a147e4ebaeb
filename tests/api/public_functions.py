#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Prints, one a line and sorted, every function the given C headers declare
and do not define (static inline functions have a body: they are skipped).

    tests/api/public_functions.py include/ivshm/*.h
"""
import re
import sys


def statements(text):
    """Top-level statements of a header, without comments and preprocessor
    lines; a statement that is a function definition is left out."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    out, cur, i = [], "", 0
    while i < len(text):
        c = text[i]
        if c == "{":
            definition = re.search(r"\)\s*$", cur) is not None
            depth, i = 1, i + 1
            while i < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            if definition:
                cur = ""
            continue
        if c == ";":
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    return out


def declared(paths):
    names = set()
    for path in paths:
        with open(path) as f:
            for st in statements(f.read()):
                if st.startswith("typedef") or "_Static_assert" in st:
                    continue
                m = re.search(r"\b(ivshm_\w+)\s*\(", st)
                if m:
                    names.add(m.group(1))
    return sorted(names)


if __name__ == "__main__":
    print("\n".join(declared(sys.argv[1:])))
