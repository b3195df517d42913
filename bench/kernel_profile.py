"""Where a def's time goes on OpenCL: each generated kernel of one call,
timed alone.

    SYM_DATA=../shared/data .venv/bin/python bench/kernel_profile.py [--program programs/mnist_lenet.sym]
        [--def train] [--batch 500] [--calls 5] [--fast-math]

The def is called with the first `--batch` training rows of MNIST (x, y),
once untimed (compiling), then `--calls` times with every kernel launch
followed by a wait, so each launch's wall time is its own. The table lists
each kernel (the names `sym explain --kernels` prints, with the nodes it
computes) by its median milliseconds per call and its share of their sum.
Waiting after every launch costs a little per kernel, so the sum is
somewhat above an ordinary call's time; the shares are what to read.
"""
from __future__ import annotations

import argparse
import collections
import statistics
import time

from common import REPO, ensure_repo_on_path, machine_lines, table

ensure_repo_on_path()


def timed_launches(cl, queue, record):
    """cl.enqueue_nd_range_kernel, waiting for each launch and recording its time."""
    enqueue = cl.enqueue_nd_range_kernel

    def launch(q, kernel, gsize, lsize, *args, **kwargs):
        queue.finish()
        start = time.perf_counter()
        event = enqueue(q, kernel, gsize, lsize, *args, **kwargs)
        queue.finish()
        record[kernel.function_name].append(time.perf_counter() - start)
        return event
    return enqueue, launch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--program", default=str(REPO / "programs" / "mnist_lenet.sym"))
    ap.add_argument("--def", dest="name", default="train", help="the def to call (train)")
    ap.add_argument("--batch", type=int, default=500, help="rows of x and y per call (500)")
    ap.add_argument("--calls", type=int, default=5, help="timed calls (5)")
    ap.add_argument("--fast-math", action="store_true", help="as `sym run --fast-math`")
    a = ap.parse_args()

    import dsl
    from runtime.data.mnist import mnist
    train = mnist().train
    x, y = train.x[:a.batch], train.y[:a.batch]
    m = dsl.load(a.program, backend="opencl", fast_math=a.fast_math)
    call = getattr(m, a.name)
    call(x, y)
    executor = m._executor
    computes = {name: ", ".join(sorted({n.op for n in nodes}))
                for name, _, nodes in executor.kernels_for(m._functions[a.name])}
    record = collections.defaultdict(list)
    original, launch = timed_launches(executor.cl, executor.queue, record)
    executor.cl.enqueue_nd_range_kernel = launch
    try:
        for _ in range(a.calls):
            call(x, y)
    finally:
        executor.cl.enqueue_nd_range_kernel = original
    per_call = {name: statistics.median(ts) * len(ts) / a.calls for name, ts in record.items()}
    total = sum(per_call.values())
    rows = [[name, computes.get(name, ""), f"{ms * 1e3:.2f}", f"{100 * ms / total:.1f} %"]
            for name, ms in sorted(per_call.items(), key=lambda kv: -kv[1])]
    print("\n".join(machine_lines()))
    print(f"{a.program} {a.name}: {a.batch} rows, {a.calls} calls, {len(per_call)} kernels, "
          f"{total * 1e3:.1f} ms per call in all\n")
    print(table(["kernel", "computes", "ms per call", "share"], rows, right={2, 3}))


if __name__ == "__main__":
    main()
