"""Every program in programs/ and tests/programs/ runs with its expected output.

Expected output is written in the program as `# expect: LINE` comments, in
order; the MNIST programs run one epoch on the real data (`--set epochs=1`)
and are checked against the Deep Learning Tutorials' published figures.
"""
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest

import dsl
from conftest import ROOT, needs_mnist

PROGRAMS = sorted((ROOT / "programs").glob("*.sym")) + sorted((ROOT / "tests" / "programs").glob("*.sym"))
SMALL = [p for p in PROGRAMS if not p.name.startswith("mnist_")]


def expected_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        m = re.match(r"# expect: ?(.*)$", line)
        if m:
            lines.append(m.group(1))
    return lines


def run(path, backend, options=None) -> str:
    out = io.StringIO()
    dsl.load(path, backend=backend, options=options, out=out, progress=False).run()
    return out.getvalue()


@pytest.mark.parametrize("path", SMALL, ids=lambda p: p.name)
def test_program_output(path, backend):
    want = expected_lines(path)
    assert want, f"{path.name} has no `# expect:` lines"
    assert run(path, backend).splitlines() == want


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_program_checks_clean(path):
    from dsl.program import check_source
    prog = check_source(path.read_text(), str(path))
    assert not prog.errors, "\n".join(d.render() for d in prog.errors)


@needs_mnist
def test_logreg_first_epoch_matches_tutorial(backend):
    out = run(ROOT / "programs" / "mnist_logreg.sym", backend, {"epochs": 1})
    first = out.splitlines()[0]
    value = float(re.search(r"validation error ([\d.]+) %", first).group(1))
    assert abs(value - 12.458333) <= 0.05, first


@needs_mnist
@pytest.mark.slow
def test_mlp_first_epoch_matches_tutorial(backend):
    out = run(ROOT / "programs" / "mnist_mlp.sym", backend, {"epochs": 1})
    first = out.splitlines()[0]
    value = float(re.search(r"validation error ([\d.]+) %", first).group(1))
    assert abs(value - 9.62) <= 0.05, first


@needs_mnist
def test_lenet_first_minibatches_learn(tmp_path):
    """The LeNet program checks, draws its filters, writes their picture, and
    its first three minibatches' costs are finite and decrease (numpy)."""
    from runtime.data import mnist
    png = tmp_path / "filters.png"
    prog = dsl.load(ROOT / "programs" / "mnist_lenet.sym", backend="numpy", progress=False,
                    options={"epochs": 0, "filters_png": str(png)}, out=io.StringIO()).run()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train = mnist(None).train
    costs = [float(prog.train(train.x[i * 500:(i + 1) * 500], train.y[i * 500:(i + 1) * 500]))
             for i in range(3)]
    assert all(math.isfinite(c) for c in costs) and costs[0] > costs[1] > costs[2], costs
    assert abs(costs[0] - math.log(10)) < 1e-5     # the zero logistic layer: uniform at first


def reference_lstm_costs(batches, p):
    """mnist_lstm.sym's LSTM and Adam, by hand in numpy (f64): forward,
    backpropagation through the 28 rows, one Adam step per minibatch."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    sig = lambda z: 1 / (1 + np.exp(-z))
    costs = []
    for step, (x, y) in enumerate(batches, start=1):
        n = len(x)
        rows = x.astype(np.float64).reshape(n, 28, 28).transpose(1, 0, 2)
        h, c, tape = np.zeros((n, 128)), np.zeros((n, 128)), []
        for row in rows:
            z = row @ p["Wx"] + h @ p["Wh"] + p["b"]
            i, f = sig(z[:, :128]), sig(z[:, 128:256] + 1.0)
            o, g = sig(z[:, 256:384]), np.tanh(z[:, 384:])
            tape.append((row, h, c, i, f, o, g))
            c = f * c + i * g
            h = o * np.tanh(c)
        logits = h @ p["Wo"] + p["bo"]
        logp = logits - logits.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        costs.append(-logp[np.arange(n), y].mean())
        dlogits = np.exp(logp)
        dlogits[np.arange(n), y] -= 1
        dlogits /= n
        grads = {"Wo": h.T @ dlogits, "bo": dlogits.sum(0),
                 "Wx": 0.0, "Wh": 0.0, "b": 0.0}
        dh, dc = dlogits @ p["Wo"].T, np.zeros((n, 128))
        for row, h_prev, c_prev, i, f, o, g in reversed(tape):
            c = f * c_prev + i * g
            tc = np.tanh(c)
            dc = dc + dh * o * (1 - tc ** 2)
            dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                 dh * tc * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
            grads["Wx"] = grads["Wx"] + row.T @ dz
            grads["Wh"] = grads["Wh"] + h_prev.T @ dz
            grads["b"] = grads["b"] + dz.sum(0)
            dh, dc = dz @ p["Wh"].T, dc * f
        lr = 0.001 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        for k in p:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            p[k] = p[k] - lr * m[k] / (np.sqrt(v[k]) + 1e-8)
    return costs


@needs_mnist
def test_lstm_first_minibatches_match_numpy():
    """mnist_lstm.sym's first minibatch costs (its LSTM, its Adam over the
    group of parameters) are those of a numpy implementation."""
    from runtime.data import mnist
    prog = dsl.load(ROOT / "programs" / "mnist_lstm.sym", backend="numpy", progress=False,
                    options={"epochs": 0}, out=io.StringIO()).run()
    train = mnist(None).train
    batches = [(train.x[i * 50:(i + 1) * 50], train.y[i * 50:(i + 1) * 50]) for i in range(3)]
    want = reference_lstm_costs(batches, {k: np.asarray(getattr(prog, k))
                                          for k in ("Wx", "Wh", "b", "Wo", "bo")})
    got = [float(prog.train(x, y)) for x, y in batches]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] > got[2]
