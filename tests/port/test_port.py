#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""ivshm-port tests: real frames through the bare-metal VM.

  errors           bad --port, missing segment, a ring used twice, no
                   forwarder, a bad EAL argument: one line each, exit 1 or 2
  garbage          garbage handles and frames in the from-VM ring: dropped,
                   counted, nothing wrongly freed (copy and zero-copy)
  wedged-free-ring a dead ivshm-port left the pool's free ring half-updated:
                   repaired when alone, refused in one line beside a live user
  namespaces-vm    two network namespaces, a DPDK tap in each, joined by one
                   ivshm-port through fwd.elf under TCG (mac=keep,
                   cross-connect): ping -c 200 -i 0.01 with 0 % loss, iperf3
                   TCP for 5 s each way
  namespaces-host  the same through ivshm-fwd (host-only)
  pcap             a pcap written here (every size class, broadcast,
                   multicast, VLAN, IPv4, IPv6, ARP, two frames too large for
                   a buffer) replayed through net_pcap -> VM -> net_pcap:
                   every frame that fits comes out byte-identical and in
                   order, the others are counted too big; copy and zero-copy
  kill-restart     SIGKILL of ivshm-port mid-stream (net_null ports through
                   the VM); a new one reclaims its buffers, traffic resumes,
                   the pool is whole after the stop
  two-processes    one ivshm-port per tap through ivshm-fwd; one is killed and
                   restarted while the other runs; ping works before and
                   after; the pool is whole after both stop
  one-queue-twice  a second ivshm-port, and a pktgen, on a queue a live
                   ivshm-port drives: refused in one line naming it
                   (docs/abi.md 4.1); the first runs on, the pool is whole
  adaptive-vm      ivshm serve, fwd.elf booted with `qemu-args --doorbell`,
                   ivshm-port between two taps, both adaptive by default:
                   pings 200 ms apart with 0 % loss, each side sleeping
                   between them and woken by the other's doorbell (and
                   ivshm-port by the tap's rx interrupt); idle, ivshm-port
                   uses little CPU
  adaptive-idle    ivshm-port on ports without an rx interrupt (net_null)
                   in adaptive mode sleeps in short bounded sleeps: little
                   CPU when idle; --mode poll never sleeps

Needs root (taps, namespaces) and build/bin/ivshm-port (DPDK): otherwise it
prints "skipped: REASON", which tests/harness counts as skipped. Each case
prints "ok - NAME" or "not ok - NAME: why", and "# NAME: figures".

    tests/port/test_port.py [NAME_SUBSTRING...]
"""
import json
import mmap
import os
import re
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fwd_tests import (BUILD, ENV, FWD_ELF, TMP, cleanups, create, inspect_object,  # noqa: E402
                       ivshm, pool_problem, pool_state, run, run_cases, serve, start_fwd, start_vm,
                       wait_fwd, wait_vm)
from guest_qemu import cpu_seconds, report  # noqa: E402

PORT = os.path.join(BUILD, "bin", "ivshm-port")
# Names unique to this run: interfaces and namespaces are global.
TAG = str(os.getpid() % 100000)
OBJ_SIZE = 2048  # the fwd preset's buffers
HEADROOM = 64  # IVSHM_PKT_HEADROOM: the frame starts there
ROOM = OBJ_SIZE - HEADROOM


def start_wire(seg, *words):
    """ivshm-fwd on `seg` as a wire (--mac keep), with the guest's pair words."""
    return start_fwd(seg, "--mac", "keep", *words)


def cross_words(seg):
    return [f"rx={seg}/rx0", f"tx={seg}/tx1", f"rx={seg}/rx1", f"tx={seg}/tx0"]


eal_count = 0


def eal(*vdevs, lcore="0"):
    # Two ivshm-ports at once must not share EAL's runtime files.
    global eal_count
    eal_count += 1
    args = ["-l", lcore, "--no-huge", "--no-pci", "--no-shconf", "-m", "256",
            f"--file-prefix=ivp{TAG}-{eal_count}", "--log-level=pmd.net.tap:critical"]
    for v in vdevs:
        args += ["--vdev", v]
    return args


class Port:
    """An ivshm-port in the background; stop() returns (status, JSON, stderr)."""

    def __init__(self, eal_args, args, tag):
        self.out = open(os.path.join(TMP, f"{tag}.out"), "w+")
        self.err = open(os.path.join(TMP, f"{tag}.err"), "w+")
        self.proc = subprocess.Popen([PORT, *eal_args, "--", *args, "--json"], env=ENV,
                                     stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        cleanups.append(lambda: self.proc.poll() is None and self.proc.kill())

    def running(self):
        return self.proc.poll() is None

    def stderr(self):
        self.err.seek(0)
        return self.err.read().strip()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, seconds=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "timeout", None, self.stderr()
        self.out.seek(0)
        lines = self.out.read().strip().splitlines()
        try:
            summary = json.loads(lines[-1])
        except (ValueError, IndexError):
            summary = None
        return status, summary, self.stderr()


def stop_problem(port, name="ivshm-port"):
    """Stops a Port; (problem or None, JSON summary)."""
    status, summary, err = port.stop()
    if status != 0 or summary is None:
        return f"{name} exit {status}: {err}", summary
    if summary["buffers_held"] != 0:
        return f"{name} held {summary['buffers_held']} buffers at exit: {err}", summary
    return None, summary


# ---- namespaces and taps --------------------------------------------------------

class Netns:
    def __init__(self, suffix):
        self.name = f"ivshm-port-{TAG}-{suffix}"
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        run("ip", "netns", "add", self.name)
        cleanups.append(lambda: subprocess.run(["ip", "netns", "del", self.name],
                                               stderr=subprocess.DEVNULL))
        run("ip", "-n", self.name, "link", "set", "lo", "up")

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]


def tap(index, iface, mac):
    # A fixed MAC: a restarted ivshm-port recreates the tap, and the peer's
    # ARP cache must still be right.
    return f"net_tap{index},iface={iface},mac={mac}"


def plug(port, iface, ns, addr, seconds=30):
    """Waits until ivshm-port started its tap (up and promiscuous in this
    namespace), then moves it into ns with addr/24."""
    deadline = time.monotonic() + seconds
    while True:
        out = subprocess.run(["ip", "-j", "link", "show", iface], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        if out and "PROMISC" in json.loads(out)[0].get("flags", []):
            break
        if not port.running():
            raise RuntimeError(f"ivshm-port exited: {port.stderr()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"tap {iface} not started after {seconds} s")
        time.sleep(0.05)
    run("ip", "link", "set", iface, "netns", ns.name)
    run("ip", "-n", ns.name, "addr", "add", f"{addr}/24", "dev", iface)
    run("ip", "-n", ns.name, "link", "set", iface, "up")


def ping(ns, addr, count, interval):
    """(loss %, avg ms, max ms, output) of ping from ns."""
    out = run(*ns.cmd("ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "2", addr),
              check=False, timeout=120).stdout
    loss = re.search(r"([\d.]+)% packet loss", out)
    rtt = re.search(r"= [\d.]+/([\d.]+)/([\d.]+)/", out)
    return (float(loss.group(1)) if loss else 100.0, float(rtt.group(1)) if rtt else 0.0,
            float(rtt.group(2)) if rtt else 0.0, out.strip().replace("\n", " | "))


def ping_until_up(ns, addr, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if run(*ns.cmd("ping", "-n", "-q", "-c", "1", "-W", "1", addr), check=False).returncode == 0:
            return True
    return False


def iperf(client_ns, server_ns, server_addr, reverse):
    """Gbit/s of a 5-second iperf3 TCP run (reverse: server -> client)."""
    server = subprocess.Popen(server_ns.cmd("iperf3", "-s", "-1", "-B", server_addr),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cleanups.append(lambda: server.poll() is None and server.kill())
    time.sleep(0.5)
    args = ["iperf3", "-c", server_addr, "-t", "5", "-J"] + (["-R"] if reverse else [])
    proc = run(*client_ns.cmd(*args), check=False, timeout=60)
    server.wait(timeout=10)
    result = json.loads(proc.stdout)
    if "error" in result:
        raise RuntimeError(f"iperf3: {result['error']}")
    return result["end"]["sum_received"]["bits_per_second"] / 1e9


# ---- pcap files -----------------------------------------------------------------

def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def read_pcap(path):
    """Frames of a pcap file (a record still being written is left out)."""
    try:
        data = open(path, "rb").read()
    except OSError:
        return []
    if len(data) < 24:
        return []
    endian = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "IIII", data[off:off + 16])[2]
        if off + 16 + incl > len(data):
            break
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def make_frames():
    """Every size class, broadcast/multicast/unicast, VLAN, IPv4, IPv6, ARP;
    two frames longer than a buffer's room. Returns [(frame, fits)]."""
    def mac(s):
        return bytes.fromhex(s.replace(":", ""))

    src = mac("02:00:00:00:aa:01")

    def frame(dst, ethertype, payload, size, vlan=None):
        head = mac(dst) + src
        if vlan is not None:
            head += struct.pack(">HH", 0x8100, vlan)
        head += struct.pack(">H", ethertype) + payload
        pattern = bytes((size * 31 + i * 7) & 0xFF for i in range(max(0, size - len(head))))
        return (head + pattern)[:size]

    arp = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + src + bytes([10, 77, 0, 1]) + bytes(6) + \
        bytes([10, 77, 0, 2])
    ipv4 = bytes.fromhex("4500") + struct.pack(">H", 100) + bytes(4) + bytes([64, 17, 0, 0]) + \
        bytes([10, 77, 0, 1, 224, 0, 0, 251])
    ipv6 = bytes.fromhex("60000000") + struct.pack(">H", 40) + bytes([17, 64]) + bytes(15) + \
        b"\x01" + bytes.fromhex("ff02") + bytes(13) + b"\x01"
    frames = [
        (frame("ff:ff:ff:ff:ff:ff", 0x0806, arp, 60), True),  # ARP, broadcast, 60
        (frame("01:00:5e:00:00:fb", 0x0800, ipv4, 64), True),  # IPv4 multicast, 64
        (frame("33:33:00:00:00:01", 0x86DD, ipv6, 65), True),  # IPv6 multicast, 65
        (frame("02:00:00:00:bb:02", 0x0800, ipv4, 128, vlan=42), True),  # VLAN 42, 128
        (frame("02:00:00:00:bb:02", 0x0800, ipv4, 1514), True),  # IPv4 unicast, 1514
        (frame("02:00:00:00:bb:02", 0x86DD, ipv6, ROOM), True),  # the largest that fits
        (frame("02:00:00:00:bb:02", 0x86DD, ipv6, ROOM + 1), False),  # one byte too many
        (frame("02:00:00:00:bb:02", 0x0800, ipv4, 3000), False),  # beyond an mbuf too
        (frame("ff:ff:ff:ff:ff:ff", 0x0806, arp, 60), True),  # order goes on after them
        (frame("02:00:00:00:bb:02", 0x86DD, ipv6, 1514, vlan=7), True),
    ]
    return frames


def wait_frames(path, count, port, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and port.running():
        got = read_pcap(path)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    return read_pcap(path)


# ---- cases ----------------------------------------------------------------------

def expect_error(args, status, words, name):
    """None when ivshm-port exits `status` with one stderr line holding `words`."""
    proc = subprocess.run([PORT, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    err = proc.stderr.strip()
    lines = [line for line in err.splitlines() if line]
    if proc.returncode != status or len(lines) != 1 or not all(w in err for w in words):
        return f"{name}: exit {proc.returncode}, stderr {err!r} (expected {status} and one line " \
               f"with {words})"
    return None


def case_errors():
    create("pe", queues=2)
    null = eal("net_null0", "net_null1")
    checks = [
        (null + ["--", "--port", "0=pe"], 2, ["--port '0=pe'"], "malformed --port"),
        (null + ["--", "--port", "0=nosuch:0"], 1, ["nosuch"], "missing segment"),
        (null + ["--", "--port", "5=pe:0"], 1, ["no DPDK port 5"], "no such port"),
        (null + ["--", "--port", "0=pe:0", "--port", "1=pe/rx0,pe/tx1"], 1,
         ["pe/rx0", "both use"], "a ring used twice"),
        (null + ["--", "--port", "0=pe:0", "--timeout", "1"], 1, ["no forwarder became READY"],
         "no forwarder"),
        (["-l", "0", "--bogus", "--", "--port", "0=pe:0"], 1, ["--bogus"], "bad EAL argument"),
        (null + ["--", "--port", "0=pe:0", "--burst", "65"], 2, ["--burst"], "burst too large"),
        (null + ["--port", "0=pe:0"], 2, ["'--'"], "no '--'"),
        # before the wait for READY: no forwarder runs here either
        (null + ["--", "--port", "0=pe:0", "--mode", "adaptive"], 1,
         ["pe: no doorbell server", "ivshm serve pe"], "adaptive without a doorbell server"),
        (null + ["--", "--port", "0=pe:0", "--socket", "/nonexistent/pe.sock"], 1,
         ["/nonexistent/pe.sock", "not running"], "a --socket nobody listens on"),
    ]
    problems = [p for p in (expect_error(*c) for c in checks) if p]
    report("errors", "; ".join(problems) or pool_problem("pe"))


def kernel_traffic(name, via_vm):
    seg = "kv" if via_vm else "kh"
    create(seg, queues=2)
    words = cross_words(seg)
    if via_vm:
        vm, log = start_vm(FWD_ELF, [seg], " ".join(words) + " mac=keep", tag=name)
    else:
        fwd = start_wire(seg, *words)
    a, b = Netns("a"), Netns("b")
    ia, ib = f"ivp{TAG}a", f"ivp{TAG}b"
    port = Port(eal(tap(0, ia, "02:00:00:77:00:01"), tap(1, ib, "02:00:00:77:00:02")),
                ["--port", f"0={seg}:0", "--port", f"1={seg}:1", "--exit"], name)
    plug(port, ia, a, "10.77.0.1")
    plug(port, ib, b, "10.77.0.2")
    if not ping_until_up(a, "10.77.0.2"):
        problem, _ = stop_problem(port)
        report(name, f"no ping reply within 20 s ({problem or 'ivshm-port stopped cleanly'})")
        return
    loss, avg, mx, out = ping(a, "10.77.0.2", 200, 0.01)
    problem = None if loss == 0 else f"ping lost {loss} %: {out}"
    up = down = 0.0
    try:
        up = iperf(a, b, "10.77.0.2", reverse=False)
        down = iperf(a, b, "10.77.0.2", reverse=True)
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        problem = problem or f"iperf3: {e}"
    stopped, summary = stop_problem(port)
    problem = problem or stopped
    if not problem and summary["forwarder_stopped"] is not True:
        problem = f"the forwarder did not finish after EXIT: {summary}"
    if not problem and summary["mode"] != "poll":
        problem = f"mode {summary['mode']} with no doorbell server"
    problem = problem or (wait_vm(vm, log) if via_vm else wait_fwd(fwd)) or pool_problem(seg)
    report(name, problem, f"ping 200 x 10 ms: {loss:g} % loss, rtt avg {avg:.3f} ms max "
                          f"{mx:.3f} ms; iperf3 TCP 5 s: {up:.3f} Gbit/s a->b, {down:.3f} "
                          f"Gbit/s b->a")


def case_namespaces_vm():
    kernel_traffic("namespaces-vm", via_vm=True)


def case_namespaces_host():
    kernel_traffic("namespaces-host", via_vm=False)


def case_pcap():
    seg = "pc"
    create(seg)
    vm, log = start_vm(FWD_ELF, [seg], "mac=keep", tag="pcap")
    frames = make_frames()
    src = os.path.join(TMP, "in.pcap")
    write_pcap(src, [f for f, _ in frames])
    want = [f for f, fits in frames if fits]
    too_big = len(frames) - len(want)
    problems, figures = [], []
    for mode in ("copy", "zero-copy"):
        out = os.path.join(TMP, f"out-{mode}.pcap")
        args = ["--port", f"0={seg}:0"] + (["--zero-copy"] if mode == "zero-copy" else [])
        if mode == "zero-copy":
            args.append("--exit")  # the last run stops the VM
        port = Port(eal(f"net_pcap0,rx_pcap={src},tx_pcap={out}"), args, f"pcap-{mode}")
        got = wait_frames(out, len(want), port)
        stopped, summary = stop_problem(port)
        got = read_pcap(out)  # all of it, now that the port is closed
        if stopped:
            problems.append(f"{mode}: {stopped}")
            continue
        c = summary["ports"][0]
        if got != want:
            diff = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got),
                                                                                       len(want)))
            problems.append(f"{mode}: {len(got)} frames out, {len(want)} expected; first "
                            f"difference at frame {diff}")
        if c["rx_packets"] != len(frames) or c["rx_too_big"] != too_big:
            problems.append(f"{mode}: rx_packets {c['rx_packets']} rx_too_big "
                            f"{c['rx_too_big']}, expected {len(frames)} and {too_big}")
        figures.append(f"{mode}: {len(got)} identical frames, {c['rx_too_big']} too big")
    problem = "; ".join(problems) or wait_vm(vm, log) or pool_problem(seg)
    report("pcap", problem, "; ".join(figures))


def case_kill_restart():
    seg = "kr"
    create(seg, queues=2)
    vm, log = start_vm(FWD_ELF, [seg], " ".join(cross_words(seg)) + " mac=keep",
                       tag="kill-restart")
    null = eal("net_null0", "net_null1")
    args = ["--port", f"0={seg}:0", "--port", f"1={seg}:1"]
    first = Port(null, args, "kill-first")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.running() and pool_state(seg)[0] == \
            pool_state(seg)[1]:
        time.sleep(0.1)
    time.sleep(1.0)
    if not first.running():
        report("kill-restart", f"the first ivshm-port stopped: {first.stderr()}")
        return
    first.kill()
    free_at_kill, count = pool_state(seg)
    second = Port(null, args + ["--exit"], "kill-second")
    time.sleep(3.0)
    problem, summary = stop_problem(second)
    if not problem and summary["reclaimed"] == 0:
        problem = f"the new ivshm-port reclaimed nothing (pool {free_at_kill}/{count} at the kill)"
    if not problem and min(p["tx_packets"] for p in summary["ports"]) == 0:
        problem = f"no traffic after the restart: {summary['ports']}"
    problem = problem or wait_vm(vm, log) or pool_problem(seg)
    report("kill-restart", problem,
           summary and f"{count - free_at_kill} buffers out at the kill, {summary['reclaimed']} "
                       f"reclaimed, {summary['tx_packets']} frames sent after the restart")


def counters(summary):
    """The nonzero counters of a summary's ports, the PMD's included, and the
    forwarder's: where frames went when some were lost."""
    out = []
    for p in summary["ports"]:
        c = {k: v for k, v in p.items() if isinstance(v, int) and v and k != "port"}
        c.update({f"eth.{k}": v for k, v in p["eth"].items() if v})
        out.append(f"{p['device']} {c}")
    return "; ".join(out) + f"; forwarder {summary['forwarder']}"


def case_two_processes():
    seg = "tp"
    create(seg, queues=2)
    fwd = start_wire(seg, "rx=rx0", "tx=tx1", "rx=rx1", "tx=tx0")
    a, b = Netns("a"), Netns("b")
    ia, ib = f"ivp{TAG}c", f"ivp{TAG}d"
    port_a = Port(eal(tap(0, ia, "02:00:00:77:00:03")), ["--port", f"net_tap0={seg}:0"], "two-a")
    plug(port_a, ia, a, "10.77.0.1")

    def start_b(tag):
        port = Port(eal(tap(0, ib, "02:00:00:77:00:04")), ["--port", f"0={seg}:1", "--exit"], tag)
        plug(port, ib, b, "10.77.0.2")
        return port

    port_b = start_b("two-b")
    problems, figures = [], []
    for when in ("before", "after"):
        if not ping_until_up(a, "10.77.0.2"):
            problems.append(f"{when} the restart: no ping reply within 20 s")
            break
        loss, avg, _, out = ping(a, "10.77.0.2", 50, 0.02)
        figures.append(f"{when}: {loss:g} % loss, rtt avg {avg:.3f} ms")
        if loss:
            problems.append(f"{when} the restart: ping lost {loss} %: {out}")
        if when == "before":
            port_b.kill()
            port_b = start_b("two-b2")
    # Both stop at once, as a user's `kill PID_A PID_B` would.
    port_a.proc.send_signal(signal.SIGINT)
    stopped_b, summary_b = stop_problem(port_b, "ivshm-port b")
    stopped_a, summary_a = stop_problem(port_a, "ivshm-port a")
    if problems:  # where the frames went
        problems += [f"{name}: {counters(s)}" for name, s in (("a", summary_a), ("b", summary_b))
                     if s]
    problem = "; ".join(problems) or stopped_a or stopped_b or wait_fwd(fwd) or pool_problem(seg)
    report("two-processes", problem, "; ".join(figures) + (
        f"; restarted b reclaimed {summary_b['reclaimed']}" if summary_b else ""))


def case_garbage():
    # A peer (here: this script) writes garbage into the from-VM ring:
    # ivshm-port drops and counts it, frees nothing it must not, goes on.
    seg = "gb"
    create(seg, "--mempool", "name=pkts,count=64,size=2048", "--ring", "name=rx0,slots=64",
           "--ring", "name=tx0,slots=64", size="4M")
    info, pool = inspect_object(seg, "pkts")
    ring = inspect_object(seg, "tx0")[1]["offset"]
    problems = []
    with open(info["path"], "r+b") as f:
        mem = mmap.mmap(f.fileno(), 0)
        # Two free buffers, read from the pool's free ring (slots after its
        # 256-byte control block); nobody takes them: the port receives nothing.
        h1, h2 = struct.unpack_from("<QQ", mem, pool["offset"] + 256)
        struct.pack_into("<IH", mem, h1, 100000, 16)  # a frame far outside its buffer
        struct.pack_into("<IH", mem, h2, 60, 64)  # a good frame, in a buffer nobody sent
        garbage = [0xDEADBEEFDEADBEEF, h1 + 8, h1, h2]
        for mode in ("copy", "zero-copy"):
            port = Port(eal("net_null0,no-rx=1"), ["--port", f"0={seg}:0"] +
                        (["--zero-copy"] if mode == "zero-copy" else []), f"garbage-{mode}")
            tail = struct.unpack_from("<I", mem, ring + 4)[0]
            for i, h in enumerate(garbage):
                struct.pack_into("<Q", mem, ring + 256 + ((tail + i) % 64) * 8, h)
            struct.pack_into("<II", mem, ring, tail + 4, tail + 4)  # prod head, then tail
            deadline = time.monotonic() + 30
            while struct.unpack_from("<I", mem, ring + 128 + 4)[0] != tail + 4 and \
                    time.monotonic() < deadline and port.running():
                time.sleep(0.05)
            status, summary, err = port.stop()
            if status != 0 or summary is None:
                problems.append(f"{mode}: exit {status}: {err}")
                continue
            c = summary["ports"][0]
            got = (c["tx_from_vm"], c["tx_invalid"], c["tx_packets"], summary["refused"])
            if got != (4, 3, 1, 2):
                problems.append(f"{mode}: from_vm/invalid/sent/refused {got}, expected "
                                f"(4, 3, 1, 2)")
        mem.close()
    report("garbage", "; ".join(problems) or pool_problem(seg))


def case_wedged_free_ring():
    # An ivshm-port killed between the two halves of a put leaves the free
    # ring's head ahead of its tail (simulated here by moving the head): the
    # next one must repair it when alone on the pool, and refuse with one
    # line beside a live user of the ring, never wait for ever.
    seg = "wr"
    create(seg, "--mempool", "name=pkts,count=256,size=2048",
           *[a for r in ("rx0", "tx0", "rx1", "tx1") for a in ("--ring", f"name={r},slots=64")],
           size="4M")
    info, pool = inspect_object(seg, "pkts")
    free_ring = pool["offset"]

    def wedge():
        with open(info["path"], "r+b") as f:
            mem = mmap.mmap(f.fileno(), 0)
            head = struct.unpack_from("<I", mem, free_ring)[0]
            struct.pack_into("<I", mem, free_ring, head + 1)
            mem.close()

    def attached(port):
        """Until port holds a party slot in seg (or 30 s)."""
        deadline = time.monotonic() + 30
        while port.running() and time.monotonic() < deadline:
            parties = json.loads(ivshm("inspect", seg, "--json").stdout)["parties"]
            if any(p["pid"] == port.proc.pid and p["state"] == "alive" for p in parties):
                return
            time.sleep(0.05)

    def killed_port(queue, tag):
        port = Port(eal("net_null0"), ["--port", f"0={seg}:{queue}"], tag)
        attached(port)
        time.sleep(0.5)  # it takes buffers (net_null never runs dry)
        port.kill()

    problems = []
    # Beside a live user: refused. The live one must be attached before the
    # check (on a loaded machine its EAL may start later than the others').
    live = Port(eal("net_null0"), ["--port", f"0={seg}:1"], "wedged-live")
    attached(live)
    killed_port(0, "wedged-dead1")
    wedge()
    proc = subprocess.run([PORT, *eal("net_null0"), "--", "--port", f"0={seg}:0"], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    err = proc.stderr.strip()
    if proc.returncode != 1 or "half-updated" not in err or len(err.splitlines()) != 1:
        problems.append(f"beside a live party: exit {proc.returncode}, {err!r}")
    live.kill()  # it waits on the wedged ring now: only SIGKILL stops it
    # Alone: repaired, the dead parties' buffers taken back, traffic runs.
    port = Port(eal("net_null0"), ["--port", f"0={seg}:0"], "wedged-alone")
    time.sleep(2.0)
    status, summary, err = port.stop()
    if status != 0 or summary is None:
        problems.append(f"alone: exit {status}: {err}")
    elif summary["reclaimed"] == 0 or summary["ports"][0]["rx_to_vm"] == 0:
        problems.append(f"alone: reclaimed {summary['reclaimed']}, "
                        f"rx_to_vm {summary['ports'][0]['rx_to_vm']}")
    report("wedged-free-ring", "; ".join(problems) or pool_problem(seg))


def case_one_queue_twice():
    seg = "oq"
    create(seg)
    fwd = start_wire(seg)  # rx0 -> tx0: what the port sends comes back to it
    first = Port(eal("net_null0"), ["--port", f"0={seg}:0", "--exit"], "oq-first")
    deadline = time.monotonic() + 30
    while first.running() and pool_state(seg)[0] == pool_state(seg)[1] and \
            time.monotonic() < deadline:
        time.sleep(0.05)  # until it moves buffers: it has claimed queue 0 by then
    problems = [p for p in (
        expect_error(eal("net_null0") + ["--", "--port", f"0={seg}:0"], 1,
                     ["queue 0 is driven by ivshm-port", f"pid {first.proc.pid}"],
                     "a second ivshm-port"),
        expect_error(eal("net_null0") + ["--", "--port", f"0={seg}/rx0,{seg}/tx0"], 1,
                     ["queue 0 is driven by ivshm-port"], "a second one by ring paths")) if p]
    gen = run(os.path.join(BUILD, "bin", "ivshm"), "pktgen", seg, "--queues", "1", "--count",
              "1000", "--timeout", "3", check=False)
    gen_err = gen.stderr.strip()
    if gen.returncode != 1 or len(gen_err.splitlines()) != 1 or "driven by ivshm-port" not in gen_err:
        problems.append(f"pktgen: exit {gen.returncode}, {gen_err!r}")
    if not first.running():
        problems.append(f"the first ivshm-port stopped: {first.stderr()}")
    stopped, _ = stop_problem(first)
    problem = "; ".join(problems) or stopped or wait_fwd(fwd) or pool_problem(seg)
    report("one-queue-twice", problem)


def idle_share(pid, seconds):
    """Share of one CPU that pid used over `seconds` (utime + stime)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def wake_counts(summary):
    """ivshm-port's wake-up counters, summed over its ports."""
    return {k: sum(p[k] for p in summary["ports"]) for k in
            ("sleeps", "wakeups", "port_wakeups", "rings")}


def case_adaptive_vm():
    seg = "ka"
    create(seg, queues=2)
    serve(seg)
    # No mode= word: the guest is adaptive because its devices have doorbells.
    vm, log = start_vm(FWD_ELF, [seg], " ".join(cross_words(seg)) + " mac=keep",
                       tag="adaptive-vm", doorbell=True)
    a, b = Netns("a"), Netns("b")
    ia, ib = f"ivp{TAG}e", f"ivp{TAG}f"
    # No --mode: adaptive, since the server answers.
    port = Port(eal(tap(0, ia, "02:00:00:77:00:05"), tap(1, ib, "02:00:00:77:00:06")),
                ["--port", f"0={seg}:0", "--port", f"1={seg}:1", "--exit"], "adaptive-vm")
    plug(port, ia, a, "10.77.0.1")
    plug(port, ib, b, "10.77.0.2")
    if not ping_until_up(a, "10.77.0.2", 60):
        problem, _ = stop_problem(port)
        report("adaptive-vm", f"no ping reply within 60 s ({problem or 'ivshm-port stopped'})")
        return
    # 200 ms apart: both sides fall asleep (idle spell 50 us) between two.
    loss, avg, mx, out = ping(a, "10.77.0.2", 20, 0.2)
    problems = [] if loss == 0 else [f"ping lost {loss} %: {out}"]
    share = idle_share(port.proc.pid, 3.0)
    if share > 0.3:
        problems.append(f"idle ivshm-port used {share:.0%} of a CPU")
    stopped, summary = stop_problem(port)
    if stopped:
        problems.append(stopped)
    else:
        f, w = summary["forwarder"], wake_counts(summary)
        if summary["mode"] != "adaptive":
            problems.append(f"ivshm-port in mode {summary['mode']} beside a doorbell server")
        if f["sleeps"] == 0 or f["wakeups"] == 0:
            problems.append(f"the forwarder slept {f['sleeps']} times, rung awake {f['wakeups']}")
        if w["sleeps"] == 0 or w["wakeups"] == 0 or w["rings"] == 0:
            problems.append(f"ivshm-port slept {w['sleeps']} times, rung awake {w['wakeups']}, "
                            f"rang the forwarder {w['rings']} times")
        if not all(p["rx_interrupt"] for p in summary["ports"]) or w["port_wakeups"] == 0:
            problems.append(f"the taps' rx interrupts woke ivshm-port {w['port_wakeups']} times "
                            f"(rx_interrupt: {[p['rx_interrupt'] for p in summary['ports']]})")
        if summary["forwarder_stopped"] is not True:
            problems.append("the forwarder did not finish after EXIT")
    problem = "; ".join(problems) or wait_vm(vm, log) or pool_problem(seg)
    report("adaptive-vm", problem, summary and
           f"ping 20 x 200 ms: {loss:g} % loss, rtt avg {avg:.3f} ms max {mx:.3f} ms; idle "
           f"ivshm-port {share:.1%} of a CPU; ivshm-port {wake_counts(summary)}; forwarder "
           f"{summary['forwarder']}")


def case_adaptive_idle():
    seg = "ai"
    create(seg)
    serve(seg)
    fwd = start_wire(seg)
    problems, figures = [], []
    for mode in ("adaptive", "poll"):
        args = ["--port", f"0={seg}:0", "--mode", mode] + (["--exit"] if mode == "poll" else [])
        port = Port(eal("net_null0,no-rx=1"), args, f"idle-{mode}")
        time.sleep(1.5)  # EAL is up, the worker idle
        share = idle_share(port.proc.pid, 2.0)
        stopped, summary = stop_problem(port)
        if stopped:
            problems.append(f"{mode}: {stopped}")
            continue
        sleeps = wake_counts(summary)["sleeps"]
        figures.append(f"{mode}: {share:.1%} of a CPU, {sleeps} sleeps")
        if summary["mode"] != mode:
            problems.append(f"--mode {mode} ran in mode {summary['mode']}")
        elif mode == "poll" and sleeps:
            problems.append(f"mode poll slept {sleeps} times")
        elif mode == "adaptive" and (share > 0.3 or sleeps == 0 or
                                     summary["ports"][0]["rx_interrupt"]):
            problems.append(f"adaptive, idle: {share:.0%} of a CPU, {sleeps} sleeps, rx_interrupt "
                            f"{summary['ports'][0]['rx_interrupt']} (net_null has none)")
    problem = "; ".join(problems) or wait_fwd(fwd) or pool_problem(seg)
    report("adaptive-idle", problem, "; ".join(figures))


CASES = [("errors", case_errors), ("garbage", case_garbage),
         ("wedged-free-ring", case_wedged_free_ring), ("namespaces-vm", case_namespaces_vm),
         ("namespaces-host", case_namespaces_host), ("pcap", case_pcap),
         ("kill-restart", case_kill_restart), ("two-processes", case_two_processes),
         ("one-queue-twice", case_one_queue_twice), ("adaptive-vm", case_adaptive_vm),
         ("adaptive-idle", case_adaptive_idle)]


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (taps, network namespaces)")
        return 0
    if not os.access(PORT, os.X_OK):
        print(f"skipped: {PORT} not built (DPDK missing: scripts/install-deps installs it)")
        return 0
    return run_cases(CASES, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
