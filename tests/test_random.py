"""Random streams: the Philox generator against Random123's known answers,
the distributions' statistics on 10**6 draws, independence, and whole
streams compared bit for bit between numpy and OpenCL."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dsl.build import apply, const
from dsl.types import Size, TensorType
from runtime.numpy import Env, evaluate
from runtime.opencl.device import opencl_available
from semantics import philox

N = 10 ** 6


# ---- the generator -------------------------------------------------------------------
# Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words)
KAT = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
       ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
       ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
        (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]


@pytest.mark.parametrize("ctr, key, want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert tuple(int(w) for w in philox.philox4x32(ctr, key)) == want


def test_philox_is_vectorised_over_counters():
    ctrs = np.array([k[0] for k in KAT], np.uint64).T
    keys = np.array([k[1] for k in KAT], np.uint64).T
    got = np.stack(philox.philox4x32(tuple(ctrs), tuple(keys)), axis=1)
    assert got.tolist() == [list(k[2]) for k in KAT]


def state(seed, calls=0):
    return np.array([seed, calls], np.int64)


# ---- statistics on 10**6 draws ---------------------------------------------------------
def chi_square(counts, expected) -> float:
    return float(np.sum((counts - expected) ** 2 / expected))


# chi-square with 15 / 19 degrees of freedom: the 0.9999 quantiles
CHI2_15, CHI2_19 = 44.3, 51.2


def ks_uniform(u) -> float:
    u = np.sort(u)
    n = len(u)
    return float(max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n)))


KS_LIMIT = 2.0 / math.sqrt(N)       # above the 0.999 critical value (1.95 / sqrt(N))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_uniform_moments_and_ks(dtype):
    u = philox.uniform(state(234), 0, N, dtype).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / N)
    assert ks_uniform(u) < KS_LIMIT


def test_scaled_uniform_stays_in_range():
    u = philox.uniform(state(7), 3, N, "f32", -2.0, 3.0)
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.01


def test_bits_chi_square_of_each_nibble():
    b = philox.bits(state(99), 0, N)
    assert b.min() >= 0 and b.max() < 2 ** 32
    for shift in (0, 12, 28):
        counts = np.bincount((b >> shift) & 15, minlength=16)
        assert chi_square(counts, N / 16) < CHI2_15


def normal_bin_edges(k=20):
    """Edges that split N(0, 1) into k equally likely bins (bisection on erf)."""
    def quantile(p):
        lo, hi = -10.0, 10.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p else (lo, mid)
        return lo
    return [-np.inf] + [quantile(i / k) for i in range(1, k)] + [np.inf]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_normal_moments_and_chi_square(dtype):
    z = philox.normal(state(5), 2, N, dtype, 1.5, 2.0).astype(np.float64)
    z = (z - 1.5) / 2.0
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    assert abs(np.mean(z ** 3)) < 5 * math.sqrt(15 / N)          # skewness 0
    assert abs(np.mean(z ** 4) - 3) < 5 * math.sqrt(96 / N)      # kurtosis 3
    counts, _ = np.histogram(z, normal_bin_edges())
    assert chi_square(counts, N / 20) < CHI2_19


def test_bernoulli_from_uniform_has_probability_p():
    u = philox.uniform(state(11), 0, N, "f32")
    for p in (0.3, 0.7):
        assert abs(np.mean(u < np.float32(p)) - p) < 5 * math.sqrt(p * (1 - p) / N)
    assert np.all(u < np.float32(1.0)) and not np.any(u < np.float32(0.0))


def correlation(a, b) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


@pytest.mark.parametrize("other", [(235, 0, 0), (234, 1, 0), (234, 0, 1), (234 + 2 ** 32, 0, 0)],
                         ids=["another seed", "the next call", "the next draw", "the seed's high half"])
def test_streams_calls_and_draws_are_independent(other):
    seed, calls, draw = other
    a = philox.uniform(state(234), 0, N, "f64")
    b = philox.uniform(state(seed, calls), draw, N, "f64")
    assert abs(correlation(a, b)) < 5 / math.sqrt(N)
    # successive elements of one draw too
    assert abs(correlation(a[:-1], a[1:])) < 5 / math.sqrt(N)


def test_a_number_depends_on_seed_calls_draw_and_element_only():
    a = philox.uniform(state(3, 4), 5, 100, "f32")
    b = philox.uniform(state(3, 4), 5, 1000, "f32")
    assert np.array_equal(a, b[:100])


# ---- numpy and OpenCL give the same streams ---------------------------------------------
def draw_graph():
    st = apply("param", (), type=TensorType("i64", (2,)), name="st")
    n = Size.var("n")

    def r(dist, dtype, draw, *ps):
        return apply("random", tuple([st] + [const(p, dtype) for p in ps]),
                     type=TensorType(dtype, (n, 7)), dist=dist, draw=draw)
    exact = [r("bits", "i64", 0), r("uniform", "f32", 1, 0.0, 1.0), r("uniform", "f32", 2, -3.0, 5.5),
             r("uniform", "f64", 3, 0.0, 1.0), r("uniform", "f64", 4, -0.3, 7.1),
             r("normal", "f32", 5, 1.0, 2.0)]
    return exact, [r("normal", "f64", 6, 0.0, 1.0)]


@pytest.mark.skipif(not opencl_available(), reason="no OpenCL device")
@pytest.mark.parametrize("seed, calls", [(234, 0), (2 ** 40 + 17, 3), (-1, 2 ** 33 + 5)])
def test_whole_streams_are_the_same_on_numpy_and_opencl(seed, calls):
    from runtime.opencl.executor import OpenCLExecutor
    exact, close = draw_graph()
    params, sizes = {"st": state(seed, calls)}, {"n": 4099}
    want = evaluate(exact + close, Env(sizes, params))
    got = OpenCLExecutor({}).evaluate(exact + close, params, sizes)
    for root, w, g in zip(exact, want, got):
        assert g.dtype == w.dtype and np.array_equal(w, g), (root.attr("dist"), root.type.dtype)
    # f64 normals go through log and cos, whose last bit may differ
    (w,), (g,) = want[len(exact):], got[len(exact):]
    np.testing.assert_allclose(g, w, rtol=4e-15, atol=4e-15)
