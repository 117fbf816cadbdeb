#!/usr/bin/env python3
"""Raspberry Pi speed evidence without a Pi (docs/raspberry-pi.md).

One aarch64 binary ships to the Zero 2 W, Pi 3, 4 and 5 (the sdot kernel is
picked at run time), so every estimate comes from that one build, each on the
path its board takes: QEMU_CPU=cortex-a53 (NEON smull/smlal2/sadalp) for the
Pi 3 and Zero 2 W, cortex-a72 (the same kernel) for the Pi 4, cortex-a76
(sdot) for the Pi 5.

1. Instructions per inference, counted under qemu: edgemlp-firmware runs with
   -singlestep -d nochain,exec (one log line per executed instruction); each
   line's guest PC is attributed to a function with nm. Per inference:
   SIMD = ForwardI8Impl and the kernels it calls, (12 frames - 4 frames) / 8;
   reference = Forward/Dense*Ref / 2 (start-up verification runs PredictRef
   twice).
2. Cycles of the inner dot-product loops from llvm-mca-19, on the loops GCC
   emits for the runtime's forward.cc with the build's own compile command.
   LLVM 19 has its own in-order Cortex-A53 model (CortexA53Model, used for the
   Pi 3 and Zero 2 W) but no Cortex-A72 or Cortex-A76 model (-mcpu=cortex-a72
   and cortex-a76 both fall back to its Cortex-A57 model): the Pi 4 uses that
   A57 model (the A72 is the A57's successor, same F0/F1 NEON pipes), the
   Pi 5 the Neoverse N1 model (the N1 is built on the Cortex-A76 core). The
   model is named in the output, read from llvm-mca's resource names. Loop
   cycles times the iterations the model's layers need, scaled by (all
   instructions / loop instructions) from step 1, at each board's clock.
3. A memory term: the weight bytes per image over the read rate of the level
   they live in (all weights of the default model fit in L2, 512 KB on the
   Cortex-A53 boards). The estimate is
   the larger of compute and memory.

Usage: tools/scripts/pi-speed.py MODEL.q8 ARCH BUILD_AARCH64
  e.g. tools/scripts/pi-speed.py model.q8 784-256-128-10 build-aarch64
"""
import bisect
import collections
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

MCA = "llvm-mca-19"


def count_instructions(exe, model, cpu):
    """Instructions per inference: {'simd': n, 'ref': n}. SIMD: the difference
    between runs of 12 and 4 frames / 8 (start-up checks call Predict 2 to 4
    times, depending on the blob)."""
    few, many = trace_counts(exe, model, cpu, 4), trace_counts(exe, model, cpu, 12)
    return {"simd": (many["simd"] - few["simd"]) / 8, "ref": few["ref"] / 2}


def trace_counts(exe, model, cpu, frames):
    """Instructions executed in the SIMD forward pass and the reference."""
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
    # The forward pass: ForwardI8Impl and the sdot layer loop it calls (not
    # inlined: it is compiled for +dotprod).
    simd = sum(n for f, n in per_function.items()
               if "::ForwardI8Impl(" in f or "::SdotDense<" in f)
    ref = sum(n for f, n in per_function.items()
              if re.search(r"internal::(ForwardI8Ref|DenseI8ToU8Ref|DenseI8ToI32Ref)\(", f))
    return {"simd": simd, "ref": ref}


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


def mca(body, cpu):
    """(cycles per iteration, the scheduling model's name) from llvm-mca-19."""
    out = subprocess.run([MCA, "-mtriple=aarch64-linux-gnu", f"-mcpu={cpu}", "-mattr=+dotprod",
                          "-iterations=1000"], input="\n".join(body) + "\n",
                         capture_output=True, text=True, check=True).stdout
    unit = re.search(r"\[\S+\]\s+- (\w+?)Unit", out).group(1)
    model = {"A53": "Cortex-A53", "A57": "Cortex-A57", "N1": "Neoverse-N1"}.get(unit, unit)
    return int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / 1000, model


def mca_cycles(body, cpu):
    return mca(body, cpu)[0]


def compile_asm(build, source, extra=()):
    """GCC's assembly for one of the runtime's sources, compiled with the
    build's own command (its compile_commands.json: compiler, flags, include
    paths), so the loops are the ones that ship to the board."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = [e for e in json.load(f)
                   if os.path.basename(e["file"]) == source and "runtime" in e["output"]]
    if not entries:
        sys.exit(f"pi-speed: {build}/compile_commands.json has no runtime {source}")
    args = shlex.split(entries[0]["command"])
    # Drop the object output and dependency file; print assembly instead.
    keep, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-MQ", "-MF"):
            skip = True
        elif a not in ("-c", "-MD", "-Werror"):
            keep.append(a)
    return subprocess.run([*keep[:-1], *extra, "-S", "-o", "-", keep[-1]],
                          cwd=entries[0]["directory"], capture_output=True, text=True,
                          check=True).stdout


def pick(found, must, count=None, eor=None):
    """The first loop whose mnemonics include `must` (count times; and `eor`
    eors: one per activation load tells batch 1 from the batched loops)."""
    for label, body in found:
        ops = [l.split()[0] for l in body]
        if (sum(op == must for op in ops) == (count or ops.count(must)) and must in ops
                and (eor is None or ops.count("eor") == eor)):
            return body
    raise SystemExit(f"no loop with {count or ''} {must}")


# Read rates for the memory term, bytes per second, and their sources:
# - Pi 4 DRAM: STREAM on a Pi 4, best kernel 5.56 GB/s
#   (http://www.sci-pi.org.uk/bench/stream.html).
# - Pi 5 DRAM: 32-bit LPDDR4X-4267, 17 GB/s peak
#   (https://threedots.ovh/blog/2023/09/gathering-some-raspberry-pi-5-details/;
#   a peak, not a measurement).
# - Pi 3 B+ and Zero 2 W DRAM (LPDDR2, BCM2837 / RP3A0): tinymembench
#   "standard memcpy" 1,050 MB/s on a Pi 3 B+ and 1,296 MB/s on a Zero 2 W
#   (https://github.com/ThomasKaiser/Knowledge/blob/master/articles/Quick_Review_of_RPi_Zero_2_W.md).
#   A copy reads and writes every byte, so the read rate is higher: taken as
#   is, the term is pessimistic.
# - L2 (Pi 4: 1 MB shared; Pi 5: 512 KB per core, 2 MB L3; Pi 3 and Zero 2 W:
#   512 KB shared, 13 ns load latency at 1 GHz in the same review): no measured
#   read rate found. Assumed 16 bytes per cycle (one 128-bit load per cycle)
#   on the A72 and A76, 8 on the in-order A53, whose few outstanding line
#   fills cannot hide that latency. `edgemlp-firmware --bench` reports the real
#   rate on a board.
BOARDS = [  # board, llvm-mca -mcpu, QEMU_CPU, clock, L2 bytes, L2 B/s, DRAM B/s
    ("Zero 2 W", "cortex-a53", "cortex-a53", 1.0e9, 512 << 10, 8 * 1.0e9, 1.296e9),
    ("Pi 3 B+", "cortex-a53", "cortex-a53", 1.4e9, 512 << 10, 8 * 1.4e9, 1.05e9),
    ("Pi 4", "cortex-a72", "cortex-a72", 1.8e9, 1 << 20, 16 * 1.8e9, 5.56e9),
    ("Pi 5", "neoverse-n1", "cortex-a76", 2.4e9, 512 << 10, 16 * 2.4e9, 17e9),
]


def main():
    model, arch, build = sys.argv[1:4]
    sizes = [int(s) for s in arch.split("-")]
    layers = [(sizes[i], sizes[i + 1], (sizes[i] + 63) // 64 * 64) for i in range(len(sizes) - 1)]
    weight_bytes = sum(out * stride for _, out, stride in layers)
    exe = os.path.join(build, "firmware-sample/edgemlp-firmware")
    fwd = loops(compile_asm(build, "forward.cc"))
    ref_scalar = loops(compile_asm(build, "forward_ref.cc", ["-fno-tree-vectorize"]))
    print(f"model {arch}; layers (in, out, stride) {layers}; {weight_bytes:,} weight bytes")
    print(f"binary {exe} (one build for every board); {MCA}")
    counts = {}  # per QEMU_CPU: the Zero 2 W and Pi 3 run the same path
    for board, mcpu, qemu_cpu, hz, l2_bytes, l2_rate, dram_rate in BOARDS:
        if qemu_cpu not in counts:
            counts[qemu_cpu] = count_instructions(exe, model, qemu_cpu)
        counted = counts[qemu_cpu]
        if qemu_cpu == "cortex-a76":
            # SdotBlock16<1>: 2 x 16 sdot per iteration, 16 rows x 32 bytes.
            name, body = "sdot (packed, by element)", pick(fwd, "sdot", 32)
            macs = 16 * 32
            iters = sum((out + 15) // 16 * (stride // 32) for _, out, stride in layers)
        else:
            # NeonDot<1, 8>: 8 rows x 16 bytes per iteration.
            name, body = "NEON smull/smlal2/sadalp", pick(fwd, "smlal2", 8, eor=1)
            macs = 8 * 16
            iters = sum((out + 7) // 8 * (stride // 16) for _, out, stride in layers)
        cycles, model_name = mca(body, mcpu)
        loop_cycles = iters * cycles
        simd_cycles = loop_cycles * counted["simd"] / (iters * len(body))
        level, rate = ("L2", l2_rate) if weight_bytes <= l2_bytes else ("DRAM", dram_rate)
        memory_us = weight_bytes / rate * 1e6
        compute_us = simd_cycles / hz * 1e6
        rs_cycles, _ = mca(pick(ref_scalar, "madd"), mcpu)
        ref_us = sum(inp * out for inp, out, _ in layers) * rs_cycles / hz * 1e6
        print(f"{board} (QEMU_CPU={qemu_cpu}, {hz / 1e9:.1f} GHz), llvm-mca -mcpu={mcpu}: "
              f"{model_name} scheduling model")
        print(f"  qemu: {counted['simd']:,.0f} instructions per inference (SIMD), "
              f"{counted['ref']:,.0f} (the reference)")
        print(f"  inner loop, {name}: {cycles:.2f} cycles per {macs} MACs = "
              f"{macs / cycles:.1f} MAC/cycle ({len(body)} instructions)")
        print(f"  compute: {simd_cycles:,.0f} cycles = {compute_us:.1f} us/image; memory: "
              f"{weight_bytes:,} B from {level} at {rate / 1e9:.1f} GB/s = {memory_us:.1f} us")
        print(f"  estimate: {max(compute_us, memory_us):.1f} us/image "
              f"({'compute' if compute_us >= memory_us else 'memory'}-bound); "
              f"scalar reference loop alone ({rs_cycles:.2f} cycles/MAC): {ref_us:.0f} us")


if __name__ == "__main__":
    main()
