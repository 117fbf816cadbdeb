#!/usr/bin/env python3
"""Estimated cycles per inference of edgemlp-mcu on Cortex-M cores.

qemu does not model time, so this is an estimate on paper
(docs/microcontrollers.md): each core's int8 kernel (mcu/kernels_mcu.cc; the
scalar reference, runtime/src/forward_ref.cc, on cores without the DSP
extension) is compiled with the firmware's flags, its inner loop (the one
with the most multiply-accumulates) goes to llvm-mca-19 with the core's
scheduling model for the steady-state cycles per iteration, and

  cycles = sum over layers of  row_groups x iterations_per_row x loop_cycles
                             + rows x ROW_CYCLES

where a row group is the rows one pass of the loop computes (4 in the DSP and
Helium kernels, 1 in the reference), an iteration covers bytes_per_iteration
of the padded row, and ROW_CYCLES is an assumed per-row epilogue (bias, the
64-bit requantization, clamp, store, loop control; not measured). Memory is
taken as zero-wait-state (TCM or a flash cache that hits).

With --int4 every layer has int4 weights (train --qat int4, the micro
preset): no core has an int4 kernel, so each runs the reference's int4 loop
(runtime/src/forward_schemes_ref.cc, one MAC per iteration; on the M0+ that
loop branches between the two nibble halves: the high half's path is
counted). The area input transform before layer 0 is not counted.

Usage: tools/scripts/mcu-cycles.py [--arch 784-256-128-10 ...] [--int4] [--json]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROW_CYCLES = 25  # assumed per output row: see the docstring

# core: (gcc flags, llvm-mca triple, usual clock in MHz and a part that runs it)
CORES = {
    "cortex-m0plus": (["-mcpu=cortex-m0plus"], "thumbv6m-none-eabi", 133, "RP2040"),
    "cortex-m4": (["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                  "thumbv7em-none-eabi", 168, "STM32F407"),
    "cortex-m7": (["-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
                  "thumbv7em-none-eabi", 480, "STM32H743"),
    "cortex-m33": (["-mcpu=cortex-m33", "-mfloat-abi=hard"], "thumbv8m.main-none-eabi", 150,
                   "RP2350"),
    "cortex-m55": (["-mcpu=cortex-m55", "-mfloat-abi=hard"], "thumbv8.1m.main-none-eabi", 400,
                   "Alif Ensemble E7 high-performance core"),
}
# Bytes of one row an iteration of each kernel's loop covers.
BYTES_PER_ROW = {"helium": 16, "dsp": 4, "reference": 1}
MACS = {"smlad": 2, "vmladava.s8": 16, "mla": 1, "muls": 1, "mul": 1}


def compile_asm(core, flags, source, out_dir):
    asm = os.path.join(out_dir, f"{core}-{os.path.basename(source)}.s")
    inc = [f"-I{ROOT}/{d}" for d in ("mcu", "runtime/include", "runtime/src",
                                     "runtime/format/include")]
    extra = ["-fno-tree-vectorize"] if "_ref.cc" in source else []
    subprocess.run(["arm-none-eabi-g++", "-std=c++17", "-O2", "-mthumb", *flags, *extra,
                    "--specs=picolibcpp.specs", "-fno-exceptions", "-fno-rtti", *inc, "-S",
                    "-o", asm, os.path.join(ROOT, source)], check=True)
    return open(asm).read().splitlines()


def backward_loops(lines, branch):
    """Each loop (a label, then a backward branch matching `branch` to it):
    its instructions, label line excluded, branch included."""
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.L\w+):", line)
        if m:
            labels[m.group(1)] = i
            continue
        m = re.match(r"^\s+" + branch + r"\s+(?:lr,\s*)?(\.L\w+)\s*$", line)
        if m and m.group(m.lastindex) in labels and labels[m.group(m.lastindex)] < i:
            yield [l.split("@")[0].rstrip() for l in lines[labels[m.group(m.lastindex)] + 1:i + 1]
                   if re.match(r"^\s+[a-z]", l) and not re.match(r"^\s+\.", l)]


def mac_loop(lines):
    """The loop (label .. backward branch) with the most MACs: its instructions."""
    best = (0, None)
    for body in backward_loops(lines, r"(b\w*|le|letp)"):
        if any(re.match(r"^\s+(b\w*|le|letp)\s", l) for l in body[:-1]):
            continue  # not an innermost loop
        macs = sum(MACS.get(l.split()[0], 0) for l in body)
        if macs > best[0]:
            best = (macs, body)
    return best


def int4_loop(lines):
    """The reference's int4 loop (the one that shifts a nibble down by 4 and
    multiplies), internal branches allowed: its instructions, or None."""
    for body in backward_loops(lines, r"(b\w*)"):
        if (any(MACS.get(l.split()[0], 0) for l in body) and
                any(re.match(r"^\s+(asr\w*\s.*#4|sbfx\w*\s.*#0, #4)$", l) for l in body)):
            return body
    return None


def m0plus_cycles(body):
    """LLVM has no Cortex-M0+ scheduling model: the TRM's timings (Cortex-M0+
    Technical Reference Manual, 3.3): loads and taken branches 2 cycles,
    everything else 1, MULS 1 (the single-cycle multiplier the RP2040 has)."""
    return sum(2 if re.match(r"\s+(ldr|b)", l) else 1 for l in body), ["Cortex-M0+ TRM"]


def mca_cycles(triple, core, body, out_dir):
    if core == "cortex-m0plus":
        return m0plus_cycles(body)
    path = os.path.join(out_dir, f"{core}-loop.s")
    label = re.search(r"(\.L\w+)\s*$", body[-1]).group(1)
    with open(path, "w") as f:
        f.write(label + ":\n" + "\n".join(body) + "\n")
    out = subprocess.run(["llvm-mca-19", f"-mtriple={triple}", f"-mcpu={core}", "-iterations=1000",
                          # Helium's low-overhead loop end (LE) has no scheduling data:
                          # counted as free, as the M55's loop cache makes it.
                          "-skip-unsupported-instructions=lack-sched", path], capture_output=True, text=True, check=True).stdout
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / 1000
    units = re.findall(r"^\[\d+\]\s+-\s+(\S+)", out, re.M)
    return cycles, units


def estimate(arch, loop):
    sizes = [int(v) for v in arch.split("-")]
    total = 0.0
    for n_in, n_out in zip(sizes, sizes[1:]):
        # The SIMD-style kernels read the padded row; the reference in_size.
        stride = n_in if loop["bytes"] == 1 else (n_in + 63) // 64 * 64
        groups = (n_out + loop["rows"] - 1) // loop["rows"]
        total += groups * (stride / loop["bytes"]) * loop["cycles"] + n_out * ROW_CYCLES
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", action="append", help="layer sizes, e.g. 784-256-128-10")
    p.add_argument("--int4", action="store_true",
                   help="every layer int4: the reference's int4 loop on every core")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    archs = a.arch or ["784-256-128-10", "784-32-10"]
    for tool, package in (("arm-none-eabi-g++", "gcc-arm-none-eabi"), ("llvm-mca-19", "llvm-19")):
        if shutil.which(tool) is None:
            sys.exit(f"mcu-cycles.py: {tool} not found (tools/scripts/install-deps.sh {package})")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for core, (flags, triple, mhz, part) in CORES.items():
            if a.int4:
                body = int4_loop(compile_asm(core, flags, "runtime/src/forward_schemes_ref.cc",
                                             tmp))
                macs, kernel = 1, "reference"
                if body is None:
                    sys.exit(f"mcu-cycles.py: no int4 loop found for {core}")
            else:
                macs, body = mac_loop(compile_asm(core, flags, "mcu/kernels_mcu.cc", tmp))
                kernel = "helium" if any("vmladava" in l for l in body or []) else "dsp"
            if not macs:  # no DSP: the reference is the kernel
                macs, body = mac_loop(compile_asm(core, flags, "runtime/src/forward_ref.cc", tmp))
                kernel = "reference"
            step = BYTES_PER_ROW[kernel]
            cycles, units = mca_cycles(triple, core, body, tmp)
            loop = {"rows": macs // step, "bytes": step, "cycles": cycles,
                    "instructions": len(body)}
            row = {"core": core, "kernel": kernel, "model_units": units[:4], "clock_mhz": mhz,
                   "part": part, "loop": loop, "models": {}}
            for arch in archs:
                c = estimate(arch, loop)
                row["models"][arch] = {"cycles": round(c), "us": round(c / mhz, 1)}
            results.append(row)
    if a.json:
        print(json.dumps(results))
        return
    print(f"{'core':14s} {'kernel':9s} {'loop':>24s}  " +
          "  ".join(f"{arch:>26s}" for arch in archs))
    for r in results:
        loop = r["loop"]
        desc = (f"{loop['instructions']} instr {loop['cycles']:.1f} cyc/"
                f"{loop['rows'] * loop['bytes']} MAC")
        cols = "  ".join(f"{m['cycles']:>10,d} cyc {m['us']:>7.1f} us" for m in r["models"].values())
        print(f"{r['core']:14s} {r['kernel']:9s} {desc:>24s}  {cols}   "
              f"@{r['clock_mhz']} MHz; model: {','.join(r['model_units'][:2])}")


if __name__ == "__main__":
    sys.exit(main())
