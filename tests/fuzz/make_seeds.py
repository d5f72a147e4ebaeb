#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed corpus of the fuzz targets, made with the CLI at build time.

    make_seeds.py IVSHM OUT_DIR

Creates segments of several shapes with `IVSHM create` in a scratch
directory and writes each, trailing zero bytes cut (the targets map an input
into zeroed memory, so nothing is lost), to OUT_DIR/segment/NAME.bin. For
fuzz_ops, OUT_DIR/ops/NAME-K.bin holds the same images behind a few
operation scripts (2-byte length, script, image), chosen by a fixed seed.
"""
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

SHAPES = {
    # name: create arguments after NAME
    "fwd": ["--size", "8M", "--preset", "fwd"],
    "tiny": ["--size", "4K", "--ring", "name=r,slots=1"],
    "ring-spsc": ["--size", "64K", "--ring", "name=rx,slots=64"],
    "ring-mpmc": ["--size", "64K", "--ring", "name=mp,slots=128,mode=mpmc"],
    "mempool": ["--size", "64K", "--mempool", "name=pool,count=40,size=100"],
    "memzone": ["--size", "64K", "--memzone", "name=zone,size=5000,align=4096"],
    "mixed": ["--size", "1M", "--ring", "name=a,slots=16", "--ring", "name=b,slots=16,mode=mpmc",
              "--mempool", "name=p,count=64,size=64", "--memzone", "name=z,size=100"],
    # the pool first: the ring slots after it are zeros, so the image stays short
    "many": ["--size", "2M", "--mempool", "name=pool,count=16,size=64"] +
            [arg for i in range(120) for arg in ("--ring", f"name=r{i},slots=4")] +
            ["--memzone", "name=last,size=64"],
}


def image(ivshm, scratch, name, args):
    env = dict(os.environ, IVSHM_DIR=scratch)
    subprocess.run([ivshm, "create", name, *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    data = open(os.path.join(scratch, f"ivshm-{name}"), "rb").read()
    return data.rstrip(b"\0")


def script(rng, length):
    # fuzz_ops reads an op byte, then its arguments: any bytes are a script.
    return bytes(rng.randrange(256) for _ in range(length))


def main():
    ivshm, out = sys.argv[1], sys.argv[2]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "segment"))
    os.makedirs(os.path.join(out, "ops"))
    rng = random.Random(13)
    scratch = tempfile.mkdtemp(prefix="ivshm-seeds-")
    try:
        for name, args in SHAPES.items():
            img = image(ivshm, scratch, name, args)
            open(os.path.join(out, "segment", f"{name}.bin"), "wb").write(img)
            for k, length in enumerate((0, 40, 400)):
                s = script(rng, length)
                with open(os.path.join(out, "ops", f"{name}-{k}.bin"), "wb") as f:
                    f.write(struct.pack("<H", len(s)) + s + img)
    finally:
        shutil.rmtree(scratch)
    print(f"make_seeds: {len(SHAPES)} segment seeds, {3 * len(SHAPES)} ops seeds in {out}")


if __name__ == "__main__":
    main()
