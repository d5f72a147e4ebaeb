#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Doorbell tests: the doorbell server (`ivshm serve`, the library's
ivshm_serve_run), host clients (build/tests/doorbell/bell) and QEMU's own
ivshmem-doorbell device with guest_rt/apps/doorbell.c.

  protocol          a raw client reads what QEMU would: version 0, its ID, the
                    segment file (ID -1), peers' and its own eventfds; joins
                    and leaves reach the other clients
  qemu-args         --doorbell lines, --socket, 32 devices
  host-ring         host client rings host client; unknown peer, garbage vector
  peer-events       a client learns peers coming and going
  fd-leak           100 connect/disconnect cycles (and vanishing, garbage and
                    half-read clients): the server holds as many fds as before
  garbage-client    a client that writes is dropped, the others are told
  slow-reader       a client that never reads does not stall the server
  stale-socket      a dead server's socket is replaced, a live one's is not
  serve-cli         usage errors of `ivshm serve` (exit 2), a missing segment (1)
  segment-gone      a destroyed segment: clients refused, served again once
                    re-created
  sigterm, daemon   clean stop: exit 0, socket and pidfile removed
  multi-segment     one process, two segments, two sockets, own ID spaces
  guest-*           QEMU ivshmem-doorbell, direct and UEFI: IVPosition, a
                    timed-out wait, ping-pong woken from hlt (with rings of
                    peers and vectors that do not exist), the ring wake
                    request end to end (echo), 32 devices, a server restart
                    while the guest sleeps
  fwd-host          ivshm-fwd in adaptive mode (the default with a server):
                    1,000,000 frames, 0 lost; bursts with idle gaps, each
                    waking it (ctrl's wake-up counters); idle, it sleeps;
                    EXIT wakes it; no doorbell without a sleeper
  fwd-direct        fwd.elf booted with `qemu-args --doorbell` and no other
                    word: the same, 1,000,000 frames
  fwd-uefi          fwd.efi the same way, 1,000,000 frames
  fwd-restart       the server restarts while a VM forwarder and a host
                    forwarder sleep: nothing crashes, frames still get
                    through (at the sleep bound), EXIT still stops both
  fwd-garbage       peers write garbage wake requests (nonexistent peer IDs
                    and vectors) into the rings while frames flow: they are
                    rung and dropped, 0 frames lost
  fwd-client-fds    100 clients connect and leave while ivshm-fwd and a VM
                    are peers: neither holds more descriptors after

Each case prints "ok - NAME" or "not ok - NAME: why", plus "# NAME: figures".
Run from the repo root (env: BUILD, IVSHM, TEST_TMP), e.g. by `make test-doorbell`.

    tests/doorbell/test_doorbell.py [NAME_SUBSTRING...]
"""
import fcntl
import json
import mmap
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
SERVE = [IVSHM, "serve"]
BELL = os.path.join(BUILD, "tests", "doorbell", "bell")
GUEST = os.path.join(BUILD, "guest")
FWD_HOST = os.path.join(BUILD, "bin", "ivshm-fwd")
# Pollers on both sides: keep the forwarder (QEMU or ivshm-fwd) on CPU 1 and
# pktgen on CPU 0 when there are two, as tests/fwd does.
PIN = (os.cpu_count() or 1) >= 2
FWD_CPU = ["taskset", "-c", "1"] if PIN else []
PKTGEN_CPU = ["--cpu", "0"] if PIN else []
TMP = os.path.abspath(os.environ.get("TEST_TMP") or tempfile.mkdtemp(prefix="ivshm-db-"))
SEG_DIR = os.path.join(TMP, "segs")
VECTORS = 4

os.makedirs(SEG_DIR, exist_ok=True)
ENV = dict(os.environ, IVSHM_DIR=SEG_DIR)
cleanups = []


def ivshm(*args, check=True):
    proc = subprocess.run([IVSHM, *args], env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ivshm {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def create(name, size="2M"):
    ivshm("destroy", name, "--force", check=False)
    ivshm("create", name, "--size", size, "--ring", "name=rx0,slots=1024",
          "--ring", "name=tx0,slots=1024")
    cleanups.append(lambda: ivshm("destroy", name, "--force", check=False))


def sock_path(name):
    return os.path.join(SEG_DIR, f".ivshm-{name}.sock")


def wait_for(cond, seconds=5.0):
    return guest_qemu.wait_for(cond, seconds)


def spawn(args, tag):
    """Starts args in the background (killed at the end of the case), output
    to TMP/TAG.log. Returns (Popen, log path)."""
    log = os.path.join(TMP, f"{tag}.log")
    proc = guest_qemu.spawn(args, log, ENV)
    cleanups.append(lambda: proc.poll() is None and proc.kill())
    return proc, log


class Server:
    started = 0

    def __init__(self, *names, extra=()):
        Server.started += 1
        self.log = os.path.join(TMP, f"serve-{Server.started}-{'-'.join(names)[:40]}.log")
        self.proc = subprocess.Popen([*SERVE, "--dir", SEG_DIR, *extra, *names],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        cleanups.append(self.kill)
        self.names = names
        # Listening once it says so (a stale socket file may exist before).
        if not wait_for(lambda: self.text().count("serving on") == len(names)
                        or self.proc.poll() is not None):
            raise RuntimeError(f"server for {names} did not start")
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited: {self.text()}")

    def text(self):
        with open(self.log) as f:
            return f.read()

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=10)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def bell(*args, timeout=60):
    return subprocess.run([BELL, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, env=ENV)


def bell_bg(*args, tag="bell"):
    Server.started += 1
    return spawn([BELL, *args], f"{tag}-{Server.started}")


def bell_peer(*args, tag="peer"):
    """A background client that prints its ID first (hold, pong): waits for
    it. Returns (Popen, log path, ID as a string)."""
    proc, log = bell_bg(*args, tag=tag)
    if not wait_for(lambda: "id=" in read_file(log)):
        raise RuntimeError(f"bell {' '.join(args[1:])}: no ID: {read_file(log)!r}")
    return proc, log, re.search(r"id=(\d+)", read_file(log)).group(1)


def finish(proc, seconds):
    """Waits for proc; kills it after `seconds`. True when it ended by itself."""
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def read_file(path):
    with open(path) as f:
        return f.read()


# ---- a raw protocol client, as QEMU reads the server ----

class RawClient:
    def __init__(self, name):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(sock_path(name))
        self.s.settimeout(5)

    def message(self):
        """(value, fd or None); None on EOF."""
        data, fds = b"", []
        while len(data) < 8:
            chunk, got, _, _ = socket.recv_fds(self.s, 8 - len(data), 4)
            if not chunk:
                return None
            data += chunk
            fds += got
        for extra in fds[1:]:
            os.close(extra)
        return struct.unpack("<q", data)[0], (fds[0] if fds else None)

    def handshake(self, peers=0):
        """Reads version, ID, memory, peers x VECTORS and own x VECTORS."""
        msgs = [self.message() for _ in range(3 + VECTORS * (peers + 1))]
        return msgs

    def close(self):
        self.s.close()


def is_eventfd(fd):
    return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventfd]"


def check_protocol():
    create("p1")
    srv = Server("p1")
    a = RawClient("p1")
    msgs = a.handshake()
    problems = []
    (ver, ver_fd), (aid, aid_fd), (mem, mem_fd) = msgs[:3]
    if ver != 0 or ver_fd is not None:
        problems.append(f"version message {ver}, fd {ver_fd}")
    if aid != 0 or aid_fd is not None:
        problems.append(f"first client got ID {aid} (fd {aid_fd}), expected 0")
    seg = os.stat(os.path.join(SEG_DIR, "ivshm-p1"))
    if mem != -1 or mem_fd is None:
        problems.append(f"memory message {mem}, fd {mem_fd}")
    else:
        st = os.fstat(mem_fd)
        if (st.st_ino, st.st_dev, st.st_size) != (seg.st_ino, seg.st_dev, seg.st_size):
            problems.append("the memory fd is not the segment file")
        if fcntl.fcntl(mem_fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDWR:
            problems.append("the memory fd is not open read-write (QEMU maps it so)")
        os.close(mem_fd)
    own = msgs[3:]
    if any(v != aid or fd is None or not is_eventfd(fd) for v, fd in own):
        problems.append(f"own vectors: {own}")
    own_fds = [fd for _, fd in own if fd is not None]
    # A second client: gets ID 1, the first's vectors, then its own.
    b = RawClient("p1")
    bm = b.handshake(peers=1)
    if [v for v, _ in bm[:3]] != [0, 1, -1]:
        problems.append(f"second client's first messages {[v for v, _ in bm[:3]]}")
    if [v for v, fd in bm[3:3 + VECTORS] if fd is not None] != [0] * VECTORS:
        problems.append("second client did not get the first's vectors")
    if [v for v, fd in bm[3 + VECTORS:] if fd is not None] != [1] * VECTORS:
        problems.append("second client did not get its own vectors")
    # Ringing: B writes A's vector 2; A's own eventfd for vector 2 counts it.
    os.write(bm[3 + 2][1], struct.pack("<Q", 1))
    if struct.unpack("<Q", os.read(own_fds[2], 8))[0] != 1:
        problems.append("ring through the eventfds did not arrive")
    # A learns of B: ID 1 with an fd, VECTORS times; then of B leaving: 1 alone.
    joins = [a.message() for _ in range(VECTORS)]
    if [v for v, fd in joins if fd is not None] != [1] * VECTORS:
        problems.append(f"join notices {joins}")
    for _, fd in bm[1:]:
        if fd is not None:
            os.close(fd)
    b.close()
    leave = a.message()
    if leave != (1, None):
        problems.append(f"leave notice {leave}, expected (1, None)")
    for _, fd in joins + own:
        if fd is not None:
            os.close(fd)
    a.close()
    srv.stop()
    report("protocol", "; ".join(problems))


def check_qemu_args():
    names = [f"q{i}" for i in range(32)]
    for n in names:
        create(n, "2M")
    problems = []
    one = ivshm("qemu-args", "--doorbell", "q0").stdout.split()
    want = [f"socket,id=ivshm-sock-q0,path={sock_path('q0')}",
            f"ivshmem-doorbell,id=ivshm-q0,chardev=ivshm-sock-q0,vectors={VECTORS},"
            "bus=ivshm-port-q0"]
    if want[0] not in one or want[1] not in one or "memory-backend-file" in " ".join(one):
        problems.append(f"one segment: {' '.join(one)}")
    plain = ivshm("qemu-args", *names).stdout
    bells = ivshm("qemu-args", "--doorbell", *names).stdout
    ports = re.findall(r"-device pcie-root-port,\S+", plain)
    if ports != re.findall(r"-device pcie-root-port,\S+", bells) or len(ports) != 32:
        problems.append("32 doorbell devices are not placed like 32 plain ones")
    if bells.count("ivshmem-doorbell") != 32:
        problems.append("not 32 ivshmem-doorbell devices")
    other = ivshm("qemu-args", "--doorbell", "--socket", "/tmp/x.sock", "--vectors", "2",
                  "q1").stdout
    if "path=/tmp/x.sock" not in other or "vectors=2" not in other:
        problems.append(f"--socket/--vectors ignored: {other}")
    for bad in (["--socket", "/tmp/x.sock", "q1"], ["--doorbell", "--socket", "/tmp/x", "q1", "q2"],
                ["--doorbell", "--vectors", "65", "q1"]):
        r = ivshm("qemu-args", *bad, check=False)
        if r.returncode != 2 or not r.stderr.strip():
            problems.append(f"qemu-args {' '.join(bad)}: status {r.returncode} {r.stderr!r}")
    report("qemu-args", "; ".join(problems))


def check_host_ring():
    create("h1")
    srv = Server("h1")
    holder, log, hid = bell_peer(sock_path("h1"), "hold", "--count", "2", tag="hold")
    problems = []
    for vector in ("0", "3"):
        r = bell(sock_path("h1"), "ring", hid, vector)
        if r.stdout.strip() != "ok":
            problems.append(f"ring {hid} {vector}: {r.stdout.strip()}")
    if not finish(holder, 5):
        problems.append("the holder was not rung twice")
    out = read_file(log)
    if "rung vector=0" not in out or "rung vector=3" not in out:
        problems.append(f"holder saw: {out!r}")
    r = bell(sock_path("h1"), "ring", "4321", "0")
    if r.returncode != 1 or "peer 4321: not connected" not in r.stdout:
        problems.append(f"ring of a nonexistent peer: {r.stdout.strip()!r}")
    holder2, _, hid2 = bell_peer(sock_path("h1"), "hold", tag="hold2")
    r = bell(sock_path("h1"), "ring", hid2, "9")
    if r.returncode != 1 or f"no vector 9 (it has {VECTORS})" not in r.stdout:
        problems.append(f"ring of a garbage vector: {r.stdout.strip()!r}")
    r = bell(sock_path("h1"), "ring", hid2, "65535")
    if r.returncode != 1:
        problems.append("ring of vector 65535 accepted")
    holder2.kill()
    holder2.wait()
    if srv.proc.poll() is not None:
        problems.append("server died")
    srv.stop()
    report("host-ring", "; ".join(problems))


def check_peer_events():
    create("e1")
    srv = Server("e1")
    holder, log, _ = bell_peer(sock_path("e1"), "hold", tag="events")
    info = bell(sock_path("e1"), "info").stdout
    other = re.search(r"id=(\d+)", info)
    ok = other and wait_for(lambda: f"peer {other.group(1)} left" in read_file(log))
    out = read_file(log)
    holder.kill()
    holder.wait()
    srv.stop()
    problems = []
    if not other or f"peer {other.group(1)} joined" not in out or not ok:
        problems.append(f"holder saw {out!r} for {info!r}")
    if "peers=1" not in info:
        problems.append(f"the second client did not see the first: {info!r}")
    report("peer-events", "; ".join(problems))


def vanish(name, read_messages):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path(name))
    for _ in range(read_messages):
        _, fds, _, _ = socket.recv_fds(s, 8, 4)
        for fd in fds:
            os.close(fd)
    s.close()


def check_fd_leak():
    create("f1")
    srv = Server("f1")
    holder, log, _ = bell_peer(sock_path("f1"), "hold", tag="leakhold")  # one peer stays
    time.sleep(0.2)
    before = srv.fds()
    r = bell(sock_path("f1"), "cycles", "100")
    for i in range(100):
        vanish("f1", i % 4)  # mid-handshake: after 0, 1, 2 or 3 messages
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path("f1"))
        s.send(b"garbage!")
        s.close()
    settled = wait_for(lambda: srv.fds() == before, 5)
    after = srv.fds()
    alive = bell(sock_path("f1"), "info").returncode == 0
    holder.kill()
    holder.wait()
    srv.stop()
    problems = []
    if r.stdout.strip() != "cycles: 100":
        problems.append(r.stdout.strip())
    if not settled:
        problems.append(f"server holds {after} fds after the cycles, {before} before")
    if not alive:
        problems.append("server does not answer after the cycles")
    report("fd-leak", "; ".join(problems), f"server fds {before} before, {after} after 220 "
           "clients (100 cycles, 100 vanishing mid-handshake, 20 garbage)")


def check_garbage_client():
    create("g1")
    srv = Server("g1")
    holder, log, _ = bell_peer(sock_path("g1"), "hold", tag="garbagehold")
    c = RawClient("g1")
    msgs = c.handshake(peers=1)
    gid = msgs[1][0]
    c.s.send(b"\xff" * 64)
    eof = False
    end = time.time() + 5
    while time.time() < end:
        m = c.message()
        if m is None:
            eof = True
            break
        if m[1] is not None:
            os.close(m[1])
    for _, fd in msgs:
        if fd is not None:
            os.close(fd)
    told = wait_for(lambda: f"peer {gid} left" in read_file(log))
    alive = bell(sock_path("g1"), "info").returncode == 0
    holder.kill()
    holder.wait()
    srv.stop()
    problems = []
    if not eof:
        problems.append("the server kept a client that writes")
    if "the protocol is one-way" not in srv.text():
        problems.append("no log line naming the problem")
    if not told:
        problems.append("the other client was not told")
    if not alive:
        problems.append("server stopped serving")
    report("garbage-client", "; ".join(problems))


def check_slow_reader():
    create("s1")
    srv = Server("s1")
    lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lazy.connect(sock_path("s1"))  # never reads
    t0 = time.time()
    r = bell(sock_path("s1"), "cycles", "300", timeout=60)
    took = time.time() - t0
    lazy.close()
    problems = []
    if r.returncode != 0:
        problems.append(r.stdout.strip())
    if srv.proc.poll() is not None:
        problems.append("server died")
    srv.stop()
    report("slow-reader", "; ".join(problems), f"300 cycles beside a client that never reads: "
           f"{took:.2f} s")


def check_stale_socket():
    create("st1")
    srv = Server("st1")
    second = subprocess.run([*SERVE, "--dir", SEG_DIR, "st1"], stderr=subprocess.PIPE, text=True,
                            timeout=10)
    problems = []
    if second.returncode != 1 or "already listens" not in second.stderr:
        problems.append(f"second server: status {second.returncode}, {second.stderr.strip()!r}")
    srv.stop(signal.SIGKILL)
    if not os.path.exists(sock_path("st1")):
        problems.append("SIGKILL should leave the socket behind (test premise)")
    r = bell(sock_path("st1"), "info")
    if r.returncode != 1 or "not running" not in r.stdout:
        problems.append(f"client of a dead server: {r.stdout.strip()!r}")
    try:
        srv2 = Server("st1")
        if bell(sock_path("st1"), "info").returncode != 0:
            problems.append("new server does not serve")
        srv2.stop()
    except RuntimeError as e:
        problems.append(f"new server over a stale socket: {e}")
    with open(sock_path("st1"), "w") as f:
        f.write("not a socket")
    third = subprocess.run([*SERVE, "--dir", SEG_DIR, "st1"], stderr=subprocess.PIPE, text=True,
                           timeout=10)
    if third.returncode != 1 or "not a socket" not in third.stderr:
        problems.append(f"server over a regular file: {third.stderr.strip()!r}")
    os.unlink(sock_path("st1"))
    missing = subprocess.run([*SERVE, "--dir", SEG_DIR, "nosuchseg"], stderr=subprocess.PIPE,
                             text=True, timeout=10)
    if missing.returncode != 1 or "no such segment" not in missing.stderr:
        problems.append(f"server of a missing segment: {missing.stderr.strip()!r}")
    report("stale-socket", "; ".join(problems))


def check_serve_cli():
    """Usage errors exit 2 with one line; a segment that is not there, 1."""
    create("sc")
    problems = []
    for args, status, words in ((["--socket", "/tmp/x.sock", "sc", "sc2"], 2, "one segment"),
                                ([], 2, "missing NAME"),
                                (["--vectors", "65", "sc"], 2, "--vectors"),
                                (["--max-clients", "0", "sc"], 2, "--max-clients"),
                                (["bad/name"], 2, "segment name"),
                                (["nosuch"], 1, "no such segment")):
        r = subprocess.run([*SERVE, "--dir", SEG_DIR, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        lines = r.stderr.strip().splitlines()
        if r.returncode != status or len(lines) != 1 or words not in lines[0]:
            problems.append(f"serve {' '.join(args)}: status {r.returncode}, {r.stderr!r}")
    report("serve-cli", "; ".join(problems))


def check_segment_gone():
    """The segment is destroyed while served: a client is refused with a log
    line (QEMU would not start), and `ivshm list` never shows the socket."""
    create("sg")
    srv = Server("sg")
    problems = []
    listed = ivshm("list", "--json").stdout
    if ".sock" in listed:
        problems.append(f"ivshm list shows the socket: {listed}")
    ivshm("destroy", "sg", "--force")
    r = bell(sock_path("sg"), "info")
    if r.returncode != 1 or "closed the connection" not in r.stdout:
        problems.append(f"client of a destroyed segment: {r.stdout.strip()!r}")
    if not wait_for(lambda: "client refused" in srv.text() and "no such segment" in srv.text()):
        problems.append(f"no log line: {srv.text()!r}")
    create("sg")  # back: served again, no restart needed
    if bell(sock_path("sg"), "info").returncode != 0:
        problems.append("not served again once re-created")
    srv.stop()
    report("segment-gone", "; ".join(problems))


def check_sigterm():
    create("t1")
    pidfile = os.path.join(TMP, "t1.pid")
    srv = Server("t1", extra=("--pidfile", pidfile))
    holder, log, _ = bell_peer(sock_path("t1"), "hold", tag="termhold")
    problems = []
    if read_file(pidfile).strip() != str(srv.proc.pid):
        problems.append("pidfile does not hold the server's pid")
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM)
    took = time.time() - t0
    if rc != 0:
        problems.append(f"exit status {rc} after SIGTERM")
    if os.path.exists(sock_path("t1")) or os.path.exists(pidfile):
        problems.append("socket or pidfile left behind")
    if "stopping on" not in srv.text():
        problems.append("no log line for the stop")
    # The client keeps its eventfds: it can still ring itself.
    holder.kill()
    holder.wait()
    report("sigterm", "; ".join(problems), f"stopped in {took * 1000:.0f} ms")


def check_daemon():
    create("d1")
    pidfile = os.path.join(TMP, "d1.pid")
    t0 = time.time()
    r = subprocess.run([*SERVE, "--dir", SEG_DIR, "--daemon", "--pidfile", pidfile, "--quiet",
                        "d1"], stderr=subprocess.PIPE, text=True, timeout=10)
    took = time.time() - t0
    problems = []
    if r.returncode != 0:
        problems.append(f"daemon start: {r.stderr.strip()}")
        report("daemon", "; ".join(problems))
        return
    pid = int(read_file(pidfile))
    cleanups.append(lambda: os.kill(pid, signal.SIGKILL) if os.path.exists(f"/proc/{pid}")
                    else None)
    if not os.path.exists(sock_path("d1")):
        problems.append("socket not there when the parent returned")
    if bell(sock_path("d1"), "info").returncode != 0:
        problems.append("daemon does not serve")
    os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                    read_file(f"/proc/{pid}/stat").split()[2] == "Z"):
        problems.append("daemon did not stop on SIGTERM")
    if not wait_for(lambda: not os.path.exists(sock_path("d1")) and not os.path.exists(pidfile)):
        problems.append("socket or pidfile left behind")
    report("daemon", "; ".join(problems), f"parent returned in {took * 1000:.0f} ms")


def check_multi_segment():
    create("m1")
    create("m2")
    srv = Server("m1", "m2", extra=("--vectors", "2"))
    a = bell(sock_path("m1"), "info").stdout.strip()
    b = bell(sock_path("m2"), "info").stdout.strip()
    srv.stop()
    problems = []
    if a != "id=0 vectors=2 peers=0" or b != "id=0 vectors=2 peers=0":
        problems.append(f"m1: {a!r}, m2: {b!r}")
    if os.path.exists(sock_path("m1")) or os.path.exists(sock_path("m2")):
        problems.append("sockets left behind")
    report("multi-segment", "; ".join(problems))


# ---- guests ----

def run_guest(name, segments, cmdline, uefi, timeout=120, wait=True):
    image = os.path.join(GUEST, "doorbell.efi" if uefi else "doorbell.elf")
    args = guest_qemu.guest_args(image, uefi, TMP, cmdline)
    args += ivshm("qemu-args", "--doorbell", *segments).stdout.split()
    proc, log = spawn(args, name)
    if wait:
        finish(proc, timeout)
    return proc, log


def guest_status(proc, log):
    """None when the guest exited with code 0 (QEMU status 1), else why not."""
    if proc.returncode == 1:
        return None
    tail = read_file(log).strip().splitlines()[-3:]
    return f"QEMU status {proc.returncode}: {' | '.join(tail)}"


def check_guest_probe(uefi):
    name = f"guest-probe-{'uefi' if uefi else 'direct'}"
    create("gp")
    srv = Server("gp")
    holder, hlog, _ = bell_peer(sock_path("gp"), "hold", tag="probehold")
    t0 = time.time()
    proc, log = run_guest(name, ["gp"], "mode=probe", uefi)
    took = time.time() - t0
    out = read_file(log)
    problems = [p for p in [guest_status(proc, log)] if p]
    m = re.search(r"doorbell: segment=gp id=(\d+) vectors=(\d+)", out)
    joined = re.findall(r"peer (\d+) joined", read_file(hlog))
    if not m or m.group(2) != str(VECTORS):
        problems.append("no IVPosition / vector line")
    elif joined != [m.group(1)]:
        problems.append(f"guest read IVPosition {m.group(1)}, the server gave {joined}")
    waited = re.search(r"timeout=yes waited=(\d+) us", out)
    if not waited:
        problems.append("the 100 ms wait did not time out")
    holder.kill()
    holder.wait()
    srv.stop()
    report(name, "; ".join(problems),
           f"boot to exit {took:.2f} s; 100 ms wait took {waited.group(1) if waited else '?'} us")


def check_guest_pingpong(uefi, count):
    name = f"guest-pingpong-{'uefi' if uefi else 'direct'}"
    create("pp")
    srv = Server("pp")
    pong, _, host = bell_peer(sock_path("pp"), "pong", "--count", str(count), tag="pong")
    t0 = time.time()
    proc, log = run_guest(name, ["pp"], f"mode=pingpong host={host} count={count} garbage", uefi)
    took = time.time() - t0
    problems = [p for p in [guest_status(proc, log)] if p]
    out = read_file(log)
    m = re.search(r"pingpong done count=(\d+) worst=(\d+) us irqs=(\d+) stray=(\d+)", out)
    if not m or m.group(1) != str(count) or m.group(3) != str(count) or m.group(4) != "0":
        problems.append(f"guest: {out.strip().splitlines()[-1:]}")
    if "rang garbage" not in out:
        problems.append("garbage rings not made")
    if not finish(pong, 10):
        problems.append("pong did not finish")
    srv.stop()
    report(name, "; ".join(problems),
           f"{count} ping-pongs, boot to exit {took:.2f} s, worst {m.group(2) if m else '?'} us")


def check_guest_echo(uefi, count):
    name = f"guest-echo-{'uefi' if uefi else 'direct'}"
    create("ec")
    srv = Server("ec")
    proc, log = run_guest(name, ["ec"], "mode=echo", uefi, wait=False)
    problems = []
    if not wait_for(lambda: "doorbell: echo id=" in read_file(log), 60):
        problems.append("guest did not start echoing")
    r = bell(sock_path("ec"), "feed", "--seg", "ec", "--count", str(count), "--sleepy", "--stop",
             timeout=120)
    finish(proc, 30)
    problems += [p for p in [guest_status(proc, log)] if p]
    out = read_file(log)
    m = re.search(r"echo done entries=(\d+) sleeps=(\d+) wakeups=(\d+) timeouts=(\d+)", out)
    if r.returncode != 0:
        problems.append(r.stdout.strip())
    if not m or int(m.group(1)) != count:
        problems.append(f"guest: {out.strip().splitlines()[-1:]}")
    elif int(m.group(3)) < count:  # every trip began with the guest asleep
        problems.append(f"{m.group(3)} doorbell wake-ups for {count} sleepy trips")
    srv.stop()
    figures = r.stdout.strip().splitlines()[-1:] if r.stdout else ["?"]
    report(name, "; ".join(problems), f"{figures[0]}; guest {m.group(0) if m else '?'}")


def check_guest_32():
    names = [f"q{i}" for i in range(32)]
    for n in names:
        if not os.path.exists(os.path.join(SEG_DIR, f"ivshm-{n}")):
            create(n)
    srv = Server(*names)
    t0 = time.time()
    proc, log = run_guest("guest-32", names, "mode=probe", False, timeout=180)
    took = time.time() - t0
    out = read_file(log)
    problems = [p for p in [guest_status(proc, log)] if p]
    found = re.findall(r"doorbell: segment=q(\d+) id=0 vectors=4", out)
    if sorted(int(x) for x in found) != list(range(32)):
        problems.append(f"{len(found)} of 32 doorbells set up")
    clients = srv.text().count("joined")
    srv.stop()
    if clients != 32:
        problems.append(f"{clients} QEMU connections, expected 32")
    report("guest-32", "; ".join(problems), f"32 doorbell devices, boot to exit {took:.2f} s")


def check_guest_restart():
    """The server stops and comes back while the guest sleeps: the guest and
    the host client that knew it go on ringing each other; a client of the new
    server cannot ring the guest (documented), its entries still get through
    by the guest's bounded sleep; nothing crashes."""
    create("rs")
    srv = Server("rs")
    go = os.path.join(TMP, "rs.go")
    old_feed, old_log = bell_bg(sock_path("rs"), "feed", "--seg", "rs", "--count", "50",
                                "--sleepy", "--after", go, tag="oldfeed")
    time.sleep(0.3)
    proc, log = run_guest("guest-restart", ["rs"], "mode=echo timeout_us=200000", False,
                          wait=False)
    problems = []
    if not wait_for(lambda: "doorbell: echo id=" in read_file(log), 60):
        problems.append("guest did not start")
    time.sleep(0.3)  # the guest is asleep now
    if srv.stop(signal.SIGTERM) != 0:
        problems.append("server did not stop cleanly")
    srv2 = Server("rs")
    open(go, "w").close()
    finish(old_feed, 60)
    old = read_file(old_log)
    if old_feed.returncode != 0 or "(0 refused)" not in old:
        problems.append(f"pre-restart client: {old.strip()!r}")
    r = bell(sock_path("rs"), "feed", "--seg", "rs", "--count", "10", "--stop", timeout=60)
    if r.returncode != 0:
        problems.append(f"post-restart client: {r.stdout.strip()!r}")
    elif "refused" not in r.stdout or "(0 refused)" in r.stdout:
        problems.append(f"post-restart client could ring the guest?: {r.stdout.strip()!r}")
    finish(proc, 30)
    problems += [p for p in [guest_status(proc, log)] if p]
    srv2.stop()
    report("guest-restart", "; ".join(problems),
           f"old client: {old.strip().splitlines()[-1:] if old.strip() else '?'}; new client: "
           f"{r.stdout.strip().splitlines()[-1:]}")


# ---- forwarders in adaptive mode ----

def create_fwd(name, queues=1):
    ivshm("destroy", name, "--force", check=False)
    ivshm("create", name, "--size", "16M", "--preset", f"fwd,queues={queues}")
    cleanups.append(lambda: ivshm("destroy", name, "--force", check=False))


class Ctrl:
    """The fwd preset's ctrl block of a segment, mapped (docs/abi.md 4.1)."""

    def __init__(self, name):
        info = json.loads(ivshm("inspect", name, "--json").stdout)
        self.offset = next(o["offset"] for o in info["objects"] if o["name"] == "ctrl")
        self.rings = {o["name"]: o["offset"] for o in info["objects"] if o["type"] == "ring"}
        self.f = open(info["path"], "r+b")
        self.m = mmap.mmap(self.f.fileno(), 0)

    def u(self, fmt, off):
        return struct.unpack_from(fmt, self.m, off)[0]

    def state(self):
        return self.u("<I", self.offset)

    def doorbell(self):
        return self.u("<H", self.offset + 22)

    # Queue q's counters: offsets in its line (docs/abi.md 4.1).
    COUNTERS = {"received": 0, "sent": 8, "dropped": 16, "wakeups": 24, "sleeps": 40, "rings": 48}

    def counters(self, q=0):
        base = self.offset + 64 + 64 * q
        return {n: self.u("<Q", base + off) for n, off in self.COUNTERS.items()}

    def set_wake(self, ring, word):
        """Writes a ring's prod.wake (ring offset 16), as a faulty peer might."""
        struct.pack_into("<I", self.m, self.rings[ring] + 16, word)

    def close(self):
        self.m.close()
        self.f.close()


def pktgen(name, *extra, timeout=300):
    """pktgen to the end: (exit status, summary dict or None, stderr)."""
    return guest_qemu.pktgen(IVSHM, ENV, name, "--timeout", "60", *PKTGEN_CPU, *extra,
                             timeout=timeout)


def intact(result, count):
    """What is wrong with a pktgen run of `count` frames, or None."""
    status, s, err = result
    problem = guest_qemu.summary_problem(s, count)
    if problem or status != 0:
        return f"{problem or 'pktgen failed'} (status {status}: {err})"
    return None


def idle_share(pid, seconds=2.0):
    """Share of one CPU that pid used over `seconds` (utime + stime)."""
    c0, t0 = guest_qemu.cpu_seconds(pid), time.time()
    time.sleep(seconds)
    return (guest_qemu.cpu_seconds(pid) - c0) / (time.time() - t0)


def start_fwd_host(name, *extra, tag="fwdhost"):
    return spawn([FWD_HOST, name, *(["--cpu", "1"] if PIN else []), *extra], tag)


def start_fwd_vm(name, uefi, cmdline="", tag="fwdvm"):
    """fwd.elf or fwd.efi on segment NAME as an ivshmem-doorbell device."""
    image = os.path.join(GUEST, "fwd.efi" if uefi else "fwd.elf")
    args = FWD_CPU + guest_qemu.guest_args(image, uefi, TMP, cmdline)
    return spawn(args + ivshm("qemu-args", "--doorbell", name).stdout.split(), tag)


def await_asleep(ctrl, seconds=30):
    """Until the forwarder has asked rx0's producer to wake it."""
    return wait_for(lambda: ctrl.u("<I", ctrl.rings["rx0"] + 16) & 0x8000, seconds)


def exercise_forwarder(name, ctrl, pid, count, groups, gap, problems):
    """Full load, then groups with idle gaps, then idle: what fwd-host,
    fwd-direct and fwd-uefi share. Returns the figures line."""
    if not wait_for(lambda: ctrl.state() == 1, 120):  # READY
        problems.append(f"no forwarder READY (state {ctrl.state()})")
        return ""
    if not ctrl.doorbell():
        problems.append("ctrl.doorbell is 0: the forwarder is not in adaptive mode")
    load = pktgen(name, "--count", str(count), "--keep")
    problem = intact(load, count)
    if problem:
        problems.append(f"full load: {problem}")
        return ""
    s = load[1]
    f = s["forwarder"]
    # Nobody rings a party that did not ask: each doorbell the forwarder rang
    # answered a sleep of pktgen's, and each forwarder wake-up by a doorbell a
    # request pktgen took (and rang).
    if f["rings"] > s["sleeps"] or f["wakeups"] > s["rings"]:
        problems.append(f"doorbells without sleepers: {s}")
    before = ctrl.counters()
    per = max(1, count // 1000)
    bursty = pktgen(name, "--count", str(groups * per), "--group", str(per), "--gap", str(gap),
                    "--keep")
    problem = intact(bursty, groups * per)
    after = ctrl.counters()
    woke = after["wakeups"] - before["wakeups"]
    if problem:
        problems.append(f"bursts: {problem}")
    elif woke < groups * 0.9:  # a group may start in the moment a timed-out sleep polls
        problems.append(f"{groups} bursts after idle gaps woke the forwarder {woke} times")
    share = idle_share(pid)
    if share > 0.2:
        problems.append(f"idle forwarder used {share:.0%} of a CPU")
    trip = bursty[1]["trip_us"] if bursty[1] else {}
    return (f"{count} frames at {s['mpps']:.2f} Mpps (pktgen slept {s['sleeps']}, rang "
            f"{s['rings']}; forwarder slept {f['sleeps']}, rang {f['rings']}); {groups} bursts of "
            f"{per} frames {gap} s apart: {woke} wake-ups, round trip p50 "
            f"{trip.get('p50', 0):.0f} us, p99 {trip.get('p99', 0):.0f} us; idle CPU "
            f"{share:.1%}")


def stop_forwarder(name, ctrl, proc, problems, seconds=20):
    """EXIT through pktgen (which rings the sleeping forwarder): DONE soon."""
    if not await_asleep(ctrl, 10):
        problems.append("the forwarder did not fall asleep when idle")
    t0 = time.time()
    r = pktgen(name, "--count", "1")
    if intact(r, 1):
        problems.append(f"last run: {intact(r, 1)}")
    if not finish(proc, seconds):
        problems.append("the forwarder did not exit after EXIT")
    return time.time() - t0


def check_fwd_host():
    create_fwd("fh")
    srv = Server("fh")
    fwd, log = start_fwd_host("fh")
    ctrl = Ctrl("fh")
    problems = []
    figures = exercise_forwarder("fh", ctrl, fwd.pid, 1000000, 20, 0.05, problems)
    took = stop_forwarder("fh", ctrl, fwd, problems)
    if fwd.returncode not in (0, None) and not problems:
        problems.append(f"ivshm-fwd exit {fwd.returncode}: {read_file(log)}")
    ctrl.close()
    srv.stop()
    report("fwd-host", "; ".join(problems), f"{figures}; EXIT to exit {took * 1000:.0f} ms")


def check_fwd_guest(uefi, count):
    name = f"fwd-{'uefi' if uefi else 'direct'}"
    seg = "fu" if uefi else "fd"
    create_fwd(seg)
    srv = Server(seg)
    vm, log = start_fwd_vm(seg, uefi, tag=name)
    ctrl = Ctrl(seg)
    problems = []
    figures = exercise_forwarder(seg, ctrl, vm.pid, count, 10, 0.1, problems)
    if "mode adaptive" not in read_file(log):
        problems.append("the guest did not choose adaptive mode by itself")
    took = stop_forwarder(seg, ctrl, vm, problems, 60)
    problems += [p for p in [guest_status(vm, log)] if p]
    done = re.search(r"fwd: done .*", read_file(log))
    ctrl.close()
    srv.stop()
    report(name, "; ".join(problems),
           f"{figures}; EXIT to exit {took:.2f} s; guest: {done.group(0) if done else '?'}")


def check_fwd_restart():
    """The server stops and a new one starts while a VM forwarder and a host
    forwarder sleep. Documented (docs/abi.md 5): clients keep their eventfds,
    a new client cannot ring the old ones, so the pair falls back to the
    sleep bound; nothing crashes, nothing is lost, EXIT still stops both."""
    create_fwd("rv")
    create_fwd("rh")
    srv = Server("rv", "rh")
    vm, log = start_fwd_vm("rv", False, tag="fwd-restart-vm")
    host, hlog = start_fwd_host("rh", tag="fwd-restart-host")
    cv, ch = Ctrl("rv"), Ctrl("rh")
    problems = []
    if not wait_for(lambda: cv.state() == 1 and ch.state() == 1, 60):
        problems.append("forwarders not READY")
    elif not (await_asleep(cv) and await_asleep(ch)):
        problems.append("forwarders did not fall asleep")
    if srv.stop(signal.SIGTERM) != 0:
        problems.append("server did not stop cleanly")
    srv2 = Server("rv", "rh")
    figures = []
    for seg, ctrl in (("rv", cv), ("rh", ch)):
        t0 = time.time()
        r = pktgen(seg, "--count", "20000", "--keep")
        problem = intact(r, 20000)
        if problem:
            problems.append(f"{seg} after the restart: {problem}")
        figures.append(f"{seg}: 20000 frames in {time.time() - t0:.2f} s")
    for seg, ctrl, proc in (("rv", cv, vm), ("rh", ch, host)):
        r = pktgen(seg, "--count", "1")
        if intact(r, 1) or not finish(proc, 30):
            problems.append(f"{seg}: not stopped by EXIT after the restart")
    problems += [p for p in [guest_status(vm, log)] if p]
    if host.returncode != 0:
        problems.append(f"ivshm-fwd exit {host.returncode}: {read_file(hlog)}")
    cv.close()
    ch.close()
    srv2.stop()
    report("fwd-restart", "; ".join(problems), "; ".join(figures))


def check_fwd_garbage():
    """A faulty peer keeps writing wake requests for peers and vectors that
    do not exist into rx0 and tx0 while frames flow through a VM and a host
    forwarder: the requests are rung (QEMU drops them, the host library
    refuses them), frames still all arrive."""
    problems = []
    figures = []
    for seg, start in (("gv", lambda: start_fwd_vm("gv", False, tag="fwd-garbage-vm")),
                       ("gh", lambda: start_fwd_host("gh", tag="fwd-garbage-host"))):
        create_fwd(seg)
        srv = Server(seg)
        proc, log = start()
        ctrl = Ctrl(seg)
        if not wait_for(lambda: ctrl.state() == 1, 60):
            problems.append(f"{seg}: no forwarder READY")
            continue
        runner = subprocess.Popen([IVSHM, "pktgen", seg, "--json", "--count", "200000",
                                   "--keep", "--timeout", "60", *PKTGEN_CPU], env=ENV,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        garbage = (0xFFFFFFFF, 0x12348000 | 999, 0xFFFF8000, 0x00008000 | 0x7FFF)
        writes = 0
        while runner.poll() is None:
            for word in garbage:
                ctrl.set_wake("rx0", word)
                ctrl.set_wake("tx0", word)
                writes += 1
            time.sleep(0.001)
        out, err = runner.communicate()
        try:
            result = (runner.returncode, json.loads(out.strip().splitlines()[-1]), err)
        except (ValueError, IndexError):
            result = (runner.returncode, None, err)
        problem = intact(result, 200000)
        if problem:
            problems.append(f"{seg}: {problem}")
        ctrl.set_wake("rx0", 0)
        ctrl.set_wake("tx0", 0)
        r = pktgen(seg, "--count", "1000")
        if intact(r, 1000) or not finish(proc, 30):
            problems.append(f"{seg}: not well after the garbage")
        if result[1]:
            figures.append(f"{seg}: {writes} garbage requests written, pktgen rang "
                           f"{result[1]['rings']}, the forwarder {result[1]['forwarder']['rings']}")
        ctrl.close()
        srv.stop()
    report("fwd-garbage", "; ".join(problems), "; ".join(figures))


def check_fwd_client_fds():
    """Peers come and go (100 cycles) while ivshm-fwd and a VM are clients:
    each learns of them (eventfds in, eventfds out) and ends with the
    descriptors it had."""
    create_fwd("cf", queues=2)  # the host forwarder serves pair 0, the VM pair 1
    srv = Server("cf")
    host, hlog = start_fwd_host("cf", "--queues", "1", tag="fwd-fds-host")
    vm, log = start_fwd_vm("cf", False, "rx=cf/rx1 tx=cf/tx1", tag="fwd-fds-vm")
    ctrl = Ctrl("cf")
    problems = []
    if not wait_for(lambda: ctrl.state() == 1 and "fwd: ready" in read_file(log), 60):
        problems.append("forwarders not READY")
    time.sleep(0.5)

    def fds(pid):
        return len(os.listdir(f"/proc/{pid}/fd"))

    before = (fds(host.pid), fds(vm.pid), srv.fds())
    r = bell(sock_path("cf"), "cycles", "100")
    if r.stdout.strip() != "cycles: 100":
        problems.append(r.stdout.strip())
    # ivshm-fwd reads the server's notices while it sleeps: give it a moment.
    settled = wait_for(lambda: (fds(host.pid), fds(vm.pid), srv.fds()) == before, 10)
    after = (fds(host.pid), fds(vm.pid), srv.fds())
    if not settled:
        problems.append(f"descriptors (ivshm-fwd, QEMU, server) {before} before, {after} after")
    host.kill()
    vm.kill()
    ctrl.close()
    srv.stop()
    report("fwd-client-fds", "; ".join(problems),
           f"ivshm-fwd, QEMU, server fds {before} before and {after} after 100 cycles")


CASES = [
    ("protocol", check_protocol),
    ("qemu-args", check_qemu_args),
    ("host-ring", check_host_ring),
    ("peer-events", check_peer_events),
    ("fd-leak", check_fd_leak),
    ("garbage-client", check_garbage_client),
    ("slow-reader", check_slow_reader),
    ("stale-socket", check_stale_socket),
    ("serve-cli", check_serve_cli),
    ("segment-gone", check_segment_gone),
    ("sigterm", check_sigterm),
    ("daemon", check_daemon),
    ("multi-segment", check_multi_segment),
    ("guest-probe-direct", lambda: check_guest_probe(False)),
    ("guest-probe-uefi", lambda: check_guest_probe(True)),
    ("guest-pingpong-direct", lambda: check_guest_pingpong(False, 1000)),
    ("guest-pingpong-uefi", lambda: check_guest_pingpong(True, 200)),
    ("guest-echo-direct", lambda: check_guest_echo(False, 1000)),
    ("guest-echo-uefi", lambda: check_guest_echo(True, 200)),
    ("guest-32", check_guest_32),
    ("guest-restart", check_guest_restart),
    ("fwd-host", check_fwd_host),
    ("fwd-direct", lambda: check_fwd_guest(False, 1000000)),
    ("fwd-uefi", lambda: check_fwd_guest(True, 1000000)),
    ("fwd-restart", check_fwd_restart),
    ("fwd-garbage", check_fwd_garbage),
    ("fwd-client-fds", check_fwd_client_fds),
]


def main():
    sys.exit(guest_qemu.run_cases(CASES, sys.argv[1:], cleanups))


if __name__ == "__main__":
    main()
