"""The inline f32 tanh (cgen's sym_tanhf_pocl, the OpenCL default) against
pocl's builtin tanh on every one of the 2^32 f32 bit patterns, and what
each costs on 1.44 million values (LeNet's first pooled layer).

    .venv/bin/python bench/tanh_bits.py [--chunks 16]

Prints the number of arguments whose results differ (NaNs of either sign
count as equal) and the median time of each over 7 launches. About 90 s on
2 cores. Only meaningful on pocl's CPU device: other drivers have their own
tanh.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import ensure_repo_on_path, machine_lines, median, opencl_devices, table

ensure_repo_on_path()

KERNELS = """
__kernel void count_differing(__global uint* differing, const uint base) {
    const uint bits = base + (uint)get_global_id(0);
    const float x = as_float(bits);
    const float a = tanh(x), b = sym_tanhf_pocl(x);
    if (as_uint(a) != as_uint(b) && !(a != a && b != b)) atomic_inc(differing);
}
__kernel void inline_tanh(__global float* out, __global const float* x) {
    out[get_global_id(0)] = sym_tanhf_pocl(x[get_global_id(0)]);
}
__kernel void builtin_tanh(__global float* out, __global const float* x) {
    out[get_global_id(0)] = tanh(x[get_global_id(0)]);
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=16, help="of 2^28 patterns each (16: all)")
    a = ap.parse_args()
    from runtime.opencl import cgen
    from runtime.opencl.device import choose_device
    from runtime.opencl.runtime import runtime_for
    rt = runtime_for(choose_device(None)[0])
    cl, queue = rt.cl, rt.queue
    print("\n".join(machine_lines({"OpenCL": opencl_devices()})))
    program = rt.program(cgen.HELPERS["sym_tanhf_pocl"][0] + KERNELS, "tanh_bits")
    flags = cl.mem_flags
    x = np.random.default_rng(0).normal(0, 2, 1_440_000).astype(np.float32)
    inp = cl.Buffer(rt.context, flags.READ_ONLY | flags.COPY_HOST_PTR, hostbuf=x)
    out = cl.Buffer(rt.context, flags.WRITE_ONLY, x.nbytes)
    rows = []
    for name in ("builtin_tanh", "inline_tanh"):
        kernel = cl.Kernel(program, name)
        times = []
        for _ in range(8):
            start = time.perf_counter()
            kernel(queue, x.shape, None, out, inp)
            queue.finish()
            times.append(time.perf_counter() - start)
        rows.append([name, f"{median(times[1:]) * 1000:.2f} ms"])
    print(table(["kernel", "1.44M values, median of 7"], rows, right={1}))
    differing = np.zeros(1, np.uint32)
    counter = cl.Buffer(rt.context, flags.READ_WRITE | flags.COPY_HOST_PTR, hostbuf=differing)
    count = cl.Kernel(program, "count_differing")
    chunk = 1 << 28
    start = time.perf_counter()
    for i in range(a.chunks):
        count(queue, (chunk,), None, counter, np.uint32(i * chunk))
    queue.finish()
    cl.enqueue_copy(queue, differing, counter)
    print(f"\n{a.chunks * chunk} bit patterns checked in {time.perf_counter() - start:.0f} s: "
          f"{differing[0]} differ")


if __name__ == "__main__":
    main()
