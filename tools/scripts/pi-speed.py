#!/usr/bin/env python3
"""Raspberry Pi speed evidence without a Pi (docs/raspberry-pi.md).

1. Instructions per inference, counted under qemu: edgemlp-firmware runs with
   -singlestep -d nochain,exec (one log line per executed instruction); each
   line's guest PC is attributed to a function with nm. Per inference:
   SIMD = ForwardI8Impl / (frames + 2), reference = Forward/Dense*Ref / 2
   (start-up verification runs Predict and PredictRef twice each).
2. Cycles of the inner dot-product loops from llvm-mca (-mcpu=cortex-a72 for
   the Pi 4, cortex-a76 for the Pi 5), on the loops GCC emits for
   runtime/src/forward.cc and forward_ref.cc; times the iterations the
   model's layers need, scaled by (all instructions / loop instructions) from
   step 1, at 1.8 GHz (Pi 4) and 2.4 GHz (Pi 5). The reference is estimated
   from its loops alone, scalar and auto-vectorized.

Usage: tools/scripts/pi-speed.py MODEL.q8 ARCH BUILD_PI4 BUILD_PI5
  e.g. tools/scripts/pi-speed.py model.q8 784-256-128-10 build-aarch64 build-pi5
"""
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CXX = "aarch64-linux-gnu-g++"
FLAGS = ["-std=c++17", "-O3", "-DNDEBUG", "-DHWY_COMPILE_ONLY_STATIC",
         f"-I{ROOT}/runtime/include", f"-I{ROOT}/runtime/src"]


def count_instructions(exe, model, cpu, frames=4):
    """Instructions per inference: {'simd': n, 'ref': n}."""
    syms = []
    nm = subprocess.run(["aarch64-linux-gnu-nm", "-C", "-S", exe], capture_output=True,
                        text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split(None, 3)
        if len(p) == 4 and p[2] in "tTwW":
            syms.append((int(p[0], 16), int(p[1], 16), p[3]))
    syms.sort()
    starts = [s[0] for s in syms]
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "trace")
        os.mkfifo(fifo)
        env = dict(os.environ, QEMU_CPU=cpu)
        proc = subprocess.Popen(
            ["qemu-aarch64-static", "-singlestep", "-d", "nochain,exec", "-D", fifo, exe,
             "--model", model], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env)
        proc.stdin.write(bytes(range(256)) * (784 * frames // 256) + bytes(784 * frames % 256))
        proc.stdin.close()
        counts = collections.Counter()
        pc_re = re.compile(r"/([0-9a-f]{16})/")
        with open(fifo) as trace:
            for line in trace:
                m = pc_re.search(line)
                if m:
                    counts[int(m.group(1), 16)] += 1
        proc.wait()
    per_function = collections.Counter()
    for pc, n in counts.items():
        i = bisect.bisect_right(starts, pc) - 1
        if i >= 0 and pc < syms[i][0] + syms[i][1]:
            per_function[syms[i][2]] += n
    simd = sum(n for f, n in per_function.items() if "::ForwardI8Impl(" in f)
    ref = sum(n for f, n in per_function.items()
              if re.search(r"internal::(ForwardI8Ref|DenseI8ToU8Ref|DenseI8ToI32Ref)\(", f))
    return {"simd": simd / (frames + 2), "ref": ref / 2}


def loops(asm):
    """Single-block loops in GCC assembly: (label, [instructions])."""
    lines = asm.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\.L\w+):$", line)
        if not m:
            continue
        body = []
        for l in lines[i + 1:]:
            if re.match(r"^\.L\w+:", l):
                break
            if l.startswith("\t") and not l.strip().startswith("."):
                body.append(l)
                if re.search(r"\t" + re.escape(m.group(1)) + r"$", l):
                    found.append((m.group(1), body))
                    break
    return found


def mca_cycles(body, cpu):
    out = subprocess.run(["llvm-mca", "-mtriple=aarch64-linux-gnu", f"-mcpu={cpu}",
                          "-iterations=1000"], input="\n".join(body) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / 1000


def compile_asm(source, cpu, extra=()):
    return subprocess.run([CXX, *FLAGS, f"-mcpu={cpu}", *extra, "-S", "-o", "-",
                           os.path.join(ROOT, "runtime/src", source)],
                          capture_output=True, text=True, check=True).stdout


def pick(found, must, count=None):
    """The first loop whose mnemonics include `must` (count times)."""
    for label, body in found:
        ops = [l.split()[0] for l in body]
        if sum(op == must for op in ops) == (count or ops.count(must)) and must in ops:
            return body
    raise SystemExit(f"no loop with {count or ''} {must}")


def main():
    model, arch, build_pi4, build_pi5 = sys.argv[1:5]
    sizes = [int(s) for s in arch.split("-")]
    layers = [(sizes[i], sizes[i + 1], (sizes[i] + 63) // 64 * 64) for i in range(len(sizes) - 1)]
    boards = [("Pi 4", "cortex-a72", 1.8e9, build_pi4), ("Pi 5", "cortex-a76", 2.4e9, build_pi5)]
    print(f"model {arch}; layers (in, out, stride) {layers}")
    for board, cpu, hz, build in boards:
        exe = os.path.join(build, "firmware-sample/edgemlp-firmware")
        counted = count_instructions(exe, model, cpu)
        fwd = loops(compile_asm("forward.cc", cpu))
        ref_vec = loops(compile_asm("forward_ref.cc", cpu))
        ref_scalar = loops(compile_asm("forward_ref.cc", cpu, ["-fno-tree-vectorize"]))
        # (name, 4-row loop, 1-row loop, bytes per iteration, instructions counted)
        if cpu == "cortex-a76":
            kernel = ("sdot", pick(fwd, "sdot", 4), pick(fwd, "sdot", 1), 16)
        else:
            kernel = ("NEON smlal", pick(fwd, "smlal", 4), pick(fwd, "smlal", 1), 8)
        name, body4, body1, step = kernel
        c4, c1 = mca_cycles(body4, cpu), mca_cycles(body1, cpu)
        iters4 = sum((out // 4) * (stride // step) for _, out, stride in layers)
        iters1 = sum((out % 4) * (stride // step) for _, out, stride in layers)
        loop_cycles = iters4 * c4 + iters1 * c1
        loop_insns = iters4 * len(body4) + iters1 * len(body1)
        simd_cycles = loop_cycles * counted["simd"] / loop_insns
        # The reference, kernel loop only: GCC -O3 auto-vectorizes it unless
        # built with -fno-tree-vectorize (runtime/meson.build decides).
        rv = pick(ref_vec, "saddw2")
        rv_cycles = sum(out * (inp // 16) for inp, out, _ in layers) * mca_cycles(rv, cpu)
        rs = pick(ref_scalar, "madd")
        rs_cycles = sum(inp * out for inp, out, _ in layers) * mca_cycles(rs, cpu)
        print(f"{board} ({cpu}, {hz / 1e9:.1f} GHz), binary {build}:")
        print(f"  qemu: {counted['simd']:,.0f} instructions per inference (SIMD), "
              f"{counted['ref']:,.0f} (the reference, as this binary was built)")
        print(f"  llvm-mca: {name} 4-row loop {c4:.2f} cycles/iteration ({len(body4)} instructions, "
              f"{4 * step} MACs), 1-row loop {c1:.2f}")
        print(f"  estimate: SIMD {simd_cycles:,.0f} cycles = {simd_cycles / hz * 1e6:.1f} us/image")
        print(f"  reference, kernel loops only: scalar ({mca_cycles(rs, cpu):.2f} cycles/MAC) "
              f"{rs_cycles / hz * 1e6:.1f} us; auto-vectorized by GCC -O3 "
              f"({mca_cycles(rv, cpu):.2f} cycles per 16 MACs) {rv_cycles / hz * 1e6:.1f} us")


if __name__ == "__main__":
    main()
