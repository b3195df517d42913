"""The denoising autoencoder (programs/mnist_dA.sym): training minibatches
on every backend, with and without corruption.

    SYM_DATA=../shared/data .venv/bin/python bench/mnist_dA.py [--batches 500] [--repeats 3]
        [--torch-python /work/torchvenv/bin/python]

What is timed: `--batches` SGD steps of the tutorial's dA (784-500-784,
tied weights, sigmoid, cross-entropy, learning rate 0.1, minibatches of 20
rows of data.train, in order) from the tutorial's initial W; the whole
epoch is 2500 steps (`--batches 2500`). After the steps W is read back, so
queued device work is included. Each row runs once untimed (compiling),
then `--repeats` timed runs, interleaved; the median is shown, and the
epoch time extrapolated from it (x 2500 / batches).

Rows: numpy hand-written (float32, analytic gradient, the mask drawn with
numpy's RandomState), sym numpy and sym OpenCL (the program itself, the
mask drawn by Philox inside the kernel that applies it), PyTorch CPU eager
with autograd (torch.bernoulli for the mask). torch runs in this process
when it is importable, else in a subprocess of `--torch-python` (a Python
with torch and numpy), else its row reads "PyTorch: not installed".

The "mean cost" column is the mean training cost of the timed steps: all
rows agree without corruption (the same deterministic model); with it they
agree only statistically (each draws its own masks).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (REPO, ensure_repo_on_path, fmt_ms, median, rotated,  # noqa: E402
                    short_reason, table, timed)

ensure_repo_on_path()

import numpy as np  # noqa: E402

PROGRAM = REPO / "programs" / "mnist_dA.sym"
BATCH, LR, EPOCH_BATCHES = 20, 0.1, 2500
BOUND = 4.0 * np.sqrt(6.0 / (784 + 500))


def initial_W() -> np.ndarray:
    rng = np.random.RandomState(123)
    rng.randint(2 ** 30)
    return rng.uniform(-BOUND, BOUND, size=(784, 500)).astype(np.float32)


def load_batches(n):
    from runtime.data import mnist
    x = mnist().train.x
    return [np.ascontiguousarray(x[i * BATCH:(i + 1) * BATCH]) for i in range(n)]


# ---- runners: setup(corruption), run() -> mean cost ---------------------------------
class NumpyHand:
    name = "numpy hand-written"

    def setup(self, batches, corruption):
        self.batches, self.corruption = batches, corruption

    def run(self):
        W, b, bp = initial_W(), np.zeros(500, np.float32), np.zeros(784, np.float32)
        rng, lr, costs = np.random.RandomState(1), np.float32(LR), []
        for x in self.batches:
            xt = x * (rng.uniform(size=x.shape) >= self.corruption).astype(np.float32) \
                if self.corruption else x
            y = 1 / (1 + np.exp(-(xt @ W + b)))
            z = 1 / (1 + np.exp(-(y @ W.T + bp)))
            costs.append(np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1)))
            dz = (z - x) / np.float32(len(x))
            dy = (dz @ W) * y * (1 - y)
            W -= lr * (xt.T @ dy + dz.T @ y)
            b -= lr * dy.sum(0)
            bp -= lr * dz.sum(0)
        return float(np.mean(costs))


class Sym:
    def __init__(self, backend):
        self.backend, self.name = backend, f"sym {backend}"

    def setup(self, batches, corruption):
        import dsl
        self.batches = batches
        self.m = dsl.load(PROGRAM, backend=self.backend, progress=False,
                          options={"epochs": 0, "corruption": corruption,
                                   "filters": os.devnull + ".png"})
        self.m.run()
        self.W0 = np.asarray(self.m.W).copy()

    def run(self):
        m = self.m
        m.W, m.b, m.b_prime = self.W0, np.zeros(500, np.float32), np.zeros(784, np.float32)
        costs = [m.train(x) for x in self.batches]
        np.asarray(m.W)
        return float(np.mean([float(c) for c in costs]))


TORCH_WORKER = r"""
import json, sys, time, numpy as np, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(int(sys.argv[4]))
from bench.mnist_dA import initial_W, load_batches
n, corruption, repeats = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[5])
xs = [torch.from_numpy(x) for x in load_batches(n)]
def run():
    W = torch.tensor(initial_W(), requires_grad=True)
    b = torch.zeros(500, requires_grad=True); bp = torch.zeros(784, requires_grad=True)
    g = torch.Generator().manual_seed(1); costs = []
    for x in xs:
        xt = x * torch.bernoulli(torch.full_like(x, 1 - corruption), generator=g) if corruption else x
        z = torch.sigmoid(torch.sigmoid(xt @ W + b) @ W.T + bp)
        cost = torch.mean(-torch.sum(x * torch.log(z) + (1 - x) * torch.log(1 - z), dim=1))
        W.grad = b.grad = bp.grad = None
        cost.backward()
        with torch.no_grad():
            for p in (W, b, bp):
                p -= 0.1 * p.grad
        costs.append(float(cost))
    return float(np.mean(costs))
run()
times = []
for _ in range(repeats):
    t = time.perf_counter(); cost = run(); times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "cost": cost}))
"""


def torch_row(args, corruption):
    """(median seconds, cost) of PyTorch, or a reason it is missing."""
    try:
        import torch  # noqa: F401
        python = sys.executable
    except ImportError:
        python = args.torch_python
        if not python or not Path(python).exists():
            return "PyTorch: not installed"
    try:
        done = subprocess.run([python, "-c", TORCH_WORKER, str(REPO), str(args.batches), str(corruption),
                               str(args.threads), str(args.repeats)],
                              capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except Exception as exc:    # noqa: BLE001  (a row, not a crash)
        return f"PyTorch: {short_reason(exc)}"
    return median(result["times"]), result["cost"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--torch-python", default="/work/torchvenv/bin/python")
    p.add_argument("--backends", default="numpy,opencl")
    args = p.parse_args(argv)
    batches = load_batches(args.batches)
    rows = []
    for corruption in (0.0, 0.3):
        runners = [NumpyHand()] + [Sym(b) for b in args.backends.split(",")]
        times, costs, failed = {}, {}, {}
        for r in runners:
            try:
                r.setup(batches, corruption)
                costs[r.name] = r.run()             # untimed: compiles
                times[r.name] = []
            except Exception as exc:    # noqa: BLE001
                failed[r.name] = short_reason(exc)
        live = [r for r in runners if r.name in times]
        for k in range(args.repeats):
            for r in rotated(live, k):
                seconds, costs[r.name] = timed(r.run)
                times[r.name].append(seconds)
        base = median(times.get("numpy hand-written", []))
        for r in runners:
            if r.name in failed:
                rows.append([f"{corruption:.1f}", r.name, failed[r.name], "", "", "", ""])
                continue
            t = median(times[r.name])
            rows.append([f"{corruption:.1f}", r.name, fmt_ms(t), fmt_ms(t / args.batches),
                         f"{t * EPOCH_BATCHES / args.batches:.1f}", f"{t / base:.2f}x",
                         f"{costs[r.name]:.4f}"])
        tr = torch_row(args, corruption)
        if isinstance(tr, str):
            rows.append([f"{corruption:.1f}", "torch CPU eager", tr, "", "", "", ""])
        else:
            t, cost = tr
            rows.append([f"{corruption:.1f}", "torch CPU eager", fmt_ms(t), fmt_ms(t / args.batches),
                         f"{t * EPOCH_BATCHES / args.batches:.1f}", f"{t / base:.2f}x", f"{cost:.4f}"])
    print(f"dA, {args.batches} minibatches of {BATCH}, median of {args.repeats}")
    print(table(["corruption", "row", f"{args.batches} steps ms", "ms/step", "epoch s (est.)",
                 "vs numpy hand", "mean cost"], rows))


if __name__ == "__main__":
    main()
