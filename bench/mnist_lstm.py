"""One epoch of programs/mnist_lstm.sym's training (500 minibatches of 100,
an LSTM of 128 hidden units over 28 rows of 28 pixels, Adam 1e-3) on sym
OpenCL (as `sym run` runs it, and with --fast-math: exp and tanh by f32
polynomials, as PyTorch's vectorised math does), sym numpy, hand-written
numpy and PyTorch CPU `nn.LSTM`; with `--gpu`, sym OpenCL on the GPU
against PyTorch CUDA `nn.LSTM` (cuDNN).

    SYM_DATA=../shared/data .venv/bin/python bench/mnist_lstm.py [--minibatches 20] [--gpu]
    (PyTorch rows need torch: run with a python that has it, e.g. /work/torchvenv)

Each row first runs 2 untimed minibatches (compiling); then the rows take
turns, `--block` minibatches each (10), after a rest of `--pause` seconds
(0.5), a rotated order each turn, until every row has run `--minibatches`:
a change in the machine's load reaches every row alike, and the threads
torch (OpenMP) and OpenBLAS leave spinning after their work have gone idle
before the next row starts (taking turns minibatch by minibatch, they made
sym OpenCL's minibatch 48.6 ms instead of 39.2 ms). Each row reports
the median ms per minibatch, the epoch that makes (x 500), the ratio to
the PyTorch row, and the median CPU ms per minibatch (all threads of the
process: under load this is the steadier figure). A row that cannot run
prints `unavailable: reason`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from common import GPU_HELP, torch_device  # noqa: E402
BATCHES_PER_EPOCH = 500
H, D = 128, 28


def minibatches(data, count, size=100):
    x, y = data.train.x, data.train.y
    return [(np.ascontiguousarray(x[i * size:(i + 1) * size]), np.asarray(y[i * size:(i + 1) * size]))
            for i in range(count)]


def sym_row(backend, fast_math=False):
    import dsl
    m = dsl.load(REPO / "programs" / "mnist_lstm.sym", backend=backend, fast_math=fast_math)
    if backend == "opencl" and not fast_math:
        print(f"sym opencl runs on {getattr(m, 'device', '?')}", flush=True)
    return lambda x, y: float(np.asarray(m.train(x, y)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class HandLSTM:
    """The same model, forward and backward through time by hand, Adam."""

    def __init__(self):
        r = np.random.default_rng(0)
        self.p = {"Wx": r.normal(0, 0.1, (D, 4 * H)), "Wh": r.normal(0, 0.05, (H, 4 * H)),
                  "b": np.zeros(4 * H), "Wo": r.normal(0, 0.1, (H, 10)), "bo": np.zeros(10)}
        self.p = {k: v.astype(np.float32) for k, v in self.p.items()}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def __call__(self, x, y):
        p, n = self.p, len(x)
        rows = x.reshape(n, D, D).transpose(1, 0, 2)
        h, c = np.zeros((n, H), np.float32), np.zeros((n, H), np.float32)
        saved = []
        for r in rows:
            z = r @ p["Wx"] + h @ p["Wh"] + p["b"]
            i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H] + 1), sigmoid(z[:, 2 * H:3 * H])
            g = np.tanh(z[:, 3 * H:])
            c_new = f * c + i * g
            saved.append((r, h, c, i, f, o, g, c_new))
            h, c = o * np.tanh(c_new), c_new
        logits = h @ p["Wo"] + p["bo"]
        e = np.exp(logits - logits.max(1, keepdims=True))
        prob = e / e.sum(1, keepdims=True)
        cost = -np.mean(np.log(prob[np.arange(n), y]))
        dl = prob
        dl[np.arange(n), y] -= 1
        dl /= n
        grads = {"Wo": h.T @ dl, "bo": dl.sum(0), "Wx": 0, "Wh": 0, "b": 0}
        dh, dc = dl @ p["Wo"].T, np.zeros_like(c)
        for r, h_prev, c_prev, i, f, o, g, c_new in reversed(saved):
            tc = np.tanh(c_new)
            do = dh * tc
            dc = dc + dh * o * (1 - tc * tc)
            dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                 do * o * (1 - o), dc * i * (1 - g * g)], axis=1)
            grads["Wx"] = grads["Wx"] + r.T @ dz
            grads["Wh"] = grads["Wh"] + h_prev.T @ dz
            grads["b"] = grads["b"] + dz.sum(0)
            dh, dc = dz @ p["Wh"].T, dc * f
        self.t += 1
        lr = 1e-3 * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t)
        for k in p:
            self.m[k] = 0.9 * self.m[k] + 0.1 * grads[k]
            self.v[k] = 0.999 * self.v[k] + 0.001 * grads[k] ** 2
            p[k] -= (lr * self.m[k] / (np.sqrt(self.v[k]) + 1e-8)).astype(np.float32)
        return cost


def torch_row(device="cpu"):
    import torch
    torch.set_num_threads(2)
    lstm, out = torch.nn.LSTM(D, H).to(device), torch.nn.Linear(H, 10).to(device)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(out.parameters()), lr=1e-3)

    def step(x, y):     # from host arrays, as sym's train(x, y) is called
        xs = torch.from_numpy(x.reshape(len(x), D, D).transpose(1, 0, 2).copy()).to(device)
        _, (h, _) = lstm(xs)
        loss = torch.nn.functional.cross_entropy(out(h[0]), torch.from_numpy(y.astype(np.int64)).to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())     # waits for the device
    return step


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minibatches", type=int, default=20)
    ap.add_argument("--block", type=int, default=10, help="minibatches a row runs per turn (10)")
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds of rest before each turn (0.5): torch's OpenMP and OpenBLAS "
                         "threads spin after their work and would slow the next row")
    ap.add_argument("--gpu", action="store_true", help=GPU_HELP + "; no numpy rows")
    a = ap.parse_args()
    device = torch_device(a.gpu)
    from runtime.data.mnist import mnist
    data = minibatches(mnist(), a.minibatches + 2)
    torch_name = f"PyTorch {device.upper()} nn.LSTM"
    makers = [("sym opencl", lambda: sym_row("opencl")),
              ("sym opencl fast-math", lambda: sym_row("opencl", fast_math=True)),
              ("sym numpy", lambda: sym_row("numpy")),
              ("numpy hand-written", HandLSTM),
              (torch_name, lambda: torch_row(device))]
    if a.gpu:       # the numpy rows run on the host alone
        makers = [(name, make) for name, make in makers if "numpy" not in name]
    rows = {}
    for name, make in makers:
        try:
            step = make()
            first = [step(x, y) for x, y in data[:2]]
            rows[name] = (step, first[0], [], [])
        except Exception as e:          # a missing backend or torch: say so, go on
            print(f"{name:22} unavailable: {type(e).__name__}: {str(e).splitlines()[0][:80]}",
                  flush=True)
    if not rows:
        return
    timed = data[2:]
    for turn, start in enumerate(range(0, len(timed), a.block)):
        order = list(rows.values())
        for step, _, walls, cpus in order[turn % len(order):] + order[:turn % len(order)]:
            time.sleep(a.pause)     # the last row's spinning threads go idle first
            for x, y in timed[start:start + a.block]:
                wall, cpu = time.perf_counter(), cpu_seconds()
                step(x, y)
                walls.append(time.perf_counter() - wall)
                cpus.append(cpu_seconds() - cpu)
    medians = {name: statistics.median(r[2]) * 1e3 for name, r in rows.items()}
    torch_ms = medians.get(torch_name)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'row':22} {'ms/minibatch':>13} {'s/epoch':>9} {'x PyTorch':>10} {'cpu ms':>8}  first cost")
    for name, (_, first, _, cpus) in rows.items():
        ms = medians[name]
        ratio = f"{ms / torch_ms:10.2f}" if torch_ms else f"{'-':>10}"
        print(f"{name:22} {ms:13.1f} {ms * BATCHES_PER_EPOCH / 1e3:9.1f} {ratio} "
              f"{statistics.median(cpus) * 1e3:8.1f}  {first:.4f}", flush=True)


if __name__ == "__main__":
    main()
