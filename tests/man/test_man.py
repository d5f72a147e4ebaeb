#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""make test-man: the man pages are clean and say what the programs do.

  lint           every page of build/man: `mandoc -T lint -W style`
                 (the stricter: style too) and `groff -man -t -ww -z` (what
                 man(1) renders with on Debian) print nothing
  links          every link (man3/FUNCTION.3 -> a page) points at a page
  functions      every function of a header a page documents (".\\" documents:")
                 is named in that page; once man/libivshm.3 exists, every
                 function of every public header has a page or a link
  ivshm-COMMAND  each command of `ivshm --help` has its subsection in ivshm(1)
                 and its section in docs/cli.md, each naming every option of
                 `ivshm COMMAND --help`; and every option ivshm(1) defines
                 there (.TP) exists
  ivshm-fwd, ivshm-guest-build
                 every option of the program is in its page and in its docs/
                 page (docs/forwarding.md, docs/guest.md)

The programs' own --help is the truth; the man pages and docs/*.md are both
checked against it, so neither can drift from the other unnoticed.
Env: BUILD, IVSHM (tests/harness).
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
MAN = os.path.join(BUILD, "man")
DOCS = os.path.join(ROOT, "docs")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True)
    return proc.returncode, proc.stdout


def man_files(want_links=False):
    """Pages (or links, with want_links) of the man tree, relative to it."""
    return sorted(os.path.join(sub, f) for sub in os.listdir(MAN) if sub.startswith("man")
                  for f in os.listdir(os.path.join(MAN, sub))
                  if os.path.islink(os.path.join(MAN, sub, f)) == want_links)


def roff_text(roff):
    """Roff source to plain text, enough to search for names and options."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", roff)
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace("\\c", "")
    text = re.sub(r'\\\(dq|\\\(em', " ", text)
    return "\n".join(re.sub(r"^\.[A-Za-z]+\s*", "", line) for line in text.splitlines()
                     if not line.startswith(".\\\""))


def sections(roff, macro):
    """{title: text} of the parts of a page starting with `.SS title` (or .SH)."""
    parts, title = {}, None
    for line in roff.splitlines():
        if line.startswith((".SH", ".SS")):
            title = None
            if line.startswith(macro + " "):
                title = roff_text(line[len(macro) + 1:]).strip().strip('"')
                parts[title] = []
        elif title is not None:
            parts[title].append(line)
    return {t: "\n".join(lines) for t, lines in parts.items()}


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


def mentions(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def page(name):
    section = name.rsplit(".", 1)[1]
    return open(os.path.join(MAN, "man" + section, name)).read()


# ---- checks ---------------------------------------------------------------------

def check_lint():
    problems = []
    for rel in man_files():
        for cmd in (["mandoc", "-T", "lint", "-W", "style", rel],
                    ["groff", "-man", "-t", "-ww", "-z", rel]):
            try:
                status, out = run(cmd, cwd=MAN)
            except FileNotFoundError:
                problems.append(f"{cmd[0]} is not installed (scripts/install-deps)")
                continue
            if status != 0 or out.strip():
                problems.append(f"{cmd[0]} {rel}: {out.strip() or f'exit {status}'}")
    report("lint", "; ".join(problems[:5]) or None, f"{len(man_files())} pages")


def links():
    """{function: the page it links to, relative to the man tree}."""
    return {os.path.basename(rel).rsplit(".", 1)[0]:
            os.path.normpath(os.path.join(os.path.dirname(rel), os.readlink(os.path.join(MAN, rel))))
            for rel in man_files(want_links=True)}


def check_links():
    broken = [f"{name} -> {target}" for name, target in links().items()
              if not os.path.isfile(os.path.join(MAN, target))]
    report("links", broken and f"links to missing pages: {broken}", f"{len(links())} links")


def public_functions():
    out = subprocess.run([os.path.join(ROOT, "scripts", "public-functions")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [line.split()[:2] for line in out.splitlines()]


def check_functions():
    link = links()
    pages = {os.path.basename(rel).rsplit(".", 1)[0] for rel in man_files()}
    problems = []
    for name, target in sorted(link.items()):
        if not mentions(roff_text(open(os.path.join(MAN, target)).read()), name):
            problems.append(f"{name}: linked to {target}, which does not name it")
    all_functions = public_functions()
    undocumented = [f"{name} ({header})" for header, name in all_functions
                    if name not in link and name not in pages]
    if os.path.exists(os.path.join(ROOT, "man", "libivshm.3")):
        if undocumented:
            problems.append(f"{len(undocumented)} public functions without a page or link: "
                            + ", ".join(undocumented))
    else:
        print(f"# functions: {len(all_functions) - len(undocumented)} of {len(all_functions)} "
              "public functions have a page or link; all must once man/libivshm.3 exists")
    report("functions", "; ".join(problems) or None)


def help_text(program, *args):
    status, out = run([program, *args])
    return out


def ivshm_commands():
    text = help_text(IVSHM, "--help")
    block = text.split("commands:", 1)[1] if "commands:" in text else text
    return re.findall(r"^  ([a-z][a-z0-9-]*)\s{2,}", block, re.M)


# Options every program of the CLI framework (host/cli/cli.h) takes: each
# page documents them once, in its OPTIONS section, not under every command.
FRAMEWORK_OPTIONS = {"--help", "--version"}


def defined_options(roff):
    """The options a page defines: the first long option of each .TP tag."""
    defined = set()
    lines = roff.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            defined.update(LONG_OPTION.findall(roff_text(lines[i + 1]))[:1])
    return defined


def check_framework_options(where, text):
    missing = sorted(o for o in FRAMEWORK_OPTIONS if not mentions(text, o))
    return [f"{where} lacks {' '.join(missing)} (options of every command)"] if missing else []


def synopsis_commands(roff):
    """The commands the SYNOPSIS of ivshm(1) shows: `.SY ivshm` then `.B COMMAND`."""
    body = roff.split(".SH SYNOPSIS", 1)[-1].split("\n.SH ", 1)[0]
    return {roff_text(c).strip() for c in re.findall(r"^\.SY ivshm\n\.B (.+)$", body, re.M)}


def check_ivshm_command(command, man_parts, md_parts, synopsis):
    options = set(LONG_OPTION.findall(help_text(IVSHM, command, "--help"))) - FRAMEWORK_OPTIONS
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
        missing = sorted(o for o in options if not mentions(roff_text(man_text), o))
        if missing:
            problems.append(f"man/ivshm.1 `.SS {command}` lacks {' '.join(missing)}")
        stale = sorted(defined_options(man_text) - options)
        if stale:
            problems.append(f"man/ivshm.1 `.SS {command}` defines {' '.join(stale)}, "
                            f"which `ivshm {command} --help` lacks")
    if md_text is None:
        problems.append(f"docs/cli.md has no section for it: add '## `ivshm {command}`' "
                        f"naming each of {listed}")
    else:
        missing = sorted(o for o in options if not mentions(md_text, o))
        if missing:
            problems.append(f"docs/cli.md '## `ivshm {command}`' lacks {' '.join(missing)}")
        stale = sorted(set(re.findall(r"^\| `(--[a-z][a-z0-9-]*)", md_text, re.M)) - options)
        if stale:
            problems.append(f"docs/cli.md '## `ivshm {command}`' defines {' '.join(stale)}, "
                            f"which `ivshm {command} --help` lacks")
    report(f"ivshm-{command}", "; ".join(problems) or None, f"{len(options)} options")


def check_ivshm():
    man_roff = page("ivshm.1")
    man_parts = sections(man_roff, ".SS")
    md_parts = md_sections(os.path.join(DOCS, "cli.md"))
    commands = ivshm_commands()
    if not commands:
        return report("ivshm-commands", f"no commands found in `{IVSHM} --help`")
    synopsis = synopsis_commands(man_roff)
    for command in commands:
        check_ivshm_command(command, man_parts, md_parts, synopsis)
    # Subsections of COMMANDS for commands the program does not have.
    commands_part = man_roff.split(".SH COMMANDS", 1)[-1].split("\n.SH ", 1)[0]
    stale = sorted(set(sections(commands_part, ".SS")) - set(commands))
    problems = [f"man/ivshm.1 documents commands `ivshm --help` lacks: {' '.join(stale)}"] \
        if stale else []
    options_part = sections(man_roff, ".SH").get("OPTIONS", "")
    problems += check_framework_options("man/ivshm.1 OPTIONS", roff_text(options_part))
    report("ivshm", "; ".join(problems) or None, f"{len(commands)} commands")


def check_program(name, program, man_page, doc, short=False):
    """Every option of `program --help` is in its page and in docs/DOC (the
    framework's --help and --version in the page only), and every option the
    page defines exists."""
    text = help_text(program, "--help")
    options = set(LONG_OPTION.findall(text)) - {"--help"}
    if short:
        options |= set(re.findall(r"^\s+(-[A-Za-z])[\s,]", text, re.M))
        options |= set(re.findall(r",\s+(-[A-Za-z])[\s,]", text, re.M))
    problems = []
    if not options:
        problems.append(f"no options found in `{program} --help`")
    roff = page(man_page)
    doc_text = open(os.path.join(DOCS, doc)).read()
    for where, body, want in ((f"man/{man_page}", roff_text(roff), options),
                              (f"docs/{doc}", doc_text, options - FRAMEWORK_OPTIONS)):
        missing = sorted(o for o in want if not mentions(body, o))
        if missing:
            problems.append(f"{where} lacks {' '.join(missing)}")
    stale = sorted(defined_options(roff) - options - {"--help"})
    if stale:
        problems.append(f"man/{man_page} defines {' '.join(stale)}, which `{name} --help` lacks")
    report(name, "; ".join(problems) or None, f"{len(options)} options")


def main():
    if not os.path.isdir(MAN):
        report("man-tree", f"{MAN} missing: run `make man`")
        return 1
    check_lint()
    check_links()
    check_functions()
    check_ivshm()
    check_program("ivshm-fwd", os.path.join(BUILD, "bin", "ivshm-fwd"), "ivshm-fwd.1",
                  "forwarding.md")
    check_program("ivshm-guest-build", os.path.join(BUILD, "pkg", "ivshm-guest-build"),
                  "ivshm-guest-build.1", "guest.md", short=True)
    return 1 if guest_qemu.failures else 0


if __name__ == "__main__":
    sys.exit(main())
