"""Cost per step of a loop in a def, on sym numpy and sym OpenCL.

    SYM_DATA=... .venv/bin/python bench/loop_steps.py [--steps 200] [--repeats 3]

Two bodies: a tiny one (`h = h * 0.5 + x` on 4 floats) and an LSTM's
(batch 100, 28 inputs, 128 hidden: four gates from `x @ Wx + h @ Wh + b`).
Each is timed forward only and as a training step (forward and the
backward loop of its gradient). The time per step is the call's time over
the number of steps; the value is read back, so queued device work counts.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import dsl

TINY = """
def tiny(xs: f32[t, 4]) -> f32[4]:
    h = zeros((4,))
    for x in xs:
        h = h * 0.5 + x
    return h
"""

LSTM = """
shared Wx: f32[28, 512] = normal(0.0, 0.05, 1)
shared Wh: f32[128, 512] = normal(0.0, 0.05, 2)
shared b: f32[512] = zeros()

def lstm(xs: f32[t, n, 28]) -> f32[n, 128]:
    h = zeros((n, 128))
    c = zeros((n, 128))
    for x in xs:
        z = x @ Wx + h @ Wh + b
        i = sigmoid(z[:, 0:128])
        f = sigmoid(z[:, 128:256])
        o = sigmoid(z[:, 256:384])
        g = tanh(z[:, 384:512])
        c = f * c + i * g
        h = o * tanh(c)
    return h

def lstm_train(xs: f32[t, n, 28]) -> f32:
    cost = mean(lstm(xs) ** 2.0)
    gx = grad(cost, Wx)
    gh = grad(cost, Wh)
    gb = grad(cost, b)
    Wx <- Wx - 0.1 * gx
    Wh <- Wh - 0.1 * gh
    b <- b - 0.1 * gb
    return cost
"""


def per_step_us(fn, args, steps, repeats):
    np.asarray(fn(*args))                 # warm-up: compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best / steps * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    tiny_xs = rng.normal(size=(a.steps, 4)).astype(np.float32)
    lstm_xs = rng.normal(size=(28, 100, 28)).astype(np.float32)
    print(f"{'backend':8} {'body':14} {'µs/step':>10}")
    for backend in ("numpy", "opencl"):
        try:
            m = dsl.compile(TINY, backend=backend)
            l = dsl.compile(LSTM, backend=backend)
        except Exception as e:                   # no device: say so
            print(f"{backend:8} unavailable: {e}")
            continue
        rows = [("tiny", m.tiny, (tiny_xs,), a.steps),
                ("lstm forward", l.lstm, (lstm_xs,), 28),
                ("lstm train", l.lstm_train, (lstm_xs,), 28)]
        for name, fn, args, steps in rows:
            print(f"{backend:8} {name:14} {per_step_us(fn, args, steps, a.repeats):10.1f}", flush=True)


if __name__ == "__main__":
    main()
