#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""make test-man: the man pages are clean, complete, and say what the
headers and the programs say. The headers and the programs' --help are the
truth; the pages and docs/*.md are both checked against them, so neither can
drift from the other unnoticed. Each failure says what to add where.

  lint           every page of build/man: `mandoc -T lint -W style`, and groff
                 as man(1) renders it (`-man -t -ww`, at 80 columns and for
                 print) print nothing; at 80 columns no line is wider
  links          every link (man3/FUNCTION.3 -> a page) points at a page
  functions      every function of every public header has a page or a link
  described      each page describes every function of the headers it
                 documents (names it outside NAME and SYNOPSIS)
  errors         a page's ERRORS entry for a function (`.SS name()`, one `.TP`
                 per status) lists exactly the statuses the function's header
                 comment names (scripts/headers.py reads them)
  see-also       libivshm(3) points to every page of the library (its table
                 of headers, SEE ALSO)
  api-md         docs/api.md names every function of include/ivshm/, and only
                 functions that exist
  examples       every example marked `.\\" example: program` compiles and
                 links against include/ and build/lib/libivshm.a
  programs       every program `make install` installs (INSTALL_BINS) has a
                 page man/NAME.1
  ivshm-COMMAND  each command of `ivshm --help` is in the SYNOPSIS of ivshm(1),
                 has its subsection there and its section in docs/cli.md, each
                 naming every option of `ivshm COMMAND --help`; every option
                 they define exists
  ivshm-fwd, ... every other program: each option of its --help is in its page
                 and in the docs/ page it names (`.\\" long form: docs/X.md`)

Env: BUILD, IVSHM, INSTALL_BINS (man/man.mk), TEST_TMP (tests/harness).
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import guest_qemu  # noqa: E402
import headers  # noqa: E402
from guest_qemu import report  # noqa: E402

BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
PROGRAMS = os.environ.get("INSTALL_BINS", "").split() or [IVSHM]
MAN = os.path.join(BUILD, "man")
SOURCES = os.path.join(ROOT, "man")
DOCS = os.path.join(ROOT, "docs")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT_OPTION = re.compile(r"(?:^\s+|,\s+)(-[A-Za-z])(?=[\s,])", re.M)
LONG_FORM = re.compile(r'^\.\\"\s*long form:\s*(\S+)', re.M)
EXAMPLE = re.compile(r'^\.\\"\s*example:\s*program\s*\n\.EX\n(.*?)\n\.EE$', re.M | re.S)
# Options every program of the CLI framework (host/cli/cli.h) takes: a page
# documents them once, in its OPTIONS section, not under every command.
FRAMEWORK_OPTIONS = {"--help", "--version"}


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True)
    return proc.returncode, proc.stdout


def man_files(want_links=False):
    """Pages (or links, with want_links) of the man tree, relative to it."""
    return sorted(os.path.join(sub, f) for sub in os.listdir(MAN) if sub.startswith("man")
                  for f in os.listdir(os.path.join(MAN, sub))
                  if os.path.islink(os.path.join(MAN, sub, f)) == want_links)


def page_name(rel):
    return os.path.basename(rel)


def built(name):
    """The text of built page NAME.S."""
    return open(os.path.join(MAN, "man" + name.rsplit(".", 1)[1], name)).read()


def macro_args(text):
    """The arguments of a macro line, as roff splits them (double quotes)."""
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', text)]


def roff_text(roff):
    """Roff source to plain text, enough to search for names and options: the
    font alternations (.BR a b) joined as they print, escapes undone,
    comments dropped."""
    lines = []
    for line in roff.splitlines():
        if line.startswith(".\\\""):
            continue
        m = re.match(r"^\.([A-Za-z]+)\s*(.*)$", line)
        if m and m[1] in ("BR", "RB", "IR", "RI", "BI", "IB"):
            line = "".join(macro_args(m[2]))
        elif m and m[1] in ("B", "I", "SM", "SB"):
            line = " ".join(macro_args(m[2]))
        elif m:
            line = m[2]
        lines.append(line)
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", "\n".join(lines))
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace("\\c", "")
    text = text.replace("\\%", "")
    return re.sub(r'\\\(dq|\\\(em|\\\(bu', " ", text)


def sections(roff, macro):
    """{title: roff} of the parts of a page starting with `.SH title` (with
    their subsections), or `.SS title` (up to the next .SS or .SH)."""
    ends = (".SH",) if macro == ".SH" else (".SH", ".SS")
    parts, title = {}, None
    for line in roff.splitlines():
        if line.startswith(ends):
            title = None
        if line.startswith(macro + " "):
            title = roff_text(line[len(macro) + 1:]).strip().strip('"')
            parts[title] = []
        elif title is not None:
            parts[title].append(line)
    return {t: "\n".join(lines) for t, lines in parts.items()}


def without_sections(roff, titles):
    """The page less its .SH sections named in titles."""
    out, skip = [], False
    for line in roff.splitlines():
        if line.startswith(".SH"):
            skip = roff_text(line[3:]).strip().strip('"') in titles
        if not skip:
            out.append(line)
    return "\n".join(out)


def md_sections(path):
    """{heading: text} of the '## ' sections of a markdown file."""
    parts, title = {}, None
    for line in open(path):
        if line.startswith("## "):
            title = line[3:].strip().strip("`")
            parts[title] = []
        elif title is not None:
            parts[title].append(line)
    return {t: "".join(lines) for t, lines in parts.items()}


def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def tagged(roff):
    """The first word of each .TP tag (an option without its punctuation):
    what a list defines."""
    lines = roff.splitlines()
    words = []
    for i, line in enumerate(lines[:-1]):
        tag = roff_text(lines[i + 1]).split() if line.startswith(".TP") else []
        if tag:
            option = re.match(r"--?[A-Za-z][A-Za-z0-9-]*", tag[0])
            words.append(option[0] if option else tag[0].strip(",;:"))
    return words


def documented_headers(source):
    found = []
    for m in re.finditer(r'^\.\\"\s*documents:\s*(.+)$', source, re.M):
        found += m[1].split()
    return found


def library_pages():
    """{page file name: [headers it documents]} for every page that documents one."""
    pages = {}
    for f in sorted(os.listdir(SOURCES)):
        if re.match(r".*\.[1-9]$", f):
            found = documented_headers(open(os.path.join(SOURCES, f)).read())
            if found:
                pages[f] = found
    return pages


def links():
    """{function: the page it links to, relative to the man tree}."""
    return {page_name(rel).rsplit(".", 1)[0]:
            os.path.normpath(os.path.join(os.path.dirname(rel), os.readlink(os.path.join(MAN, rel))))
            for rel in man_files(want_links=True)}


# ---- checks ---------------------------------------------------------------------

def check_lint():
    problems = []
    for rel in man_files():
        for cmd in (["mandoc", "-T", "lint", "-W", "style", rel],
                    ["groff", "-man", "-t", "-ww", "-z", rel],
                    ["groff", "-man", "-t", "-ww", "-z", "-Tutf8", "-rLL=78n", rel]):
            try:
                status, out = run(cmd, cwd=MAN)
            except FileNotFoundError:
                problems.append(f"{cmd[0]} is not installed (scripts/install-deps)")
                continue
            if status != 0 or out.strip():
                problems.append(f"{' '.join(cmd[:-1])} {rel}: "
                                f"{' | '.join(out.strip().splitlines()[:3]) or f'exit {status}'}")
        # No-fill text (examples, code) is never broken: it must fit.
        status, out = run(["groff", "-man", "-t", "-Tutf8", "-rLL=78n", "-P-cbou", rel], cwd=MAN)
        wide = [line for line in out.splitlines() if len(line) > 80]
        if wide:
            problems.append(f"{rel}: {len(wide)} lines wider than 80 columns at 80 columns, "
                            f"e.g. '{wide[0].strip()}'")
    report("lint", "; ".join(problems[:6]) or None, f"{len(man_files())} pages")


def check_links():
    broken = [f"{name} -> {target}" for name, target in links().items()
              if not os.path.isfile(os.path.join(MAN, target))]
    report("links", broken and f"links to missing pages: {broken}", f"{len(links())} links")


def check_functions(functions):
    link = links()
    pages = {page_name(rel).rsplit(".", 1)[0] for rel in man_files()}
    missing = {}
    for f in functions:
        if f.name not in link and f.name not in pages:
            missing.setdefault(f.header, []).append(f.name)
    problems = [f"{header}: no page documents it ({', '.join(names)}): write "
                f"man/{page_for(header)} with the line "
                f"'.\\\" documents: {header}' (see man/README.md)"
                for header, names in sorted(missing.items())]
    report("functions", "; ".join(problems) or None,
           f"{len(functions)} public functions, {len(link)} links")


def page_for(header):
    """The page a new header's functions go to: ivshm_NAME.3."""
    return f"ivshm_{os.path.splitext(os.path.basename(header))[0]}.3"


def check_described(functions, pages):
    problems = []
    for page, documented in pages.items():
        body = roff_text(without_sections(built(page), {"NAME", "SYNOPSIS"}))
        missing = [f.name for f in functions if f.header in documented and
                   not mentions(body, f.name)]
        if missing:
            problems.append(f"man/{page} does not describe {', '.join(missing)} "
                            "(only its SYNOPSIS names them)")
    report("described", "; ".join(problems) or None, f"{len(pages)} pages")


def error_entries(roff):
    """{function: set of statuses} from the ERRORS section (.SS name() ...)."""
    errors = sections(roff, ".SH").get("ERRORS", "")
    entries = {}
    for title, body in sections(errors, ".SS").items():
        statuses = {w for w in tagged(body) if w.startswith("IVSHM_E_")}
        for name in re.findall(r"([a-z_][a-z0-9_]*)\(\)", title):
            entries[name] = statuses
    return entries


def check_errors(functions, pages):
    by_name = {f.name: f for f in functions}
    problems, checked = [], 0
    for page, documented in pages.items():
        entries = error_entries(built(page))
        for f in functions:
            if f.header not in documented:
                continue
            want = headers.statuses(f, by_name)
            have = entries.get(f.name, set())
            if want == have:
                checked += bool(want)
                continue
            fix = (f"the comment above {f.name} in {f.header} names "
                   f"{' '.join(sorted(want)) or 'no status'}; the ERRORS section of "
                   f"man/{page} lists {' '.join(sorted(have)) or 'none'} for it")
            if f.name not in entries and want:
                fix += f" (add `.SS {f.name}()` with a `.TP` per status)"
            problems.append(fix)
        for name in sorted(set(entries) - {f.name for f in functions}):
            problems.append(f"man/{page}: ERRORS has an entry for {name}(), which no "
                            "header it documents declares")
    more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
    report("errors", "; ".join(problems[:6]) + more or None, f"{checked} functions with statuses")


def check_see_also(pages):
    """libivshm(3) lists every library page in its table of headers and in
    SEE ALSO."""
    parts = sections(built("libivshm.3"), ".SH")
    problems = []
    for part in ("DESCRIPTION", "SEE ALSO"):
        text = roff_text(parts.get(part, ""))
        missing = [f"{p.rsplit('.', 1)[0]}({p.rsplit('.', 1)[1]})"
                   for p, documented in pages.items()
                   if any(h.startswith("include/") for h in documented) and
                   not mentions(text, f"{p.rsplit('.', 1)[0]}({p.rsplit('.', 1)[1]})")]
        if missing:
            where = "the table of headers in DESCRIPTION" if part == "DESCRIPTION" else part
            problems.append(f"man/libivshm.3: {where} lacks {', '.join(missing)}")
    report("see-also", "; ".join(problems) or None)


def check_api_md(functions):
    text = open(os.path.join(DOCS, "api.md")).read()
    library = [f for f in functions if f.header.startswith("include/")]
    missing = [f"{f.name} ({f.header})" for f in library if not mentions(text, f.name)]
    names = {f.name for f in library}
    # The function column of the table: the second cell of each row.
    listed = set()
    for row in re.findall(r"^\|[^|\n]*\|([^|\n]*)\|", text, re.M):
        listed.update(re.findall(r"\b(ivshm_[a-z0-9_]+)\b", row))
    stale = sorted(listed - names)
    problems = []
    if missing:
        problems.append(f"docs/api.md does not name {', '.join(missing)}: add it to the table, "
                        "in the rows of its header")
    if stale:
        problems.append(f"docs/api.md lists {', '.join(stale)}, which no public header declares")
    report("api-md", "; ".join(problems) or None, f"{len(library)} functions")


def check_examples():
    lib = os.path.join(BUILD, "lib", "libivshm.a")
    problems, count = [], 0
    with tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMP")) as tmp:
        for name in sorted(os.listdir(SOURCES)):
            if re.match(r".*\.[1-9]$", name):
                count += compile_examples(name, lib, tmp, problems)
    report("examples", "; ".join(problems) or None, f"{count} example programs")


def compile_examples(name, lib, tmp, problems):
    """Compiles and links the examples of page NAME; returns how many."""
    found = list(EXAMPLE.finditer(built(name)))
    for i, m in enumerate(found):
        source = os.path.join(tmp, f"{name}.example{i}.c")
        with open(source, "w") as f:
            f.write(roff_text(m[1]) + "\n")
        status, out = run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                           "-I", os.path.join(ROOT, "include"), source, lib, "-lnuma",
                           "-lpthread", "-o", source[:-2]])
        if status != 0:
            problems.append(f"man/{name}, example {i + 1}: "
                            f"{' | '.join(out.strip().splitlines()[:3])}")
    return len(found)


def help_text(program, *args):
    status, out = run([program, *args])
    return out


def options_of(text):
    return set(LONG_OPTION.findall(text)) | set(SHORT_OPTION.findall(text))


def check_framework_options(where, text):
    missing = sorted(o for o in FRAMEWORK_OPTIONS if not mentions(text, o))
    return [f"{where} lacks {' '.join(missing)} (options of every command)"] if missing else []


def ivshm_commands():
    text = help_text(IVSHM, "--help")
    block = text.split("commands:", 1)[1] if "commands:" in text else text
    return re.findall(r"^  ([a-z][a-z0-9-]*)\s{2,}", block, re.M)


def synopsis_commands(roff):
    """The commands the SYNOPSIS of ivshm(1) shows: `.SY ivshm` then `.B COMMAND`."""
    body = sections(roff, ".SH").get("SYNOPSIS", "")
    return {roff_text(c).strip() for c in re.findall(r"^\.SY ivshm\n\.B (.+)$", body, re.M)}


def option_problems(where, text, defined, options, source):
    """What `where` lacks of `options`, and what it defines that `source`
    (a --help) does not have."""
    problems = []
    missing = sorted(o for o in options if not mentions(text, o))
    if missing:
        problems.append(f"{where} lacks {' '.join(missing)}")
    stale = sorted(defined - options)
    if stale:
        problems.append(f"{where} defines {' '.join(stale)}, which `{source}` lacks")
    return problems


def check_ivshm_command(command, man_parts, md_parts, synopsis):
    source = f"ivshm {command} --help"
    options = options_of(help_text(IVSHM, command, "--help")) - FRAMEWORK_OPTIONS
    listed = " ".join(sorted(options)) or "no options"
    problems = []
    man_text = man_parts.get(command)
    md_text = md_parts.get(f"ivshm {command}")
    if command not in synopsis:
        roff_name = command.replace("-", "\\-")
        problems.append(f"man/ivshm.1: SYNOPSIS lacks the command: add `.SY ivshm`, "
                        f"`.B {roff_name}`, its arguments, `.YS`")
    if man_text is None:
        problems.append(f"man/ivshm.1 has no subsection for it: add `.SS {command}` under "
                        f"COMMANDS, with a `.TP` item for each of {listed}")
    else:
        problems += option_problems(f"man/ivshm.1 `.SS {command}`", roff_text(man_text),
                                    {o for o in tagged(man_text) if o.startswith("-")},
                                    options, source)
    if md_text is None:
        problems.append(f"docs/cli.md has no section for it: add '## `ivshm {command}`' "
                        f"naming each of {listed}")
    else:
        problems += option_problems(f"docs/cli.md '## `ivshm {command}`'", md_text,
                                    set(re.findall(r"^\| `(--[a-z][a-z0-9-]*)", md_text, re.M)),
                                    options, source)
    report(f"ivshm-{command}", "; ".join(problems) or None, f"{len(options)} options")


def check_ivshm():
    man_roff = built("ivshm.1")
    man_parts = sections(sections(man_roff, ".SH").get("COMMANDS", ""), ".SS")
    md_parts = md_sections(os.path.join(DOCS, "cli.md"))
    commands = ivshm_commands()
    if not commands:
        return report("ivshm", f"no commands found in `{IVSHM} --help`")
    synopsis = synopsis_commands(man_roff)
    for command in commands:
        check_ivshm_command(command, man_parts, md_parts, synopsis)
    stale = sorted(set(man_parts) - set(commands))
    problems = [f"man/ivshm.1 documents commands `ivshm --help` lacks: {' '.join(stale)}"] \
        if stale else []
    options_part = sections(man_roff, ".SH").get("OPTIONS", "")
    problems += check_framework_options("man/ivshm.1 OPTIONS", roff_text(options_part))
    report("ivshm", "; ".join(problems) or None, f"{len(commands)} commands")


def check_program(program):
    """Every option of `program --help` is in its page and in the docs/ page
    the page names (the framework's --help and --version in the page only),
    and every option the page defines exists."""
    name = os.path.basename(program)
    options = options_of(help_text(program, "--help")) - {"--help"}
    roff = built(f"{name}.1")
    problems = [] if options else [f"no options found in `{program} --help`"]
    doc = LONG_FORM.search(open(os.path.join(SOURCES, f"{name}.1")).read())
    if not doc:
        problems.append(f"man/{name}.1 names no long form: add the line "
                        "'.\\\" long form: docs/X.md'")
    problems += option_problems(f"man/{name}.1", roff_text(roff),
                                {o for o in tagged(roff) if o.startswith("-")} - {"--help", "-h"},
                                options, f"{name} --help")
    if doc:
        problems += option_problems(doc[1], open(os.path.join(ROOT, doc[1])).read(), set(),
                                    options - FRAMEWORK_OPTIONS, f"{name} --help")
    report(name, "; ".join(problems) or None, f"{len(options)} options")


def check_programs():
    missing = [os.path.basename(p) for p in PROGRAMS
               if not os.path.exists(os.path.join(SOURCES, os.path.basename(p) + ".1"))]
    report("programs", missing and "; ".join(
        f"{m} is installed but has no page: write man/{m}.1 (NAME, SYNOPSIS, DESCRIPTION, "
        f"OPTIONS with a .TP per option of `{m} --help`, EXIT STATUS, SEE ALSO) and name its "
        "long form with '.\\\" long form: docs/X.md'" for m in missing),
        " ".join(os.path.basename(p) for p in PROGRAMS))
    for program in PROGRAMS:
        name = os.path.basename(program)
        if name in missing:
            continue
        if name == "ivshm":
            check_ivshm()
        else:
            check_program(program)


def main():
    if not os.path.isdir(MAN):
        report("man-tree", f"{MAN} missing: run `make man`")
        return 1
    try:
        functions = headers.all_functions()
    except headers.HeaderError as e:
        report("headers", str(e))
        return 1
    pages = library_pages()
    check_lint()
    check_links()
    check_functions(functions)
    check_described(functions, pages)
    check_errors(functions, pages)
    check_see_also(pages)
    check_api_md(functions)
    check_examples()
    check_programs()
    return 1 if guest_qemu.failures else 0


if __name__ == "__main__":
    sys.exit(main())
