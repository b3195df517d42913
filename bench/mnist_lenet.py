"""LeNet on MNIST (programs/mnist_lenet.sym): one training epoch on every
backend, same process, same initial weights, medians and ratios.

    SYM_DATA=../shared/data .venv/bin/python bench/mnist_lenet.py [--rounds 3] [--minibatches 100] [--cold] [--fast-math] [--gpu]

What is timed: one epoch of the tutorial's training, `--minibatches` (100:
the whole epoch) minibatches of 500 rows of data.train, SGD with learning
rate 0.1, from the tutorial's initial weights (numpy.random.RandomState(23455),
as the program draws them); after the last step W0 is read back, so the time
includes finishing queued device work. Each row first runs one untimed epoch
(the "first" column: it includes compiling; `--cold`: with an empty kernel
cache, as on a fresh machine), then `--rounds` timed epochs,
interleaved across the rows (a rotated order each round, `--pause` seconds
of rest before each), each from the initial weights.

Rows: hand-written numpy (sliding windows + tensordot), sym numpy, sym
OpenCL, PyTorch CPU eager and torch.compile (the same weights; its conv2d is
a cross-correlation, so it gets the filters flipped); `--fast-math` gives
the sym OpenCL row f32 exp/log/tanh up to 2 ulp off; `--gpu` runs sym
OpenCL on the GPU and PyTorch on CUDA (both upload each minibatch from the
host, as sym's `train(x, y)` is called with host arrays). A row that cannot run
says why. After the timed epochs each row's validation error (the 20
validation minibatches, as the tutorial computes it); after the whole first
epoch the tutorial printed 9.230000 %.

GFLOP/s counts the convolutions (forward, both backward ones; the first
layer's image gradient is not needed) and the two dense layers' matmuls
(forward and backward) of the minibatches run.
"""
from __future__ import annotations

import argparse
import atexit
import io
import os
import shutil
import sys
import time
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (GPU_HELP, REPO, Unavailable, ensure_repo_on_path, fmt_ratio,  # noqa: E402
                    machine_lines, median, opencl_devices, rotated, short_reason, table, timed,
                    torch_device)

ensure_repo_on_path()

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

PROGRAM = REPO / "programs" / "mnist_lenet.sym"
BATCH, LR = 500, 0.1
N_VALID_BATCHES = 20
PUBLISHED_VAL_1_EPOCH = 9.23        # %, Theano 0.8.2 float32
SHAPES = {"W0": (20, 1, 5, 5), "b0": (20,), "W1": (50, 20, 5, 5), "b1": (50,),
          "W2": (800, 500), "b2": (500,), "W3": (500, 10), "b3": (10,)}


def initial_weights() -> dict:
    """convolutional_mlp.py's draws: one RandomState(23455), layer by layer."""
    rng = np.random.RandomState(23455)

    def draw(fan_in, fan_out, shape):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return np.asarray(rng.uniform(-bound, bound, shape), np.float32)
    w = {"W0": draw(25, 20 * 25 // 4, SHAPES["W0"]), "W1": draw(500, 50 * 25 // 4, SHAPES["W1"]),
         "W2": draw(800, 500, SHAPES["W2"])}
    w.update({k: np.zeros(s, np.float32) for k, s in SHAPES.items() if k not in w})
    return {k: w[k] for k in SHAPES}


def flops_per_minibatch(n=BATCH) -> float:
    conv0 = 2 * n * 20 * 24 * 24 * 1 * 25
    conv1 = 2 * n * 50 * 8 * 8 * 20 * 25
    dense = 2 * n * 800 * 500 + 2 * n * 500 * 10
    return 2 * conv0 + 3 * conv1 + 3 * dense


# ---------------------------------------------------------------- runners ---
class Runner:
    key = name = note = ""

    def setup(self, train, valid):
        self.train, self.valid = train, valid

    def reset(self):
        raise NotImplementedError

    def epoch(self):
        """Train on every minibatch; return W0 on the host."""
        raise NotImplementedError

    def val_error(self) -> float:
        raise NotImplementedError


class NumpyHand(Runner):
    """The network written out in numpy: im2col by sliding windows, tensordot."""
    key, name = "numpy", "numpy hand-written"

    def reset(self):
        self.w = {k: v.copy() for k, v in initial_weights().items()}

    @staticmethod
    def conv(x, k):
        """True convolution, valid mode: windows times the flipped filters."""
        patches = sliding_window_view(x, k.shape[2:], axis=(2, 3))
        return np.tensordot(patches, k[:, :, ::-1, ::-1], axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)

    @staticmethod
    def pool(y):
        """2x2 max pooling and, for the gradient, the first maximum of each window."""
        b, c, h, w = y.shape
        windows = y.reshape(b, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(b, c, h // 2, w // 2, 4)
        first = windows.argmax(axis=4)
        return np.take_along_axis(windows, first[..., None], 4)[..., 0], first

    @staticmethod
    def unpool(g, first):
        b, c, h, w = g.shape
        spread = (first[..., None] == np.arange(4)) * g[..., None]
        return spread.reshape(b, c, h, w, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(b, c, 2 * h, 2 * w)

    def forward(self, x):
        w = self.w
        a0 = x.reshape(-1, 1, 28, 28)
        p0, f0 = self.pool(self.conv(a0, w["W0"]))
        h0 = np.tanh(p0 + w["b0"][None, :, None, None])
        p1, f1 = self.pool(self.conv(h0, w["W1"]))
        h1 = np.tanh(p1 + w["b1"][None, :, None, None])
        h2 = np.tanh(h1.reshape(len(x), 800) @ w["W2"] + w["b2"])
        z = h2 @ w["W3"] + w["b3"]
        return z, (a0, f0, h0, f1, h1, h2)

    def step(self, x, y):
        w, n = self.w, len(x)
        z, (a0, f0, h0, f1, h1, h2) = self.forward(x)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(n), y] -= 1
        gz = p / np.float32(n)
        g = {"W3": h2.T @ gz, "b3": gz.sum(0)}
        g2 = (gz @ w["W3"].T) * (1 - h2 * h2)
        g.update(W2=h1.reshape(n, 800).T @ g2, b2=g2.sum(0))
        g1 = (g2 @ w["W2"].T).reshape(h1.shape) * (1 - h1 * h1)
        g.update(b1=g1.sum((0, 2, 3)))
        gy1 = self.unpool(g1, f1)                       # [n, 50, 8, 8]
        g.update(W1=self.grad_k(h0, gy1))
        g0 = self.grad_x(gy1, w["W1"]) * (1 - h0 * h0)
        g.update(b0=g0.sum((0, 2, 3)), W0=self.grad_k(a0, self.unpool(g0, f0)))
        for k in w:
            w[k] -= np.float32(LR) * g[k]

    @staticmethod
    def grad_k(x, gy):
        patches = sliding_window_view(x, (5, 5), axis=(2, 3))
        return np.tensordot(gy, patches, axes=([0, 2, 3], [0, 2, 3]))[:, :, ::-1, ::-1]

    @staticmethod
    def grad_x(gy, k):
        """The image gradient: the zero-padded gy correlated with the filters."""
        padded = np.pad(gy, ((0, 0), (0, 0), (4, 4), (4, 4)))
        patches = sliding_window_view(padded, (5, 5), axis=(2, 3))
        return np.tensordot(patches, k, axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)

    def epoch(self):
        for x, y in self.train:
            self.step(x, y)
        return self.w["W0"]

    def val_error(self):
        return 100.0 * float(np.mean([np.mean(self.forward(x)[0].argmax(1) != y) for x, y in self.valid]))


class SymBackend(Runner):
    def __init__(self, backend, fast_math=False):
        self.backend, self.key, self.name = backend, f"sym-{backend}", f"sym {backend}"
        self.fast_math = fast_math
        if fast_math:
            self.name += " (fast math)"

    def setup(self, train, valid):
        super().setup(train, valid)
        if self.backend == "opencl":
            reason = opencl_unavailable_reason()
            if reason:
                raise Unavailable(reason)
            from dsl.ops import WINDOWED
            from runtime.opencl.render import LOWERING
            missing = [str(op) for op in WINDOWED if op not in LOWERING]
            if missing:
                raise Unavailable(f"the OpenCL backend has no lowering of {', '.join(missing)} yet")
        import dsl
        self.png = tempfile.NamedTemporaryFile(suffix=".png")
        # epochs=0: run() draws the initial weights (and writes the filters picture)
        self.m = dsl.load(PROGRAM, backend=self.backend, options={"epochs": 0, "filters_png": self.png.name},
                          out=io.StringIO(), progress=False, fast_math=self.fast_math).run()
        self.note = getattr(self.m, "device", "") if self.backend == "opencl" else ""

    def reset(self):
        for name, value in initial_weights().items():
            setattr(self.m, name, value)

    def epoch(self):
        train = self.m.train
        for x, y in self.train:
            train(x, y)
        return self.m.W0

    def val_error(self):
        return 100.0 * float(np.mean([float(np.asarray(self.m.errors(x, y))) for x, y in self.valid]))


class TorchEager(Runner):
    key, name = "torch", "torch eager (autograd)"
    device = "cpu"

    def setup(self, train, valid):
        super().setup(train, valid)
        self.t = import_torch()
        t, dev = self.t, self.device
        self.tb = [(t.from_numpy(x), t.from_numpy(y.astype(np.int64))) for x, y in train]
        self.vb = [(t.from_numpy(x).to(dev), t.from_numpy(y.astype(np.int64)).to(dev)) for x, y in valid]
        self.note = dev

    def reset(self):
        w = initial_weights()
        for k in ("W0", "W1"):      # torch's conv2d is a cross-correlation
            w[k] = np.ascontiguousarray(w[k][:, :, ::-1, ::-1])
        self.p = {k: self.t.tensor(v, requires_grad=True, device=self.device) for k, v in w.items()}

    def logits(self, x):
        F, p = self.t.nn.functional, self.p
        h = x.reshape(-1, 1, 28, 28)
        h = self.t.tanh(F.max_pool2d(F.conv2d(h, p["W0"]), 2) + p["b0"][None, :, None, None])
        h = self.t.tanh(F.max_pool2d(F.conv2d(h, p["W1"]), 2) + p["b1"][None, :, None, None])
        h = self.t.tanh(h.reshape(-1, 800) @ p["W2"] + p["b2"])
        return h @ p["W3"] + p["b3"]

    def step(self, x, y):
        loss = self.t.nn.functional.cross_entropy(self.logits(x), y)
        grads = self.t.autograd.grad(loss, list(self.p.values()))
        with self.t.no_grad():
            for v, g in zip(self.p.values(), grads):
                v -= LR * g

    def epoch(self):
        dev = self.device
        for x, y in self.tb:
            self.step(x.to(dev), y.to(dev))
        return self.p["W0"].detach().cpu().numpy()      # waits for the device

    def val_error(self):
        with self.t.no_grad():
            errs = [float((self.logits(x).argmax(1) != y).float().mean()) for x, y in self.vb]
        return 100.0 * float(np.mean(errs))


class TorchCompiled(TorchEager):
    key, name = "torch-compile", "torch.compile (the same step)"

    def setup(self, train, valid):
        super().setup(train, valid)
        self.compiled = self.t.compile(super().step)

    def step(self, x, y):
        self.compiled(x, y)


def import_torch():
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch: not installed") from None
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    return torch


def opencl_unavailable_reason():
    try:
        from runtime.opencl.device import opencl_available
        if not opencl_available():
            return "no OpenCL device"
    except Exception as exc:
        return short_reason(exc)
    return None


# ------------------------------------------------------------------ main ---
def minibatches(split, count):
    return [(split.x[i * BATCH:(i + 1) * BATCH], split.y[i * BATCH:(i + 1) * BATCH]) for i in range(count)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed epochs per row (default 3)")
    ap.add_argument("--minibatches", type=int, default=100, help="minibatches per epoch (default 100: all)")
    ap.add_argument("--rows", default="numpy,sym-numpy,sym-opencl,torch,torch-compile",
                    help="which rows, comma-separated")
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds of rest before each timed epoch (0.5): torch's OpenMP and "
                         "OpenBLAS threads spin for a while after their work")
    ap.add_argument("--cold", action="store_true",
                    help="an empty kernel cache (a new XDG_CACHE_HOME): the first epoch compiles "
                         "every kernel, as on a fresh machine")
    ap.add_argument("--fast-math", action="store_true",
                    help="the sym OpenCL row with f32 exp/log/tanh up to 2 ulp off (sym run --fast-math)")
    ap.add_argument("--gpu", action="store_true", help=GPU_HELP)
    args = ap.parse_args(argv)
    TorchEager.device = torch_device(args.gpu)
    if args.cold:       # before OpenCL starts: pocl reads its cache folder once
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sym-cold-cache-")
        atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)
        os.environ.pop("POCL_CACHE_DIR", None)
    from runtime.data import mnist
    data = mnist()
    train = minibatches(data.train, min(args.minibatches, len(data.train) // BATCH))
    valid = minibatches(data.valid, N_VALID_BATCHES)
    every = [NumpyHand(), SymBackend("numpy"), SymBackend("opencl", args.fast_math), TorchEager(),
             TorchCompiled()]
    runners = [r for r in every if r.key in args.rows.split(",")]
    print("\n".join(machine_lines({"OpenCL": opencl_devices()})))
    print(f"one epoch = {len(train)} minibatches of {BATCH}; {args.rounds} timed rounds\n")
    results, ready = {}, []
    for r in runners:
        try:
            r.setup(train, valid)
            r.reset()
            first, _ = timed(r.epoch)
            results[r.key] = {"first": first, "times": []}
            ready.append(r)
        except Exception as exc:            # a row that cannot run says why
            results[r.key] = {"reason": short_reason(exc, 120)}
    for k in range(args.rounds):
        for r in rotated(ready, k):
            r.reset()
            time.sleep(args.pause)      # the last row's spinning threads go idle first
            seconds, _ = timed(r.epoch)
            results[r.key]["times"].append(seconds)
    for r in ready:
        results[r.key]["val"] = r.val_error()
    print(report(runners, results, flops_per_minibatch() * len(train), len(train)))


def report(runners, results, flops, n_batches) -> str:
    base = results.get("torch", {}).get("times")
    base = median(base) if base else None
    rows = []
    for r in runners:
        res = results[r.key]
        if "reason" in res:
            rows.append([r.name, f"did not run: {res['reason']}"])
            continue
        epoch = median(res["times"]) if res["times"] else res["first"]
        rows.append([r.name, f"{res['first']:.2f}", f"{epoch:.2f}",
                     fmt_ratio(epoch / base) if base else "-", f"{flops / epoch / 1e9:.1f}",
                     f"{res['val']:.6f} %", r.note])
    out = table(["row", "first epoch s", "median epoch s", "vs torch eager", "GFLOP/s", "validation error",
                 "notes"], rows, right={1, 2, 3, 4})
    if n_batches == 100:
        out += f"\n(the tutorial's validation error after epoch 1: {PUBLISHED_VAL_1_EPOCH:.6f} %)"
    return out


if __name__ == "__main__":
    main()
