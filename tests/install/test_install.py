#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""make test-install: ivshm used from an install, as someone outside this
tree would use it.

  install         make install into a scratch DESTDIR with PREFIX=/opt/ivshm-test
  layout          the files the install promises are there, all under PREFIX,
                  and the manifest lists exactly what is there
  headers         each installed header compiles alone, with nothing but
                  `pkg-config --cflags ivshm`, as strict ISO C11
                  (-std=c11 -pedantic-errors) and as C99 (-std=c99: GCC
                  takes the C11 keywords _Atomic, _Alignas, _Static_assert
                  as extensions there)
  host-shared     tests/install/host_app.c built in an empty directory with
                  nothing but pkg-config (PKG_CONFIG_SYSROOT_DIR/PATH) pointed
                  at the install; parent and child pass 100,000 entries
                  through a ring pair and a mempool; libivshm is the installed
                  .so (ldd, and dladdr from inside the program)
  host-static     the same linked with libivshm.a and pkg-config --static
  readme          the README's host and guest examples, built as it says
  guest-build     tests/install/guest_app.c built alone in an empty directory
                  with the installed ivshm-guest-build
  guest-elf/-efi  its images booted (direct, OVMF) with a segment made by the
                  installed ivshm; the app names the segment's ring
  fwd-guest       the installed fwd.elf and the installed ivshm pktgen:
                  100,000 frames, none lost (tests/fwd/test_fwd.py's case)
  host-only       the installed ivshm-fwd, the same way (test_fwd.py's case)
  man             man finds the installed pages by name (MANPATH)
  reinstall       a second install over the first: same files; a file an
                  earlier install had and this one does not is removed
  uninstall       make uninstall leaves no file in DESTDIR but the one put
                  there before the install (in a directory the install uses
                  too), and no directory but that one's

Builds (and the guest boots) run with the source tree hidden: an empty
tmpfs mounted over it in a private mount namespace (needs root and unshare;
otherwise a '#' line says the tree stayed visible). Scratch files go outside
the tree (a build that reached into it would fail).
Env: BUILD, TEST_TMP (tests/harness), MAKE.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

MAKE = os.environ.get("MAKE", "make")
PREFIX = "/opt/ivshm-test"
WORK = tempfile.mkdtemp(prefix="ivshm-install-")
DEST = os.path.join(WORK, "dest")
INST = DEST + PREFIX
APPS = os.path.join(WORK, "app")
SEG_DIR = os.path.join(WORK, "segments")
IVSHM = os.path.join(INST, "bin", "ivshm")
VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
SO_MAJOR = VERSION.split(".")[0]
BINS = os.environ.get("INSTALL_BINS", "").split()  # the programs the build installs
MANIFEST = os.path.join(INST, "share", "ivshm", "install-manifest")

# Environment for the builds: nothing of the caller's make, no stray paths.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PKG_CONFIG_PATH",
                          "PKG_CONFIG_SYSROOT_DIR", "LD_LIBRARY_PATH", "CFLAGS")}
PKG_ENV = dict(CLEAN_ENV, PKG_CONFIG_SYSROOT_DIR=DEST,
               PKG_CONFIG_PATH=os.path.join(INST, "lib", "pkgconfig"))
RUN_ENV = dict(CLEAN_ENV, LD_LIBRARY_PATH=os.path.join(INST, "lib"), IVSHM_DIR=SEG_DIR)

HIDE_TREE = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
             'mount -t tmpfs -o size=1M,mode=0555 none "$0" && exec "$@"', ROOT]


def run(cmd, env=CLEAN_ENV, cwd=None, timeout=300):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout


def can_hide_tree():
    if (WORK + "/").startswith(ROOT + "/"):
        return False
    try:
        return run(HIDE_TREE + ["test", "!", "-e", os.path.join(ROOT, "Makefile")])[0] == 0
    except OSError:
        return False


HIDE = can_hide_tree()


def hidden(cmd, **kw):
    """Runs cmd with the source tree out of sight (when it can)."""
    return run((HIDE_TREE if HIDE else []) + cmd, **kw)


def shell(script, **kw):
    return hidden(["sh", "-c", script], **kw)


def tail(text, lines=6):
    return " | ".join(text.strip().splitlines()[-lines:])


def make(target):
    return run([MAKE, "--no-print-directory", "-C", ROOT, target, f"DESTDIR={DEST}",
                f"PREFIX={PREFIX}"], timeout=1200)


def installed_files():
    """Every file and link under DESTDIR, as absolute paths without DESTDIR."""
    found = set()
    for top, dirs, files in os.walk(DEST):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            found.add(os.path.join(top, name)[len(DEST):])
    return found


def manifest_files():
    with open(MANIFEST) as f:
        return {line.split(" ", 1)[1].strip() for line in f if line.startswith("f ")}


# ---- cases --------------------------------------------------------------------

# A file someone else put in a directory the install also uses: uninstall
# must leave it, and its directories, alone.
OTHERS_FILE = os.path.join(INST, "share", "man", "man1", "other.1")


def case_install():
    os.makedirs(os.path.dirname(OTHERS_FILE))
    with open(OTHERS_FILE, "w") as f:
        f.write(".TH OTHER 1\n")
    status, out = make("install")
    report("install", status and f"make install exit {status}: {tail(out)}")
    return status == 0


def expected_files():
    """What the install promises: the programs the build installs
    (INSTALL_BINS, ivshm and ivshm-fwd at least), the library with its
    links, headers and pkg-config file, the guest SDK and images, a page for
    each man/*.N and a link for each public function, the docs."""
    headers = subprocess.run([os.path.join(ROOT, "scripts", "public-headers")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
    functions = subprocess.run([os.path.join(ROOT, "scripts", "public-functions")], check=True,
                               stdout=subprocess.PIPE, text=True).stdout.split("\n")
    programs = {"ivshm", "ivshm-fwd", "ivshm-guest-build"} | {os.path.basename(p) for p in BINS}
    want = [f"bin/{p}" for p in programs]
    want += ["lib/libivshm.a", "lib/libivshm.so", f"lib/libivshm.so.{SO_MAJOR}",
             f"lib/libivshm.so.{VERSION}", "lib/pkgconfig/ivshm.pc",
             "share/ivshm/install-manifest", "share/ivshm/guest.gdb"]
    want += [f"share/ivshm/guest/{app}.{ext}" for app in ("probe", "fwd", "hello")
             for ext in ("elf", "efi")]
    want += [f"lib/ivshm/guest/{f}" for f in
             ("libguest_rt.a", "libc.a", "libm.a", "multiboot.o", "efi_main.o", "multiboot.ld",
              "efi.lds", "crt0-efi-x86_64.o", "libgnuefi.a", "include/stdio.h")]
    want += ["include/" + (h[len("include/"):] if h.startswith("include/") else
                           "ivshm/" + os.path.basename(h)) for h in headers]
    pages = [f for f in os.listdir(os.path.join(ROOT, "man")) if re.match(r".*\.[1-9]$", f)]
    want += [f"share/man/man{p.rsplit('.', 1)[1]}/{p}" for p in pages]
    want += [f"share/man/man1/{p}.1" for p in programs]
    want += [f"share/man/man3/{line.split()[1]}.3" for line in functions if line.strip()]
    want += [f"share/doc/ivshm/{d}" for d in os.listdir(os.path.join(ROOT, "docs"))
             if d.endswith(".md")]
    return {f"{PREFIX}/{w}" for w in want}


def case_layout():
    found = installed_files() - {OTHERS_FILE[len(DEST):]}
    problem = None
    missing = sorted(expected_files() - found)
    outside = sorted(f for f in found if not f.startswith(PREFIX + "/"))
    if missing:
        problem = f"missing: {' '.join(missing)}"
    elif outside:
        problem = f"outside PREFIX: {' '.join(outside)}"
    elif manifest_files() != found:
        problem = (f"manifest and DESTDIR differ: only in the manifest "
                   f"{sorted(manifest_files() - found)}, only installed {sorted(found - manifest_files())}")
    else:
        problem = check_library_links()
    report("layout", problem, f"{len(found)} files")


def check_library_links():
    """libivshm.so -> libivshm.so.MAJOR -> libivshm.so.VERSION, whose soname
    is libivshm.so.MAJOR (what programs record, and what ldconfig names its
    link after)."""
    lib = os.path.join(INST, "lib")
    want = {"libivshm.so": f"libivshm.so.{SO_MAJOR}",
            f"libivshm.so.{SO_MAJOR}": f"libivshm.so.{VERSION}"}
    for link, target in want.items():
        path = os.path.join(lib, link)
        if not os.path.islink(path) or os.readlink(path) != target:
            return f"lib/{link} should be a link to {target}"
    status, out = run(["readelf", "-d", os.path.join(lib, f"libivshm.so.{VERSION}")])
    soname = re.search(r"\(SONAME\).*\[(.*)\]", out)
    if not soname or soname[1] != f"libivshm.so.{SO_MAJOR}":
        return f"the soname of libivshm.so.{VERSION} is {soname and soname[1]}, not libivshm.so.{SO_MAJOR}"
    return None


def case_headers():
    """Each installed header, alone, as strict C11 and as C99."""
    include = os.path.join(INST, "include")
    headers = sorted(os.path.relpath(os.path.join(top, f), include)
                     for top, _, files in os.walk(include) for f in files
                     if f.endswith(".h") and not f.endswith("_pvt.h"))
    problems = []
    os.makedirs(APPS, exist_ok=True)
    for std in ("-std=c11 -pedantic-errors", "-std=c99"):
        for header in headers:
            status, out = shell(f"echo '#include <{header}>' | cc {std} -Wall -Wextra -Werror "
                                "$(pkg-config --cflags ivshm) -fsyntax-only -x c -",
                                env=PKG_ENV, cwd=APPS)
            if status != 0:
                problems.append(f"{header} ({std}): {tail(out, 2)}")
    report("headers", "; ".join(problems[:4]) or None,
           f"{len(headers)} headers, each as C11 and C99")


def new_app_dir(source):
    """An empty directory outside the tree holding only `source`."""
    shutil.rmtree(APPS, ignore_errors=True)
    os.makedirs(APPS)
    shutil.copy(os.path.join(HERE, source), APPS)


def case_host_shared():
    new_app_dir("host_app.c")
    status, out = shell("cc -std=gnu11 -O2 -Wall -Wextra -Werror host_app.c "
                        "$(pkg-config --cflags --libs ivshm) -o host_app",
                        env=PKG_ENV, cwd=APPS)
    if status != 0:
        return report("host-shared", f"build with pkg-config failed: {tail(out)}")
    lib = os.path.join(INST, "lib", "libivshm.so")
    status, ldd = run(["ldd", os.path.join(APPS, "host_app")], env=RUN_ENV)
    resolved = [line for line in ldd.splitlines() if "libivshm" in line]
    problem = None
    if len(resolved) != 1 or os.path.dirname(lib) + "/" not in resolved[0]:
        problem = f"ldd does not resolve libivshm to {os.path.dirname(lib)}: {resolved or ldd}"
    status, out = run([os.path.join(APPS, "host_app"), SEG_DIR], env=RUN_ENV, timeout=120)
    loaded = [line.split(" from ", 1)[1] for line in out.splitlines()
              if line.startswith("host-app: libivshm from ")]
    if problem:
        pass
    elif status != 0 or "host-app: 100000 entries" not in out:
        problem = f"host_app exit {status}: {tail(out)}"
    elif not loaded or os.path.realpath(loaded[0]) != os.path.realpath(lib):
        problem = f"libivshm loaded from {loaded}, not the installed {lib}"
    report("host-shared", problem, resolved and resolved[0].strip())


def case_host_static():
    new_app_dir("host_app.c")
    status, out = shell("cc -std=gnu11 -O2 -Wall -Wextra -Werror host_app.c "
                        "$(pkg-config --cflags ivshm) "
                        "$(pkg-config --variable=libdir ivshm)/libivshm.a "
                        "$(pkg-config --static --libs-only-l ivshm | sed 's/-livshm//') "
                        "-o host_app_static", env=PKG_ENV, cwd=APPS)
    if status != 0:
        return report("host-static", f"static build failed: {tail(out)}")
    status, ldd = run(["ldd", os.path.join(APPS, "host_app_static")], env=RUN_ENV)
    problem = "libivshm.so linked in" if "libivshm" in ldd else None
    status, out = run([os.path.join(APPS, "host_app_static"), SEG_DIR], env=RUN_ENV, timeout=120)
    if not problem and (status != 0 or "host-app: 100000 entries" not in out):
        problem = f"host_app_static exit {status}: {tail(out)}"
    report("host-static", problem)


def case_guest_build():
    new_app_dir("guest_app.c")
    build = os.path.join(INST, "bin", "ivshm-guest-build")
    status, out = hidden([build, "guest_app.c"], cwd=APPS)
    images = [os.path.join(APPS, "guest_app." + ext) for ext in ("elf", "efi")]
    problem = None
    if status != 0:
        problem = f"ivshm-guest-build exit {status}: {tail(out)}"
    elif not all(os.path.isfile(i) for i in images):
        problem = f"no guest_app.elf / guest_app.efi: {os.listdir(APPS)}"
    report("guest-build", problem, "; ".join(f"{os.path.basename(i)} {os.path.getsize(i)} bytes"
                                             for i in images if os.path.isfile(i)))
    return problem is None


def readme_examples():
    """The C programs of the README's Install section: (host, guest) sources."""
    text = open(os.path.join(ROOT, "README.md")).read()
    install = text.split("\n## Install", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```c\n(.*?)^```", install, re.M | re.S)
    host = [b for b in blocks if "<ivshm/ivshm.h>" in b]
    guest = [b for b in blocks if "<ivshm/guest.h>" in b]
    return host, guest


def case_readme():
    """The README's host and guest examples build with the install alone, as
    it says: pkg-config for the host, ivshm-guest-build for the guest."""
    host, guest = readme_examples()
    if len(host) != 1 or len(guest) != 1:
        return report("readme", f"README's Install section: {len(host)} host and {len(guest)} "
                      "guest examples, expected one of each")
    shutil.rmtree(APPS, ignore_errors=True)
    os.makedirs(APPS)
    for name, code in (("send.c", host[0]), ("recv.c", guest[0])):
        with open(os.path.join(APPS, name), "w") as f:
            f.write(code)
    problems = []
    status, out = shell("cc send.c $(pkg-config --cflags --libs ivshm) -o send",
                        env=PKG_ENV, cwd=APPS)
    if status != 0:
        problems.append(f"host example: {tail(out)}")
    status, out = hidden([os.path.join(INST, "bin", "ivshm-guest-build"), "recv.c"], cwd=APPS)
    if status != 0 or not os.path.isfile(os.path.join(APPS, "recv.elf")):
        problems.append(f"guest example: {tail(out)}")
    report("readme", "; ".join(problems) or None)


def case_guest_boot(uefi):
    name = "guest-efi" if uefi else "guest-elf"
    seg = "inst"
    run([IVSHM, "destroy", seg, "--force"], env=RUN_ENV)
    status, out = run([IVSHM, "create", seg, "--size", "2M", "--ring", "name=rx0,slots=1024"],
                      env=RUN_ENV)
    if status != 0:
        return report(name, f"installed ivshm create failed: {tail(out)}")
    status, qemu_args = run([IVSHM, "qemu-args", seg], env=RUN_ENV)
    image = os.path.join(APPS, "guest_app.efi" if uefi else "guest_app.elf")
    args = guest_qemu.guest_args(image, uefi, WORK, f"ring={seg}/rx0") + qemu_args.split()
    try:
        status, out = hidden(args, timeout=120 if uefi else 30)
    except subprocess.TimeoutExpired:
        status, out = "timeout", ""
    out = out.replace("\r", "")
    want = f"guest-app: ring {seg}/rx0: 1024 free slots, boot={'uefi' if uefi else 'multiboot'}"
    problem = None
    if status != 1 or want not in out:
        problem = f"QEMU status {status} (want 1), output: {tail(out)}"
    run([IVSHM, "destroy", seg, "--force"], env=RUN_ENV)
    report(name, problem)


def case_forwarding():
    """tests/fwd/test_fwd.py's direct and host-only cases, run on the
    installed ivshm, fwd.elf and ivshm-fwd."""
    os.environ.update(IVSHM=IVSHM, TEST_TMP=os.path.join(WORK, "fwd"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "fwd"))
    import test_fwd
    test_fwd.GUEST = os.path.join(INST, "share", "ivshm", "guest")
    test_fwd.FWD_HOST = os.path.join(INST, "bin", "ivshm-fwd")
    for name, case in (("fwd-guest", lambda: test_fwd.guest_case("fwd-guest", uefi=False)),
                       ("host-only", test_fwd.case_host_only)):
        try:
            case()
        except Exception as e:  # one broken case must not stop the others
            report(name, f"{type(e).__name__}: {e}")
        finally:
            while test_fwd.cleanups:
                try:
                    test_fwd.cleanups.pop()()
                except Exception:
                    pass


def case_man():
    mandir = os.path.join(INST, "share", "man")
    names = sorted(os.path.splitext(os.path.basename(f))[0] for f in manifest_files()
                   if f.startswith(f"{PREFIX}/share/man/"))
    problems = []
    for name in names:
        status, out = run(["man", "--manpath", mandir, "-w", name])
        if status != 0 or not out.strip().startswith(mandir + "/"):
            problems.append(f"{name}: {out.strip() or status}")
            continue
        status, text = run(["man", "--manpath", mandir, "-P", "cat", name],
                           env=dict(CLEAN_ENV, MANWIDTH="80"))
        if status != 0 or len(text.splitlines()) < 5:
            problems.append(f"{name}: man printed {len(text.splitlines())} lines, status {status}")
    report("man", "; ".join(problems) or None, f"{len(names)} pages and links")


def case_reinstall():
    before = installed_files()
    stale = os.path.join(INST, "include", "ivshm", "stale.h")
    with open(stale, "w") as f:
        f.write("/* from an earlier install */\n")
    with open(MANIFEST, "a") as f:
        f.write(f"f {PREFIX}/include/ivshm/stale.h\n")
    status, out = make("install")
    problem = None
    if status != 0:
        problem = f"second make install exit {status}: {tail(out)}"
    elif os.path.exists(stale):
        problem = "a file of the earlier install that this one lacks stayed behind"
    elif installed_files() != before:
        problem = f"the second install differs: {sorted(installed_files() ^ before)}"
    report("reinstall", problem)


def case_uninstall():
    status, out = make("uninstall")
    others = OTHERS_FILE[len(DEST):]
    left = sorted(set(installed_files()) - {others})
    problem = None
    if status != 0:
        problem = f"make uninstall exit {status}: {tail(out)}"
    elif left:
        problem = f"{len(left)} files left: {' '.join(left[:10])}"
    elif not os.path.isfile(OTHERS_FILE):
        problem = f"uninstall removed {others}, which it had not installed"
    else:
        os.remove(OTHERS_FILE)
        os.removedirs(os.path.dirname(OTHERS_FILE))  # up to DEST, as far as empty
        if os.path.isdir(DEST):
            problem = f"directories left in DESTDIR: {sorted(os.listdir(DEST))}"
    report("uninstall", problem)


def guarded(name, case, *args):
    """Runs one case; an exception is its failure, not the end of the run."""
    try:
        return case(*args)
    except Exception as e:
        report(name, f"{type(e).__name__}: {e}")
        return False


def main():
    os.makedirs(SEG_DIR)
    print(f"# scratch {WORK}; source tree {'hidden' if HIDE else 'NOT hidden (needs root and unshare)'}"
          " during builds and boots")
    try:
        if guarded("install", case_install):
            guarded("layout", case_layout)
            guarded("headers", case_headers)
            guarded("host-shared", case_host_shared)
            guarded("host-static", case_host_static)
            if guarded("guest-build", case_guest_build):
                guarded("guest-elf", case_guest_boot, False)
                guarded("guest-efi", case_guest_boot, True)
            guarded("readme", case_readme)
            guarded("forwarding", case_forwarding)
            guarded("man", case_man)
            guarded("reinstall", case_reinstall)
        guarded("uninstall", case_uninstall)
    finally:
        if not guest_qemu.failures:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print(f"# scratch files kept in {WORK}")
    return 1 if guest_qemu.failures else 0


if __name__ == "__main__":
    sys.exit(main())
