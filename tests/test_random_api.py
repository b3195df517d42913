"""Random streams in the tensor API: the Theano tutorial's "Using Random
Numbers" examples (RandomStreams), ported."""
from __future__ import annotations

import numpy as np
import pytest

import dsl
from dsl.diagnostics import SymError
from runtime.opencl.device import opencl_available


@pytest.fixture
def tutorial():
    srng = dsl.RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = dsl.function([], rv_u)
    g = dsl.function([], rv_n, no_default_updates=True)     # not updating the stream
    nearly_zeros = dsl.function([], rv_u + rv_u - 2 * rv_u)
    return srng, f, g, nearly_zeros


def test_each_call_draws_new_numbers(tutorial):
    srng, f, g, nearly_zeros = tutorial
    f_val0, f_val1 = f(), f()
    assert f_val0.shape == (2, 2) and f_val0.dtype == np.float32
    assert not np.array_equal(f_val0, f_val1)
    assert np.all((0 <= f_val0) & (f_val0 < 1))


def test_no_default_updates_repeats_the_numbers(tutorial):
    srng, f, g, nearly_zeros = tutorial
    assert np.array_equal(g(), g())


def test_a_random_variable_is_drawn_once_per_call(tutorial):
    srng, f, g, nearly_zeros = tutorial
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-6)


def test_seeding_the_streams(tutorial):
    srng, f, g, nearly_zeros = tutorial
    f()
    srng.seed(902340)
    fresh = dsl.RandomStreams(seed=902340)
    assert np.array_equal(f(), dsl.function([], fresh.uniform((2, 2)))())


def test_copying_the_state_of_a_stream(tutorial):
    srng, f, g, nearly_zeros = tutorial
    f()
    state_after_v0 = srng.state.get_value()
    nearly_zeros()          # this affects the stream
    v1 = f()
    srng.state.set_value(state_after_v0)
    v2 = f()                # v2 != v1
    v3 = f()                # v3 == v1
    assert not np.array_equal(v1, v2)
    assert np.array_equal(v1, v3)


def test_mrg_random_streams_is_the_same_generator():
    a = dsl.function([], dsl.MRG_RandomStreams(seed=5).normal((3,), avg=1.0, std=2.0))
    b = dsl.function([], dsl.RandomStreams(seed=5).normal((3,), avg=1.0, std=2.0))
    assert np.array_equal(a(), b())


def test_a_corruption_mask_of_an_input_shape():
    srng = dsl.RandomStreams(seed=1)
    x = dsl.matrix("x")
    corrupt = dsl.function([x], srng.binomial(size=x.shape, n=1, p=0.7) * x)
    ones = np.ones((200, 50), np.float32)
    a, b = corrupt(ones), corrupt(ones)
    assert set(np.unique(a)) == {0.0, 1.0} and not np.array_equal(a, b)
    assert abs(a.mean() - 0.7) < 0.02
    counts = dsl.function([], srng.binomial((10000,), n=4, p=0.5, dtype="int64"))()
    assert counts.dtype == np.int64 and counts.max() <= 4 and abs(counts.mean() - 2) < 0.05


def test_bad_arguments_are_located_errors():
    srng = dsl.RandomStreams(seed=1)
    with pytest.raises(SymError, match="E1207"):
        srng.binomial((3,), p=1.5)
    with pytest.raises(SymError, match="E1204"):
        dsl.RandomStreams(seed=-1)
    with pytest.raises(SymError, match="E1209"):
        srng.uniform((3,), dtype="int32")
    with pytest.raises(SymError, match="E1005"):
        dsl.function([], srng.uniform((3,)), no_default_updates="yes")


@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
def test_the_same_numbers_on_numpy_and_opencl():
    out = []
    for backend in ("numpy", "opencl"):
        srng = dsl.RandomStreams(seed=234)
        f = dsl.function([], [srng.uniform((100,), -1.0, 1.0), srng.binomial((100,), p=0.3)],
                         backend=backend)
        out.append([f(), f()])
    for (u0, b0), (u1, b1) in zip(*out):
        assert np.array_equal(u0, u1) and np.array_equal(b0, b1)
