"""What the Python CLI tests share: running a program and failing with
its exit code and the tail of its output when the code is not the one
expected."""
import subprocess


def run(program, args, expect=0):
    """Runs program with args; returns the CompletedProcess (text mode)."""
    p = subprocess.run([program, *args], capture_output=True, text=True)
    if p.returncode != expect:
        name = program.rsplit("/", 1)[-1]
        raise AssertionError(
            f"{name} {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
            f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p
