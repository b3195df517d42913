"""LeNet's convolution kernels on OpenCL: time and GFLOP/s of each generated
kernel, and the alternative the kernels replace (im2col + the matmul kernel).

    python bench/conv_kernels.py [--repeats 5] [--device cpu]

The shapes are the tutorial's minibatch of 500: x[500, 1, 28, 28] * k[20, 1,
5, 5] and x[500, 20, 12, 12] * k[50, 20, 5, 5], forward, image gradient
(layer 2 only: layer 1's image is data) and filter gradient. Each kernel is
launched alone with its arguments bound once; the time is the median of
batches of launches ending in one wait. GFLOP/s counts 2 per multiply-add
of the convolution itself (the image gradient's kernel also multiplies the
zeros around its padded input: "useful" GFLOP/s). `cpu` is process CPU time
over the run divided by the cores, a steadier figure on a shared machine.
The im2col row times only the matmul of the unrolled image [32000, 500] by
the filters [500, 50]: writing the unrolled image (64 MB per minibatch)
would come on top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dsl.build import apply                       # noqa: E402
from dsl.ir import Function                       # noqa: E402
from dsl.types import TensorType                  # noqa: E402

LAYERS = [(500, 1, 28, 28, 20, 5, 5), (500, 20, 12, 12, 50, 5, 5)]


def cases():
    """(label, function, argument values, useful flops)."""
    rng = np.random.default_rng(0)
    out = []
    for layer, (b, c, h, w, o, kh, kw) in enumerate(LAYERS, 1):
        xv = rng.standard_normal((b, c, h, w), dtype=np.float32)
        kv = rng.standard_normal((o, c, kh, kw), dtype=np.float32)
        x = apply("param", (), type=TensorType("f32", xv.shape), name="x")
        k = apply("param", (), type=TensorType("f32", kv.shape), name="k")
        y = apply("conv2d", (x, k), mode="valid", stride=(1, 1))
        gv = rng.standard_normal(tuple(y.type.shape), dtype=np.float32)
        g = apply("param", (), type=y.type, name="g")
        flops = 2 * gv.size * c * kh * kw
        out.append((f"layer {layer} forward", Function("f", (x, k), (y,)), [xv, kv], flops))
        if layer == 2:
            gx = apply("conv2d_grad_x", (g, k), mode="valid", stride=(1, 1), image=(h, w))
            out.append((f"layer {layer} image gradient", Function("gx", (g, k), (gx,)), [gv, kv], flops))
        gk = apply("conv2d_grad_k", (x, g), mode="valid", stride=(1, 1), kernel=(kh, kw))
        out.append((f"layer {layer} filter gradient", Function("gk", (x, g), (gk,)), [xv, gv], flops))
    return out


def timed_kernels(ex, fn, args, repeats):
    """[(what the kernel computes, seconds, cpu seconds)] of fn's kernels, each alone."""
    ex.call(fn, args, {})
    c = ex._compiled(fn)
    computes = {k.name: "+".join(dict.fromkeys(n.op.value for n in k.fused)) for k in c.plan.kernels}
    inst = next(iter(c.instances.values()))
    cl, q = ex.cl, ex.queue
    cores = os.cpu_count() or 1
    rows = []
    for kind, launch in inst.steps:
        if kind != "kernel":
            continue
        kernel, gsize, lsize = launch[0], launch[1], launch[2]
        walls, cpus = [], []
        for _ in range(repeats):
            t, c0 = time.perf_counter(), time.process_time()
            for _ in range(3):
                cl.enqueue_nd_range_kernel(q, kernel, gsize, lsize)
            q.finish()
            walls.append((time.perf_counter() - t) / 3)
            cpus.append((time.process_time() - c0) / 3 / cores)
        rows.append((computes[kernel.function_name], float(np.median(walls)), float(np.median(cpus))))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    from runtime.opencl.executor import OpenCLExecutor
    ex = OpenCLExecutor({}, device=args.device)
    print(f"device: {ex.description}")
    print(f"{'case':24s} {'kernel computes':22s} {'ms':>8s} {'GFLOP/s':>8s} {'cpu ms':>8s} {'GFLOP/s':>8s}")
    for label, fn, values, flops in cases():
        for name, wall, cpu in timed_kernels(ex, fn, values, args.repeats):
            rates = (f"{flops / wall / 1e9:8.1f}", f"{flops / cpu / 1e9:8.1f}") if "conv" in name \
                else ("", "")
            print(f"{label:24s} {name:22s} {wall * 1e3:8.2f} {rates[0]:>8s} {cpu * 1e3:8.2f} {rates[1]:>8s}")
    from matmul import opencl_case
    flops = 2 * 32000 * 500 * 50
    wall = opencl_case(ex, 32000, 500, 50, False, args.repeats)
    print(f"{'layer 2 forward, im2col':24s} {'matmul [32000, 500]@[500, 50]':22s} {wall * 1e3:8.2f} "
          f"{flops / wall / 1e9:8.1f}")


if __name__ == "__main__":
    main()
