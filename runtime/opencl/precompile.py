"""Kernels compiled ahead, by a helper process, while the first call runs.

pocl compiles each kernel at its first launch (60-300 ms each on a CPU),
and one process compiles one kernel at a time (pocl holds a compiler lock),
so a new program's first call spends most of its time compiling, on one
core. pocl writes each compiled kernel to its cache folder, which is the
kernel store's staging folder (kcache.py), and a process finds there what
another process compiled. So on a CPU device with two cores or more, a new
program's first call also hands its kernels to a helper process, which
launches them once each, in reverse order of first use, on zeroed buffers
of the real sizes and a single work-group: when the first call reaches a
kernel the helper has compiled, pocl loads it instead of compiling it.

The helper runs at a lower priority and its results are thrown away: what
the program computes comes from the main process alone, with the same
compiled kernels. `SYM_PRECOMPILE=0` turns the helper off.

This file is also the helper's program (`python precompile.py`), reading
one job a line (JSON) on its standard input; it imports pyopencl and numpy
only, so it starts quickly.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

MIN_KERNELS = 3     # fewer kernels left to compile: not worth a process
MAX_BYTES = 256 * 2**20     # a launch with larger buffers is left to the main process


def enabled() -> bool:
    return os.environ.get("SYM_PRECOMPILE", "1") != "0" and (os.cpu_count() or 1) >= 2


def compiled(folder: Path, kernel: str) -> bool:
    """pocl has written a compiled `kernel` in the program's cache folder
    (one subfolder per work-group size)."""
    return any((folder / kernel).glob("*/*.so"))


class Helper:
    """The helper process, started at its first job; jobs go one a line."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.jobs = 0
        self.lock = threading.Lock()    # calls from several threads: one whole line each

    def start(self) -> None:
        """Start the process (it takes ~0.3 s to be ready), unless running;
        where no process can be started (no Python at sys.executable, no
        more processes), there is no helper and nothing else changes."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                try:
                    self.process = subprocess.Popen(
                        [sys.executable, __file__], stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
                except (OSError, ValueError):
                    self.process = None

    def submit(self, job: dict) -> None:
        self.start()
        with self.lock:
            try:
                self.process.stdin.write(json.dumps(job) + "\n")
                self.process.stdin.flush()
                self.jobs += 1
            except (AttributeError, OSError, ValueError):
                pass    # no helper, or it has gone: the main process compiles as before

    def finish(self, timeout: float | None = None) -> None:
        """No more jobs: wait for the helper (tests), at most `timeout` s."""
        if self.process is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def close(self) -> None:
        """At exit: stop the helper before the store copies the staging folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def job(platform: str, device: str, source: str, options: list, folder: Path, launches: list) -> dict:
    """The helper's job: the launches (kernel name, local size, args) not
    compiled yet, last first, args: ("buf", bytes) | ("long", value) |
    ("int", value); a launch needing more than MAX_BYTES of buffers is left
    out (the helper's buffers are its own)."""
    todo = [list(launch) for launch in launches if not compiled(folder, launch[0])
            and sum(size for kind, size in launch[2] if kind == "buf") <= MAX_BYTES]
    return {"platform": platform, "device": device, "source": source, "options": options,
            "folder": str(folder), "launches": todo[::-1]}


# ---- the helper process -------------------------------------------------------------
def _run_job(cl, np, contexts: dict, spec: dict) -> None:
    key = (spec["platform"], spec["device"])
    if key not in contexts:
        device = next(d for p in cl.get_platforms() if p.name == key[0]
                      for d in p.get_devices() if d.name == key[1])
        context = cl.Context([device])
        contexts[key] = (context, cl.CommandQueue(context))
    context, queue = contexts[key]
    program = cl.Program(context, spec["source"]).build(options=spec["options"], cache_dir=False)
    folder = Path(spec["folder"])
    for name, local, args in spec["launches"]:
        if not compiled(folder, name):      # else the main process got there first
            try:
                _launch_once(cl, np, context, queue, cl.Kernel(program, name), local, args)
            except cl.Error:
                pass        # the main process compiles this one


def _launch_once(cl, np, context, queue, kernel, local, args) -> None:
    """One work-group of `kernel` on zeroed buffers: pocl compiles it."""
    buffers = []
    for i, (kind, value) in enumerate(args):
        if kind == "buf":
            size = max(int(value), 8)
            buffers.append(cl.Buffer(context, cl.mem_flags.READ_WRITE, size))
            cl.enqueue_fill_buffer(queue, buffers[-1], np.uint8(0), 0, size)
            kernel.set_arg(i, buffers[-1])
        else:
            kernel.set_arg(i, (np.int64 if kind == "long" else np.int32)(value))
    cl.enqueue_nd_range_kernel(queue, kernel, tuple(local), tuple(local))
    queue.finish()
    for b in buffers:
        b.release()


def main() -> None:
    try:
        os.nice(10)     # only the cores the main process leaves idle
    except OSError:
        pass
    import numpy as np
    import pyopencl as cl
    contexts: dict = {}
    for line in sys.stdin:
        try:
            _run_job(cl, np, contexts, json.loads(line))
        except Exception:
            pass        # whatever the helper misses, the main process compiles


if __name__ == "__main__":
    main()
