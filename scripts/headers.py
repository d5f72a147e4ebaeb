# SPDX-License-Identifier: BSD-3-Clause
"""The public headers as the compiler reads them: the one header parser of the
tree, imported by scripts/public-functions (and through it the export test,
tests/api), man/gen-man and tests/man.

The compiler does the parsing: `gcc -aux-info` lists every prototype and
definition of a translation unit with the file and line it comes from, so
multi-line declarations, attributes and macros are handled as the compiler
sees them. From that line the rest is read in the header's own text: the
declaration as written (with its parameter names), the comment right above it
(where the header documents the function and its errors), and struct and enum
definitions for the man pages.

The *_pvt.h headers (hot-path internals, included by their public header,
refusing to be included alone) and names starting with "ivshm__" are not API;
they are listed only when asked for (`internal`), under the *_pvt.h header
that declares them.
"""
import collections
import functools
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUX_LINE = re.compile(r"^/\* (?P<path>.+):(?P<line>\d+):N(?P<kind>[CF]) \*/ (?P<decl>.*)$")
AUX_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) \(")
STATUS = re.compile(r"\bIVSHM_E_[A-Z_]+\b")
# "Errors: as ivshm_create_check", "... and those of ivshm_mempool_lookup"
INHERITS = re.compile(r"\b(?:as|of)\s+((?:ivshm|guest)_[a-z0-9_]+)\b")

Function = collections.namedtuple("Function", "header name kind line")


class HeaderError(Exception):
    pass


def public_headers():
    """scripts/public-headers: include/ivshm/**.h and guest_rt/guest.h."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "public-headers")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.split()


@functools.lru_cache(maxsize=None)
def functions(header, internal=False):
    """Every function `header` itself declares or defines, in order; with
    `internal`, also those of the *_pvt.h headers it includes. Raises
    HeaderError when the header does not compile on its own."""
    path = os.path.join(ROOT, header)
    with tempfile.TemporaryDirectory() as tmp:
        aux = os.path.join(tmp, "aux")
        proc = subprocess.run(["gcc", "-std=gnu11", "-D_GNU_SOURCE", "-I",
                               os.path.join(ROOT, "include"), "-fsyntax-only", "-aux-info", aux,
                               "-x", "c", path], stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            first = "\n".join(proc.stderr.splitlines()[:6])
            raise HeaderError(f"{header} does not compile on its own:\n{first}")
        lines = open(aux).read().splitlines()
    seen, result = set(), []
    for line in lines:
        m = AUX_LINE.match(line)
        if not m:
            continue
        where = os.path.realpath(os.path.join(ROOT, m["path"]))
        private = where.endswith("_pvt.h") and os.path.dirname(where) == os.path.dirname(
            os.path.realpath(path))
        if where != os.path.realpath(path) and not (internal and private):
            continue
        name = AUX_NAME.search(m["decl"])
        if not name or name[1] in seen or (name[1].startswith("ivshm__") and not internal):
            continue
        seen.add(name[1])
        kind = "inline" if m["decl"].startswith("static ") else "extern"
        result.append(Function(os.path.relpath(where, ROOT) if private else header, name[1], kind,
                               int(m["line"])))
    return tuple(result)


def all_functions(headers=None, internal=False):
    """functions() of each header (default: every public one), each name once."""
    seen, result = set(), []
    for header in public_headers() if headers is None else headers:
        if header.endswith("_pvt.h"):
            continue
        for f in functions(header, internal):
            if f.name not in seen:
                seen.add(f.name)
                result.append(f)
    return result


@functools.lru_cache(maxsize=None)
def source(header):
    with open(os.path.join(ROOT, header)) as f:
        return f.read().splitlines()


# ---- declarations ---------------------------------------------------------------

Prototype = collections.namedtuple("Prototype", "result name params")
Param = collections.namedtuple("Param", "before name after")  # "const char *", "path", ""


def _split_top(text, sep):
    parts, depth, cur = [], 0, ""
    for c in text:
        depth += c in "([{"
        depth -= c in ")]}"
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    return parts + [cur]


def _param(text):
    text = " ".join(text.split())
    m = re.match(r"^(.*?)([A-Za-z_][A-Za-z0-9_]*)((?:\[[^]]*\])*)$", text)
    if not m or text == "void" or not m[1].strip():
        return Param(text, "", "")  # no name: "void", or a bare type
    return Param(m[1], m[2], m[3])


def prototype(f):
    """The declaration of Function f as its header writes it, without storage
    class, inline and attributes: Prototype(result, name, [Param...])."""
    lines = source(f.header)
    text, depth = "", 0
    for line in lines[f.line - 1:]:
        line = re.sub(r"/\*.*?\*/|//.*$", "", line)
        for c in line:
            if c in ";{" and depth == 0:
                break
            depth += c == "("
            depth -= c == ")"
            text += c
        else:
            text += " "
            continue
        break
    text = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)", " ", text)
    text = re.sub(r"\b(static|extern|inline|IVSHM_INLINE)\b", " ", text)
    text = " ".join(text.split())
    head, _, rest = text.partition("(")
    m = re.match(r"^(.*?)\s*\b(" + re.escape(f.name) + r")\s*$", head)
    if not m or not rest.endswith(")"):
        raise HeaderError(f"{f.header}:{f.line}: cannot read the declaration of {f.name}")
    params = [_param(p) for p in _split_top(rest[:-1], ",")]
    return Prototype(m[1], m[2], params)


def comment_before(f):
    """The comment that ends on the line right above Function f ('' if none),
    without its /* */ and leading stars."""
    lines = source(f.header)
    end = f.line - 2
    if end < 0 or not lines[end].rstrip().endswith("*/"):
        return ""
    start = end
    while start >= 0 and "/*" not in lines[start]:
        start -= 1
    text = "\n".join(lines[start:end + 1])
    text = text[text.index("/*") + 2:text.rindex("*/")]
    return "\n".join(re.sub(r"^\s*\*? ?", "", line) for line in text.splitlines()).strip()


def statuses(f, by_name, seen=None):
    """The statuses the header comment of f names, with, after "Errors:",
    those of the functions it refers to ("as ivshm_x", "those of ivshm_x")."""
    seen = (seen or set()) | {f.name}
    text = comment_before(f)
    found = set(STATUS.findall(text))
    for other in INHERITS.findall(text.partition("Errors:")[2]):
        if other in by_name and other not in seen:
            found |= statuses(by_name[other], by_name, seen)
    return found


def definition(header, kind, name):
    """The lines of `struct NAME {...};` or `enum NAME {...};` in header."""
    lines = source(header)
    start = re.compile(r"^" + kind + r"\s+" + re.escape(name) + r"\s*\{")
    for i, line in enumerate(lines):
        if start.match(line):
            for j in range(i, len(lines)):
                if lines[j].startswith("}"):
                    return lines[i:j + 1]
    raise HeaderError(f"{header}: no {kind} {name}")
