"""The numpy backend's matrix products: a small one in a loop's body runs
on one BLAS thread of the calling thread (semantics/blas.py); a large one,
and every product outside loops, on BLAS's own count; all give numpy's
values."""
from __future__ import annotations

import numpy as np
import pytest

import dsl
from semantics import blas

SRC = """
def step(h: f32[n, 128], W: f32[128, 512]) -> f32[n, 512]:
    return h @ W

def steps(h: f32[n, 128], W: f32[128, 128]) -> f32[n, 128]:
    for t in range(2):
        h = h @ W
    return h
"""


@pytest.fixture
def counts(monkeypatch):
    """The thread counts the products ask for, in order (the fake
    setter answers 2 as the previous count)."""
    asked = []

    def fake(count):
        asked.append(count)
        return 2
    monkeypatch.setattr(blas, "set_local_threads", [fake])
    return asked


def test_a_small_product_in_a_loop_body_runs_on_one_thread_then_restores_the_count(counts):
    prog = dsl.compile(SRC, backend="numpy")
    h, W = np.ones((100, 128), np.float32), np.full((128, 128), 0.01, np.float32)
    np.testing.assert_array_equal(np.asarray(prog.steps(h, W)), h @ W @ W)
    assert counts == [1, 2, 1, 2]


def test_a_product_outside_loops_keeps_the_blas_count(counts):
    prog = dsl.compile(SRC, backend="numpy")
    h, W = np.ones((100, 128), np.float32), np.ones((128, 512), np.float32)
    np.testing.assert_array_equal(np.asarray(prog.step(h, W)), h @ W)
    assert counts == []


def test_a_large_product_keeps_the_blas_count(counts):
    a = np.ones((256, 256), np.float32)
    assert blas.multiply_adds(a, a) >= blas.SMALL_PRODUCT
    with blas.in_loop_body():
        np.testing.assert_array_equal(blas.matmul(a, a), a @ a)
    assert counts == []


@pytest.mark.parametrize("a_shape, b_shape, madds", [
    ((100, 28), (28, 512), 100 * 28 * 512), ((5, 3, 4), (4, 6), 3 * 4 * 6),
    ((4,), (4, 6), 4 * 6), ((3, 4), (4,), 3 * 4), ((4,), (4,), 4)])
def test_multiply_adds_counts_one_matrix_of_a_stack(a_shape, b_shape, madds):
    assert blas.multiply_adds(np.empty(a_shape), np.empty(b_shape)) == madds


def test_numpy_built_on_openblas_finds_the_thread_local_setter():
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    version = tuple(int(part) for part in config["version"].split(".")[:3])
    if "openblas" in config["name"] and version >= (0, 3, 27):     # the setter's first release
        assert blas.set_local_threads


def test_one_thread_gives_the_values_of_blas_own_count():
    r = np.random.default_rng(0)
    for m, k, n in [(100, 28, 512), (100, 128, 512), (100, 512, 128), (128, 100, 512)]:
        a = r.standard_normal((m, k)).astype(np.float32)
        b = r.standard_normal((k, n)).astype(np.float32)
        with blas.in_loop_body():
            np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))
            np.testing.assert_array_equal(blas.matmul(a.T.copy().T, b), np.matmul(a, b))
