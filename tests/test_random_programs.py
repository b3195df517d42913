"""The programs that draw: the denoising autoencoder (mnist_dA.sym) and
the MLP with dropout (mnist_mlp_dropout.sym), a few minibatches each (the
whole runs are reported in the README, not tested); the initialiser's
`skip` and the filter image."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import dsl
from conftest import ROOT, needs_mnist
from runtime.data import mnist
from runtime.opencl.device import opencl_available

DA = ROOT / "programs" / "mnist_dA.sym"
DROPOUT = ROOT / "programs" / "mnist_mlp_dropout.sym"


def load(path, backend, tmp_path, **options):
    options = {"epochs": 0, **options}
    if path == DA:
        options["filters"] = str(tmp_path / "filters.png")
    m = dsl.load(path, backend=backend, options=options, progress=False)
    m.run()
    return m


def reference_dA_costs(x_batches, W):
    """The tutorial's dA without corruption, by hand in numpy (f64)."""
    W = W.astype(np.float64)
    b, b_prime, costs = np.zeros(500), np.zeros(784), []
    for x in x_batches:
        x = x.astype(np.float64)
        y = 1 / (1 + np.exp(-(x @ W + b)))
        z = 1 / (1 + np.exp(-(y @ W.T + b_prime)))
        costs.append(np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1)))
        dz = (z - x) / len(x)                       # d cost / d (pre-sigmoid of z)
        dy = (dz @ W) * y * (1 - y)
        W = W - 0.1 * (x.T @ dy + dz.T @ y)
        b, b_prime = b - 0.1 * dy.sum(0), b_prime - 0.1 * dz.sum(0)
    return costs


def test_the_initialiser_skips_the_tutorials_randint_draw(tmp_path):
    src = "shared W: f64[3, 2] = uniform(-1.0, 1.0, seed=123, skip=1)\n"
    rng = np.random.RandomState(123)
    rng.randint(2 ** 30)
    assert np.array_equal(np.asarray(dsl.compile(src).W), rng.uniform(-1.0, 1.0, size=(3, 2)))


@needs_mnist
def test_dA_without_corruption_is_the_tutorials_deterministic_model(tmp_path):
    m = load(DA, "numpy", tmp_path, corruption=0.0)
    x = mnist().train.x[:100]
    batches = [x[i:i + 20] for i in range(0, 100, 20)]
    want = reference_dA_costs(batches, np.asarray(m.W))
    got = [float(m.train(b)) for b in batches]
    np.testing.assert_allclose(got, want, rtol=2e-5)


@needs_mnist
@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
def test_dA_with_corruption_is_the_same_on_numpy_and_opencl(tmp_path):
    ms = [load(DA, b, tmp_path) for b in ("numpy", "opencl")]
    x = mnist().train.x[:60]
    costs = [[float(m.train(x[i:i + 20])) for i in range(0, 60, 20)] for m in ms]
    np.testing.assert_allclose(costs[0], costs[1], rtol=1e-5)
    # the corrupted inputs themselves: the same mask, bit for bit
    a, b = (m.corrupted(x[:20]) for m in ms)
    assert np.array_equal(a, np.asarray(b))
    assert abs(np.mean(a[x[:20] > 0] == 0) - 0.3) < 0.02
    assert [np.asarray(m.noise).tolist() for m in ms] == [[843828734, 4]] * 2


@needs_mnist
def test_dropout_mlp_trains_and_evaluates_without_dropout(tmp_path):
    m = load(DROPOUT, "numpy", tmp_path)
    data = mnist()
    x, y = data.train.x[:200], data.train.y[:200]
    before = float(m.errors(x, y))
    for i in range(0, 200, 20):
        m.train(x[i:i + 20], y[i:i + 20])
    after = float(m.errors(x, y))
    assert after < before and float(m.errors(x, y)) == after      # evaluation draws nothing
    assert np.asarray(m.dropout).tolist() == [1234, 10]


def test_the_dA_filters_are_a_png_of_tiles(tmp_path):
    """The dA's picture: the first 100 hidden units' weights as 28x28 tiles."""
    path = tmp_path / "filters.png"
    m = dsl.compile(f'shared W: f32[784, 500] = uniform(-1.0, 1.0, seed=1)\n'
                    f'save_tiles(reshape(W.T[0:100], (100, 28, 28)), "{path}")\n')
    m.run()
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (10 * 29 - 1, 10 * 29 - 1)      # 10 x 10 tiles, 1-pixel gaps
