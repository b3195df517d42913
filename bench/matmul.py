"""f32 matmul throughput: sym's OpenCL kernels against numpy (BLAS).

    python bench/matmul.py [--repeats 7] [--device cpu]

Prints GFLOP/s medians for square sizes and for the shapes of the MNIST
logistic regression step (x @ W, and x.T @ g read through the transpose).
Each OpenCL figure times a batch of launches of the generated kernel with
its arguments bound once, ending with one wait: the way a training loop
runs it. Noisy machines: compare the two columns of one run, not runs.
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

CASES = [  # (label, M, K, N, a stored transposed?)
    ("64^3", 64, 64, 64, False),
    ("128^3", 128, 128, 128, False),
    ("256^3", 256, 256, 256, False),
    ("512^3", 512, 512, 512, False),
    ("1024^3", 1024, 1024, 1024, False),
    ("x@W 600x784x10", 600, 784, 10, False),
    ("x.T@g 784x600x10", 784, 600, 10, True),
    ("20x784x500 (mlp)", 20, 784, 500, False),
    ("x.T@g 784x20x500 (mlp)", 784, 20, 500, True),
]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def opencl_case(ex, M, K, N, a_transposed, repeats):
    """Seconds per matmul of the generated kernel, launched `inner` times."""
    from runtime.opencl.executor import Instance
    a_shape = (K, M) if a_transposed else (M, K)
    a = apply("param", (), type=TensorType("f32", a_shape), name="a")
    b = apply("param", (), type=TensorType("f32", (K, N)), name="b")
    left = apply("transpose", (a,), perm=(1, 0)) if a_transposed else a
    fn = Function("mm", (a, b), (apply("matmul", (left, b)),))
    rng = np.random.default_rng(0)
    av = rng.random(a_shape, dtype=np.float32)
    bv = rng.random((K, N), dtype=np.float32)
    (out,) = ex.call(fn, [av, bv], {})
    want = (av.T if a_transposed else av) @ bv
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-4, atol=1e-3)
    c = ex._compiled(fn)
    inst: Instance = next(iter(c.instances.values()))
    (kind, launch), = [s for s in inst.steps if s[0] == "kernel"]
    kernel, gsize, lsize = launch[0], launch[1], launch[2]
    cl, q = ex.cl, ex.queue
    flops = 2 * M * K * N
    inner = max(1, int(2e8 // flops))

    def run():
        for _ in range(inner):
            cl.enqueue_nd_range_kernel(q, kernel, gsize, lsize)
        q.finish()
    run()
    return median_time(run, repeats) / inner


def numpy_case(M, K, N, a_transposed, repeats):
    rng = np.random.default_rng(0)
    a = rng.random((K, M) if a_transposed else (M, K), dtype=np.float32)
    b = rng.random((K, N), dtype=np.float32)
    left = a.T if a_transposed else a
    inner = max(1, int(2e8 // (2 * M * K * N)))

    def run():
        for _ in range(inner):
            left @ b
    run()
    return median_time(run, repeats) / inner


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    from runtime.opencl.executor import OpenCLExecutor
    ex = OpenCLExecutor({}, device=args.device)
    print(f"device: {ex.description}")
    print(f"{'case':26s} {'opencl GFLOP/s':>15s} {'numpy GFLOP/s':>15s} {'ratio':>7s}")
    for label, M, K, N, at in CASES:
        flops = 2 * M * K * N
        t_cl = opencl_case(ex, M, K, N, at, args.repeats)
        t_np = numpy_case(M, K, N, at, args.repeats)
        print(f"{label:26s} {flops / t_cl / 1e9:15.1f} {flops / t_np / 1e9:15.1f} "
              f"{t_np / t_cl:7.2f}")


if __name__ == "__main__":
    main()
