"""One epoch of the MNIST MLP (programs/mnist_mlp.sym) on 1 and on K ranks.

    SYM_DATA=../shared/data .venv/bin/python bench/data_parallel.py [--ranks 1 2] [--batches N]
                            [--backend numpy|opencl]

For each K the script starts `mpiexec -n K` on itself (K = 1 runs without
MPI), every rank with one thread (OMP/OpenBLAS/MKL threads and pocl's
devices limited to 1). Rank 0 times `train(x, y)` over the epoch's
minibatches of 20 rows (or the first N), after a warm-up call, and reports
the epoch time, the time per step, the bytes all-reduced per step and the
validation error after the epoch (the same on every K, to float rounding).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, ensure_repo_on_path  # noqa: E402

PROGRAM = REPO / "programs" / "mnist_mlp.sym"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "POCL_MAX_PTHREAD_COUNT": "1", "POCL_CPU_MAX_CU_NUM": "1"}


def worker(batches: int | None, backend: str) -> None:
    """One rank: load, warm up, time the epoch, print rank 0's figures."""
    ensure_repo_on_path()
    import numpy as np
    import dsl
    from runtime import data as D
    m = dsl.load(PROGRAM, backend=backend, options={"epochs": 1}, progress=False)
    world = m._world
    data = D.mnist()
    size = 20
    xs, ys = data.train.x, data.train.y
    steps = len(xs) // size if batches is None else batches
    m.train(xs[:size], ys[:size])           # compiles; not timed
    barrier(world)
    reduced_before = m._interp.parallel.bytes_reduced if world is not None else 0
    t0 = time.perf_counter()
    for i in range(steps):
        m.train(xs[i * size:(i + 1) * size], ys[i * size:(i + 1) * size])
    _ = m.W2                                 # finishes queued device work
    barrier(world)
    seconds = time.perf_counter() - t0
    reduced = m._interp.parallel.bytes_reduced - reduced_before if world is not None else 0
    valid = np.mean([m.errors(data.valid.x[i:i + size], data.valid.y[i:i + size])
                     for i in range(0, len(data.valid.x), size)])
    if world is None or world.rank == 0:
        print(json.dumps({"ranks": world.size if world else 1, "steps": steps, "seconds": seconds,
                          "bytes_per_step": reduced // steps, "valid": float(valid) * 100}))


def barrier(world) -> None:
    if world is not None:
        world.comm.Barrier()


def run(k: int, batches: int | None, backend: str) -> dict:
    env = dict(os.environ, **ONE_THREAD, PYTHONPATH=str(REPO))
    command = [sys.executable, __file__, "--worker", "--backend", backend]
    if batches is not None:
        command += ["--batches", str(batches)]
    if k > 1:
        command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(k), *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{k} ranks failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batches", type=int, help="time only the first N minibatches")
    p.add_argument("--backend", default="numpy", choices=("numpy", "opencl"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.batches, args.backend)
        return
    rows = [run(k, args.batches, args.backend) for k in args.ranks]
    base = rows[0]["seconds"]
    print(f"MLP 784-500-10, minibatches of 20, {rows[0]['steps']} steps, backend {args.backend}, "
          "one thread per rank")
    print("| ranks | epoch s | ms per step | speed-up | bytes all-reduced per step "
          "| validation error after the epoch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['ranks']} | {r['seconds']:.2f} | {1000 * r['seconds'] / r['steps']:.3f} | "
              f"{base / r['seconds']:.2f}x | {r['bytes_per_step']:,} | {r['valid']:.6f} % |")


if __name__ == "__main__":
    main()
